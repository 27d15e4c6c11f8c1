#include "core/risk.hpp"

namespace ballast::core {
namespace {

std::string pct2(Decimal fraction) { return (fraction * Decimal::from_int(100)).to_string_fixed(2) + "%"; }

}  // namespace

std::vector<RiskVerdict> check_risk(const Plan& plan, const AccountState& account, const Prices& prices,
                                    const RiskLimits& limits) {
    std::vector<RiskVerdict> out;
    std::map<Symbol, Decimal> held;
    for (const auto& p : account.positions) held[p.symbol] += p.qty;
    for (const auto& order : plan.orders) {
        RiskVerdict v{order, true, "ok", "within limits"};
        const Decimal order_fraction = order.notional / plan.equity;
        if (order.side == Side::buy && order_fraction > limits.max_order_fraction) {
            v = {order, false, "max_order_notional",
                 "order notional " + order.notional.to_string_fixed(2) + " is " + pct2(order_fraction) +
                     " of equity, above the limit of " + pct2(limits.max_order_fraction)};
        } else if (order.side == Side::buy) {
            const auto price_it = prices.find(order.symbol);
            const Decimal price = price_it != prices.end() ? price_it->second : order.price;
            const Decimal have = held.count(order.symbol) ? held.at(order.symbol) : Decimal{};
            const Decimal after = (have * price + order.notional) / plan.equity;
            if (after > limits.max_position_fraction)
                v = {order, false, "max_position_weight",
                     "position in " + order.symbol + " would be " + pct2(after) + " of equity, above the limit of " +
                         pct2(limits.max_position_fraction)};
        }
        out.push_back(std::move(v));
    }
    return out;
}

}  // namespace ballast::core
