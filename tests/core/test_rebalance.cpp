#include <cmath>

#include <catch2/catch.hpp>

#include "core/rebalance.hpp"

using namespace ballast::core;

namespace {

Decimal d(const char* s) { return Decimal::parse(s).value(); }
Date day(const char* s) { return Date::parse(s).value(); }

// A 60/40 account whose VTI weight is `vti_pct` percent of 10000.
AccountState account_with_vti(double vti_pct) {
    const auto vti_value = Decimal::from_double(vti_pct * 100.0, 2).value();
    return {d("10000") - vti_value, {{"VTI", vti_value / d("100")}}};  // VTI at 100
}

}  // namespace

TEST_CASE("absolute drift just below and just above the threshold", "[core][rebalance]") {
    const Weights targets{{"VTI", d("0.6")}, {"CASHLIKE", d("0")}};
    const Prices prices{{"VTI", d("100")}};
    RebalanceRules rules;
    rules.drift_threshold = 0.05;
    rules.min_interval_days = 0;
    const auto below = measure_drift(account_with_vti(64.99), {{"VTI", d("0.6")}}, prices, DriftMode::absolute);
    REQUIRE(below.drift);
    CHECK(below.drift->symbol == "VTI");
    CHECK(below.drift->max == Approx(0.0499).epsilon(1e-6));
    CHECK_FALSE(decide_rebalance(day("2024-01-02"), std::nullopt, *below.drift, rules).rebalance);
    const auto above = measure_drift(account_with_vti(65.01), {{"VTI", d("0.6")}}, prices, DriftMode::absolute);
    CHECK(decide_rebalance(day("2024-01-02"), std::nullopt, *above.drift, rules).rebalance);
    (void)targets;
}

TEST_CASE("relative drift is measured against the target", "[core][rebalance]") {
    const Prices prices{{"VTI", d("100")}};
    const auto r = measure_drift(account_with_vti(66), {{"VTI", d("0.6")}}, prices, DriftMode::relative);
    REQUIRE(r.drift);
    CHECK(r.drift->max == Approx(0.1));  // 6 pp of a 60% target
    // A held symbol with no target is infinitely off in relative terms.
    const AccountState acct{d("100"), {{"SPY", d("1")}}};
    const auto inf = measure_drift(acct, {{"VTI", d("1")}}, {{"VTI", d("1")}, {"SPY", d("50")}}, DriftMode::relative);
    REQUIRE(inf.drift);
    CHECK(std::isinf(inf.drift->max));
}

TEST_CASE("drift needs every price and positive equity", "[core][rebalance]") {
    const auto r = measure_drift(account_with_vti(50), {{"VTI", d("0.5")}, {"TLT", d("0.5")}}, {{"VTI", d("100")}},
                                 DriftMode::absolute);
    CHECK_FALSE(r.drift);
    CHECK(r.problem.find("TLT") != std::string::npos);
    CHECK_FALSE(measure_drift(AccountState{}, {{"VTI", d("1")}}, {{"VTI", d("1")}}, DriftMode::absolute).drift);
}

TEST_CASE("the minimum interval holds even when drift is large", "[core][rebalance]") {
    RebalanceRules rules;
    rules.min_interval_days = 30;
    const Drift big{0.5, "VTI", 0.9, 0.4};
    const auto last = day("2024-01-02");
    auto early = decide_rebalance(day("2024-01-31"), last, big, rules);  // 29 days
    CHECK_FALSE(early.rebalance);
    CHECK(early.reason.find("minimum interval") != std::string::npos);
    CHECK(decide_rebalance(day("2024-02-01"), last, big, rules).rebalance);  // 30 days
    CHECK(decide_rebalance(day("2024-01-31"), std::nullopt, big, rules).rebalance);  // never rebalanced
}

