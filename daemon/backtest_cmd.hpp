#pragma once
// `ballast backtest`: the daemon's own scheduler (replay clock), jobs (ChainJobs), risk
// stage and sim broker over a chosen period, strategy and costs, with parameter sweeps.
// A backtest is `ballast demo` parameterised: the same code path as `ballast run
// --replay`, so the two produce the same orders for the same configuration.
//
// Options override the configuration: each is written into the config's TOML and the
// result is validated by load_config() as a whole (so --param sma_days=1 is refused with
// the same rule as the file), and a refused override exits 64 naming the key and the
// option. The config's own errors exit 78. A backtest always uses the sim broker and
// never writes the config's journal.
//
// Exit codes as in app.hpp: 0 done (also when some sessions failed: they are counted in
// the output), 64 bad option, 65 bad price data, 70 internal, 74 journal, 78 config.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/decimal.hpp"
#include "daemon/app.hpp"

namespace ballast::daemon {

struct BacktestOptions {
    CommonOptions common;
    std::optional<std::string> from, to;           // YYYY-MM-DD -> [sim] start / end
    std::optional<std::string> prices_dir;          // -> sim.data_dir
    std::optional<std::string> price_field;         // close | adj_close
    std::optional<std::string> fill;                // next_open | close
    std::optional<std::string> cash;                // dollars -> sim.initial_cash
    std::optional<std::string> commission_bps;
    std::optional<std::string> slippage_bps;
    std::optional<std::string> weights;             // SYM=W,... fractions summing to 1
    std::optional<std::string> rebalance;           // daily|weekly|monthly|quarterly|annual|drift
    std::optional<std::string> strategy;            // fixed_weights|trend|dual_momentum|risk_parity
    std::vector<std::string> params;                // k=v, as in [strategy.params]
    std::optional<std::filesystem::path> journal;   // keep the journal here (recreated)
    bool no_journal = false;                        // journal in memory (tmpfs), never kept
    bool json = false;                              // one JSON document on stdout
    // HTML report; default backtest-report.html, written without --json (with --json only
    // when given).
    std::optional<std::filesystem::path> report;
    std::vector<std::string> sweeps;                // NAME=LO:HI:STEP
    std::string rank_by = "sharpe";
    int top = 20;
    bool quiet = false;                             // no progress on stderr
};

int cmd_backtest(const BacktestOptions& options);

// ---- option parsing (pure; exposed for tests) ---------------------------------------

// "VTI=0.4,TLT=0.3": fractions in (0, 1] summing to 1 within 0.0001. nullopt with
// `error` set to a sentence naming the entry or the sum.
std::optional<std::map<std::string, core::Decimal>> parse_weights(const std::string& text, std::string& error);

// "NAME=LO:HI:STEP" with LO <= HI, STEP > 0: LO, LO+STEP, ... up to HI (within 1e-9 of a
// step). Integer-valued names (sma_days, lookback_days, top_n, min_interval_days) need
// integral LO and STEP. At most 10000 values per axis.
struct SweepAxis {
    std::string name;
    std::vector<double> values;
    bool integer = false;
};
std::optional<SweepAxis> parse_sweep(const std::string& spec, std::string& error);

}  // namespace ballast::daemon
