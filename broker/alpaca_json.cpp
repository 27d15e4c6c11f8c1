#include "broker/alpaca_json.hpp"

#include <cstdio>
#include <exception>
#include <functional>

#include <nlohmann/json.hpp>

// Internally the readers throw PayloadError; every public parser catches it (and any
// nlohmann or std exception) at its top and returns a BrokerError instead.

namespace ballast::broker::alpaca {
namespace {

using json = nlohmann::json;
using core::Decimal;

constexpr std::size_t kValueChars = 60;
constexpr std::size_t kErrorBytes = 200;
constexpr const char* kDecimalRange = "range -9223372036.854775807..9223372036.854775807";

struct PayloadError {
    std::string message;
};

// A JSON path built on the stack while descending; rendered only for messages.
struct Path {
    const Path* parent = nullptr;
    std::string_view key;        // member name (or the root's name)
    std::ptrdiff_t index = -1;   // array index when >= 0

    Path member(std::string_view k) const { return Path{this, k, -1}; }
    Path at(std::size_t i) const { return Path{this, {}, static_cast<std::ptrdiff_t>(i)}; }

    std::string str() const {
        std::string out = parent ? parent->str() : std::string{};
        if (index >= 0) {
            out += '[' + std::to_string(index) + ']';
        } else if (!key.empty()) {
            if (!out.empty()) out += '.';
            out += key;
        }
        return out;
    }
};

std::string sanitize(std::string_view text, std::size_t max_bytes) {
    std::string out;
    const bool cut = text.size() > max_bytes;
    for (char ch : text.substr(0, max_bytes)) {
        const auto c = static_cast<unsigned char>(ch);
        out += (c >= 0x20 && c < 0x7f) ? ch : '?';
    }
    if (cut) out += "...";
    return out;
}

std::string dump_scalar(const json& v) { return v.dump(-1, ' ', true, json::error_handler_t::replace); }

// Compact JSON text of `v`, stopped once `out` passes `budget` characters (so that a
// deeply nested value is never walked, or recursed into, in full).
void preview(const json& v, std::string& out, std::size_t budget) {
    if (v.is_array() || v.is_object()) {
        out += v.is_array() ? '[' : '{';
        bool first = true;
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (out.size() > budget) return;
            if (!first) out += ',';
            first = false;
            if (v.is_object()) out += dump_scalar(json(it.key())) + ':';
            preview(*it, out, budget);
        }
        out += v.is_array() ? ']' : '}';
    } else {
        out += dump_scalar(v);
    }
}

std::string show(const json& v) {
    std::string text;
    preview(v, text, kValueChars);
    return sanitize(text, kValueChars);
}

[[noreturn]] void fail(std::string_view endpoint, const Path& path, const json* value, std::string_view expected) {
    std::string where = path.str();
    if (where.empty()) where = "body";
    std::string msg{endpoint};
    msg += ": " + where + ": ";
    msg += value ? "got " + show(*value) : std::string{"missing"};
    msg += "; expected ";
    msg += expected;
    throw PayloadError{std::move(msg)};
}

// Strips nlohmann's "[json.exception.parse_error.101] " prefix.
std::string reason_of(const json::exception& e) {
    std::string what = e.what();
    if (const auto close = what.find("] "); what.rfind("[json.exception", 0) == 0 && close != std::string::npos)
        what.erase(0, close + 2);
    return sanitize(what, kErrorBytes);
}

// Parses a whole body. Tracks the path while parsing so that a number too large for a
// double (1e400, which nlohmann refuses mid-parse) is reported at its field.
json parse_body(std::string_view endpoint, std::string_view body, std::string_view root) {
    if (body.empty()) throw PayloadError{std::string{endpoint} + ": empty body; expected JSON"};
    struct Frame {
        bool array = false;
        std::string key;
        std::size_t count = 0;  // elements started so far (arrays)
    };
    std::vector<Frame> stack;
    const auto note_element = [&] {
        if (!stack.empty() && stack.back().array) ++stack.back().count;
    };
    json::parser_callback_t track = [&](int, json::parse_event_t ev, json& parsed) {
        switch (ev) {
            case json::parse_event_t::object_start: note_element(); stack.push_back({false, {}, 0}); break;
            case json::parse_event_t::array_start: note_element(); stack.push_back({true, {}, 0}); break;
            case json::parse_event_t::key: if (!stack.empty()) stack.back().key = parsed.get<std::string>(); break;
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end: if (!stack.empty()) stack.pop_back(); break;
            case json::parse_event_t::value: note_element(); break;
        }
        return true;
    };
    try {
        return json::parse(body.begin(), body.end(), track);
    } catch (const json::out_of_range& e) {
        // Number overflow: the failing value has not been counted in its array yet.
        std::vector<Path> chain;
        chain.reserve(stack.size() + 1);
        chain.push_back(Path{nullptr, root, -1});
        for (std::size_t i = 0; i < stack.size(); ++i) {
            const Frame& f = stack[i];
            const bool innermost = i + 1 == stack.size();
            if (f.array)
                chain.push_back(chain.back().at(innermost ? f.count : f.count - 1));
            else
                chain.push_back(chain.back().member(f.key));
        }
        std::string token = e.what();
        const auto q1 = token.find('\'');
        const auto q2 = token.rfind('\'');
        token = (q1 != std::string::npos && q2 > q1) ? token.substr(q1 + 1, q2 - q1 - 1) : std::string{"?"};
        std::string where = chain.back().str();
        if (where.empty()) where = "body";
        throw PayloadError{std::string{endpoint} + ": " + where + ": got " + sanitize(token, kValueChars) +
                           "; expected a number within range (" + reason_of(e) + ")"};
    } catch (const json::parse_error& e) {
        throw PayloadError{std::string{endpoint} + ": malformed JSON at byte " + std::to_string(e.byte) + ": " +
                           reason_of(e)};
    }
}

// ---- decimal text -------------------------------------------------------------------

// Expands a number's shortest text in exponent form ("-1.5e-07") to plain digits.
std::string expand_exponent(const std::string& text) {
    const auto e = text.find_first_of("eE");
    if (e == std::string::npos) return text;
    std::string mant = text.substr(0, e);
    const int exp = std::stoi(text.substr(e + 1));
    std::string sign;
    if (!mant.empty() && (mant[0] == '-' || mant[0] == '+')) {
        if (mant[0] == '-') sign = "-";
        mant.erase(0, 1);
    }
    auto dot = mant.find('.');
    std::string digits = mant;
    long point = static_cast<long>(mant.size());
    if (dot != std::string::npos) {
        digits.erase(dot, 1);
        point = static_cast<long>(dot);
    }
    point += exp;
    const long n = static_cast<long>(digits.size());
    if (point <= 0) return sign + "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
    if (point >= n) return sign + digits + std::string(static_cast<std::size_t>(point - n), '0');
    return sign + digits.substr(0, static_cast<std::size_t>(point)) + "." + digits.substr(static_cast<std::size_t>(point));
}

// Plain decimal syntax: [+-] digits [. digits] (at least one digit).
bool plain_decimal_syntax(std::string_view s) {
    std::size_t i = 0;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    bool digit = false, dot = false;
    for (; i < s.size(); ++i) {
        if (s[i] >= '0' && s[i] <= '9') digit = true;
        else if (s[i] == '.' && !dot) dot = true;
        else return false;
    }
    return digit;
}

constexpr const char* kDecimalExpected = "a decimal (string or number)";

Decimal to_decimal(std::string_view ep, const Path& path, const json& v) {
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        if (auto d = Decimal::parse(s, /*round_excess=*/true)) return *d;
        if (plain_decimal_syntax(s)) fail(ep, path, &v, std::string{"a decimal in "} + kDecimalRange);
        if (s.find_first_of("eE") != std::string::npos && s.find_first_not_of("0123456789+-.eE") == std::string::npos)
            fail(ep, path, &v, "a decimal without exponent (e.g. \"12.5\")");
        fail(ep, path, &v, kDecimalExpected);
    }
    if (v.is_number()) {
        const std::string text = expand_exponent(v.dump());
        if (auto d = Decimal::parse(text, /*round_excess=*/true)) return *d;
        fail(ep, path, &v, std::string{"a decimal in "} + kDecimalRange);
    }
    fail(ep, path, &v, kDecimalExpected);
}

