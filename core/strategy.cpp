#include "core/strategy.hpp"

#include <cmath>

namespace ballast::core {

Date history_start(Date through, std::size_t closes, int margin_days) {
    Date d = through;
    if (closes > 0 && !is_trading_day(d)) d = previous_trading_day(d);
    for (std::size_t i = 1; i < closes; ++i) d = previous_trading_day(d);
    return d.plus_days(-margin_days);
}

FixedWeights::FixedWeights(std::string name, Weights weights) : name_(std::move(name)), weights_(std::move(weights)) {}

std::vector<Symbol> FixedWeights::universe() const {
    std::vector<Symbol> out;
    for (const auto& [s, w] : weights_) out.push_back(s);
    return out;
}

StrategyOutput FixedWeights::evaluate(const StrategyInput& input) const {
    StrategyOutput out;
    for (const auto& [symbol, weight] : weights_) {
        const auto it = input.closes.find(symbol);
        const bool valid = it != input.closes.end() && !it->second.empty() && std::isfinite(it->second.back()) &&
                           it->second.back() > 0;
        out.signals[symbol] = valid ? 1.0 : 0.0;
        if (!valid && out.problem.empty())
            out.problem = "no valid close for " + symbol + " on " + input.session.to_string();
    }
    if (out.problem.empty()) out.targets = weights_;
    return out;
}

}  // namespace ballast::core
