#include <catch2/catch.hpp>

#include "core/calendar.hpp"

using namespace ballast::core;

namespace {
Date day(const char* s) { return Date::parse(s).value(); }
}

TEST_CASE("dates parse strictly and print back", "[core][calendar]") {
    CHECK(day("2024-02-29").to_string() == "2024-02-29");
    CHECK(day("1970-01-01").days() == 0);
    for (const char* bad : {"2023-02-29", "2024-13-01", "2024-1-01", "20240101", "2024-01-01T", "", "abcd-ef-gh"})
        CHECK_FALSE(Date::parse(bad));
    CHECK(day("2024-01-01").weekday() == 1);  // Monday
    CHECK(TimeOfDay::parse("16:30")->minutes == 990);
    for (const char* bad : {"24:00", "4pm", "9:30", "09:60", ""}) CHECK_FALSE(TimeOfDay::parse(bad));
}

TEST_CASE("New York time follows US daylight saving rules", "[core][calendar]") {
    // 2024: EDT from 10 March to 3 November.
    CHECK(format_utc(ny_to_utc(day("2024-01-15"), TimeOfDay{16 * 60})) == "2024-01-15T21:00:00Z");
    CHECK(format_utc(ny_to_utc(day("2024-07-15"), TimeOfDay{16 * 60})) == "2024-07-15T20:00:00Z");
    CHECK(format_utc(ny_to_utc(day("2024-03-08"), TimeOfDay{16 * 60})) == "2024-03-08T21:00:00Z");
    CHECK(format_utc(ny_to_utc(day("2024-03-11"), TimeOfDay{16 * 60})) == "2024-03-11T20:00:00Z");
    CHECK(format_utc(ny_to_utc(day("2024-11-04"), TimeOfDay{9 * 60 + 30})) == "2024-11-04T14:30:00Z");
    // 2006: the old rule (first Sunday of April to last Sunday of October).
    CHECK_FALSE(ny_is_dst(day("2006-03-20"), TimeOfDay{12 * 60}));
    CHECK(ny_is_dst(day("2006-04-03"), TimeOfDay{12 * 60}));
    CHECK(ny_is_dst(day("2006-10-27"), TimeOfDay{12 * 60}));
    CHECK_FALSE(ny_is_dst(day("2006-10-30"), TimeOfDay{12 * 60}));
    // Round trip.
    for (const char* s : {"2024-01-15", "2024-07-04", "2006-06-01", "2025-03-06"}) {
        const auto t = ny_to_utc(day(s), TimeOfDay{16 * 60 + 50});
        const auto back = utc_to_ny(t);
        CHECK(back.date == day(s));
        CHECK(back.time.minutes == 16 * 60 + 50);
    }
}

TEST_CASE("NYSE holidays and trading days", "[core][calendar]") {
    CHECK(nyse_holiday_name(day("2024-03-29")) == "Good Friday");
    CHECK(nyse_holiday_name(day("2024-06-19")) == "Juneteenth");
    CHECK_FALSE(nyse_holiday_name(day("2021-06-18")));  // Juneteenth before 2022 is a trading day
    CHECK(nyse_holiday_name(day("2021-12-24")) == "Christmas Day");  // Saturday -> Friday
    CHECK_FALSE(nyse_holiday_name(day("2021-12-31")));  // New Year's on Saturday is not observed Friday
    CHECK(nyse_holiday_name(day("2023-01-02")) == "New Year's Day");  // Sunday -> Monday
    CHECK(nyse_holiday_name(day("2012-10-29")) == "Hurricane Sandy");
    CHECK(nyse_holiday_name(day("2025-01-09")));
    CHECK(nyse_holiday_name(day("2024-11-28")) == "Thanksgiving Day");
    CHECK_FALSE(is_trading_day(day("2024-01-06")));  // Saturday
    CHECK(is_trading_day(day("2024-01-08")));
    CHECK(next_trading_day(day("2024-03-28")) == day("2024-04-01"));
    CHECK(previous_trading_day(day("2024-01-02")) == day("2023-12-29"));
    CHECK(trading_days(day("2024-12-23"), day("2025-01-03")).size() == 8);  // minus 25 Dec and 1 Jan
}

TEST_CASE("dates and UTC timestamps format digit by digit, in and out of four-digit years", "[core][calendar]") {
    CHECK(Date::from_ymd(999, 1, 2).to_string() == "0999-01-02");
    CHECK(Date::from_ymd(2024, 12, 31).to_string() == "2024-12-31");
    CHECK(Date::from_ymd(9999, 12, 31).to_string() == "9999-12-31");
    CHECK(Date::from_ymd(10000, 1, 1).to_string() == "10000-01-01");
    const auto at = [](int y, unsigned m, unsigned d, int seconds) {
        return Timestamp{std::chrono::sys_days{std::chrono::days{Date::from_ymd(y, m, d).days()}}} +
               std::chrono::seconds{seconds};
    };
    CHECK(format_utc(at(2024, 3, 9, 0)) == "2024-03-09T00:00:00Z");
    CHECK(format_utc(at(2024, 3, 9, 86399)) == "2024-03-09T23:59:59Z");
    CHECK(format_utc(at(1970, 1, 1, 3600 + 62)) == "1970-01-01T01:01:02Z");
    CHECK(format_utc(at(10000, 1, 1, 45296)) == "10000-01-01T12:34:56Z");
    // Every second of a day round-trips through its fields.
    for (int s = 0; s < 86400; s += 37) {
        const auto text = format_utc(at(2025, 6, 30, s));
        INFO(text);
        CHECK(std::stoi(text.substr(11, 2)) * 3600 + std::stoi(text.substr(14, 2)) * 60 + std::stoi(text.substr(17, 2)) == s);
    }
}
