#include "core/risk.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "core/sorted.hpp"

namespace ballast::core {
namespace {

std::string pct2(Decimal fraction) { return (fraction * Decimal::from_int(100)).to_string_fixed(2) + "%"; }

std::string pct2(double fraction) { return format_fixed(fraction * 100.0, 2) + "%"; }

// The state the approved orders so far would leave, at the plan's prices.
// The account as the approved orders leave it, with its gross exposure kept current
// order by order (exact decimals: the same sum as adding up every position each time).
struct Book {
    SymbolMap<Decimal> held;  // shares by symbol
    Decimal cash;
    Decimal priced_gross;       // sum of |qty x price| over the held symbols with a price
    std::set<Symbol> unpriced;  // held (non-zero) symbols without a price

    // `held` also lists every symbol the plan orders (at zero where not held), so that
    // applying an order never inserts into the middle of its sorted vector.
    Book(const AccountState& account, const Prices& prices, const Plan& plan) : cash(account.cash) {
        auto have = holdings(account).extract_sequence();
        // The plan's symbols, sorted, each once. A plan lists its sells, then its buys, each
        // ascending: two sorted runs, merged (anything else is sorted).
        const auto less = [](const Symbol* a, const Symbol* b) { return symbol_less(*a, *b); };
        std::vector<const Symbol*> ordered;
        ordered.reserve(plan.orders.size());
        for (const auto& o : plan.orders) ordered.push_back(&o.symbol);
        const auto second_run = std::is_sorted_until(ordered.begin(), ordered.end(), less);
        if (std::is_sorted(second_run, ordered.end(), less)) std::inplace_merge(ordered.begin(), second_run, ordered.end(), less);
        else std::sort(ordered.begin(), ordered.end(), less);
        ordered.erase(std::unique(ordered.begin(), ordered.end(),
                                  [](const Symbol* a, const Symbol* b) { return same_symbol(*a, *b); }),
                      ordered.end());
        typename SymbolMap<Decimal>::sequence_type all;
        all.reserve(have.size() + ordered.size());
        auto o = ordered.begin();
        for (auto& [s, q] : have) {
            for (; o != ordered.end() && symbol_less(**o, s); ++o) all.emplace_back(**o, Decimal{});
            if (o != ordered.end() && same_symbol(**o, s)) ++o;
            all.emplace_back(std::move(s), q);
        }
        for (; o != ordered.end(); ++o) all.emplace_back(**o, Decimal{});
        held.adopt_sequence(boost::container::ordered_unique_range, std::move(all));
        Walk priced(prices);
        for (const auto& [s, q] : held) {
            if (q.is_zero()) continue;
            const Decimal* price = priced.find(s);
            if (!price) unpriced.insert(s);
            else priced_gross += (q * *price).abs();
        }
    }
    Decimal qty(const Symbol& s) const {
        const auto it = held.find(s);
        return it == held.end() ? Decimal{} : it->second;
    }
    // Sum of |qty x price| with `symbol` (now holding `had` shares, priced at `price`, null
    // for none) holding `qty` shares instead; nullopt (and `missing` set to the first such
    // symbol) when a held symbol has no price.
    std::optional<Decimal> gross_with(const Symbol& symbol, Decimal had, const Decimal* price, Decimal qty,
                                      Symbol& missing) const {
        const bool unpriced_after = !price && !qty.is_zero();
        std::optional<Symbol> first;  // in symbol order, as a walk over every holding finds it
        for (const auto& s : unpriced)
            if (s != symbol) {
                first = s;
                break;
            }
        if (unpriced_after && (!first || symbol < *first)) first = symbol;
        if (first) {
            missing = *first;
            return std::nullopt;
        }
        if (!price) return priced_gross;
        return priced_gross - (had * *price).abs() + (qty * *price).abs();
    }
    void apply(const Symbol& symbol, Decimal had, const Decimal* price, Decimal qty, Decimal new_cash) {
        if (price) priced_gross += (qty * *price).abs() - (had * *price).abs();
        if (!price && !qty.is_zero()) unpriced.insert(symbol);
        else if (!unpriced.empty()) unpriced.erase(symbol);
        held.insert_or_assign(symbol, qty);
        cash = new_cash;
    }
};

}  // namespace

StopEvaluation evaluate_stops(const AccountState& account, const Prices& prices, const Prices& references,
                              Decimal stop_loss) {
    StopEvaluation out;
    const auto held = holdings(account);
    for (const auto& [s, q] : held) {
        if (!q.is_positive()) continue;
        const auto ref = references.find(s);
        if (ref == references.end() || !ref->second.is_positive()) {
            out.notes.push_back("stop_loss: no reference price for held " + s + "; not checked");
            continue;
        }
        const auto price = prices.find(s);
        if (price == prices.end() || !price->second.is_positive()) {
            out.notes.push_back("stop_loss: no price for held " + s + "; not checked");
            continue;
        }
        const Decimal fall = (ref->second - price->second) / ref->second;
        if (fall < stop_loss) continue;
        out.stops.push_back({s, ref->second, price->second, fall,
                             s + " at " + price->second.to_string() + " is " + pct2(fall) + " below its reference " +
                                 ref->second.to_string() + ", at or past the stop of " + pct2(stop_loss)});
    }
    return out;
}

Weights exit_stopped(Weights targets, const std::vector<StopTrigger>& stops) {
    for (const auto& s : stops) targets.erase(s.symbol);
    return targets;
}

RiskReport evaluate_risk(const Plan& plan, const AccountState& account, const Prices& prices,
                         const RiskLimits& limits, const RiskContext& context) {
    RiskReport report;
    if (limits.stop_loss) {
        auto stops = evaluate_stops(account, prices, context.stop_references, *limits.stop_loss);
        report.stops = std::move(stops.stops);
        report.notes = std::move(stops.notes);
    }
    std::map<Symbol, const StopTrigger*> stopped;
    for (const auto& s : report.stops) stopped[s.symbol] = &s;

    // Valuation prices, with each order's own price where `prices` has none (copied only then).
    Prices with_order_prices;
    const Prices* valuation_prices = &prices;
    for (const auto& o : plan.orders)
        if (!prices.count(o.symbol)) {
            if (valuation_prices == &prices) {
                with_order_prices = prices;
                valuation_prices = &with_order_prices;
            }
            with_order_prices.emplace(o.symbol, o.price);
        }
    const Prices& valuation = *valuation_prices;

    Book book(account, valuation, plan);
    const Decimal equity = plan.equity;
    const bool equity_ok = equity.is_positive();
    // The planner's reserve arithmetic (see RiskLimits::cash_reserve).
    const Decimal reserve = equity_ok ? equity - equity * (Decimal::from_int(1) - limits.cash_reserve) : Decimal{};

    Walk priced(valuation);  // sells, then buys: each ascending by symbol
    for (const auto& order : plan.orders) {
        const bool buy = order.side == Side::buy;
        const Decimal had = book.qty(order.symbol);
        const Decimal* price = priced.find(order.symbol);
        const Decimal cost = order.qty * order.price;  // exact, at the reference price
        auto deny = [&](std::string rule, std::string detail) {
            report.verdicts.push_back({order, false, std::move(rule), std::move(detail)});
            if (!buy && report.buys_blocked.empty())
                report.buys_blocked = "sell " + order.symbol + " was denied (" + report.verdicts.back().rule + ")";
        };

        // equity_not_positive
        if (buy && !equity_ok) {
            deny("equity_not_positive", "equity " + equity.to_string_fixed(2) + " is not positive; no buy is allowed");
            continue;
        }

        // price_sanity
        if (limits.price_sanity) {
            const auto q = context.quotes.find(order.symbol);
            if (q == context.quotes.end()) {
                report.notes.push_back("price_sanity: no quote for " + order.symbol + "; reference price " +
                                       order.price.to_string() + " not checked");
            } else if (!q->second.is_positive() || !order.price.is_positive()) {
                deny("price_sanity", "quote " + q->second.to_string() + " or reference price " + order.price.to_string() +
                                         " for " + order.symbol + " is not positive");
                continue;
            } else {
                const Decimal gap = (q->second - order.price).abs() / order.price;
                if (gap > *limits.price_sanity) {
                    deny("price_sanity", "quote " + q->second.to_string() + " for " + order.symbol + " is " + pct2(gap) +
                                             " from the reference price " + order.price.to_string() +
                                             ", above the limit of " + pct2(*limits.price_sanity));
                    continue;
                }
            }
        }

        if (buy) {
            // stop_loss
            if (const auto it = stopped.find(order.symbol); it != stopped.end()) {
                deny("stop_loss", "no buy of a stopped position: " + it->second->detail);
                continue;
            }
            // max_order_notional
            const Decimal order_fraction = order.notional / equity;
            if (order_fraction > limits.max_order_fraction) {
                deny("max_order_notional", "order notional " + order.notional.to_string_fixed(2) + " is " +
                                               pct2(order_fraction) + " of equity, above the limit of " +
                                               pct2(limits.max_order_fraction));
                continue;
            }
            // max_position_weight (every order has a valuation price: its own at least)
            const Decimal after = (had * *price + order.notional) / equity;
            if (after > limits.max_position_fraction) {
                deny("max_position_weight", "position in " + order.symbol + " would be " + pct2(after) +
                                                " of equity, above the limit of " + pct2(limits.max_position_fraction));
                continue;
            }
        }

        // max_gross_exposure, for any order that raises it.
        const Decimal next_qty = had + (buy ? order.qty : -order.qty);
        const Decimal next_cash = book.cash + (buy ? -cost : cost);
        // A sell within the held quantity cannot raise it; skip (it needs every held price).
        const bool may_raise = buy || next_qty.is_negative();
        Symbol missing;
        const auto gross_before =
            may_raise ? book.gross_with(order.symbol, had, price, had, missing) : std::optional<Decimal>{};
        const auto gross_after =
            may_raise && gross_before ? book.gross_with(order.symbol, had, price, next_qty, missing) : std::optional<Decimal>{};
        if (may_raise && (!gross_before || !gross_after)) {
            deny("max_gross_exposure", "no price for held " + missing + "; gross exposure unknown");
            continue;
        }
        if (may_raise && *gross_after > *gross_before) {
            if (!equity_ok) {
                deny("max_gross_exposure", "equity " + equity.to_string_fixed(2) +
                                               " is not positive; no order may raise gross exposure");
                continue;
            }
            const Decimal gross = *gross_after / equity;
            if (gross > limits.max_gross_exposure) {
                deny("max_gross_exposure", "gross exposure would be " + pct2(gross) + " of equity, above the limit of " +
                                               pct2(limits.max_gross_exposure));
                continue;
            }
        }

        // cash_reserve
        if (buy && next_cash < reserve) {
            deny("cash_reserve", "cash after buying " + order.symbol + " would be " + next_cash.to_string_fixed(2) +
                                     ", below the reserve of " + reserve.to_string_fixed(2) + " (" +
                                     pct2(limits.cash_reserve) + " of equity)");
            continue;
        }

        report.verdicts.push_back({order, true, "ok", "within limits"});
        book.apply(order.symbol, had, price, next_qty, next_cash);
    }
    return report;
}

std::vector<RiskVerdict> check_risk(const Plan& plan, const AccountState& account, const Prices& prices,
                                    const RiskLimits& limits) {
    return evaluate_risk(plan, account, prices, limits).verdicts;
}

std::optional<Trip> evaluate_breakers(const BreakerInputs& in, const BreakerLimits& limits) {
    if (limits.max_daily_loss && in.previous_close_equity && in.previous_close_equity->is_positive()) {
        const Decimal prev = *in.previous_close_equity;
        const double loss = (prev - in.equity).to_double() / prev.to_double();
        if (loss >= *limits.max_daily_loss)
            return Trip{"daily_loss", "daily loss of " + pct2(loss) + " (equity " + format_money(in.equity) +
                                          ", previous close " + format_money(prev) + ") reached the limit of " +
                                          pct2(*limits.max_daily_loss)};
    }
    if (limits.max_drawdown && in.peak_equity.is_positive()) {
        const double dd = (in.peak_equity - in.equity).to_double() / in.peak_equity.to_double();
        if (dd >= *limits.max_drawdown)
            return Trip{"drawdown", "drawdown of " + pct2(dd) + " from the peak (equity " + format_money(in.equity) +
                                        ", peak " + format_money(in.peak_equity) + ") reached the limit of " +
                                        pct2(*limits.max_drawdown)};
    }
    if (limits.max_consecutive_rejections && in.consecutive_rejections >= *limits.max_consecutive_rejections)
        return Trip{"consecutive_rejections", std::to_string(in.consecutive_rejections) +
                                                  " consecutive order rejections reached the limit of " +
                                                  std::to_string(*limits.max_consecutive_rejections)};
    return std::nullopt;
}

}  // namespace ballast::core