TEST_CASE("calendar rebalancing fires once per period, across year ends", "[core][rebalance]") {
    RebalanceRules rules;
    rules.min_interval_days = 0;
    const Drift none{0.0, "VTI", 0.4, 0.4};
    rules.calendar = RebalanceCalendar::monthly;
    CHECK(decide_rebalance(day("2024-01-02"), day("2023-12-29"), none, rules).rebalance);
    CHECK_FALSE(decide_rebalance(day("2024-01-30"), day("2024-01-02"), none, rules).rebalance);
    rules.calendar = RebalanceCalendar::quarterly;
    CHECK_FALSE(decide_rebalance(day("2024-03-28"), day("2024-01-02"), none, rules).rebalance);
    CHECK(decide_rebalance(day("2024-04-01"), day("2024-01-02"), none, rules).rebalance);
    rules.calendar = RebalanceCalendar::annual;
    CHECK_FALSE(decide_rebalance(day("2024-12-31"), day("2024-01-02"), none, rules).rebalance);
    CHECK(decide_rebalance(day("2025-01-02"), day("2024-12-31"), none, rules).rebalance);
    rules.calendar = RebalanceCalendar::weekly;
    CHECK_FALSE(decide_rebalance(day("2024-01-05"), day("2024-01-01"), none, rules).rebalance);  // Mon..Fri
    CHECK(decide_rebalance(day("2024-01-08"), day("2024-01-05"), none, rules).rebalance);
    // The minimum interval still applies to calendar rebalancing.
    rules.calendar = RebalanceCalendar::monthly;
    rules.min_interval_days = 30;
    CHECK_FALSE(decide_rebalance(day("2024-02-01"), day("2024-01-31"), none, rules).rebalance);
}

TEST_CASE("rebalance calendars parse", "[core][rebalance]") {
    for (const char* n : {"drift", "daily", "weekly", "monthly", "quarterly", "annual"})
        CHECK(to_string(parse_rebalance_calendar(n).value()) == std::string(n));
    CHECK_FALSE(parse_rebalance_calendar("yearly"));
}

TEST_CASE("calendar_day first: the first session of the period, after a holiday", "[core][rebalance][calendar_day]") {
    RebalanceRules rules;
    rules.min_interval_days = 0;
    rules.calendar = RebalanceCalendar::monthly;
    rules.calendar_day = CalendarDay::first;
    const Drift none{0.0, "VTI", 0.4, 0.4};
    // 2025-01-01 is New Year's Day: 2025-01-02 is January's first session.
    const auto d = decide_rebalance(day("2025-01-02"), day("2024-12-02"), none, rules);
    CHECK(d.rebalance);
    CHECK(d.reason.find("calendar: first monthly rebalance") == 0);
    // A failed first session is caught up on the next one of the same month.
    CHECK(decide_rebalance(day("2025-01-03"), day("2024-12-02"), none, rules).rebalance);
}

TEST_CASE("calendar_day last: only the last trading day of the period", "[core][rebalance][calendar_day]") {
    RebalanceRules rules;
    rules.min_interval_days = 0;
    rules.calendar_day = CalendarDay::last;
    const Drift none{0.0, "VTI", 0.4, 0.4};
    const auto fires = [&](const char* session, const char* last) {
        return decide_rebalance(day(session), day(last), none, rules).rebalance;
    };

    // Monthly: 2024-03-29 is Good Friday, so March 2024 ends on Thursday 2024-03-28.
    rules.calendar = RebalanceCalendar::monthly;
    const auto waiting = decide_rebalance(day("2024-03-27"), day("2024-02-29"), none, rules);
    CHECK_FALSE(waiting.rebalance);
    CHECK(waiting.reason.find("waiting for the last trading day of the monthly period (not before 2024-03-28)") !=
          std::string::npos);
    const auto last_day = decide_rebalance(day("2024-03-28"), day("2024-02-29"), none, rules);
    CHECK(last_day.rebalance);
    CHECK(last_day.reason.find("calendar: last trading day of the monthly period") == 0);
    CHECK(fires("2024-02-29", "2024-01-31"));      // leap day ends February 2024
    CHECK_FALSE(fires("2024-02-28", "2024-01-31"));
    CHECK_FALSE(fires("2024-03-28", "2024-03-01"));  // already rebalanced in March

    // Quarterly and annual across the year end: 2024-12-31 (Tuesday) ends Q4 and 2024;
    // 2023 ended on Friday 2023-12-29.
    rules.calendar = RebalanceCalendar::quarterly;
    CHECK(fires("2024-03-28", "2023-12-29"));
    CHECK(fires("2024-09-30", "2024-06-28"));
    CHECK_FALSE(fires("2024-09-27", "2024-06-28"));
    CHECK(fires("2024-12-31", "2024-09-30"));
    CHECK_FALSE(fires("2024-12-30", "2024-09-30"));
    rules.calendar = RebalanceCalendar::annual;
    CHECK(fires("2023-12-29", "2022-12-30"));
    CHECK(fires("2024-12-31", "2023-12-29"));
    CHECK_FALSE(fires("2024-12-30", "2023-12-29"));
    CHECK_FALSE(fires("2025-01-02", "2024-12-31"));

    // Weekly: Good Friday ends that week on Thursday; the week of New Year 2025 (Wednesday a
    // holiday) ends on Friday 2025-01-03.
    rules.calendar = RebalanceCalendar::weekly;
    CHECK(fires("2024-03-28", "2024-03-22"));
    CHECK_FALSE(fires("2024-03-27", "2024-03-22"));
    CHECK_FALSE(fires("2024-12-31", "2024-12-27"));
    CHECK(fires("2025-01-03", "2024-12-27"));

    // Daily: every session is the last of its day.
    rules.calendar = RebalanceCalendar::daily;
    CHECK(fires("2024-03-27", "2024-03-26"));

    // Never rebalanced: the first last day fires. The minimum interval still applies.
    rules.calendar = RebalanceCalendar::monthly;
    CHECK(decide_rebalance(day("2024-03-28"), std::nullopt, none, rules).rebalance);
    CHECK_FALSE(decide_rebalance(day("2024-03-27"), std::nullopt, none, rules).rebalance);
    rules.min_interval_days = 30;
    CHECK_FALSE(fires("2024-03-28", "2024-02-29"));  // 28 days
    // Drift ignores calendar_day.
    rules.calendar = RebalanceCalendar::drift;
    rules.min_interval_days = 0;
    CHECK(decide_rebalance(day("2024-03-27"), std::nullopt, Drift{0.5, "VTI", 0.9, 0.4}, rules).rebalance);
}

