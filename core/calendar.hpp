#pragma once
// Civil dates, New York wall-clock conversion and the NYSE trading calendar.
// Pure: the current time is always a parameter.
#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ballast::core {

using Timestamp = std::chrono::sys_seconds;  // UTC

// A calendar date (proleptic Gregorian), stored as days since 1970-01-01.
class Date {
public:
    constexpr Date() = default;
    static constexpr Date from_days(std::int32_t days) { Date d; d.days_ = days; return d; }
    static Date from_ymd(int year, unsigned month, unsigned day);  // asserts validity
    // Strict "YYYY-MM-DD"; nullopt for anything else or an impossible date.
    static std::optional<Date> parse(std::string_view text);

    constexpr std::int32_t days() const { return days_; }
    int year() const;
    unsigned month() const;
    unsigned day() const;
    unsigned weekday() const;  // 0 = Sunday .. 6 = Saturday
    std::string to_string() const;  // "YYYY-MM-DD"
    constexpr Date plus_days(std::int32_t n) const { return from_days(days_ + n); }
    friend constexpr std::int32_t operator-(Date a, Date b) { return a.days_ - b.days_; }
    friend constexpr auto operator<=>(Date, Date) = default;

private:
    std::int32_t days_ = 0;
};

// A wall-clock time of day in minutes after midnight.
struct TimeOfDay {
    int minutes = 0;
    // Strict "HH:MM" (00:00 .. 23:59).
    static std::optional<TimeOfDay> parse(std::string_view text);
    std::string to_string() const;
    friend constexpr auto operator<=>(TimeOfDay, TimeOfDay) = default;
};

// America/New_York: UTC offset rules of the US Eastern zone (EST/EDT) as in force
// since 1987 (1987-2006: first Sunday of April to last Sunday of October; from 2007:
// second Sunday of March to first Sunday of November, switching at 02:00 local).
// A local time inside the spring-forward gap is read as standard time.
bool ny_is_dst(Date date, TimeOfDay local);
Timestamp ny_to_utc(Date date, TimeOfDay local);
struct NyLocal {
    Date date;
    TimeOfDay time;
};
NyLocal utc_to_ny(Timestamp t);

// ISO-8601 UTC text "YYYY-MM-DDTHH:MM:SSZ".
std::string format_utc(Timestamp t);

// NYSE full-day closures: weekends, the rule-based holidays (New Year's Day, Martin
// Luther King Jr. Day from 1998, Washington's Birthday, Good Friday, Memorial Day,
// Juneteenth from 2022, Independence Day, Labor Day, Thanksgiving, Christmas, with the
// exchange's Saturday/Sunday observance) and the special closures since 2001
// (September 11-14 2001, national days of mourning, Hurricane Sandy).
bool is_trading_day(Date date);
std::optional<std::string> nyse_holiday_name(Date date);  // nullopt on a non-holiday
Date next_trading_day(Date date);      // strictly after
Date previous_trading_day(Date date);  // strictly before
std::vector<Date> trading_days(Date from, Date to);  // inclusive range

}  // namespace ballast::core