// ---- object readers -----------------------------------------------------------------

// One JSON object being read, with its path and the endpoint for messages.
class Obj {
public:
    Obj(std::string_view ep, const Path& path, const json& v) : ep_(ep), path_(path), v_(v) {
        if (!v.is_object()) fail(ep, path, &v, "an object");
    }

    // The member or nullptr when missing.
    const json* find(std::string_view key) const {
        const auto it = v_.find(key);
        return it == v_.end() ? nullptr : &*it;
    }
    const json* find_non_null(std::string_view key) const {
        const json* m = find(key);
        return (m && !m->is_null()) ? m : nullptr;
    }
    const json& req(std::string_view key, std::string_view expected) const {
        const json* m = find(key);
        if (!m) fail(ep_, path_.member(key), nullptr, expected);
        return *m;
    }

    std::string str(std::string_view key) const {
        const json& m = req(key, "a string");
        if (!m.is_string()) fail(ep_, path_.member(key), &m, "a string");
        return m.get<std::string>();
    }
    std::optional<std::string> opt_str(std::string_view key) const {
        const json* m = find_non_null(key);
        if (!m) return std::nullopt;
        if (!m->is_string()) fail(ep_, path_.member(key), m, "a string or null");
        return m->get<std::string>();
    }
    bool boolean(std::string_view key) const {
        const json& m = req(key, "a boolean");
        if (!m.is_boolean()) fail(ep_, path_.member(key), &m, "a boolean");
        return m.get<bool>();
    }
    long long integer(std::string_view key) const {
        const json& m = req(key, "an integer");
        if (!m.is_number_integer()) fail(ep_, path_.member(key), &m, "an integer");
        if (m.is_number_unsigned() && m.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
            fail(ep_, path_.member(key), &m, "an integer within int64");
        return m.get<long long>();
    }
    double number(std::string_view key) const {
        const json& m = req(key, "a number");
        if (!m.is_number()) fail(ep_, path_.member(key), &m, "a number");
        return m.get<double>();
    }
    Decimal decimal(std::string_view key) const {
        return to_decimal(ep_, path_.member(key), req(key, kDecimalExpected));
    }
    std::optional<Decimal> opt_decimal(std::string_view key) const {
        const json* m = find_non_null(key);
        if (!m) return std::nullopt;
        return to_decimal(ep_, path_.member(key), *m);
    }
    core::Timestamp time(std::string_view key) const {
        const json& m = req(key, "an RFC 3339 time");
        if (m.is_string())
            if (auto t = parse_rfc3339(m.get_ref<const std::string&>())) return *t;
        fail(ep_, path_.member(key), &m, "an RFC 3339 time (e.g. \"2022-05-17T09:30:00-04:00\")");
    }
    // An optional RFC 3339 time kept as text.
    std::optional<std::string> opt_time_text(std::string_view key) const {
        const json* m = find_non_null(key);
        if (!m) return std::nullopt;
        if (!m->is_string() || !parse_rfc3339(m->get_ref<const std::string&>()))
            fail(ep_, path_.member(key), m, "an RFC 3339 time or null");
        return m->get<std::string>();
    }

    Path path(std::string_view key) const { return path_.member(key); }
    std::string_view ep() const { return ep_; }
    const json& value() const { return v_; }

private:
    std::string_view ep_;
    const Path& path_;
    const json& v_;
};

// "HH:MM", or "HHMM" when `compact_ok`.
std::optional<core::TimeOfDay> parse_clock_time(std::string_view s, bool compact_ok) {
    if (compact_ok && s.size() == 4 && s.find_first_not_of("0123456789") == std::string_view::npos) {
        const std::string with_colon = std::string{s.substr(0, 2)} + ":" + std::string{s.substr(2)};
        return core::TimeOfDay::parse(with_colon);
    }
    return core::TimeOfDay::parse(s);
}

template <class T, class F>
Result<T> guarded(std::string_view ep, F&& f) {
    try {
        return f();
    } catch (const PayloadError& e) {
        return BrokerError{BrokerError::Kind::bad_payload, e.message};
    } catch (const json::exception& e) {
        return BrokerError{BrokerError::Kind::bad_payload, std::string{ep} + ": " + reason_of(e)};
    } catch (const std::exception& e) {
        return BrokerError{BrokerError::Kind::bad_payload, std::string{ep} + ": " + sanitize(e.what(), kErrorBytes)};
    }
}

// Arrays of objects at the root.
template <class T, class F>
std::vector<T> read_array(std::string_view ep, const Path& root, const json& v, F&& read_one) {
    if (!v.is_array()) fail(ep, root, &v, "an array");
    std::vector<T> out;
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        const Path p = root.at(i);
        out.push_back(read_one(Obj{ep, p, v[i]}));
    }
    return out;
}