TEST_CASE("calendar days parse", "[core][rebalance][calendar_day]") {
    CHECK(parse_calendar_day("first") == CalendarDay::first);
    CHECK(parse_calendar_day("last") == CalendarDay::last);
    CHECK_FALSE(parse_calendar_day("Last"));
    CHECK(std::string(to_string(CalendarDay::last)) == "last");
}

TEST_CASE("calendar_hold agrees with decide_rebalance on every session, calendar and drift", "[core][rebalance]") {
    // Over four years of sessions (year ends, holidays, Good Fridays) and every calendar:
    // where calendar_hold says hold, decide_rebalance holds for any drift, with the same
    // rule; where it says nothing, a calendar rebalances whatever the drift and the drift
    // calendar follows the threshold.
    const Drift small{0.001, "VTI", 0.401, 0.4};
    const Drift large{0.2, "VTI", 0.6, 0.4};
    const auto sessions = trading_days(day("2022-11-01"), day("2026-02-27"));
    for (const auto calendar : {RebalanceCalendar::drift, RebalanceCalendar::daily, RebalanceCalendar::weekly,
                                RebalanceCalendar::monthly, RebalanceCalendar::quarterly, RebalanceCalendar::annual}) {
        for (const auto day : {CalendarDay::first, CalendarDay::last}) {
            RebalanceRules rules;
            rules.calendar = calendar;
            rules.calendar_day = day;
            rules.min_interval_days = 3;
            std::optional<Date> last;
            int rebalances = 0;
            for (const auto s : sessions) {
                const auto hold = calendar_hold(s, last, rules);
                const auto with_small = decide_rebalance(s, last, small, rules);
                const auto with_large = decide_rebalance(s, last, large, rules);
                INFO(to_string(calendar) << " " << to_string(day) << " " << s.to_string());
                if (hold) {
                    CHECK_FALSE(hold->rebalance);
                    CHECK_FALSE(with_small.rebalance);
                    CHECK_FALSE(with_large.rebalance);
                    CHECK(hold->reason.substr(0, 10) == with_large.reason.substr(0, 10));
                } else if (calendar != RebalanceCalendar::drift) {
                    CHECK(with_small.rebalance);
                    CHECK(with_large.rebalance);
                } else {
                    CHECK_FALSE(with_small.rebalance);
                    CHECK(with_large.rebalance);
                }
                if (with_large.rebalance) {
                    last = s;
                    ++rebalances;
                }
            }
            CHECK(rebalances > 0);
        }
    }
}
