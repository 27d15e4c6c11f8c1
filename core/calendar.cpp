#include "core/calendar.hpp"

#include <bitset>
#include <unordered_map>

#include <array>
#include <cassert>
#include <cstdio>

namespace ballast::core {
namespace {

namespace chr = std::chrono;

chr::year_month_day ymd_of(Date d) { return chr::year_month_day{chr::sys_days{chr::days{d.days()}}}; }

Date date_of(chr::year_month_day ymd) {
    return Date::from_days(static_cast<std::int32_t>(chr::sys_days{ymd}.time_since_epoch().count()));
}

// The n-th (1-based) given weekday of a month; n = -1 for the last one.
Date nth_weekday(int year, unsigned month, unsigned weekday, int n) {
    const auto wd = chr::weekday{weekday};
    if (n > 0) {
        const chr::year_month_weekday ymw{chr::year{year}, chr::month{month}, wd[static_cast<unsigned>(n)]};
        return Date::from_days(static_cast<std::int32_t>(chr::sys_days{ymw}.time_since_epoch().count()));
    }
    const chr::year_month_weekday_last ymwl{chr::year{year}, chr::month{month}, chr::weekday_last{wd}};
    return Date::from_days(static_cast<std::int32_t>(chr::sys_days{ymwl}.time_since_epoch().count()));
}

// Anonymous Gregorian algorithm (Meeus/Jones/Butcher).
Date easter_sunday(int y) {
    const int a = y % 19, b = y / 100, c = y % 100, d = b / 4, e = b % 4;
    const int f = (b + 8) / 25, g = (b - f + 1) / 3, h = (19 * a + b - d - g + 15) % 30;
    const int i = c / 4, k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7;
    const int m = (a + 11 * h + 22 * l) / 451;
    const int month = (h + l - 7 * m + 114) / 31, day = ((h + l - 7 * m + 114) % 31) + 1;
    return Date::from_ymd(y, static_cast<unsigned>(month), static_cast<unsigned>(day));
}

// NYSE observance of a fixed-date holiday: Saturday -> Friday before, Sunday -> Monday.
// (New Year's Day falling on a Saturday is not observed on the Friday before.)
std::optional<Date> observed(Date d, bool skip_saturday) {
    switch (d.weekday()) {
        case 6: return skip_saturday ? std::nullopt : std::optional<Date>{d.plus_days(-1)};
        case 0: return d.plus_days(1);
        default: return d;
    }
}

struct Special {
    int y;
    unsigned m, d;
    const char* name;
};
constexpr std::array<Special, 9> kSpecialClosures{{
    {2001, 9, 11, "September 11 attacks"},
    {2001, 9, 12, "September 11 attacks"},
    {2001, 9, 13, "September 11 attacks"},
    {2001, 9, 14, "September 11 attacks"},
    {2004, 6, 11, "Day of mourning for President Reagan"},
    {2007, 1, 2, "Day of mourning for President Ford"},
    {2012, 10, 29, "Hurricane Sandy"},
    {2012, 10, 30, "Hurricane Sandy"},
    {2018, 12, 5, "Day of mourning for President George H. W. Bush"},
}};
constexpr Special kCarter{2025, 1, 9, "Day of mourning for President Carter"};

}  // namespace

Date Date::from_ymd(int year, unsigned month, unsigned day) {
    const chr::year_month_day ymd{chr::year{year}, chr::month{month}, chr::day{day}};
    assert(ymd.ok());
    return date_of(ymd);
}

std::optional<Date> Date::parse(std::string_view s) {
    if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
    auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
        int v = 0;
        for (std::size_t i = pos; i < pos + len; ++i) {
            if (s[i] < '0' || s[i] > '9') return std::nullopt;
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    const auto y = num(0, 4), m = num(5, 2), d = num(8, 2);
    if (!y || !m || !d) return std::nullopt;
    const chr::year_month_day ymd{chr::year{*y}, chr::month{static_cast<unsigned>(*m)},
                                  chr::day{static_cast<unsigned>(*d)}};
    if (!ymd.ok()) return std::nullopt;
    return date_of(ymd);
}

int Date::year() const { return static_cast<int>(ymd_of(*this).year()); }
unsigned Date::month() const { return static_cast<unsigned>(ymd_of(*this).month()); }
unsigned Date::day() const { return static_cast<unsigned>(ymd_of(*this).day()); }
unsigned Date::weekday() const { return chr::weekday{chr::sys_days{chr::days{days_}}}.c_encoding(); }

namespace {

// "YYYY-MM-DD" into p[0..9] for years 0..9999 (written without printf: dates and
// timestamps are formatted for every journal row).
void put_date(char* p, const chr::year_month_day& ymd) {
    const auto y = static_cast<unsigned>(static_cast<int>(ymd.year()));
    const auto m = static_cast<unsigned>(ymd.month());
    const auto d = static_cast<unsigned>(ymd.day());
    p[0] = static_cast<char>('0' + y / 1000);
    p[1] = static_cast<char>('0' + y / 100 % 10);
    p[2] = static_cast<char>('0' + y / 10 % 10);
    p[3] = static_cast<char>('0' + y % 10);
    p[4] = '-';
    p[5] = static_cast<char>('0' + m / 10);
    p[6] = static_cast<char>('0' + m % 10);
    p[7] = '-';
    p[8] = static_cast<char>('0' + d / 10);
    p[9] = static_cast<char>('0' + d % 10);
}

bool four_digit_year(const chr::year_month_day& ymd) {
    const int y = static_cast<int>(ymd.year());
    return y >= 0 && y <= 9999;
}

}  // namespace

std::string Date::to_string() const {
    const auto ymd = ymd_of(*this);
    if (!four_digit_year(ymd)) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", year(), month(), day());
        return buf;
    }
    char buf[10];
    put_date(buf, ymd);
    return std::string(buf, sizeof buf);
}

std::optional<TimeOfDay> TimeOfDay::parse(std::string_view s) {
    if (s.size() != 5 || s[2] != ':') return std::nullopt;
    for (std::size_t i : {0u, 1u, 3u, 4u})
        if (s[i] < '0' || s[i] > '9') return std::nullopt;
    const int h = (s[0] - '0') * 10 + (s[1] - '0');
    const int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23 || m > 59) return std::nullopt;
    return TimeOfDay{h * 60 + m};
}

