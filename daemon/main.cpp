// ballast: one binary, subcommands. Parses the command line and hands over to app.cpp.
#include <dlfcn.h>

#include <iostream>

#include <CLI/CLI.hpp>

#include "daemon/app.hpp"
#include "daemon/backtest_cmd.hpp"
#include "daemon/indicator_cmd.hpp"

namespace bd = ballast::daemon;

namespace {

// The allocator this process really runs with: gperftools' tcmalloc when `malloc` is its
// tc_malloc (not merely loaded: a preloaded allocator would win), else the C library's
// (or whichever replaced it: a sanitizer's, a preloaded one).
std::string allocator_in_use() {
    using TcVersion = const char* (*)(int*, int*, const char**);
    void* tc_malloc = ::dlsym(RTLD_DEFAULT, "tc_malloc");
    void* f = ::dlsym(RTLD_DEFAULT, "tc_version");
    if (tc_malloc && f && tc_malloc == ::dlsym(RTLD_DEFAULT, "malloc")) {
        int major = 0, minor = 0;
        const char* patch = "";
        const char* version = reinterpret_cast<TcVersion>(f)(&major, &minor, &patch);
        return std::string("tcmalloc (") + (version ? version : "unknown version") + ")";
    }
    return "system malloc";  // or a replacement of it
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ballast: a portfolio rebalancing daemon for one brokerage account"};
    app.set_version_flag("--version", std::string("ballast ") + BALLAST_VERSION + " (memory allocator: " + allocator_in_use() + ")");
    app.require_subcommand(1);

    bd::CommonOptions common;
    auto add_common = [&](CLI::App* sub) {
        sub->add_option("-c,--config", common.config, "configuration file (default: $BALLAST_CONFIG, ./config.toml, /etc/ballast/config.toml)");
        sub->add_flag("-v,--verbose", common.verbose, "debug logging");
    };

    bd::DemoOptions demo;
    auto* demo_cmd = app.add_subcommand("demo", "replay the bundled 2006-2025 history with the All Weather portfolio");
    add_common(demo_cmd);
    demo_cmd->add_option("--journal", demo.journal, "journal file to (re)create")->capture_default_str();
    demo_cmd->add_option("--from", demo.from, "first session (YYYY-MM-DD)");
    demo_cmd->add_option("--to", demo.to, "last session (YYYY-MM-DD)");
    demo_cmd->add_flag("-q,--quiet", demo.quiet, "no progress lines");

    bd::BacktestOptions backtest;
    auto* backtest_cmd = app.add_subcommand("backtest", "replay a period through the daemon's scheduler, jobs and sim broker; metrics, report, sweeps");
    add_common(backtest_cmd);
    backtest_cmd->add_option("--from", backtest.from, "first session (YYYY-MM-DD; default [sim] start or the data's)");
    backtest_cmd->add_option("--to", backtest.to, "last session (YYYY-MM-DD; default [sim] end or the data's)");
    backtest_cmd->add_option("--prices-dir", backtest.prices_dir, "directory of SYMBOL.csv price files (default [sim] data_dir)");
    backtest_cmd->add_option("--price-field", backtest.price_field, "close or adj_close");
    backtest_cmd->add_option("--fill", backtest.fill, "next_open or close");
    backtest_cmd->add_option("--cash", backtest.cash, "starting cash in dollars");
    backtest_cmd->add_option("--commission-bps", backtest.commission_bps, "commission in basis points of notional");
    backtest_cmd->add_option("--slippage-bps", backtest.slippage_bps, "slippage in basis points");
    backtest_cmd->add_option("--weights", backtest.weights, "fixed weights SYM=FRACTION,... summing to 1 (e.g. VTI=0.4,TLT=0.3,GLD=0.2,DBC=0.1)");
    backtest_cmd->add_option("--rebalance", backtest.rebalance, "daily, weekly, monthly, quarterly, annual or drift");
    backtest_cmd->add_option("--strategy", backtest.strategy, "fixed_weights, trend, dual_momentum or risk_parity");
    backtest_cmd->add_option("--param", backtest.params, "strategy parameter NAME=VALUE as in [strategy.params] (repeatable)");
    backtest_cmd->add_option("--journal", backtest.journal, "keep the journal in this file (recreated)");
    backtest_cmd->add_flag("--no-journal", backtest.no_journal, "write no journal (metrics from memory)");
    backtest_cmd->add_flag("--json", backtest.json, "print the metrics as one JSON document (an array with --sweep)");
    backtest_cmd->add_option("--report", backtest.report, "HTML report file (default backtest-report.html; with --json only when given)");
    backtest_cmd->add_option("--sweep", backtest.sweeps, "NAME=LO:HI:STEP, a parameter grid (repeatable: cartesian product)");
    backtest_cmd->add_option("--rank-by", backtest.rank_by, "sweep: metric to rank by")->capture_default_str();
    backtest_cmd->add_option("--top", backtest.top, "sweep: rows to show")->capture_default_str();
    backtest_cmd->add_flag("-q,--quiet", backtest.quiet, "no progress on stderr");

    bd::OnceOptions once;
    auto* once_cmd = app.add_subcommand("once", "run the chain for the latest closed session now, then exit");
    add_common(once_cmd);
    once_cmd->add_flag("--dry-run", once.dry_run, "journal the plan, place no order");
    once_cmd->add_option("--session", once.session, "run this session instead (YYYY-MM-DD)");
    once_cmd->add_flag("--live", once.live, "confirm trading real money (mode = \"live\")");

    bd::RunOptions run;
    auto* run_cmd = app.add_subcommand("run", "the daemon: run every session's chain at its scheduled time");
    add_common(run_cmd);
    run_cmd->add_flag("--replay", run.replay, "sim mode: replay the sim window on the virtual clock");
    run_cmd->add_flag("--live", run.live, "confirm trading real money (mode = \"live\")");

    auto* check_cmd = app.add_subcommand("check-config", "validate the configuration and print the effective values");
    add_common(check_cmd);
    auto* migrate_cmd = app.add_subcommand("migrate", "apply pending journal migrations");
    add_common(migrate_cmd);
    std::string halt_reason;
    auto* halt_cmd = app.add_subcommand("halt", "stop all trading until `ballast resume` (kept in the journal)");
    add_common(halt_cmd);
    halt_cmd->add_option("--reason", halt_reason, "why (journaled)")->required();
    auto* resume_cmd = app.add_subcommand("resume", "clear a halt");
    add_common(resume_cmd);

    bd::IndicatorOptions indicator;
    auto* indicator_cmd = app.add_subcommand("indicator", "print a technical indicator over a Yahoo-style price CSV");
    indicator_cmd->add_option("name", indicator.name, "sma, ema, rsi, atr, bollinger, macd, momentum, roc or volatility")->required();
    indicator_cmd->add_option("--csv", indicator.csv, "price file (Date,Open,High,Low,Close[,Adj Close][,Volume])")->required();
    indicator_cmd->add_option("--period", indicator.period, "bars (default 14 rsi/atr, 10 momentum/roc, 20 others)");
    indicator_cmd->add_option("--fast", indicator.fast, "macd fast EMA (default 12)");
    indicator_cmd->add_option("--slow", indicator.slow, "macd slow EMA (default 26)");
    indicator_cmd->add_option("--signal", indicator.signal, "macd signal EMA (default 9)");
    indicator_cmd->add_option("--devs", indicator.devs, "bollinger standard deviations (default 2)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return bd::kExitUsage;
    }

    try {
        demo.common = once.common = run.common = backtest.common = common;
        if (demo_cmd->parsed()) return bd::cmd_demo(demo);
        if (once_cmd->parsed()) return bd::cmd_once(once);
        if (backtest_cmd->parsed()) return bd::cmd_backtest(backtest);
        if (run_cmd->parsed()) return bd::cmd_run(run);
        if (check_cmd->parsed()) return bd::cmd_check_config(common);
        if (migrate_cmd->parsed()) return bd::cmd_migrate(common);
        if (halt_cmd->parsed()) return bd::cmd_halt(common, halt_reason);
        if (resume_cmd->parsed()) return bd::cmd_resume(common);
        if (indicator_cmd->parsed()) return bd::cmd_indicator(indicator);
    } catch (const std::exception& e) {
        std::cerr << "ballast: internal error: " << e.what() << "\n";
        return bd::kExitInternal;
    }
    return bd::kExitUsage;
}
