#pragma once
// Pre-trade risk limits applied to every planned order before it reaches a broker.
// Pure. (The daily-loss / drawdown / rejection circuit breakers build on this.)
#include <string>
#include <vector>

#include "core/planner.hpp"

namespace ballast::core {

struct RiskLimits {
    Decimal max_order_fraction = Decimal::parse("0.5").value();     // order notional / equity
    Decimal max_position_fraction = Decimal::parse("0.6").value();  // post-trade weight of one symbol
};

struct RiskVerdict {
    PlannedOrder order;
    bool approved = true;
    std::string rule;    // the rule that decided: "max_order_notional", "max_position_weight" or "ok"
    std::string detail;  // human sentence
};

// Checks each order in plan order. A buy is checked against the order size and the
// position it would create (current value + notional) at the plan's prices. Sells only
// reduce exposure and are not limited (a symbol dropped from the targets must be sold
// in full, whatever its size).
std::vector<RiskVerdict> check_risk(const Plan& plan, const AccountState& account, const Prices& prices,
                                    const RiskLimits& limits);

}  // namespace ballast::core
