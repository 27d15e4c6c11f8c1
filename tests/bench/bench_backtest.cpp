// Backtest benchmark: the trend strategy (SMA 200, weight moves to cash below it) over a
// synthetic universe of N symbols x D trading days with monthly rebalancing, run through
// the daemon's own path: replay clock, scheduler, ChainJobs (JournalDetail::trading, as
// `ballast backtest`), risk stage, sim broker, journal. Prints wall times with the journal
// on (a file written behind by its writer thread, as `ballast backtest` does: the engine on
// one core, the file's SQLite work on the other) and off (a transient journal, as
// --no-journal: one thread), against the floors, each with the process's CPU time
// (user, system) and page faults during the run; then the same universe end to end through
// the real command: CSV files written to a temp directory and `ballast backtest` timed as a
// process, with --no-journal and with its journal (reading 2.5 million CSV rows included).
//   ./build/release/tests/bench/bench_backtest [SYMBOLS [DAYS [file|memory|cli [KEEP]]]]   (default 500 5000, all)
// With `file KEEP`, the journal is kept at the path KEEP (e.g. for tests/bench/journal_bound.sh);
// with `cli KEEP`, the command's inputs (CSV files and config) are kept in the directory KEEP
// (new or empty: anything else is refused, exit 64).
// BENCH_REPS=N runs the transient backtest N times in one process (each from a heap whose
// free memory went back to the kernel: see release_free_memory()). The heap is in huge
// pages, as `ballast backtest`'s is (daemon/huge_pages.hpp); freed spans given back that do
// not line up with 2 MiB split them, so only the first run is like a fresh command's.
// BENCH_CALENDAR=annual rebalances yearly instead of monthly (~8,300 orders instead of
// ~77,000): what the sessions cost without most of the trading. The floors are for monthly.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "broker/sim.hpp"
#include "core/strategies.hpp"
#include "daemon/huge_pages.hpp"
#include "daemon/jobs.hpp"
#include "daemon/scheduler.hpp"
#include "storage/journal.hpp"

namespace {

using namespace ballast;

// "monthly" (the benchmark's) or "annual", from BENCH_CALENDAR; anything else ends the run.
const char* calendar_name() {
    static const char* name = [] {
        const char* env = std::getenv("BENCH_CALENDAR");
        const std::string v = env ? env : "monthly";
        if (v != "monthly" && v != "annual") {
            std::fprintf(stderr, "bench_backtest: BENCH_CALENDAR=%s: expected monthly or annual\n", v.c_str());
            std::exit(64);
        }
        return v == "annual" ? "annual" : "monthly";
    }();
    return name;
}

std::map<core::Symbol, std::vector<core::Bar>> synthetic(int symbols, const std::vector<core::Date>& days) {
    std::map<core::Symbol, std::vector<core::Bar>> out;
    std::mt19937_64 rng(42);
    std::normal_distribution<double> step(0.0003, 0.012);
    for (int s = 0; s < symbols; ++s) {
        char name[16];
        std::snprintf(name, sizeof name, "S%03d", s);
        auto& v = out[name];
        v.reserve(days.size());
        double p = 50.0 + s % 50;
        for (const auto d : days) {
            const double open = p;
            p *= std::exp(step(rng));
            const double hi = std::max(open, p) * 1.002, lo = std::min(open, p) * 0.998;
            v.push_back({name, d, open, hi, lo, p, p, 1000});
        }
    }
    return out;
}

}  // namespace

// gperftools' C interface, when tcmalloc is the allocator (a weak reference: null otherwise).
extern "C" void MallocExtension_ReleaseFreeMemory(void) __attribute__((weak));

