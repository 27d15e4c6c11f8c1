#include "core/rebalance.hpp"

#include <cmath>
#include <limits>
#include <set>

#include "core/sorted.hpp"

namespace ballast::core {
namespace {

std::string pct(double fraction) {
    if (std::isinf(fraction)) return "inf";
    return format_fixed(fraction * 100.0, 2);
}

// An ordinal that changes exactly when a new calendar period starts.
long period_of(Date d, RebalanceCalendar c) {
    switch (c) {
        case RebalanceCalendar::daily: return d.days();
        case RebalanceCalendar::weekly: return (d.days() + 3) / 7;  // weeks start on Monday (1970-01-01 was a Thursday)
        case RebalanceCalendar::monthly: return d.year() * 12L + static_cast<long>(d.month()) - 1;
        case RebalanceCalendar::quarterly: return d.year() * 4L + (static_cast<long>(d.month()) - 1) / 3;
        case RebalanceCalendar::annual: return d.year();
        case RebalanceCalendar::drift: return 0;
    }
    return 0;
}

}  // namespace

std::optional<RebalanceCalendar> parse_rebalance_calendar(std::string_view t) {
    if (t == "drift") return RebalanceCalendar::drift;
    if (t == "daily") return RebalanceCalendar::daily;
    if (t == "weekly") return RebalanceCalendar::weekly;
    if (t == "monthly") return RebalanceCalendar::monthly;
    if (t == "quarterly") return RebalanceCalendar::quarterly;
    if (t == "annual") return RebalanceCalendar::annual;
    return std::nullopt;
}

std::optional<CalendarDay> parse_calendar_day(std::string_view t) {
    if (t == "first") return CalendarDay::first;
    if (t == "last") return CalendarDay::last;
    return std::nullopt;
}

const char* to_string(CalendarDay d) { return d == CalendarDay::first ? "first" : "last"; }

const char* to_string(RebalanceCalendar c) {
    switch (c) {
        case RebalanceCalendar::drift: return "drift";
        case RebalanceCalendar::daily: return "daily";
        case RebalanceCalendar::weekly: return "weekly";
        case RebalanceCalendar::monthly: return "monthly";
        case RebalanceCalendar::quarterly: return "quarterly";
        case RebalanceCalendar::annual: return "annual";
    }
    return "?";
}

DriftResult measure_drift(const AccountState& account, const Weights& targets, const Prices& prices,
                          DriftMode mode) {
    const auto qty = holdings(account);
    const auto symbols = union_of_keys(targets, [](Decimal) { return true; }, qty, [](Decimal q) { return !q.is_zero(); });

    // Every walk below visits the symbols in ascending order.
    Decimal equity = account.cash;
    std::vector<std::optional<Decimal>> value(symbols.size());  // nullopt: unpriced, holding nothing
    Walk held(qty), priced(prices), target(targets);
    for (std::size_t i = 0; i < symbols.size(); ++i) {
        const Symbol& s = *symbols[i];
        const Decimal* h = held.find(s);
        const auto q = h ? *h : Decimal{};
        const Decimal* price = priced.find(s);
        if (!price || !price->is_positive()) {
            const Decimal* t = target.find(s);
            if (q.is_zero() && t && t->is_zero()) continue;
            return {std::nullopt, "no valid price for " + s};
        }
        value[i] = q * *price;
        equity += *value[i];
    }
    if (!equity.is_positive()) return {std::nullopt, "equity is not positive (" + equity.to_string() + ")"};

    Drift out;
    const double equity_value = equity.to_double();
    Walk weights(targets);
    const Symbol* worst = nullptr;
    for (std::size_t i = 0; i < symbols.size(); ++i) {
        const double w = value[i] ? value[i]->to_double() / equity_value : 0.0;
        const Decimal* target_weight = weights.find(*symbols[i]);
        const double t = target_weight ? target_weight->to_double() : 0.0;
        double d = std::fabs(w - t);
        if (mode == DriftMode::relative) {
            if (t > 0) d /= t;
            else d = w > 0 ? std::numeric_limits<double>::infinity() : 0.0;
        }
        if (!worst || d > out.max) {
            out = Drift{d, "", w, t};
            worst = symbols[i];
        }
    }
    if (worst) out.symbol = *worst;
    return {out, ""};
}

namespace {

// The hold decide_rebalance() gives whatever the drift; `drift_text` ends its reasons.
std::optional<RebalanceDecision> hold_by_rules(Date session, std::optional<Date> last_rebalance,
                                               const RebalanceRules& rules, const std::string& drift_text) {
    if (last_rebalance) {
        const int since = session - *last_rebalance;
        if (since < rules.min_interval_days)
            return RebalanceDecision{false, "minimum interval: " + std::to_string(since) + " days since the rebalance on " +
                                                last_rebalance->to_string() + ", need " +
                                                std::to_string(rules.min_interval_days) + "; " + drift_text};
    }
    if (rules.calendar == RebalanceCalendar::drift) return std::nullopt;
    if (last_rebalance && period_of(*last_rebalance, rules.calendar) == period_of(session, rules.calendar))
        return RebalanceDecision{false, std::string("calendar: already rebalanced this ") + to_string(rules.calendar) +
                                            " period on " + last_rebalance->to_string()};
    if (rules.calendar_day == CalendarDay::last) {
        const Date next = next_trading_day(session);
        if (period_of(next, rules.calendar) == period_of(session, rules.calendar))
            return RebalanceDecision{false, std::string("calendar: waiting for the last trading day of the ") +
                                                to_string(rules.calendar) + " period (not before " + next.to_string() +
                                                "); " + drift_text};
    }
    return std::nullopt;
}

}  // namespace

std::optional<RebalanceDecision> calendar_hold(Date session, std::optional<Date> last_rebalance,
                                               const RebalanceRules& rules) {
    return hold_by_rules(session, last_rebalance, rules, "drift not measured");
}

RebalanceDecision decide_rebalance(Date session, std::optional<Date> last_rebalance, const Drift& drift,
                                   const RebalanceRules& rules) {
    const std::string drift_text = drift.symbol.empty()
                                       ? std::string("no drift")
                                       : "drift " + pct(drift.max) +
                                             (rules.drift_mode == DriftMode::absolute ? " pp" : "% of target") +
                                             " on " + drift.symbol + " (weight " + pct(drift.weight) +
                                             "%, target " + pct(drift.target) + "%)";
    if (auto hold = hold_by_rules(session, last_rebalance, rules, drift_text)) return *hold;
    if (rules.calendar != RebalanceCalendar::drift) {
        if (rules.calendar_day == CalendarDay::last)
            return {true, std::string("calendar: last trading day of the ") + to_string(rules.calendar) +
                              " period; " + drift_text};
        return {true, std::string("calendar: first ") + to_string(rules.calendar) + " rebalance of the period; " +
                          drift_text};
    }
    if (drift.max > rules.drift_threshold)
        return {true, drift_text + " exceeds the threshold of " + pct(rules.drift_threshold) +
                          (rules.drift_mode == DriftMode::absolute ? " pp" : "%")};
    return {false, drift_text + " is within the threshold of " + pct(rules.drift_threshold) +
                       (rules.drift_mode == DriftMode::absolute ? " pp" : "%")};
}

}  // namespace ballast::core