Account read_account(const Obj& o) {
    Account a;
    a.equity = o.decimal("equity");
    a.last_equity = o.decimal("last_equity");
    a.cash = o.decimal("cash");
    a.buying_power = o.decimal("buying_power");
    a.non_marginable_buying_power = o.opt_decimal("non_marginable_buying_power");
    a.status = o.str("status");
    a.trading_blocked = o.boolean("trading_blocked");
    a.account_blocked = o.boolean("account_blocked");
    a.trade_suspended_by_user = o.boolean("trade_suspended_by_user");
    a.pattern_day_trader = o.boolean("pattern_day_trader");
    a.currency = o.str("currency");
    return a;
}

Position read_position(const Obj& o) {
    Position p;
    p.symbol = o.str("symbol");
    p.qty = o.decimal("qty");
    p.qty_available = o.opt_decimal("qty_available");
    p.side = o.str("side");
    p.market_value = o.decimal("market_value");
    p.avg_entry_price = o.decimal("avg_entry_price");
    p.current_price = o.opt_decimal("current_price");
    p.lastday_price = o.opt_decimal("lastday_price");
    return p;
}

Order read_order(const Obj& o) {
    Order r;
    r.id = o.str("id");
    r.client_order_id = o.str("client_order_id");
    r.symbol = o.str("symbol");
    r.qty = o.opt_decimal("qty");
    r.notional = o.opt_decimal("notional");
    r.filled_qty = o.decimal("filled_qty");
    r.filled_avg_price = o.opt_decimal("filled_avg_price");
    r.commission = o.opt_decimal("commission");
    r.side = o.str("side");
    r.type = o.str("type");
    r.time_in_force = o.str("time_in_force");
    r.status = o.str("status");
    r.created_at = o.opt_time_text("created_at");
    r.updated_at = o.opt_time_text("updated_at");
    r.submitted_at = o.opt_time_text("submitted_at");
    r.filled_at = o.opt_time_text("filled_at");
    r.canceled_at = o.opt_time_text("canceled_at");
    r.expired_at = o.opt_time_text("expired_at");
    r.failed_at = o.opt_time_text("failed_at");
    return r;
}