namespace {

// Gives the memory freed so far back to the kernel, so that a timed run starts as a fresh
// `ballast backtest` does after loading its data: it must fault in every page it uses.
// (Building the market frees the synthetic bars, 220 MB at 500 x 5,000; a run that
// reused them would miss the first-touch cost, which on a virtual machine is ~10 us a page.)
void release_free_memory() {
    if (MallocExtension_ReleaseFreeMemory) MallocExtension_ReleaseFreeMemory();
    else ::malloc_trim(0);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// What the process spent between two getrusage() calls: on a virtual machine, page faults
// (first touches of memory) can be a large share of a run, and show up as system time.
struct Usage {
    double user = 0, system = 0;
    long faults = 0;
};
Usage usage_now() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    const auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return {secs(u.ru_utime), secs(u.ru_stime), u.ru_minflt};
}
Usage last_run_usage;  // of the last run_once's timed part

double run_once(const std::filesystem::path& journal_path, int symbols, const std::vector<core::Date>& days,
                const std::shared_ptr<broker::SimMarket>& market, int* orders, double* writer_wait = nullptr) {
    auto journal =
        journal_path.empty() ? storage::Journal::transient() : storage::Journal::open_write_behind(journal_path);
    daemon::Config config;
    config.sim.price_field = core::PriceField::close;
    config.sim.fill = core::FillModel::close;
    config.rebalance.calendar =
        std::string(calendar_name()) == "annual" ? core::RebalanceCalendar::annual : core::RebalanceCalendar::monthly;
    config.rebalance.min_interval_days = 0;
    config.risk.max_order_fraction = core::Decimal::from_int(1);
    config.risk.max_position_fraction = core::Decimal::from_int(1);
    config.orders.planner.fractional = true;
    core::Weights weights;
    const auto w = core::Decimal::from_int(1) / core::Decimal::from_int(symbols);
    for (const auto& s : market->symbols()) weights[s] = w.round_down(6);
    core::TrendFollowing strategy("trend", weights, core::TrendParams{200, std::nullopt});
    auto log = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_st>());
    daemon::ReplayClock clock(core::ny_to_utc(days.front(), core::TimeOfDay{0}));
    broker::SimBrokerConfig bc;
    bc.fill = core::FillModel::close;
    bc.price_field = core::PriceField::close;
    bc.initial_cash = core::Decimal::from_int(1'000'000);
    broker::SimBroker broker(market, bc, [&] { return clock.now(); });
    const auto run_id = storage::RunRepository(*journal).start_run("bench", "sim", "", "x");
    daemon::ChainJobs jobs(config, *journal, broker, *market, strategy, clock, false, log, daemon::JournalDetail::trading);
    daemon::Scheduler scheduler(clock, jobs, *journal, config.schedule, run_id, false, log);
    release_free_memory();
    const Usage before = usage_now();
    const auto start = std::chrono::steady_clock::now();
    net::io_context io;
    scheduler.set_batch(64);
    net::co_spawn(io, [&]() -> awaitable<void> {
        for (const auto d : days) co_await scheduler.run_session(d, true);
        scheduler.flush();
    }, net::detached);
    io.run();
    const auto engine_done = std::chrono::steady_clock::now();
    journal->sync();  // the file written behind: timed until all of it is on file
    if (writer_wait) *writer_wait = seconds_since(engine_done);
    *orders = jobs.stats().orders;
    const double wall = seconds_since(start);
    const Usage after = usage_now();
    last_run_usage = {after.user - before.user, after.system - before.system, after.faults - before.faults};
    return wall;
}

// The universe as Yahoo CSV files plus a config for `ballast backtest`, in `dir`.
void write_cli_inputs(const std::filesystem::path& dir, const std::map<core::Symbol, std::vector<core::Bar>>& bars) {
    std::filesystem::create_directories(dir / "prices");
    std::string weights;
    const double each = 100.0 / static_cast<double>(bars.size());
    char line[200];
    for (const auto& [symbol, v] : bars) {
        std::ofstream out(dir / "prices" / (symbol + ".csv"));
        out << "Date,Open,High,Low,Close,Adj Close,Volume\n";
        for (const auto& b : v) {
            std::snprintf(line, sizeof line, "%s,%.6f,%.6f,%.6f,%.6f,%.6f,%.0f\n", b.date.to_string().c_str(), b.open, b.high,
                          b.low, b.close, b.adj_close, b.volume);
            out << line;
        }
        std::snprintf(line, sizeof line, "%s = %.4f\n", symbol.c_str(), std::floor(each * 10000) / 10000);
        weights += line;
    }
    std::ofstream(dir / "bench.toml") << "mode = \"sim\"\njournal = \"" << (dir / "unused.db").string()
                                      << "\"\n[strategy]\nname = \"trend\"\nkind = \"trend\"\n[strategy.weights]\n"
                                      << weights << "[strategy.params]\nsma_days = 200\n"
                                      << "[rebalance]\ncalendar = \"" << calendar_name() << "\"\nmin_interval_days = 0\n"
                                      << "[orders]\nfractional = true\n"
                                      << "[risk]\nmax_order_pct = 100\nmax_position_pct = 100\n"
                                      << "[sim]\ndata_dir = \"" << (dir / "prices").string()
                                      << "\"\nfill = \"close\"\nprice_field = \"close\"\ninitial_cash = 1000000\n";
}

}  // namespace