std::string TimeOfDay::to_string() const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%02d:%02d", minutes / 60, minutes % 60);
    return buf;
}

bool ny_is_dst(Date date, TimeOfDay local) {
    const int y = date.year();
    const Date start = y >= 2007 ? nth_weekday(y, 3, 0, 2) : nth_weekday(y, 4, 0, 1);
    const Date end = y >= 2007 ? nth_weekday(y, 11, 0, 1) : nth_weekday(y, 10, 0, -1);
    constexpr int kSwitch = 2 * 60;
    if (date < start || date > end) return false;
    if (date == start) return local.minutes >= 3 * 60;  // 02:00-02:59 does not exist; read as EST
    if (date == end) return local.minutes < kSwitch;    // 01:00-01:59 is read as EDT (first)
    return true;
}

Timestamp ny_to_utc(Date date, TimeOfDay local) {
    const int offset_hours = ny_is_dst(date, local) ? 4 : 5;
    return Timestamp{chr::seconds{static_cast<std::int64_t>(date.days()) * 86400 +
                                  static_cast<std::int64_t>(local.minutes) * 60 + offset_hours * 3600}};
}

NyLocal utc_to_ny(Timestamp t) {
    // Try EDT first; keep it only if that local time is in fact daylight time.
    for (int offset : {4, 5}) {
        const auto local = t - chr::hours{offset};
        const auto day = chr::floor<chr::days>(local);
        const Date d = Date::from_days(static_cast<std::int32_t>(day.time_since_epoch().count()));
        const TimeOfDay tod{static_cast<int>(chr::duration_cast<chr::minutes>(local - day).count())};
        if ((offset == 4) == ny_is_dst(d, tod) || offset == 5) return {d, tod};
    }
    return {};  // unreachable
}

