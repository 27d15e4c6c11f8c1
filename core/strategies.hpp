#pragma once
// Rules-based strategies: trend following, dual momentum, inverse-volatility risk parity.
// Pure: closes in, signals and target weights out (see core/strategy.hpp for the
// interface and StrategyInput / StrategyOutput).
//
// Shared contract:
// - lookback() is in trading days: the number of closes per symbol that evaluate() needs
//   (the last one being the session's close). The caller may pass more; only the newest
//   lookback() closes are used.
// - Fail safe: a symbol of the universe with no close for the session, fewer closes than
//   it needs (early in the history), or any needed close that is not finite and > 0 gives
//   no targets and a `problem` naming the symbol and the count: the rebalance then holds.
//   Invalid parameters (a period of 0, top_n of 0, ...) give a problem on every evaluate().
// - Targets are exact decimals, each weight rounded DOWN to kWeightDigits fractional
//   digits, so they sum to at most 1; whatever is not targeted stays in cash. Every symbol
//   of the universe appears in the targets (0 where nothing is held), so the journal shows
//   the whole allocation and anything held outside it is sold.
// - Signals are in [-1, 1] as documented per strategy.
// Not thread-safe to mutate; evaluate() is const and keeps no state (safe to call
// concurrently).
#include <optional>
#include <string>
#include <vector>

#include "core/strategy.hpp"

namespace ballast::core {

inline constexpr int kWeightDigits = 6;

// A fraction rounded down to kWeightDigits digits and clamped to [0, 1]; NaN gives 0.
Decimal weight_down(double fraction);

// Trend following (a moving-average filter per symbol).
//
// Each symbol with base weight w holds w while its close is at or above its SMA of the
// last `sma_days` closes (the session's included); below it, w moves to `safe_asset`, or
// to cash when there is none. The safe asset may also carry a base weight; its own weight
// then stays with it whatever its trend (moving it to itself is a no-op). A safe asset
// without a base weight needs only the session's close; every weighted symbol needs
// `sma_days` closes. Signal per weighted symbol: +1 at or above its SMA, -1 below.
struct TrendParams {
    std::size_t sma_days = 200;
    std::optional<Symbol> safe_asset;  // nullopt: cash
};

class TrendFollowing final : public Strategy {
public:
    TrendFollowing(std::string name, Weights base_weights, TrendParams params);
    const std::string& name() const override { return name_; }
    std::vector<Symbol> universe() const override;  // the weighted symbols and the safe asset
    std::size_t lookback() const override { return params_.sma_days; }
    StrategyOutput evaluate(const StrategyInput& input) const override;

private:
    std::string name_;
    Weights weights_;
    TrendParams params_;
};

// Dual momentum (relative + absolute momentum).
//
// Each candidate's return over `lookback_days` trading days is close / close[lookback_days
// closes earlier] - 1 (needs lookback_days + 1 closes). Candidates are ranked by return,
// highest first (ties: symbol order), and the top `top_n` are picked, each with an equal
// share of round_down(1 / top_n). Absolute filter: a pick whose return is below the hurdle
// gives its share to `safe_asset` (or cash when there is none); the hurdle is the return of
// `cash_proxy` over the same window when one is set, else `absolute_threshold` (a
// fraction, 0 by default). A return equal to the hurdle passes. The safe asset may be a
// candidate itself; it needs only the session's close otherwise (the cash proxy needs
// lookback_days + 1 closes). Signal per candidate: its return clipped to [-1, 1].
struct DualMomentumParams {
    std::vector<Symbol> candidates;
    std::size_t lookback_days = 252;
    std::size_t top_n = 1;               // 1 .. candidates.size()
    double absolute_threshold = 0.0;     // fraction; ignored when cash_proxy is set
    std::optional<Symbol> cash_proxy;
    std::optional<Symbol> safe_asset;    // nullopt: cash
};

class DualMomentum final : public Strategy {
public:
    DualMomentum(std::string name, DualMomentumParams params);
    const std::string& name() const override { return name_; }
    std::vector<Symbol> universe() const override;  // candidates, safe asset, cash proxy
    std::size_t lookback() const override { return params_.lookback_days + 1; }
    StrategyOutput evaluate(const StrategyInput& input) const override;

private:
    std::string name_;
    DualMomentumParams params_;
};

// Risk parity by inverse volatility.
//
// Each symbol's volatility is the sample standard deviation of its last `lookback_days`
// daily log returns, annualised by sqrt(252) (core::Volatility; needs lookback_days + 1
// closes, lookback_days >= 2). Weights are (1 / vol_i) / sum_j (1 / vol_j).
// Volatility target (optional, a fraction: 0.10 = 10% a year): every weight is scaled by
// min(1, vol_target / estimate), the rest stays in cash, where the estimate is the
// weighted sum of the volatilities, sum_i w_i vol_i — the portfolio volatility if all
// correlations were 1, so an upper bound: the strategy errs toward less exposure than the
// target when its assets diversify each other.
// A volatility of zero (a flat price over the whole window) is treated as stale data and
// gives a problem (hold), as does a volatility that is not finite: weights are never NaN
// or infinite. Signal per symbol: the exposure factor min(1, vol_target / estimate) (1
// without a target), the same for every symbol.
struct RiskParityParams {
    std::vector<Symbol> universe;
    std::size_t lookback_days = 63;
    std::optional<double> vol_target;  // annualised fraction, > 0
};

class RiskParity final : public Strategy {
public:
    RiskParity(std::string name, RiskParityParams params);
    const std::string& name() const override { return name_; }
    std::vector<Symbol> universe() const override { return params_.universe; }
    std::size_t lookback() const override { return params_.lookback_days + 1; }
    StrategyOutput evaluate(const StrategyInput& input) const override;

private:
    std::string name_;
    RiskParityParams params_;
};

}  // namespace ballast::core