int main(int argc, char** argv) {
    // As `ballast backtest` does before it reads its price files.
    const std::string heap = daemon::use_huge_page_heap();
    const int symbols = argc > 1 ? std::atoi(argv[1]) : 500;
    const int n_days = argc > 2 ? std::atoi(argv[2]) : 5000;
    auto days = core::trading_days(core::Date::parse("2000-01-03").value(), core::Date::parse("2030-12-31").value());
    days.resize(static_cast<std::size_t>(n_days));
    const auto t0 = std::chrono::steady_clock::now();
    auto market = broker::SimMarket::from_bars(synthetic(symbols, days));
    const double gen = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("backtest bench: trend SMA(200), %d symbols x %d sessions, %s rebalancing (data made in %.2f s)\n",
                symbols, n_days, calendar_name(), gen);
    std::printf("  memory: %s\n", heap.c_str());
    const auto file = std::filesystem::temp_directory_path() / "ballast-bench-backtest.db";
    for (const char* suffix : {"", "-wal", "-shm", ".lock"}) std::filesystem::remove(file.string() + suffix);
    const std::string only = argc > 3 ? argv[3] : "";
    const double sessions = n_days, bars = static_cast<double>(symbols) * n_days;
    const auto report = [&](const char* what, double seconds, int orders, const char* floor) {
        std::printf("  %-34s %8.3f s  %7.1f us/session  %6.0f ns/bar  %d orders  %s\n", what, seconds,
                    seconds / sessions * 1e6, seconds / bars * 1e9, orders, floor);
    };
    const auto report_usage = [] {
        std::printf("  %-34s %8.3f s user + %.3f s system, %ld page faults\n", "  of which CPU (all threads):",
                    last_run_usage.user, last_run_usage.system, last_run_usage.faults);
    };
    const bool at_floor_size = symbols == 500 && n_days == 5000 && std::string(calendar_name()) == "monthly";
    int orders = 0;
    if (only.empty() || only == "file") {
        double wait = 0;
        const double t = run_once(file, symbols, days, market, &orders, &wait);
        report("journal on (file):", t, orders, !at_floor_size ? "" : t < 1.0 ? "(floor 1.0 s: met)" : "(floor 1.0 s: NOT met)");
        std::printf("  %-34s %8.3f s  (the writer thread still applying batches after the last session)\n",
                    "  of which the writer's tail:", wait);
        report_usage();
    }
    const int repeats = std::getenv("BENCH_REPS") ? std::max(1, std::atoi(std::getenv("BENCH_REPS"))) : 1;
    if (only.empty() || only == "memory") for (int rep = 0; rep < repeats; ++rep) {
        const double t = run_once("", symbols, days, market, &orders);
        report("journal off (transient):", t, orders, !at_floor_size ? "" : t < 0.3 ? "(floor 0.3 s: met)" : "(floor 0.3 s: NOT met)");
        report_usage();
    }
    if (argc > 4 && only == "file") {
        const std::filesystem::path keep = argv[4];
        for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(keep.string() + suffix);
        std::filesystem::copy_file(file, keep);
        std::printf("  journal kept at %s\n", keep.c_str());
    }
    for (const char* suffix : {"", "-wal", "-shm", ".lock"}) std::filesystem::remove(file.string() + suffix);
    if (only.empty() || only == "cli") {
        // `cli DIR` keeps the inputs in DIR (e.g. to profile the command on them).
        const bool keep_inputs = argc > 4;
        const auto dir = keep_inputs ? std::filesystem::path(argv[4])
                                     : std::filesystem::temp_directory_path() / ("ballast-bench-cli-" + std::to_string(::getpid()));
        std::error_code ec;
        if (keep_inputs && std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
            std::fprintf(stderr, "bench_backtest: %s exists and is not empty; give a new directory for the inputs\n",
                         dir.c_str());
            return 64;
        }
        if (!keep_inputs) std::filesystem::remove_all(dir);
        write_cli_inputs(dir, synthetic(symbols, days));
        // Without a journal, then with the journal `ballast backtest` keeps by default (a
        // file written behind; here kept with --journal so its size is the real one).
        int status = 0;
        for (const char* journal : {"--no-journal", "--journal"}) {
            const bool kept = std::string(journal) == "--journal";
            const std::string cmd = std::string("'") + BALLAST_BINARY + "' backtest -q --json " + journal +
                                    (kept ? " '" + (dir / "bench.db").string() + "'" : std::string()) + " --config '" +
                                    (dir / "bench.toml").string() + "' > '" + (dir / "out.json").string() + "'";
            rusage before{};
            ::getrusage(RUSAGE_CHILDREN, &before);
            const auto t0 = std::chrono::steady_clock::now();
            status = std::system(cmd.c_str());
            const double t = seconds_since(t0);
            rusage after{};
            ::getrusage(RUSAGE_CHILDREN, &after);
            std::ifstream in(dir / "out.json");
            const std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            const auto at = out.find("\"orders\":");
            report(kept ? "ballast backtest (CLI, journal):" : "ballast backtest (CLI, no journal):", t,
                   at == std::string::npos ? -1 : std::atoi(out.c_str() + at + 9),
                   status == 0 ? "(process, reading the CSV files included)" : "(FAILED)");
            // (Not its peak memory: the children's ru_maxrss counts the forked copy of this process.)
            std::printf("  %-34s %8ld page faults\n", "  of which memory:", after.ru_minflt - before.ru_minflt);
            if (status != 0) break;
        }
        if (keep_inputs) std::printf("  inputs kept in %s (bench.toml, prices/)\n", dir.c_str());
        else std::filesystem::remove_all(dir);
        if (status != 0) return 1;
    }
    return 0;
}
