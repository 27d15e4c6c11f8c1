#pragma once
// Drift measurement and the rebalance decision. Pure.
#include <optional>
#include <string>

#include "core/types.hpp"

namespace ballast::core {

enum class DriftMode {
    absolute,  // |weight - target| in percentage points
    relative,  // |weight - target| / target
};

// When a rebalance happens: `drift` rebalances whenever the drift exceeds the threshold;
// the calendars rebalance once per period (day, week, month, quarter, year), whatever the
// drift, on the session chosen by CalendarDay, and not again in that period.
enum class RebalanceCalendar { drift, daily, weekly, monthly, quarterly, annual };
std::optional<RebalanceCalendar> parse_rebalance_calendar(std::string_view text);
const char* to_string(RebalanceCalendar c);

// Which session of a calendar period rebalances (ignored by `drift`).
//   first: the first session of the period that runs the rebalance job (if that session's
//          chain fails, the next session of the same period catches up).
//   last:  only the last NYSE trading day of the period (the next trading day falls in
//          another period: 2024-03-28 ends 2024-03 because 2024-03-29 is Good Friday). A
//          missed last day is not caught up: the next chance is the next period's last day.
enum class CalendarDay { first, last };
std::optional<CalendarDay> parse_calendar_day(std::string_view text);
const char* to_string(CalendarDay d);

struct RebalanceRules {
    DriftMode drift_mode = DriftMode::absolute;
    // Fraction: 0.05 is 5 percentage points (absolute) or 5% of the target (relative).
    double drift_threshold = 0.05;
    int min_interval_days = 30;  // calendar days between rebalances
    RebalanceCalendar calendar = RebalanceCalendar::drift;
    CalendarDay calendar_day = CalendarDay::first;
};

struct Drift {
    double max = 0;       // largest drift (fraction), +inf for a held symbol with no target
    Symbol symbol;        // where it was found (empty when nothing is held or targeted)
    double weight = 0;    // that symbol's current weight (fraction of equity)
    double target = 0;    // and its target
};

// Current weights (value / equity, equity including cash) against targets over the
// union of targeted and held symbols. nullopt when a needed price is missing or the
// equity is not positive; `missing` then names the symbol (or is empty for equity).
struct DriftResult {
    std::optional<Drift> drift;
    std::string problem;  // why drift could not be measured
};
DriftResult measure_drift(const AccountState& account, const Weights& targets, const Prices& prices,
                          DriftMode mode);

struct RebalanceDecision {
    bool rebalance = false;
    std::string reason;  // human sentence, journaled
};

// Decides whether `session` rebalances. `last_rebalance` is the session of the last
// rebalance that placed orders (nullopt if none ever did).
RebalanceDecision decide_rebalance(Date session, std::optional<Date> last_rebalance, const Drift& drift,
                                   const RebalanceRules& rules);

// The hold that decide_rebalance() would give whatever the drift (the minimum interval,
// or a calendar that does not rebalance on `session`), with its reason; nullopt when the
// decision depends on the drift or the calendar rebalances. Lets a caller skip the
// targets and the drift on sessions that cannot trade.
std::optional<RebalanceDecision> calendar_hold(Date session, std::optional<Date> last_rebalance,
                                               const RebalanceRules& rules);

}  // namespace ballast::core
