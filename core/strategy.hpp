#pragma once
// Strategies turn price history into signals in [-1, 1] and target weights. Pure.
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace ballast::core {

// What a strategy sees for one session: each symbol's valuation closes up to and
// including the session (ascending; the last element is the session's close). Views:
// the caller keeps the closes alive and unchanged during the evaluation (the jobs point
// into their series; no window is copied).
struct StrategyInput {
    using Closes = SymbolMap<std::span<const double>>;
    Date session;
    Closes closes;
};

struct StrategyOutput {
    SymbolMap<double> signals;  // each in [-1, 1]
    Weights targets;            // fractions, summing to at most 1
    std::string problem;        // non-empty: no targets this session, and why
};

class Strategy {
public:
    virtual ~Strategy() = default;
    virtual const std::string& name() const = 0;
    // The symbols whose history the strategy needs.
    virtual std::vector<Symbol> universe() const = 0;
    // How many closes per symbol it needs (1 for fixed weights).
    virtual std::size_t lookback() const = 0;
    virtual StrategyOutput evaluate(const StrategyInput& input) const = 0;
};

// The first calendar date of a history that holds `closes` NYSE sessions through `through`
// (inclusive; `through` itself counts when it is a trading day), moved `margin_days`
// calendar days earlier for unscheduled closures and missing bars. The caller of
// Strategy::evaluate reads closes from this date so that lookback() trading days are
// there: a fixed calendar ratio such as lookback * 7 / 5 + 10 falls short by up to a few
// sessions around holidays (the 200 sessions through 2001-09-17 span 298 calendar days).
Date history_start(Date through, std::size_t closes, int margin_days = 10);

// Fixed weights (All Weather, 60/40, any mix): signal 1 for every symbol with a valid
// close for the session, targets = the configured weights. A symbol without a valid
// close gives no targets at all (problem set): the rebalance then holds.
class FixedWeights final : public Strategy {
public:
    FixedWeights(std::string name, Weights weights);
    const std::string& name() const override { return name_; }
    std::vector<Symbol> universe() const override;
    std::size_t lookback() const override { return 1; }
    StrategyOutput evaluate(const StrategyInput& input) const override;

private:
    std::string name_;
    Weights weights_;
};

}  // namespace ballast::core
