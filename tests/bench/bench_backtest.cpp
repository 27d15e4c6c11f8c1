// Backtest benchmark: the trend strategy (SMA 200, weight moves to cash below it) over a
// synthetic universe of N symbols x D trading days with monthly rebalancing, run through
// the daemon's own path: replay clock, scheduler, ChainJobs, risk stage, sim broker,
// journal. Prints wall times with the journal on (a file) and off (in-memory SQLite).
//   ./build/release/tests/bench/bench_backtest [SYMBOLS [DAYS]]   (default 500 5000)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "broker/sim.hpp"
#include "core/strategies.hpp"
#include "daemon/jobs.hpp"
#include "daemon/scheduler.hpp"
#include "storage/journal.hpp"

namespace {

using namespace ballast;

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

double run_once(const std::filesystem::path& journal_path, int symbols, const std::vector<core::Date>& days,
                const std::shared_ptr<broker::SimMarket>& market, int* orders) {
    auto journal = journal_path.empty() ? storage::Journal::transient() : storage::Journal::open(journal_path);
    daemon::Config config;
    config.sim.price_field = core::PriceField::close;
    config.sim.fill = core::FillModel::close;
    config.rebalance.calendar = std::getenv("BENCH_ANNUAL") ? core::RebalanceCalendar::annual : core::RebalanceCalendar::monthly;
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
    const auto start = std::chrono::steady_clock::now();
    net::io_context io;
    scheduler.set_batch(64);
    net::co_spawn(io, [&]() -> awaitable<void> {
        for (const auto d : days) co_await scheduler.run_session(d, true);
        scheduler.flush();
    }, net::detached);
    io.run();
    *orders = jobs.stats().orders;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    const int symbols = argc > 1 ? std::atoi(argv[1]) : 500;
    const int n_days = argc > 2 ? std::atoi(argv[2]) : 5000;
    auto days = core::trading_days(core::Date::parse("2000-01-03").value(), core::Date::parse("2030-12-31").value());
    days.resize(static_cast<std::size_t>(n_days));
    const auto t0 = std::chrono::steady_clock::now();
    auto market = broker::SimMarket::from_bars(synthetic(symbols, days));
    const double gen = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("backtest bench: trend SMA(200), %d symbols x %d sessions, monthly rebalancing (data made in %.2f s)\n",
                symbols, n_days, gen);
    const auto file = std::filesystem::temp_directory_path() / "ballast-bench-backtest.db";
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file.string() + suffix);
    const std::string only = argc > 3 ? argv[3] : "";
    int orders = 0;
    if (only.empty() || only == "file") {
        const double with_journal = run_once(file, symbols, days, market, &orders);
        std::printf("  journal on  (file):      %8.3f s  (%d orders)\n", with_journal, orders);
    }
    if (only.empty() || only == "memory") {
        const double in_memory = run_once("", symbols, days, market, &orders);
        std::printf("  journal off (transient): %8.3f s  (%d orders)\n", in_memory, orders);
    }
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file.string() + suffix);
    return 0;
}
