#include "core/planner.hpp"

#include <algorithm>
#include <cassert>
#include <set>

#include "core/sorted.hpp"

namespace ballast::core {
namespace {

std::string pct2(Decimal fraction) { return (fraction * Decimal::from_int(100)).to_string_fixed(2) + "%"; }

// "weight 12.34% -> target 12.50%", built in one buffer (it is every order's reason).
std::string weight_change(Decimal current, Decimal target) {
    const auto hundred = Decimal::from_int(100);
    std::string out;
    out.reserve(40);
    out += "weight ";
    out += (current * hundred).to_string_fixed(2);
    out += "% -> target ";
    out += (target * hundred).to_string_fixed(2);
    out += '%';
    return out;
}

}  // namespace

Plan plan_orders(const AccountState& account, const Weights& targets, const Prices& prices,
                 const PlannerConfig& config) {
    assert(config.qty_decimals >= 0 && config.qty_decimals <= Decimal::kScaleDigits);
    Plan plan;
    const int qty_digits = config.fractional ? config.qty_decimals : 0;

    const auto held = holdings(account);
    for (const auto& [s, q] : held)
        if (q.is_negative()) {
            plan.hold_reason = "short position in " + s + " (" + q.to_string() + "); ballast only holds long positions";
            return plan;
        }
    const auto symbols =
        union_of_keys(targets, [](Decimal w) { return w.is_positive(); }, held, [](Decimal q) { return q.is_positive(); });

    // Value the account; any missing price means hold. Each walk visits the symbols in order.
    std::vector<Decimal> price_of(symbols.size());
    std::vector<Decimal> held_of(symbols.size());
    std::vector<Decimal> weight_of(symbols.size());
    plan.equity = account.cash;
    {
        Walk priced(prices), shares(held), weights(targets);
        for (std::size_t i = 0; i < symbols.size(); ++i) {
            const Decimal* price = priced.find(*symbols[i]);
            if (!price || !price->is_positive()) {
                plan.hold_reason = "no valid price for " + *symbols[i];
                return plan;
            }
            price_of[i] = *price;
            if (const Decimal* h = shares.find(*symbols[i])) held_of[i] = *h;
            if (const Decimal* w = weights.find(*symbols[i])) weight_of[i] = *w;
            plan.equity += held_of[i] * price_of[i];
        }
    }
    if (!plan.equity.is_positive()) {
        plan.hold_reason = "equity is not positive (" + plan.equity.to_string() + ")";
        plan.cash_after = account.cash;
        return plan;
    }
    const Decimal investable = plan.equity * (Decimal::from_int(1) - config.cash_reserve);
    const Decimal reserve = plan.equity - investable;

    // Sells.
    Decimal cash = account.cash;
    struct Want {
        const Symbol* symbol;
        Decimal price;
        Decimal value;  // wanted buy value
        std::string reason;
    };
    std::vector<Want> wants;
    for (std::size_t i = 0; i < symbols.size(); ++i) {
        const Symbol& s = *symbols[i];
        const Decimal price = price_of[i];
        const Decimal have = held_of[i];
        const Decimal weight = weight_of[i];
        const Decimal current_value = have * price;
        const Decimal target_value = investable * weight;
        if (!config.plan_sells && (!weight.is_positive() || target_value < current_value)) continue;
        if (weight.is_positive() && target_value == current_value) continue;  // nothing to do
        std::string why = weight_change(current_value / plan.equity, weight);
        if (!weight.is_positive()) {
            // Proceeds are counted rounded down: expected cash is never overstated.
            const Decimal notional = (have * price).round_down(2);
            plan.orders.push_back({s, Side::sell, have, price, notional, "not in the targets: sell all; " + why});
            cash += notional;
            continue;
        }
        const Decimal delta = target_value - current_value;
        if (delta.is_negative()) {
            Decimal qty = std::min((delta.abs() / price).round_down(qty_digits), have);
            const Decimal notional = (qty * price).round_down(2);
            if (qty.is_zero() || notional < config.min_order_notional) {
                plan.notes.push_back("sell " + s + " skipped: " + notional.to_string() + " below the minimum order of " +
                                     config.min_order_notional.to_string());
                continue;
            }
            plan.orders.push_back({s, Side::sell, qty, price, notional, why});
            cash += notional;
        } else if (delta.is_positive()) {
            wants.push_back({&s, price, delta, std::move(why)});
        }
    }

    // Buys, never more than the cash left after sells and the reserve.
    Decimal available = cash - reserve;
    if (available.is_negative()) available = Decimal{};
    Decimal wanted;
    for (const auto& w : wants) wanted += w.value;
    Decimal scale = Decimal::from_int(1);
    if (wanted > available) {
        scale = available / wanted;
        plan.notes.push_back("buys scaled to " + pct2(scale) + " of their size: wanted " + wanted.to_string_fixed(2) +
                             ", cash available after sells and reserve " + available.to_string_fixed(2));
    }
    Decimal step = Decimal::from_int(1);
    for (int i = 0; i < qty_digits; ++i) step = Decimal::from_raw(step.raw() / 10);
    Decimal spent;
    for (const auto& w : wants) {
        const Decimal price = w.price;
        Decimal qty = (w.value * scale / price).round_down(qty_digits);
        // Rounding of the scale factor must not push the total over the cash.
        if (spent + qty * price > available) qty = ((available - spent) / price).round_down(qty_digits);
        while (qty.is_positive() && spent + qty * price > available) qty -= step;  // at most a step or two
        const Decimal notional = (qty * price).round_half_away(2);
        if (!qty.is_positive() || notional < config.min_order_notional) {
            plan.notes.push_back("buy " + *w.symbol + " skipped: " + notional.to_string() +
                                 " below the minimum order of " + config.min_order_notional.to_string());
            continue;
        }
        spent += qty * price;
        plan.orders.push_back({*w.symbol, Side::buy, qty, price, notional, w.reason});
    }
    plan.cash_after = cash - spent;
    return plan;
}

}  // namespace ballast::core
