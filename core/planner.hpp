#pragma once
// The order planner: from the account, target weights and prices to a list of
// market orders. Pure.
//
// Contract:
// - Every targeted or held symbol needs a positive price; otherwise the plan holds
//   (no orders) and `hold_reason` says which symbol.
// - Orders are target value minus current value at the given prices, where target
//   value = weight x equity x (1 - cash_reserve).
// - Sells come first; a held symbol with no (or zero) target is sold in full.
// - Buys are sized from the cash available after the planned sells minus the reserve;
//   if the wanted buys cost more, every buy is scaled down by the same factor, so the
//   sum of buy notionals never exceeds that cash.
// - Quantities are rounded toward zero: to whole shares, or to `qty_decimals` digits
//   when fractional. Orders whose notional is below `min_order_notional` are dropped
//   (except full liquidations). Every quantity is strictly positive.
#include <string>
#include <vector>

#include "core/types.hpp"

namespace ballast::core {

struct PlannerConfig {
    bool fractional = false;
    int qty_decimals = 6;            // used when fractional (0..9)
    Decimal min_order_notional = Decimal::from_int(10);
    Decimal cash_reserve = Decimal::parse("0.005").value();  // fraction of equity kept in cash
    // false: plan no sell and size the buys from the cash alone (used once the sells of a
    // rebalance are done, so that the buys never count on proceeds that did not come).
    bool plan_sells = true;
};

struct PlannedOrder {
    Symbol symbol;
    Side side = Side::buy;
    Decimal qty;        // > 0
    Decimal price;      // the reference price used for sizing
    Decimal notional;   // qty x price in cents: sells rounded down, buys half away from zero
    std::string reason; // e.g. "weight 35.10% -> target 40.00%"
};

struct Plan {
    std::vector<PlannedOrder> orders;  // all sells, then all buys
    Decimal equity;                    // cash + positions at the prices
    Decimal cash_after;                // expected cash once every order fills
    std::string hold_reason;           // non-empty when the plan refuses to trade
    std::vector<std::string> notes;    // skipped legs and scaling, for the journal
};

Plan plan_orders(const AccountState& account, const Weights& targets, const Prices& prices,
                 const PlannerConfig& config);

}  // namespace ballast::core