CalendarDay read_calendar_day(const Obj& o) {
    CalendarDay d;
    const auto read_time = [&](std::string_view key, bool compact_ok) -> std::optional<core::TimeOfDay> {
        const json* m = o.find_non_null(key);
        if (!m) return std::nullopt;
        if (m->is_string())
            if (auto t = parse_clock_time(m->get_ref<const std::string&>(), compact_ok)) return t;
        fail(o.ep(), o.path(key), m, compact_ok ? "a time \"HHMM\" or \"HH:MM\"" : "a time \"HH:MM\"");
    };
    const json& date = o.req("date", "a date \"YYYY-MM-DD\"");
    const auto parsed = date.is_string() ? core::Date::parse(date.get_ref<const std::string&>()) : std::nullopt;
    if (!parsed) fail(o.ep(), o.path("date"), &date, "a date \"YYYY-MM-DD\"");
    d.date = *parsed;
    for (auto [key, out] : {std::pair{"open", &d.open}, std::pair{"close", &d.close}}) {
        auto t = read_time(key, false);
        if (!t) fail(o.ep(), o.path(key), o.find(key), "a time \"HH:MM\"");
        *out = *t;
    }
    d.session_open = read_time("session_open", true);
    d.session_close = read_time("session_close", true);
    return d;
}

Asset read_asset(const Obj& o) {
    Asset a;
    a.symbol = o.str("symbol");
    a.tradable = o.boolean("tradable");
    a.fractionable = o.boolean("fractionable");
    a.status = o.str("status");
    return a;
}

core::Bar read_bar(const Obj& o, const std::string& symbol) {
    core::Bar b;
    b.symbol = symbol;
    b.date = core::utc_to_ny(o.time("t")).date;
    b.open = o.number("o");
    b.high = o.number("h");
    b.low = o.number("l");
    b.close = o.number("c");
    b.adj_close = b.close;
    b.volume = o.number("v");
    return b;
}

Quote read_quote(const Obj& o) {
    Quote q;
    q.time = o.time("t");
    q.bid_price = o.decimal("bp");
    q.bid_size = o.decimal("bs");
    q.ask_price = o.decimal("ap");
    q.ask_size = o.decimal("as");
    return q;
}

