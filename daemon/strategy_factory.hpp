#pragma once
// Builds the configured strategy.
#include <memory>

#include "core/strategy.hpp"
#include "daemon/config.hpp"

namespace ballast::daemon {

// The strategy of `config.kind` ("fixed_weights", "trend", "dual_momentum",
// "risk_parity") with its validated parameters. load_config() only accepts those kinds;
// anything else (a StrategyConfig built by hand) gives fixed weights over
// `config.weights`, the conservative choice, never a null pointer.
std::unique_ptr<core::Strategy> make_strategy(const StrategyConfig& config);

}  // namespace ballast::daemon
