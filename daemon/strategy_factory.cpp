#include "daemon/strategy_factory.hpp"

#include "core/strategies.hpp"

namespace ballast::daemon {

std::unique_ptr<core::Strategy> make_strategy(const StrategyConfig& config) {
    if (config.kind == "trend") return std::make_unique<core::TrendFollowing>(config.name, config.weights, config.trend);
    if (config.kind == "dual_momentum") return std::make_unique<core::DualMomentum>(config.name, config.dual_momentum);
    if (config.kind == "risk_parity") return std::make_unique<core::RiskParity>(config.name, config.risk_parity);
    return std::make_unique<core::FixedWeights>(config.name, config.weights);
}

}  // namespace ballast::daemon