std::string format_utc(Timestamp t) {
    const auto day = chr::floor<chr::days>(t);
    const Date d = Date::from_days(static_cast<std::int32_t>(day.time_since_epoch().count()));
    const auto secs = static_cast<unsigned>((t - day).count());  // 0 .. 86399
    const auto ymd = ymd_of(d);
    if (!four_digit_year(ymd)) {
        char buf[48];
        std::snprintf(buf, sizeof buf, "%sT%02u:%02u:%02uZ", d.to_string().c_str(), secs / 3600, secs / 60 % 60,
                      secs % 60);
        return buf;
    }
    char buf[20];  // YYYY-MM-DDTHH:MM:SSZ
    put_date(buf, ymd);
    const unsigned parts[3] = {secs / 3600, secs / 60 % 60, secs % 60};
    buf[10] = 'T';
    for (int i = 0; i < 3; ++i) {
        buf[11 + 3 * i] = static_cast<char>('0' + parts[i] / 10);
        buf[12 + 3 * i] = static_cast<char>('0' + parts[i] % 10);
        buf[13 + 3 * i] = i < 2 ? ':' : 'Z';
    }
    return std::string(buf, sizeof buf);
}

std::optional<std::string> nyse_holiday_name(Date date) {
    const int y = date.year();
    for (const auto& s : kSpecialClosures)
        if (Date::from_ymd(s.y, s.m, s.d) == date) return s.name;
    if (Date::from_ymd(kCarter.y, kCarter.m, kCarter.d) == date) return kCarter.name;

    auto fixed = [&](unsigned m, unsigned d, bool skip_sat) { return observed(Date::from_ymd(y, m, d), skip_sat); };
    if (fixed(1, 1, true) == date) return "New Year's Day";
    // New Year's Day of the next year on a Saturday is not moved into this year.
    if (y >= 1998 && nth_weekday(y, 1, 1, 3) == date) return "Martin Luther King Jr. Day";
    if (nth_weekday(y, 2, 1, 3) == date) return "Washington's Birthday";
    if (easter_sunday(y).plus_days(-2) == date) return "Good Friday";
    if (nth_weekday(y, 5, 1, -1) == date) return "Memorial Day";
    if (y >= 2022 && fixed(6, 19, false) == date) return "Juneteenth";
    if (fixed(7, 4, false) == date) return "Independence Day";
    if (nth_weekday(y, 9, 1, 1) == date) return "Labor Day";
    if (nth_weekday(y, 11, 4, 4) == date) return "Thanksgiving Day";
    if (fixed(12, 25, false) == date) return "Christmas Day";
    return std::nullopt;
}

bool is_trading_day(Date date) {
    const unsigned wd = date.weekday();
    if (wd == 0 || wd == 6) return false;
    // The holiday rules are worked out once per year and thread (a backtest asks for the
    // same few years millions of times).
    thread_local std::unordered_map<int, std::bitset<366>> holidays_by_year;
    const int y = date.year();
    auto it = holidays_by_year.find(y);
    if (it == holidays_by_year.end()) {
        std::bitset<366> holidays;
        const Date first = Date::from_ymd(y, 1, 1);
        for (Date d = first; d.year() == y; d = d.plus_days(1))
            if (d.weekday() != 0 && d.weekday() != 6 && nyse_holiday_name(d)) holidays.set(static_cast<std::size_t>(d - first));
        it = holidays_by_year.emplace(y, holidays).first;
    }
    return !it->second.test(static_cast<std::size_t>(date - Date::from_ymd(y, 1, 1)));
}

Date next_trading_day(Date date) {
    Date d = date.plus_days(1);
    while (!is_trading_day(d)) d = d.plus_days(1);
    return d;
}

Date previous_trading_day(Date date) {
    Date d = date.plus_days(-1);
    while (!is_trading_day(d)) d = d.plus_days(-1);
    return d;
}

std::vector<Date> trading_days(Date from, Date to) {
    std::vector<Date> out;
    for (Date d = from; d <= to; d = d.plus_days(1))
        if (is_trading_day(d)) out.push_back(d);
    return out;
}

}  // namespace ballast::core