Trade read_trade(const Obj& o) {
    Trade t;
    t.time = o.time("t");
    t.price = o.decimal("p");
    t.size = o.decimal("s");
    return t;
}

ApiError api_error_of(const json& v, std::string_view body) {
    ApiError e;
    if (v.is_object()) {
        if (const auto it = v.find("code"); it != v.end() && it->is_number_integer()) e.code = it->get<long long>();
        if (const auto it = v.find("message"); it != v.end() && it->is_string()) {
            e.message = sanitize(it->get_ref<const std::string&>(), kErrorBytes);
            return e;
        }
    }
    e.message = body.empty() ? std::string{"(empty body)"} : sanitize(body, kErrorBytes);
    return e;
}

}  // namespace

// ---- time ---------------------------------------------------------------------------

std::optional<core::Timestamp> parse_rfc3339(std::string_view s) {
    const auto digits = [&](std::size_t pos, std::size_t n) -> std::optional<int> {
        if (pos + n > s.size()) return std::nullopt;
        int v = 0;
        for (std::size_t i = pos; i < pos + n; ++i) {
            if (s[i] < '0' || s[i] > '9') return std::nullopt;
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    if (s.size() < 20) return std::nullopt;
    const auto date = core::Date::parse(s.substr(0, 10));
    if (!date || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':') return std::nullopt;
    const auto hh = digits(11, 2), mm = digits(14, 2), ss = digits(17, 2);
    if (!hh || !mm || !ss || *hh > 23 || *mm > 59 || *ss > 59) return std::nullopt;
    std::size_t i = 19;
    if (s[i] == '.') {
        const std::size_t start = ++i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        if (i == start || i - start > 9) return std::nullopt;
    }
    int offset_minutes = 0;
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
        ++i;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        const int sign = s[i] == '-' ? -1 : 1;
        const auto oh = digits(i + 1, 2), om = digits(i + 4, 2);
        if (i + 6 > s.size() || s[i + 3] != ':' || !oh || !om || *oh > 23 || *om > 59) return std::nullopt;
        offset_minutes = sign * (*oh * 60 + *om);
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
    const core::Timestamp local = core::Timestamp{std::chrono::days{date->days()}} + std::chrono::hours{*hh} +
                                  std::chrono::minutes{*mm} + std::chrono::seconds{*ss};
    return local - std::chrono::minutes{offset_minutes};
}

// ---- trading API --------------------------------------------------------------------

Result<Account> parse_account(std::string_view ep, std::string_view body) {
    return guarded<Account>(ep, [&] {
        const json v = parse_body(ep, body, "");
        const Path root{};
        return read_account(Obj{ep, root, v});
    });
}

Result<Position> parse_position(std::string_view ep, std::string_view body) {
    return guarded<Position>(ep, [&] {
        const json v = parse_body(ep, body, "");
        const Path root{};
        return read_position(Obj{ep, root, v});
    });
}

Result<std::vector<Position>> parse_positions(std::string_view ep, std::string_view body) {
    return guarded<std::vector<Position>>(ep, [&] {
        const json v = parse_body(ep, body, "positions");
        const Path root{nullptr, "positions"};
        return read_array<Position>(ep, root, v, read_position);
    });
}

Result<Order> parse_order(std::string_view ep, std::string_view body) {
    return guarded<Order>(ep, [&] {
        const json v = parse_body(ep, body, "");
        const Path root{};
        return read_order(Obj{ep, root, v});
    });
}

Result<std::vector<Order>> parse_orders(std::string_view ep, std::string_view body) {
    return guarded<std::vector<Order>>(ep, [&] {
        const json v = parse_body(ep, body, "orders");
        const Path root{nullptr, "orders"};
        return read_array<Order>(ep, root, v, read_order);
    });
}

bool is_terminal(std::string_view status) { return is_terminal_status(status); }

OrderUpdate to_update(const Order& o) {
    OrderUpdate u;
    u.client_order_id = o.client_order_id;
    u.broker_order_id = o.id;
    u.symbol = o.symbol;
    u.side = o.side;
    u.qty = o.qty;
    u.status = o.status;
    u.filled_qty = o.filled_qty;
    u.filled_avg_price = o.filled_avg_price;
    u.commission = o.commission.value_or(Decimal{});
    for (const auto* t : {&o.updated_at, &o.filled_at, &o.canceled_at, &o.expired_at, &o.failed_at,
                          &o.submitted_at, &o.created_at}) {
        if (!*t) continue;
        if (auto ts = parse_rfc3339(**t)) {
            u.updated_at = core::format_utc(*ts);
            break;
        }
    }
    return u;
}

Result<Clock> parse_clock(std::string_view ep, std::string_view body) {
    return guarded<Clock>(ep, [&] {
        const json v = parse_body(ep, body, "");
        const Path root{};
        const Obj o{ep, root, v};
        Clock c;
        c.timestamp = o.time("timestamp");
        c.is_open = o.boolean("is_open");
        c.next_open = o.time("next_open");
        c.next_close = o.time("next_close");
        return c;
    });
}

Result<std::vector<CalendarDay>> parse_calendar(std::string_view ep, std::string_view body) {
    return guarded<std::vector<CalendarDay>>(ep, [&] {
        const json v = parse_body(ep, body, "calendar");
        const Path root{nullptr, "calendar"};
        return read_array<CalendarDay>(ep, root, v, read_calendar_day);
    });
}

Result<Asset> parse_asset(std::string_view ep, std::string_view body) {
    return guarded<Asset>(ep, [&] {
        const json v = parse_body(ep, body, "");
        const Path root{};
        return read_asset(Obj{ep, root, v});
    });
}

ApiError parse_error(std::string_view body) {
    try {
        const json v = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
        return api_error_of(v, body);
    } catch (...) {
        ApiError e;
        e.message = body.empty() ? std::string{"(empty body)"} : sanitize(body, kErrorBytes);
        return e;
    }
}

Result<std::vector<MultiStatusEntry>> parse_multi_status(std::string_view ep, std::string_view body) {
    return guarded<std::vector<MultiStatusEntry>>(ep, [&] {
        const json v = parse_body(ep, body, "entries");
        const Path root{nullptr, "entries"};
        return read_array<MultiStatusEntry>(ep, root, v, [](const Obj& o) {
            MultiStatusEntry e;
            e.id = o.opt_str("id");
            e.symbol = o.opt_str("symbol");
            const long long status = o.integer("status");
            if (status < 100 || status > 599) fail(o.ep(), o.path("status"), o.find("status"), "an HTTP status");
            e.status = static_cast<int>(status);
            if (const json* b = o.find_non_null("body")) {
                if (e.status / 100 == 2 && b->is_object()) {
                    const Path bp = o.path("body");
                    e.order = read_order(Obj{o.ep(), bp, *b});
                } else {
                    e.error = api_error_of(*b, show(*b));
                }
            }
            return e;
        });
    });
}

// ---- market data API ----------------------------------------------------------------

namespace {

// The symbol map at `key` of the root object; null or missing-as-allowed means empty.
const json* symbol_map(const Obj& o, std::string_view key) {
    const json& m = o.req(key, "an object keyed by symbol, or null");
    if (m.is_null()) return nullptr;
    if (!m.is_object()) fail(o.ep(), o.path(key), &m, "an object keyed by symbol, or null");
    return &m;
}

}  // namespace

Result<BarsPage> parse_bars_page(std::string_view ep, std::string_view body) {
    return guarded<BarsPage>(ep, [&] {
        const json v = parse_body(ep, body, "");
        const Path root{};
        const Obj o{ep, root, v};
        BarsPage page;
        if (const json* bars = symbol_map(o, "bars")) {
            const Path bars_path = o.path("bars");
            for (const auto& [symbol, list] : bars->items()) {
                const Path sp = bars_path.member(symbol);
                if (list.is_null()) continue;
                if (!list.is_array()) fail(ep, sp, &list, "an array of bars");
                for (std::size_t i = 0; i < list.size(); ++i) {
                    const Path bp = sp.at(i);
                    page.bars.push_back(read_bar(Obj{ep, bp, list[i]}, symbol));
                }
            }
        }
        page.next_page_token = o.opt_str("next_page_token");
        if (page.next_page_token && page.next_page_token->empty()) page.next_page_token.reset();
        return page;
    });
}

// {"<key>": {"SYM": {...}, ...}}: each entry read with `read`.
template <class T, class Read>
Result<std::map<core::Symbol, T>> parse_symbol_map(std::string_view ep, std::string_view body, const char* key,
                                                   Read read) {
    return guarded<std::map<core::Symbol, T>>(ep, [&] {
        const json v = parse_body(ep, body, "");
        const Path root{};
        const Obj o{ep, root, v};
        std::map<core::Symbol, T> out;
        if (const json* m = symbol_map(o, key)) {
            const Path mp = o.path(key);
            for (const auto& [symbol, entry] : m->items()) {
                const Path ep_path = mp.member(symbol);
                out.emplace(symbol, read(Obj{ep, ep_path, entry}));
            }
        }
        return out;
    });
}

Result<std::map<core::Symbol, Quote>> parse_latest_quotes(std::string_view ep, std::string_view body) {
    return parse_symbol_map<Quote>(ep, body, "quotes", [](const Obj& o) { return read_quote(o); });
}

Result<std::map<core::Symbol, Trade>> parse_latest_trades(std::string_view ep, std::string_view body) {
    return parse_symbol_map<Trade>(ep, body, "trades", [](const Obj& o) { return read_trade(o); });
}

Result<std::map<core::Symbol, Snapshot>> parse_snapshots(std::string_view ep, std::string_view body) {
    return guarded<std::map<core::Symbol, Snapshot>>(ep, [&] {
        const json v = parse_body(ep, body, "");
        const Path root{};
        const Obj top{ep, root, v};
        std::map<core::Symbol, Snapshot> out;
        for (const auto& [symbol, s] : v.items()) {
            const Path sp = root.member(symbol);
            const Obj o{ep, sp, s};
            Snapshot snap;
            if (const json* t = o.find_non_null("latestTrade")) {
                const Path p = o.path("latestTrade");
                snap.latest_trade = read_trade(Obj{ep, p, *t});
            }
            if (const json* q = o.find_non_null("latestQuote")) {
                const Path p = o.path("latestQuote");
                snap.latest_quote = read_quote(Obj{ep, p, *q});
            }
            if (const json* b = o.find_non_null("dailyBar")) {
                const Path p = o.path("dailyBar");
                snap.daily_bar = read_bar(Obj{ep, p, *b}, symbol);
            }
            if (const json* b = o.find_non_null("prevDailyBar")) {
                const Path p = o.path("prevDailyBar");
                snap.prev_daily_bar = read_bar(Obj{ep, p, *b}, symbol);
            }
            out.emplace(symbol, std::move(snap));
        }
        return out;
    });
}

// ---- requests -----------------------------------------------------------------------

std::string order_request_json(const OrderRequest& order) {
    nlohmann::ordered_json j;
    j["symbol"] = order.symbol;
    j["qty"] = order.qty.to_string();
    j["side"] = core::to_string(order.side);
    j["type"] = "market";
    j["time_in_force"] = "day";
    j["client_order_id"] = order.client_order_id;
    return j.dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::ordered_json::error_handler_t::replace);
}

std::string url_encode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0x0f];
        }
    }
    return out;
}

