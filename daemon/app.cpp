#include "daemon/app.hpp"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <set>

#include <boost/asio/signal_set.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "broker/sim.hpp"
#include "core/metrics.hpp"
#include "core/strategy.hpp"
#include "daemon/clock.hpp"
#include "daemon/config.hpp"
#include "daemon/jobs.hpp"
#include "daemon/scheduler.hpp"
#include "daemon/strategy_factory.hpp"
#include "daemon/venue.hpp"
#include "storage/journal.hpp"

namespace ballast::daemon {
namespace {

namespace fs = std::filesystem;


// Loads the config or prints every error; nullopt means exit 78.
std::optional<Config> load_or_report(const CommonOptions& options, bool demo = false) {
    const auto path = find_config(options, demo);
    if (!path) {
        std::cerr << "ballast: no configuration file: pass --config FILE, set BALLAST_CONFIG, or create ./config.toml\n";
        return std::nullopt;
    }
    auto loaded = load_config(*path, process_environment());
    for (const auto& e : loaded.errors) std::cerr << e.message << "\n";
    if (!loaded.config) {
        std::cerr << "ballast: " << loaded.errors.size() << " configuration error(s) in " << path->string() << "\n";
        return std::nullopt;
    }
    return loaded.config;
}

// The process-wide lock of a journal that trades; nullptr (reported) when another process has it.
std::unique_ptr<storage::JournalLock> lock_journal_or_report(const fs::path& path) {
    try {
        return storage::JournalLock::acquire(path);
    } catch (const storage::JournalError& e) {
        std::cerr << "ballast: " << e.what() << "\n";
        return nullptr;
    }
}

std::unique_ptr<storage::Journal> open_journal_or_report(const fs::path& path) {
    try {
        return storage::Journal::open(path);
    } catch (const storage::JournalError& e) {
        std::cerr << "ballast: " << e.what() << "\n";
        return nullptr;
    }
}

std::string now_utc() { return now_utc_text(); }


std::string pct(double fraction, bool sign = false) {
    char buf[32];
    std::snprintf(buf, sizeof buf, sign ? "%+.2f%%" : "%.2f%%", fraction * 100.0);
    return buf;
}


// The latest session whose chain is due at `now`: its data update time (New York) has
// come. With an evening schedule that is the latest closed session; with a market-hours
// one, today's.
core::Date latest_due_session(core::Timestamp now, const ScheduleConfig& schedule) {
    const auto ny = core::utc_to_ny(now);
    return core::is_trading_day(ny.date) && ny.time >= schedule.data_update ? ny.date
                                                                              : core::previous_trading_day(ny.date);
}

void print_session(storage::RunRepository& runs, core::Date session, bool dry_run) {
    for (core::Job job : core::kJobs) {
        const auto row = runs.find_job(session, core::to_string(job), dry_run);
        if (!row) continue;
        std::cout << session.to_string() << " " << core::to_string(job) << ": " << storage::to_string(row->status)
                  << (row->error.empty() ? "" : " — " + row->error) << (row->detail.empty() ? "" : " — " + row->detail)
                  << "\n";
    }
}

}  // namespace

std::optional<std::filesystem::path> find_config(const CommonOptions& options, bool with_source_default) {
    namespace fs = std::filesystem;
    if (options.config) return *options.config;
    if (const char* env = std::getenv("BALLAST_CONFIG"); env && *env) return fs::path(env);
    std::vector<fs::path> candidates{"config.toml", "/etc/ballast/config.toml"};
    if (with_source_default) candidates.insert(candidates.begin() + 1, fs::path(BALLAST_SOURCE_DIR) / "config.toml");
    for (const auto& c : candidates)
        if (fs::exists(c)) return c;
    return std::nullopt;
}

std::shared_ptr<spdlog::logger> make_logger(bool verbose, bool silent) {
    auto log = std::make_shared<spdlog::logger>("ballast", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    log->set_pattern("%Y-%m-%dT%H:%M:%S%z %^%l%$ %v");
    log->set_level(verbose ? spdlog::level::debug : silent ? spdlog::level::off : spdlog::level::info);
    return log;
}

void remove_journal_files(const std::filesystem::path& journal) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(journal.string() + suffix, ec);
}

std::string now_utc_text() {
    return core::format_utc(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
}

int cmd_check_config(const CommonOptions& options) {
    const auto config = load_or_report(options);
    if (!config) return kExitConfig;
    std::cout << render_effective_config(*config);
    return kExitOk;
}

int cmd_migrate(const CommonOptions& options) {
    const auto config = load_or_report(options);
    if (!config) return kExitConfig;
    try {
        storage::OpenOptions open;
        open.migrate = false;
        auto journal = storage::Journal::open(config->journal, open);
        const int before = journal->schema_version();
        const int applied = journal->migrate();
        std::cout << "journal " << config->journal.string() << ": schema version " << before << " -> "
                  << journal->schema_version() << " (" << applied << " migration(s) applied)\n";
    } catch (const storage::JournalError& e) {
        std::cerr << "ballast: " << e.what() << "\n";
        return kExitJournal;
    }
    return kExitOk;
}

int cmd_halt(const CommonOptions& options, const std::string& reason) {
    const auto config = load_or_report(options);
    if (!config) return kExitConfig;
    auto journal = open_journal_or_report(config->journal);
    if (!journal) return kExitJournal;
    storage::ControlRepository(*journal).set_halt(reason, now_utc(), "cli");
    std::cout << "halted: " << reason << "\nno order will be placed until `ballast resume`\n";
    return kExitOk;
}

int cmd_resume(const CommonOptions& options) {
    const auto config = load_or_report(options);
    if (!config) return kExitConfig;
    auto journal = open_journal_or_report(config->journal);
    if (!journal) return kExitJournal;
    storage::ControlRepository control(*journal);
    const auto halt = control.halt();
    if (!halt) {
        std::cout << "not halted; nothing to resume\n";
        return kExitOk;
    }
    control.clear_halt(now_utc(), "cli");
    std::cout << "resumed (was halted since " << halt->set_at << ": " << halt->reason << ")\n";
    return kExitOk;
}

namespace {
int run_demo(const DemoOptions& options);
}  // namespace

int cmd_demo(const DemoOptions& options) {
    // A journal that fails mid-replay (a full disk, say) ends the demo with its error.
    try {
        return run_demo(options);
    } catch (const storage::JournalError& e) {
        std::cerr << "ballast: " << e.what() << "\n";
        return kExitJournal;
    }
}

namespace {
int run_demo(const DemoOptions& options) {
    auto config = load_or_report(options.common, true);
    if (!config) return kExitConfig;
    if (config->mode != Mode::sim) {
        std::cerr << "ballast demo: the demo runs in sim mode only; " << config->source.string() << " has mode = \""
                  << to_string(config->mode) << "\"\n";
        return kExitConfig;
    }
    auto log = make_logger(options.common.verbose);
    log->set_level(options.common.verbose ? spdlog::level::debug : spdlog::level::err);
    // The replay window: --from/--to, else the config's, else the symbols' common data.
    std::optional<core::Date> first = config->sim.start;
    std::optional<core::Date> last = config->sim.end;
    for (auto [text, slot, name] : {std::tuple{&options.from, &first, "--from"}, {&options.to, &last, "--to"}}) {
        if (!*text) continue;
        const auto d = core::Date::parse(**text);
        if (!d) {
            std::cerr << "ballast demo: " << name << " '" << **text << "' is not a YYYY-MM-DD date\n";
            return kExitUsage;
        }
        *slot = d;
    }
    const auto strategy_ptr = make_strategy(config->strategy);
    const core::Strategy& strategy = *strategy_ptr;
    Venue venue;
    if (const int rc = open_sim_market(*config, strategy, false, venue); rc != kExitOk) return rc;
    const auto& market = venue.sim_market;
    if (!first) first = market->first_common_date();
    if (!last) last = market->last_common_date();
    if (!first || !last || *first > *last) {
        std::cerr << "ballast demo: no sessions to replay (window " << (first ? first->to_string() : "?") << " .. "
                  << (last ? last->to_string() : "?") << ")\n";
        return kExitUsage;
    }
    const auto sessions = core::trading_days(*first, *last);
    if (sessions.empty()) {
        std::cerr << "ballast demo: no trading day between " << first->to_string() << " and " << last->to_string() << "\n";
        return kExitUsage;
    }

    remove_journal_files(options.journal);
    auto journal = open_journal_or_report(options.journal);
    if (!journal) return kExitJournal;
    storage::RunRepository runs(*journal);
    const auto run_id = runs.start_run("demo", "sim", config->source.string(), now_utc());

    ReplayClock clock(core::ny_to_utc(sessions.front(), core::TimeOfDay{0}));
    if (const int rc = open_sim_broker(*config, clock, false, venue); rc != kExitOk) return rc;
    ChainJobs jobs(*config, *journal, *venue.broker, *venue.market, strategy, clock, false, log);
    Scheduler scheduler(clock, jobs, *journal, config->schedule, run_id, false, log);

    if (!options.quiet)
        std::cout << "ballast demo: replaying " << sessions.size() << " sessions " << sessions.front().to_string()
                  << " .. " << sessions.back().to_string() << " (" << config->strategy.name << ", sim broker, "
                  << (config->sim.price_field == core::PriceField::adj_close ? "total return" : "price only")
                  << ")\n";
    int failed_sessions = 0;
    std::string first_failure;
    core::Decimal year_start_equity = config->sim.initial_cash;
    JobStats year_start_stats;
    net::io_context io;
    scheduler.set_batch(64);  // a fresh replay journal: commit in batches (see Scheduler::set_batch)
    run_to_completion(io, [&]() -> awaitable<void> {
        storage::EquityRepository equity(*journal);
        for (std::size_t i = 0; i < sessions.size(); ++i) {
            const auto outcome = co_await scheduler.run_session(sessions[i], true);
            if (!outcome.failure.empty()) {
                ++failed_sessions;
                if (first_failure.empty()) first_failure = sessions[i].to_string() + ": " + outcome.failure;
            }
            const bool year_end = i + 1 == sessions.size() || sessions[i + 1].year() != sessions[i].year();
            if (year_end) scheduler.flush();
            if (year_end && !options.quiet) {
                const auto latest = equity.latest();
                const core::Decimal value = latest ? latest->equity : year_start_equity;
                const double ret = value.to_double() / year_start_equity.to_double() - 1.0;
                std::printf("  %d  equity %14s  %8s  rebalances %2d  orders %3d\n", sessions[i].year(),
                            core::format_money(value).c_str(), pct(ret, true).c_str(),
                            jobs.stats().rebalances - year_start_stats.rebalances,
                            jobs.stats().orders - year_start_stats.orders);
                std::fflush(stdout);
                year_start_equity = value;
                year_start_stats = jobs.stats();
            }
        }
    });
    runs.finish_run(run_id, failed_sessions == 0 ? "succeeded" : "failed", now_utc());

    // Summary.
    std::vector<core::EquityPoint> series;
    for (const auto& [d, v] : storage::EquityRepository(*journal).equity_series()) series.push_back({d, v.to_double()});
    const auto growth = core::cagr(series);
    const auto dd = core::max_drawdown(series);
    const double start_value = config->sim.initial_cash.to_double();
    const double end_value = series.empty() ? start_value : series.back().equity;
    const auto& stats = jobs.stats();
    std::printf("\nsummary %s .. %s\n", sessions.front().to_string().c_str(), sessions.back().to_string().c_str());
    std::printf("  start value     %s\n", core::format_money(config->sim.initial_cash).c_str());
    std::printf("  end value       %s\n",
                core::format_money(core::Decimal::from_double(end_value, 2).value_or(core::Decimal{})).c_str());
    std::printf("  CAGR            %s\n", growth ? pct(*growth).c_str() : "n/a");
    std::printf("  max drawdown    %s (peak %s, trough %s)\n", pct(dd.max).c_str(), dd.peak.to_string().c_str(),
                dd.trough.to_string().c_str());
    std::printf("  rebalances      %d\n", stats.rebalances);
    std::printf("  orders          %d sent, %d denied by risk limits, %d rejected\n", stats.orders, stats.denied,
                stats.rejected);
    if (failed_sessions > 0)
        std::printf("  failed sessions %d (first: %s)\n", failed_sessions, first_failure.c_str());
    const std::string db = options.journal.string();
    std::printf("\njournal: %s\n", fs::absolute(options.journal).string().c_str());
    std::printf("look inside:\n");
    std::printf("  sqlite3 -header -column %s \"SELECT session_date, equity, drawdown FROM v_equity ORDER BY session_date DESC LIMIT 10\"\n", db.c_str());
    std::printf("  sqlite3 -header -column %s \"SELECT session_date, symbol, side, qty, status FROM v_orders ORDER BY session_date DESC LIMIT 12\"\n", db.c_str());
    std::printf("  sqlite3 -header -column %s \"SELECT session_date, reason FROM rebalance_decisions WHERE rebalance = 1\"\n", db.c_str());
    return failed_sessions == 0 ? kExitOk : kExitChainFailed;
}
}  // namespace

int cmd_once(const OnceOptions& options) {
    const auto config = load_or_report(options.common);
    if (!config) return kExitConfig;
    auto log = make_logger(options.common.verbose);
    if (const auto problem = live_confirmation_problem(*config, options.live); !problem.empty()) {
        std::cerr << "ballast once: " << problem << "\n";
        return kExitConfig;
    }
    const bool sim = config->mode == Mode::sim;
    // The session: --session, or the latest session whose close has passed (sim: capped
    // at the end of the price data; Alpaca: by the broker's clock).
    std::optional<core::Date> session;
    if (options.session) {
        const auto d = core::Date::parse(*options.session);
        if (!d || !core::is_trading_day(*d)) {
            std::cerr << "ballast once: --session '" << *options.session << "' is not a trading day (YYYY-MM-DD)\n";
            return kExitUsage;
        }
        session = *d;
    }
    const auto strategy_ptr = make_strategy(config->strategy);
    const core::Strategy& strategy = *strategy_ptr;
    // Declared in this order so that the venue (sockets, the journal's HTTP observer) goes
    // first, then the journal, then the context.
    net::io_context io;
    std::unique_ptr<storage::Journal> journal;
    Venue venue;
    if (sim) {
        if (const int rc = open_sim_market(*config, strategy, true, venue); rc != kExitOk) return rc;
        if (!session) {
            session = latest_due_session(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()),
                                         config->schedule);
            const auto data_end = venue.sim_market->last_common_date();
            if (data_end && *data_end < *session) {
                std::cout << "sim mode: the price data ends " << data_end->to_string()
                          << "; running the chain for session " << data_end->to_string() << "\n";
                session = *data_end;
            }
        }
    }

    const auto lock = lock_journal_or_report(config->journal);
    if (!lock) return kExitBusy;
    journal = open_journal_or_report(config->journal);
    if (!journal) return kExitJournal;
    storage::RunRepository runs(*journal);
    const auto run_id = runs.start_run(options.dry_run ? "once --dry-run" : "once", to_string(config->mode),
                                       config->source.string(), now_utc());

    // Sim time follows the session's own schedule (fills follow the data); Alpaca is real time.
    std::unique_ptr<Clock> clock;
    if (sim) {
        clock = std::make_unique<ReplayClock>(core::ny_to_utc(*session, core::TimeOfDay{0}));
        if (const int rc = open_sim_broker(*config, *clock, true, venue); rc != kExitOk) return rc;
    } else {
        clock = std::make_unique<WallClock>(io);
        if (const int rc = open_alpaca(*config, io, *journal, log, venue); rc != kExitOk) return rc;
    }
    ChainJobs jobs(*config, *journal, *venue.broker, *venue.market, strategy, *clock, options.dry_run, log);
    Scheduler scheduler(*clock, jobs, *journal, config->schedule, run_id, options.dry_run, log);

    int rc = kExitOk;
    SessionOutcome outcome;
    run_to_completion(io, [&]() -> awaitable<void> {
        if (!session) {
            auto venue_clock = co_await venue.alpaca->clock();
            if (!venue_clock) {
                std::cerr << "ballast once: broker clock: " << venue_clock.error().message << "\n";
                rc = kExitChainFailed;
                co_return;
            }
            session = latest_due_session(venue_clock.value().timestamp, config->schedule);
        }
        // Time only moves forward: an older session would trade today's account at old prices.
        if (const auto latest = runs.latest_session(); latest && *session < *latest) {
            std::cerr << "ballast once: session " << session->to_string()
                      << " is before the latest session already run (" << latest->to_string()
                      << "); ballast only moves forward\n";
            rc = kExitUsage;
            co_return;
        }
        // Unfinished orders are settled with the broker before anything new is planned.
        if (!options.dry_run) {
            auto open = co_await jobs.reconcile_orders();
            if (!open) {
                std::cerr << "ballast once: reconciling orders: " << open.error().message << "\n";
                rc = kExitChainFailed;
                co_return;
            }
        }
        outcome = co_await scheduler.run_session(*session, sim);
    });
    runs.finish_run(run_id, rc != kExitOk || !outcome.failure.empty() ? "failed" : "succeeded", now_utc());
    if (rc != kExitOk) return rc;

    if (outcome.jobs_run == 0 && outcome.failure.empty()) {
        std::cout << "session " << session->to_string() << ": every job already ran; nothing to do\n";
        return kExitOk;
    }
    print_session(runs, *session, options.dry_run);
    return outcome.failure.empty() ? kExitOk : kExitChainFailed;
}

int cmd_run(const RunOptions& options) {
    const auto config = load_or_report(options.common);
    if (!config) return kExitConfig;
    auto log = make_logger(options.common.verbose);
    if (const auto problem = live_confirmation_problem(*config, options.live); !problem.empty()) {
        log->error("{}", problem);
        return kExitConfig;
    }
    const bool sim = config->mode == Mode::sim;
    if (options.replay && !sim) {
        log->error("--replay needs mode = \"sim\"; {} has mode = \"{}\"", config->source.string(),
                   to_string(config->mode));
        return kExitUsage;
    }
    const auto strategy_ptr = make_strategy(config->strategy);
    const core::Strategy& strategy = *strategy_ptr;
    // Declared in this order so that the venue (sockets, the journal's HTTP observer) goes
    // first, then the journal, then the context.
    net::io_context io;
    std::unique_ptr<storage::Journal> journal;
    Venue venue;
    if (sim)
        if (const int rc = open_sim_market(*config, strategy, true, venue); rc != kExitOk) return rc;
    const auto lock = lock_journal_or_report(config->journal);
    if (!lock) return kExitBusy;
    journal = open_journal_or_report(config->journal);
    if (!journal) return kExitJournal;
    storage::RunRepository runs(*journal);

    const auto run_id =
        runs.start_run(options.replay ? "run --replay" : "run", to_string(config->mode), config->source.string(), now_utc());

    std::unique_ptr<Clock> clock;
    core::Date session;
    std::optional<core::Date> last_session;
    if (options.replay) {
        const auto first = config->sim.start ? config->sim.start : venue.sim_market->first_common_date();
        last_session = config->sim.end ? config->sim.end : venue.sim_market->last_common_date();
        if (!first || !last_session) {
            log->error("no common price history for the strategy's symbols");
            return kExitData;
        }
        session = core::is_trading_day(*first) ? *first : core::next_trading_day(*first);
        clock = std::make_unique<ReplayClock>(core::ny_to_utc(session, core::TimeOfDay{0}));
    } else {
        clock = std::make_unique<WallClock>(io);
        const auto ny = core::utc_to_ny(clock->now());
        session = core::is_trading_day(ny.date) ? ny.date : core::next_trading_day(ny.date);
    }
    // Jobs cut off by a crash in an earlier session stay failed; those of the first
    // session run now are resumed by the scheduler.
    const int orphans = runs.fail_orphans(now_utc(), "ballast stopped while the job was running", session);
    if (orphans > 0) log->warn("{} job run(s) of earlier sessions left running by a crash marked failed", orphans);
    if (sim) {
        if (const int rc = open_sim_broker(*config, *clock, true, venue); rc != kExitOk) return rc;
    } else if (const int rc = open_alpaca(*config, io, *journal, log, venue); rc != kExitOk) {
        return rc;
    }
    ChainJobs jobs(*config, *journal, *venue.broker, *venue.market, strategy, *clock, false, log);
    Scheduler scheduler(*clock, jobs, *journal, config->schedule, run_id, false, log);

    // SIGTERM/SIGINT: finish the job in flight, then stop.
    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        log->info("signal {} received: stopping after the job in flight", signo);
        scheduler.request_stop();
        clock->cancel();
    });
    log->info("ballast {} running ({} mode, {} clock); journal {}", BALLAST_VERSION, to_string(config->mode),
              options.replay ? "replay" : "wall", config->journal.string());
    run_to_completion(io, [&]() -> awaitable<void> {
        // Unfinished orders are settled with the broker before anything new is planned.
        auto open = co_await jobs.reconcile_orders();
        if (!open) log->error("reconciling orders at start: {}", open.error().message);
        while (!scheduler.stop_requested() && (!last_session || session <= *last_session)) {
            log->info("next session {}: data-update at {} New York", session.to_string(),
                      config->schedule.data_update.to_string());
            const auto outcome = co_await scheduler.run_session(session, true);
            if (!outcome.failure.empty()) log->warn("session {}: {}", session.to_string(), outcome.failure);
            session = core::next_trading_day(session);
        }
        signals.cancel();
    });
    runs.finish_run(run_id, "stopped", now_utc());
    log->info("stopped");
    return kExitOk;
}

}  // namespace ballast::daemon
