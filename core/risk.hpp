#pragma once
// The risk stage: an independent check of every planned order before it reaches a
// broker, and the circuit breakers that halt trading. Pure: values in, values out.
//
// The risk stage does not trust the planner. It replays the plan in order against the
// account, keeping only the orders it approves, and judges each order on the state that
// would exist once it and every earlier approved order filled at the plan's prices.
// The first failing rule decides the verdict; the rules are tried in this order:
//
//   rule                  applies to  denies when
//   equity_not_positive   buys        plan.equity <= 0
//   price_sanity          all         |quote - order.price| / order.price > price_sanity
//   stop_loss             buys        the symbol is at or past its stop (see evaluate_stops)
//   max_order_notional    buys        order.notional / equity > max_order_fraction
//   max_position_weight   buys        (held qty x price + order.notional) / equity > max_position_fraction
//   max_gross_exposure    any order that raises gross exposure
//                                     sum over symbols |qty x price| / equity > max_gross_exposure
//   cash_reserve          buys        cash after the order < the reserve (cash_reserve x equity)
//
// "equity" is plan.equity (before trading), "price" the valuation price from `prices`
// (the order's own price where `prices` has none). Every limit in this table is inclusive:
// a value exactly at the limit passes. Sells only lower exposure and raise cash, so apart from
// price_sanity they are never denied: a symbol dropped from the targets must be sold in
// full, whatever its size.
#include <optional>
#include <string>
#include <vector>

#include "core/planner.hpp"

namespace ballast::core {

struct RiskLimits {
    // Largest single buy, as a fraction of equity.
    Decimal max_order_fraction = Decimal::parse("0.5").value();
    // Largest position a buy may create, as a fraction of equity.
    Decimal max_position_fraction = Decimal::parse("0.6").value();
    // Largest gross exposure (sum of |position values|) an order may create, as a fraction
    // of equity. 1 = no leverage; a plan from plan_orders never exceeds it.
    Decimal max_gross_exposure = Decimal::from_int(1);
    // Cash a buy must leave, as a fraction of equity; 0 = never a negative cash balance.
    // Computed as equity - equity x (1 - cash_reserve), the planner's own arithmetic, and
    // buys cost qty x price exactly, so a plan made with the same reserve always passes.
    Decimal cash_reserve;
    // Largest allowed gap between an order's reference price (the last close) and the
    // live quote, as a fraction of the reference price. nullopt = off.
    std::optional<Decimal> price_sanity;
    // Stop-loss: a held position whose price has fallen this fraction below its
    // reference (entry or peak price, supplied by the caller) is stopped. nullopt = off.
    std::optional<Decimal> stop_loss;
};

struct RiskVerdict {
    PlannedOrder order;
    bool approved = true;
    std::string rule;    // "ok" or the rule that denied (see the table above)
    std::string detail;  // human sentence with the numbers
};

// A held position at or past its stop.
struct StopTrigger {
    Symbol symbol;
    Decimal reference;  // the entry or peak price the stop is measured from
    Decimal price;      // the valuation price that triggered it
    Decimal fall;       // (reference - price) / reference, >= stop_loss
    std::string detail;
};

// Inputs beyond the plan that some rules need; all optional.
struct RiskContext {
    // Live quotes for price_sanity. A symbol without a quote is not denied; it is listed
    // in RiskReport::notes.
    Prices quotes;
    // Per held symbol, the price its stop is measured from: the average entry price (the
    // broker's avg_entry_price) for a stop below cost, or the highest close since entry
    // for a trailing stop; the caller chooses and keeps it. A held symbol without one is
    // not stopped; it is listed in RiskReport::notes.
    Prices stop_references;
};

struct RiskReport {
    std::vector<RiskVerdict> verdicts;  // one per planned order, in plan order
    // Non-empty when a sell was denied: buys are sized on every planned sell's proceeds,
    // so the caller must then send no buy. Names the first denied sell and its rule.
    std::string buys_blocked;
    std::vector<StopTrigger> stops;     // from evaluate_stops (empty when stop_loss is off)
    std::vector<std::string> notes;     // what could not be checked (missing quote or stop reference)

    bool sell_denied() const { return !buys_blocked.empty(); }
};

// The full risk stage. `prices` are the plan's valuation prices.
RiskReport evaluate_risk(const Plan& plan, const AccountState& account, const Prices& prices,
                         const RiskLimits& limits, const RiskContext& context = {});

// The verdicts of evaluate_risk with no quotes and no stop references.
std::vector<RiskVerdict> check_risk(const Plan& plan, const AccountState& account, const Prices& prices,
                                    const RiskLimits& limits);

// Stops: every long position whose price (from `prices`) is at or below
// reference x (1 - stop_loss), i.e. fall >= stop_loss, in symbol order. A stop is a
// signal, not an order: to exit, the caller removes the symbols from the targets
// (exit_stopped) and plans again, so the planner sells them in full and sizes the buys
// on the proceeds; evaluate_risk also denies any buy of a stopped symbol. When to let a
// stopped symbol back in is the caller's policy (its reference is the caller's state).
// Held symbols without a reference or a price are listed in `notes`.
struct StopEvaluation {
    std::vector<StopTrigger> stops;
    std::vector<std::string> notes;
};
StopEvaluation evaluate_stops(const AccountState& account, const Prices& prices, const Prices& references,
                              Decimal stop_loss);
// `targets` without the stopped symbols.
Weights exit_stopped(Weights targets, const std::vector<StopTrigger>& stops);

// ---------------------------------------------------------------------------------
// Circuit breakers. The daemon evaluates them and persists the halt (manual resume).

struct BreakerInputs {
    Decimal equity;                                // now
    std::optional<Decimal> previous_close_equity;  // at the previous session's close
    Decimal peak_equity;                           // highest equity recorded
    int consecutive_rejections = 0;                // broker rejections in a row, across sessions
};

// Fractions (0.05 = 5%); nullopt = that breaker is off. Limits must be > 0.
struct BreakerLimits {
    std::optional<double> max_daily_loss;  // (previous close - equity) / previous close
    std::optional<double> max_drawdown;    // (peak - equity) / peak
    std::optional<int> max_consecutive_rejections;
};

struct Trip {
    std::string rule;    // "daily_loss", "drawdown" or "consecutive_rejections"
    std::string reason;  // sentence with the numbers, for the halt record and the alert
};

// The first breaker that trips, checked in the order daily_loss, drawdown,
// consecutive_rejections; nullopt when none does. Each trips on reaching its limit:
// loss >= max_daily_loss, drawdown >= max_drawdown, rejections >= max_consecutive_rejections.
// The daily loss is skipped without a positive previous close, the drawdown without a
// positive peak; an equity above the peak is a drawdown of 0.
std::optional<Trip> evaluate_breakers(const BreakerInputs& inputs, const BreakerLimits& limits);

}  // namespace ballast::core