namespace {

std::string symbols_param(const std::vector<core::Symbol>& symbols) {
    std::string out;
    for (const auto& s : symbols) {
        if (!out.empty()) out += ',';
        out += url_encode(s);
    }
    return out;
}

}  // namespace

std::string bars_target(const BarsQuery& q) {
    std::string t = "/v2/stocks/bars?symbols=" + symbols_param(q.symbols);
    t += "&timeframe=" + url_encode(q.timeframe);
    t += "&start=" + url_encode(core::format_utc(q.start));
    t += "&end=" + url_encode(core::format_utc(q.end));
    t += "&limit=" + std::to_string(q.limit);
    t += "&adjustment=" + url_encode(q.adjustment);
    t += "&feed=" + url_encode(q.feed);
    if (q.page_token && !q.page_token->empty()) t += "&page_token=" + url_encode(*q.page_token);
    return t;
}

std::string latest_quotes_target(const std::vector<core::Symbol>& symbols, std::string_view feed) {
    return "/v2/stocks/quotes/latest?symbols=" + symbols_param(symbols) + "&feed=" + url_encode(feed);
}

std::string latest_trades_target(const std::vector<core::Symbol>& symbols, std::string_view feed) {
    return "/v2/stocks/trades/latest?symbols=" + symbols_param(symbols) + "&feed=" + url_encode(feed);
}

std::string order_by_client_id_target(std::string_view client_order_id) {
    return "/v2/orders:by_client_order_id?client_order_id=" + url_encode(client_order_id);
}

std::string calendar_target(core::Date start, core::Date end) {
    return "/v2/calendar?start=" + start.to_string() + "&end=" + end.to_string();
}

}  // namespace ballast::broker::alpaca
