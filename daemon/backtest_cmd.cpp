#include "daemon/backtest_cmd.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include "broker/sim.hpp"
#include "daemon/clock.hpp"
#include "daemon/config.hpp"
#include "daemon/huge_pages.hpp"
#include "daemon/jobs.hpp"
#include "daemon/report.hpp"
#include "daemon/scheduler.hpp"
#include "daemon/strategy_factory.hpp"
#include "daemon/venue.hpp"
#include "storage/journal.hpp"

namespace ballast::daemon {
namespace {

namespace fs = std::filesystem;
constexpr const char* kCmd = "ballast backtest: ";
constexpr std::size_t kMaxGridPoints = 10000;

const std::vector<std::string> kIntegerNames{"sma_days", "lookback_days", "top_n", "min_interval_days"};
const std::vector<std::string> kRunNames{"drift_threshold", "min_interval_days", "slippage_bps", "commission_bps"};

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == sep) {
            out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    out.push_back(cur);
    return out;
}

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// A finite number, the whole text.
std::optional<double> parse_number(const std::string& text) {
    const std::string t = trim(text);
    if (t.empty()) return std::nullopt;
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (end != t.c_str() + t.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

std::string number_text(double v) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
}

// The numeric [strategy.params] keys of a kind (the ones a sweep can vary).
std::vector<std::string> numeric_params_of(const std::string& kind) {
    if (kind == "trend") return {"sma_days"};
    if (kind == "dual_momentum") return {"lookback_days", "top_n", "absolute_threshold"};
    if (kind == "risk_parity") return {"lookback_days", "vol_target"};
    return {};
}

std::string join_names(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

// ---- the overrides, written into the config's TOML ----------------------------------

toml::table& table_at(toml::table& root, const std::string& key) {
    if (auto* t = root.get_as<toml::table>(key)) return *t;
    root.insert_or_assign(key, toml::table{});
    return *root.get_as<toml::table>(key);
}

void set_number(toml::table& t, const std::string& key, double v, bool integer) {
    if (integer) t.insert_or_assign(key, static_cast<std::int64_t>(std::llround(v)));
    else t.insert_or_assign(key, v);
}

// A --param value as TOML: a TOML literal when it parses as one (200, 10.5, true,
// ["A", "B"], "IEF"), else a comma list of strings, else a bare string.
void set_param_value(toml::table& params, const std::string& key, const std::string& value) {
    try {
        auto doc = toml::parse("v = " + value);
        if (auto* n = doc.get("v")) {
            params.insert_or_assign(key, *n);
            return;
        }
    } catch (const toml::parse_error&) {
    }
    if (value.find(',') != std::string::npos) {
        toml::array a;
        for (const auto& item : split(value, ',')) a.push_back(trim(item));
        params.insert_or_assign(key, std::move(a));
        return;
    }
    params.insert_or_assign(key, value);
}

// Applies the options to `root`; returns an error sentence ("" when fine).
std::string apply_overrides(toml::table& root, const BacktestOptions& o, const Config& base) {
    root.insert_or_assign("mode", "sim");
    auto& sim = table_at(root, "sim");
    for (auto [text, key] : {std::pair{&o.from, "start"}, {&o.to, "end"}}) {
        if (!*text) continue;
        if (!core::Date::parse(**text))
            return std::string("--") + (std::string(key) == "start" ? "from" : "to") + " '" + **text +
                   "' is not a YYYY-MM-DD date";
        sim.insert_or_assign(key, **text);
    }
    if (o.prices_dir) {
        std::error_code ec;
        if (!fs::is_directory(*o.prices_dir, ec)) return "--prices-dir '" + *o.prices_dir + "' is not a directory";
        sim.insert_or_assign("data_dir", fs::absolute(*o.prices_dir).lexically_normal().string());
    }
    if (o.price_field) {
        if (*o.price_field != "close" && *o.price_field != "adj_close")
            return "--price-field '" + *o.price_field + "': expected close or adj_close";
        sim.insert_or_assign("price_field", *o.price_field);
    }
    if (o.fill) {
        if (*o.fill != "next_open" && *o.fill != "close") return "--fill '" + *o.fill + "': expected next_open or close";
        sim.insert_or_assign("fill", *o.fill);
    }
    for (auto [text, key, what] : {std::tuple{&o.cash, "initial_cash", "--cash"},
                                   {&o.commission_bps, "commission_bps", "--commission-bps"},
                                   {&o.slippage_bps, "slippage_bps", "--slippage-bps"}}) {
        if (!*text) continue;
        const auto v = parse_number(**text);
        if (!v) return std::string(what) + " '" + **text + "' is not a number";
        sim.insert_or_assign(key, *v);
    }

    auto& strategy = table_at(root, "strategy");
    std::string kind = base.strategy.kind;
    const auto set_kind = [&](const std::string& k) {
        if (k != kind) strategy.erase("params");
        if (k == "dual_momentum" || k == "risk_parity") strategy.erase("weights");
        strategy.insert_or_assign("kind", k);
        kind = k;
    };
    if (o.strategy) {
        static const std::vector<std::string> kinds{"fixed_weights", "trend", "dual_momentum", "risk_parity"};
        if (std::find(kinds.begin(), kinds.end(), *o.strategy) == kinds.end())
            return "--strategy '" + *o.strategy + "': expected one of " + join_names(kinds);
        set_kind(*o.strategy);
    }
    if (o.weights) {
        std::string error;
        const auto w = parse_weights(*o.weights, error);
        if (!w) return error;
        if (!o.strategy) set_kind("fixed_weights");
        if (kind == "dual_momentum" || kind == "risk_parity")
            return "--weights: kind \"" + kind + "\" takes no weights; give its symbols with --param universe=A,B,...";
        toml::table weights;
        for (const auto& [symbol, fraction] : *w) weights.insert_or_assign(symbol, (fraction * core::Decimal::from_int(100)).to_double());
        strategy.insert_or_assign("weights", std::move(weights));
    }
    if (!o.params.empty()) {
        auto& params = table_at(strategy, "params");
        for (const auto& p : o.params) {
            const auto eq = p.find('=');
            const std::string key = trim(p.substr(0, eq));
            if (eq == std::string::npos || key.empty() || trim(p.substr(eq + 1)).empty())
                return "--param '" + p + "': expected NAME=VALUE (e.g. sma_days=200)";
            set_param_value(params, key, trim(p.substr(eq + 1)));
        }
    }
    if (o.rebalance) {
        if (!core::parse_rebalance_calendar(*o.rebalance))
            return "--rebalance '" + *o.rebalance + "': expected daily, weekly, monthly, quarterly, annual or drift";
        table_at(root, "rebalance").insert_or_assign("calendar", *o.rebalance);
    }
    return "";
}

// Sets one sweep value in the TOML.
void apply_sweep_value(toml::table& root, const SweepAxis& axis, double v) {
    if (axis.name == "drift_threshold" || axis.name == "min_interval_days")
        set_number(table_at(root, "rebalance"), axis.name, v, axis.integer);
    else if (axis.name == "slippage_bps" || axis.name == "commission_bps")
        set_number(table_at(root, "sim"), axis.name, v, false);
    else
        set_number(table_at(table_at(root, "strategy"), "params"), axis.name, v, axis.integer);
}

// Validates the overridden TOML as a config file at `source` (relative paths resolve as
// in the file). Errors lose their file:line:column (they point into generated text).
std::optional<Config> reload(const toml::table& root, const fs::path& source, std::string& error) {
    std::ostringstream text;
    text << root << "\n";
    auto loaded = load_config_string(text.str(), source, process_environment());
    if (loaded.config) return loaded.config;
    const std::string prefix = source.string() + ":";
    for (const auto& e : loaded.errors) {
        std::string m = e.message;
        if (m.rfind(prefix, 0) == 0) {
            const auto rest = m.find(": ", prefix.size());
            if (rest != std::string::npos) m = m.substr(rest + 2);
        }
        error += (error.empty() ? "" : "\n") + std::string(kCmd) + "the options make an invalid configuration: " + m;
    }
    return std::nullopt;
}

// ---- progress on stderr -------------------------------------------------------------

// Thread-safe. A bar redrawn in place on a terminal, else one line per 10%.
class Progress {
public:
    Progress(std::size_t total, std::string what, bool enabled)
        : total_(std::max<std::size_t>(total, 1)), what_(std::move(what)), enabled_(enabled), tty_(::isatty(2) == 1) {}
    void tick(std::size_t n = 1) {
        if (!enabled_) return;
        const std::size_t done = done_ += n;
        const int pct = static_cast<int>(done * 100 / total_);
        std::lock_guard lock(mutex_);
        if (tty_) {
            if (pct == last_) return;
            last_ = pct;
            const int filled = pct * 30 / 100;
            std::fprintf(stderr, "\r%s [%s%s] %3d%%", what_.c_str(), std::string(filled, '#').c_str(),
                         std::string(30 - filled, '.').c_str(), pct);
            if (pct >= 100) std::fprintf(stderr, "\n");
        } else {
            const int decile = pct / 10 * 10;
            if (decile <= last_ || decile == 0) return;
            last_ = decile;
            std::fprintf(stderr, "%s: %d%%\n", what_.c_str(), decile);
        }
        std::fflush(stderr);
    }

private:
    std::size_t total_;
    std::string what_;
    bool enabled_, tty_;
    std::atomic<std::size_t> done_{0};
    std::mutex mutex_;
    int last_ = -1;
};

// ---- one run -------------------------------------------------------------------------


// A scratch journal: a transient one (nothing written; see Journal::transient) when
// `transient`, else a file in the temp directory. `file` is set when a file must be removed.
std::unique_ptr<storage::Journal> scratch_journal(bool transient, fs::path& file) {
    static std::atomic<int> counter{0};
    if (transient) return storage::Journal::transient();
    std::error_code ec;
    const fs::path dir = fs::temp_directory_path(ec);
    file = dir / ("ballast-backtest-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".db");
    remove_journal_files(file);
    return storage::Journal::open_write_behind(file);
}

struct ScratchJournal {
    std::unique_ptr<storage::Journal> journal;
    fs::path file;
    bool keep = false;
    ~ScratchJournal() {
        journal.reset();
        if (!file.empty() && !keep) remove_journal_files(file);
    }
};


// The chain of every session on the replay clock, exactly as `ballast demo` and `ballast
// run --replay` do it, then the metrics. Returns an exit code (0 on success).
int run_one(const Config& config, const std::shared_ptr<broker::SimMarket>& market,
            const std::vector<core::Date>& sessions, storage::Journal& journal, std::shared_ptr<spdlog::logger> log,
            Progress& progress, BacktestSummary& out) {
    const auto strategy_ptr = make_strategy(config.strategy);
    const core::Strategy& strategy = *strategy_ptr;
    storage::RunRepository runs(journal);
    const auto run_id = runs.start_run("backtest", "sim", config.source.string(), now_utc_text());

    ReplayClock clock(core::ny_to_utc(sessions.front(), core::TimeOfDay{0}));
    Venue venue;
    venue.sim_market = market;
    venue.market = market.get();
    if (const int rc = open_sim_broker(config, clock, false, venue); rc != kExitOk) return rc;
    ChainJobs jobs(config, journal, *venue.broker, *venue.market, strategy, clock, false, log, JournalDetail::trading);
    Scheduler scheduler(clock, jobs, journal, config.schedule, run_id, false, log);

    out.strategy = config.strategy.name + " (" + config.strategy.kind + ")";
    out.first_session = sessions.front();
    out.last_session = sessions.back();
    out.sessions = sessions.size();
    out.initial_cash = config.sim.initial_cash.to_double();
    net::io_context io;
    scheduler.set_batch(64);  // a backtest's own journal: commit in batches (see Scheduler::set_batch)
    run_to_completion(io, [&]() -> awaitable<void> {
        for (const auto session : sessions) {
            const auto outcome = co_await scheduler.run_session(session, true);
            if (!outcome.failure.empty()) {
                ++out.failed_sessions;
                if (out.first_failure.empty()) out.first_failure = session.to_string() + ": " + outcome.failure;
            }
            progress.tick();
        }
        scheduler.flush();
    });
    runs.finish_run(run_id, out.failed_sessions == 0 ? "succeeded" : "failed", now_utc_text());
    journal.sync();  // a journal file written behind: all of it on file, or its error
    out.stats = jobs.stats();
    measure(journal, config.sim.slippage_bps, out);
    return kExitOk;
}


// ---- output ---------------------------------------------------------------------------

std::optional<double> metric_of(const nlohmann::json& j, const std::string& key) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
}

// Best first by `metric` (ascending for lower-is-better metrics); nulls last; ties keep
// the grid order.
void rank(std::vector<nlohmann::json>& rows, const std::string& metric) {
    const bool asc = lower_is_better(metric);
    std::stable_sort(rows.begin(), rows.end(), [&](const nlohmann::json& a, const nlohmann::json& b) {
        const auto x = metric_of(a, metric), y = metric_of(b, metric);
        if (!x || !y) return x.has_value() && !y.has_value();
        return asc ? *x < *y : *x > *y;
    });
}

std::string cell(const nlohmann::json& j, const std::string& key) {
    const auto v = metric_of(j, key);
    if (!v) return "n/a";
    char buf[48];
    static const std::vector<std::string> pct{"total_return", "cagr", "volatility", "max_drawdown", "turnover"};
    if (std::find(pct.begin(), pct.end(), key) != pct.end()) std::snprintf(buf, sizeof buf, "%.2f%%", *v * 100.0);
    else if (key == "sharpe" || key == "sortino" || key == "calmar") std::snprintf(buf, sizeof buf, "%.3f", *v);
    else std::snprintf(buf, sizeof buf, "%.10g", std::round(*v * 100.0) / 100.0);
    return buf;
}

void print_table(const std::vector<nlohmann::json>& rows, const std::vector<SweepAxis>& axes, const std::string& rank_by) {
    std::vector<std::string> cols{"cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "turnover", "trades"};
    if (std::find(cols.begin(), cols.end(), rank_by) == cols.end()) cols.push_back(rank_by);
    std::printf("%4s", "rank");
    for (const auto& a : axes) std::printf("  %*s", static_cast<int>(std::max<std::size_t>(a.name.size(), 8)), a.name.c_str());
    for (const auto& c : cols) std::printf("  %12s", c.c_str());
    std::printf("\n");
    int n = 0;
    for (const auto& r : rows) {
        std::printf("%4d", ++n);
        for (const auto& a : axes)
            std::printf("  %*s", static_cast<int>(std::max<std::size_t>(a.name.size(), 8)),
                        number_text(r["params"][a.name].get<double>()).c_str());
        for (const auto& c : cols) std::printf("  %12s", cell(r, c).c_str());
        std::printf("\n");
    }
}

bool same_file(const fs::path& a, const fs::path& b) {
    std::error_code ec1, ec2;
    return fs::weakly_canonical(a, ec1) == fs::weakly_canonical(b, ec2) && !ec1 && !ec2;
}

}  // namespace

std::optional<std::map<std::string, core::Decimal>> parse_weights(const std::string& text, std::string& error) {
    std::map<std::string, core::Decimal> out;
    core::Decimal sum;
    for (const auto& raw : split(text, ',')) {
        const std::string entry = trim(raw);
        const auto eq = entry.find('=');
        if (eq == std::string::npos || eq == 0) {
            error = "--weights: entry '" + entry + "' is not SYMBOL=FRACTION (e.g. VTI=0.4)";
            return std::nullopt;
        }
        const std::string symbol = trim(entry.substr(0, eq));
        const std::string value = trim(entry.substr(eq + 1));
        const auto w = core::Decimal::parse(value);
        if (!w || !w->is_positive() || *w > core::Decimal::from_int(1)) {
            error = "--weights: " + symbol + "=" + value + ": expected a fraction in (0, 1] (0.4 is 40%)";
            return std::nullopt;
        }
        if (!out.emplace(symbol, *w).second) {
            error = "--weights: symbol " + symbol + " appears twice";
            return std::nullopt;
        }
        sum += *w;
    }
    const auto tolerance = core::Decimal::parse("0.0001").value();
    if ((sum - core::Decimal::from_int(1)).abs() > tolerance) {
        error = "--weights: the weights sum to " + sum.to_string() + ", expected 1 (±0.0001)";
        return std::nullopt;
    }
    return out;
}

std::optional<SweepAxis> parse_sweep(const std::string& spec, std::string& error) {
    const auto eq = spec.find('=');
    const auto bad = [&](const std::string& why) {
        error = "--sweep '" + spec + "': " + why;
        return std::nullopt;
    };
    if (eq == std::string::npos || eq == 0) return bad("expected NAME=LO:HI:STEP (e.g. drift_threshold=2:10:2)");
    SweepAxis axis;
    axis.name = trim(spec.substr(0, eq));
    const auto parts = split(spec.substr(eq + 1), ':');
    if (parts.size() != 3) return bad("expected NAME=LO:HI:STEP (e.g. drift_threshold=2:10:2)");
    const auto lo = parse_number(parts[0]), hi = parse_number(parts[1]), step = parse_number(parts[2]);
    if (!lo || !hi || !step) return bad("LO, HI and STEP must be numbers");
    if (*step <= 0) return bad("STEP must be > 0");
    if (*lo > *hi) return bad("LO " + number_text(*lo) + " is above HI " + number_text(*hi));
    axis.integer = std::find(kIntegerNames.begin(), kIntegerNames.end(), axis.name) != kIntegerNames.end();
    if (axis.integer && (*lo != std::floor(*lo) || *step != std::floor(*step)))
        return bad(axis.name + " takes whole numbers: LO and STEP must be integers");
    const double count = std::floor((*hi - *lo) / *step + 1e-9) + 1;
    if (count > static_cast<double>(kMaxGridPoints))
        return bad(number_text(count) + " values, more than " + std::to_string(kMaxGridPoints));
    for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) {
        const double v = *lo + static_cast<double>(i) * *step;
        axis.values.push_back(std::round(v * 1e9) / 1e9);  // 0.1 + 2 x 0.1 is 0.3
    }
    return axis;
}

int cmd_backtest(const BacktestOptions& o) {
    // A batch run: the memory it is about to touch (price files, series, orders) comes
    // cheaper in huge pages. Before any thread starts (the price files are read on every core).
    const std::string heap = use_huge_page_heap();
    // Options that need no configuration.
    if (o.journal && o.no_journal) {
        std::cerr << kCmd << "--journal and --no-journal exclude each other\n";
        return kExitUsage;
    }
    if (!o.sweeps.empty() && o.journal) {
        std::cerr << kCmd << "--journal keeps one run's journal; a sweep's runs use scratch journals\n";
        return kExitUsage;
    }
    if (o.top < 1) {
        std::cerr << kCmd << "--top " << o.top << ": expected a count >= 1\n";
        return kExitUsage;
    }
    const auto& keys = metric_keys();
    if (std::find(keys.begin(), keys.end(), o.rank_by) == keys.end()) {
        std::cerr << kCmd << "--rank-by '" << o.rank_by << "': expected one of " << join_names(keys) << "\n";
        return kExitUsage;
    }
    std::vector<SweepAxis> axes;
    for (const auto& spec : o.sweeps) {
        std::string error;
        auto axis = parse_sweep(spec, error);
        if (!axis) {
            std::cerr << kCmd << error << "\n";
            return kExitUsage;
        }
        for (const auto& a : axes)
            if (a.name == axis->name) {
                std::cerr << kCmd << "--sweep " << axis->name << " is given twice\n";
                return kExitUsage;
            }
        axes.push_back(std::move(*axis));
    }

    // The configuration, then the options written over it.
    const auto path = find_config(o.common, true);
    if (!path) {
        std::cerr << "ballast: no configuration file: pass --config FILE, set BALLAST_CONFIG, or create ./config.toml\n";
        return kExitConfig;
    }
    auto loaded = load_config(*path, process_environment());
    for (const auto& e : loaded.errors) std::cerr << e.message << "\n";
    if (!loaded.config) {
        std::cerr << "ballast: " << loaded.errors.size() << " configuration error(s) in " << path->string() << "\n";
        return kExitConfig;
    }
    toml::table root;
    try {
        root = toml::parse_file(path->string());
    } catch (const toml::parse_error& e) {
        std::cerr << "ballast: " << path->string() << ": " << e.description() << "\n";
        return kExitConfig;
    }
    if (const auto problem = apply_overrides(root, o, *loaded.config); !problem.empty()) {
        std::cerr << kCmd << problem << "\n";
        return kExitUsage;
    }
    std::string error;
    const auto base = reload(root, *path, error);
    if (!base) {
        std::cerr << error << "\n";
        return kExitUsage;
    }
    if (o.journal && same_file(*o.journal, base->journal)) {
        std::cerr << kCmd << "--journal " << o.journal->string() << " is the configured journal (" << path->string()
                  << "); a backtest never writes it: choose another file\n";
        return kExitUsage;
    }

    // The grid: the cartesian product of the axes (one point without a sweep).
    const auto sweepable = [&] {
        auto names = kRunNames;
        for (const auto& n : numeric_params_of(base->strategy.kind)) names.push_back(n);
        return names;
    }();
    std::size_t points = 1;
    for (const auto& a : axes) {
        if (std::find(sweepable.begin(), sweepable.end(), a.name) == sweepable.end()) {
            std::cerr << kCmd << "--sweep " << a.name << ": not a sweepable parameter of kind \"" << base->strategy.kind
                      << "\"; expected one of " << join_names(sweepable) << "\n";
            return kExitUsage;
        }
        points *= a.values.size();
        if (points > kMaxGridPoints) {
            std::cerr << kCmd << "--sweep: the grid has more than " << kMaxGridPoints << " points\n";
            return kExitUsage;
        }
    }
    std::vector<Config> configs;
    std::vector<std::map<std::string, double>> grid;
    for (std::size_t i = 0; i < points; ++i) {
        if (axes.empty()) {
            configs.push_back(*base);
            grid.emplace_back();
            break;
        }
        toml::table point = root;
        std::map<std::string, double> values;
        std::size_t rest = i;
        for (auto a = axes.rbegin(); a != axes.rend(); ++a) {
            const double v = a->values[rest % a->values.size()];
            rest /= a->values.size();
            apply_sweep_value(point, *a, v);
            values[a->name] = v;
        }
        std::string point_error;
        auto c = reload(point, *path, point_error);
        if (!c) {
            std::string where;
            for (const auto& [k, v] : values) where += (where.empty() ? "" : ", ") + k + "=" + number_text(v);
            std::cerr << point_error << " (sweep point " << where << ")\n";
            return kExitUsage;
        }
        configs.push_back(std::move(*c));
        grid.push_back(std::move(values));
    }

    // Prices: read once, shared read-only by every run.
    std::set<core::Symbol> symbols;
    for (const auto& c : configs)
        for (const auto& s : make_strategy(c.strategy)->universe()) symbols.insert(s);
    auto market_result = broker::SimMarket::load(base->sim.data_dir, {symbols.begin(), symbols.end()});
    if (!market_result) {
        std::cerr << "ballast: price data: " << market_result.error().message << "\n";
        return kExitData;
    }
    const std::shared_ptr<broker::SimMarket> market = market_result.value();
    std::optional<core::Date> first = base->sim.start ? base->sim.start : market->first_common_date();
    std::optional<core::Date> last = base->sim.end ? base->sim.end : market->last_common_date();
    const auto sessions = first && last && *first <= *last ? core::trading_days(*first, *last) : std::vector<core::Date>{};
    if (sessions.empty()) {
        std::cerr << kCmd << "no trading day to replay between " << (first ? first->to_string() : "?") << " and "
                  << (last ? last->to_string() : "?") << "\n";
        return kExitUsage;
    }
    // Failed sessions are counted in the output; their log lines only with -v.
    auto log = make_logger(o.common.verbose, true);
    log->debug("memory: {}", heap);

    // A single run.
    if (axes.empty()) {
        ScratchJournal scratch;
        try {
            if (o.journal) {
                remove_journal_files(*o.journal);
                scratch.journal = storage::Journal::open_write_behind(*o.journal);
            } else {
                scratch.journal = scratch_journal(o.no_journal, scratch.file);
            }
        } catch (const storage::JournalError& e) {
            std::cerr << "ballast: " << e.what() << "\n";
            return kExitJournal;
        }
        Progress progress(sessions.size(), "backtest", !o.quiet);
        BacktestSummary summary;
        try {
            if (const int rc = run_one(configs.front(), market, sessions, *scratch.journal, log, progress, summary);
                rc != kExitOk)
                return rc;
        } catch (const storage::JournalError& e) {
            std::cerr << "ballast: " << e.what() << "\n";
            return kExitJournal;
        }
        const bool write_report = o.report.has_value() || !o.json;
        const fs::path report = o.report.value_or("backtest-report.html");
        if (write_report) {
            std::ofstream out(report, std::ios::binary | std::ios::trunc);
            out << render_html_report(summary, "ballast backtest: " + summary.strategy);
            if (!out) {
                std::cerr << kCmd << "cannot write the report " << report.string() << "\n";
                return kExitInternal;
            }
        }
        if (o.json) {
            auto j = metrics_json(summary);
            j["journal"] = o.journal ? nlohmann::json(fs::absolute(*o.journal).string()) : nlohmann::json(nullptr);
            std::cout << j.dump(2) << "\n";
            return kExitOk;
        }
        std::cout << render_text_summary(summary);
        if (summary.failed_sessions > 0)
            std::cout << "  (a session fails while a strategy lacks history or data is missing; see the journal's "
                         "v_runs, or -v)\n";
        std::cout << "\nreport: " << fs::absolute(report).string() << "\n";
        if (o.journal) std::cout << "journal: " << fs::absolute(*o.journal).string() << "\n";
        return kExitOk;
    }

    // A sweep: every point on all cores, each with its own io_context, journal and broker.
    const std::size_t workers =
        std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), configs.size());
    if (!o.quiet && !o.json)
        std::cerr << "sweep: " << configs.size() << " runs of " << sessions.size() << " sessions on " << workers
                  << " threads\n";
    Progress progress(configs.size() * sessions.size(), "sweep", !o.quiet);
    std::vector<BacktestSummary> summaries(configs.size());
    std::vector<int> codes(configs.size(), kExitOk);
    std::vector<std::string> errors(configs.size());
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> pool;
    for (std::size_t w = 0; w < workers; ++w) {
        pool.emplace_back([&] {
            for (std::size_t i = next++; i < configs.size(); i = next++) {
                try {
                    ScratchJournal scratch;
                    scratch.journal = scratch_journal(true, scratch.file);
                    summaries[i].params = grid[i];
                    codes[i] = run_one(configs[i], market, sessions, *scratch.journal, log, progress, summaries[i]);
                } catch (const storage::JournalError& e) {
                    codes[i] = kExitJournal;
                    errors[i] = e.what();
                } catch (const std::exception& e) {
                    codes[i] = kExitInternal;
                    errors[i] = e.what();
                }
            }
        });
    }
    for (auto& t : pool) t.join();
    for (std::size_t i = 0; i < configs.size(); ++i)
        if (codes[i] != kExitOk) {
            std::cerr << "ballast: sweep run " << i + 1 << ": " << errors[i] << "\n";
            return codes[i];
        }

    std::vector<nlohmann::json> rows;
    for (const auto& s : summaries) rows.push_back(metrics_json(s));
    rank(rows, o.rank_by);
    if (rows.size() > static_cast<std::size_t>(o.top)) rows.resize(static_cast<std::size_t>(o.top));
    if (o.json) {
        std::cout << nlohmann::json(rows).dump(2) << "\n";
        return kExitOk;
    }
    std::printf("sweep of %zu runs, %s .. %s, ranked by %s (%s first)%s\n", configs.size(),
                sessions.front().to_string().c_str(), sessions.back().to_string().c_str(), o.rank_by.c_str(),
                lower_is_better(o.rank_by) ? "lowest" : "highest",
                rows.size() < configs.size() ? (", top " + std::to_string(rows.size())).c_str() : "");
    print_table(rows, axes, o.rank_by);
    return kExitOk;
}

}  // namespace ballast::daemon
