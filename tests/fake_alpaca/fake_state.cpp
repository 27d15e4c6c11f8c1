#include "tests/fake_alpaca/fake_state.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>
#include <system_error>

#include <nlohmann/json.hpp>

#include "broker/csv_bars.hpp"

namespace ballast::fake {
namespace {

using core::Date;
using core::Decimal;
using core::TimeOfDay;
using json = nlohmann::json;
namespace chr = std::chrono;

constexpr TimeOfDay kOpen{9 * 60 + 30};
constexpr TimeOfDay kClose{16 * 60};
constexpr auto kWindow = chr::seconds(60);

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

std::string percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) && std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
    std::map<std::string, std::string> out;
    while (!q.empty()) {
        const auto amp = q.find('&');
        const auto part = q.substr(0, amp);
        const auto eq = part.find('=');
        if (!part.empty()) {
            out[percent_decode(part.substr(0, eq), true)] =
                eq == std::string_view::npos ? std::string{} : percent_decode(part.substr(eq + 1), true);
        }
        if (amp == std::string_view::npos) break;
        q.remove_prefix(amp + 1);
    }
    return out;
}

Response json_response(int status, const json& body) {
    Response r;
    r.status = status;
    r.body = body.dump();
    return r;
}

Response error(int status, long long code, const std::string& message, json extra = json::object()) {
    json body = std::move(extra);
    body["code"] = code;
    body["message"] = message;
    return json_response(status, body);
}

// Trading API: invalid parameters.
Response invalid(const std::string& message) { return error(422, 40010001, message); }
// Market data API: invalid parameters.
Response invalid_data(const std::string& message) { return error(422, 42210000, message); }

Response forbidden() { return json_response(403, json{{"message", "forbidden."}}); }

// Alpaca's codes are the HTTP status followed by 10000 (500 -> 50010000).
Response status_fault(int status) {
    std::string message = "fake fault: HTTP " + std::to_string(status);
    if (status == 429) message = "rate limit exceeded";
    if (status == 500) message = "internal server error occurred";
    auto r = error(status, static_cast<long long>(status) * 100000 + 10000, message);
    if (status == 429) r.headers.emplace_back("Retry-After", "1");
    return r;
}

std::string json_quoted(const std::string& s) { return json(s).dump(); }

std::string bar_time(Date d) { return core::format_utc(core::ny_to_utc(d, TimeOfDay{0})); }

// "2025-03-07T09:30:00-05:00"
std::string format_ny(core::Timestamp t) {
    const auto ny = core::utc_to_ny(t);
    const auto secs = ((t.time_since_epoch().count() % 60) + 60) % 60;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%sT%02d:%02d:%02lld%s", ny.date.to_string().c_str(), ny.time.minutes / 60,
                  ny.time.minutes % 60, static_cast<long long>(secs),
                  core::ny_is_dst(ny.date, ny.time) ? "-04:00" : "-05:00");
    return buf;
}

// Strict RFC 3339 ("2022-02-01T05:00:00Z", "...T00:00:00.5-04:00") or a plain date,
// which covers that whole day: 00:00:00Z for a start, 23:59:59Z for an end (so
// end=2024-01-02 includes the bar stamped 2024-01-02T05:00:00Z). A fractional start
// rounds up to the next second.
std::optional<core::Timestamp> parse_rfc3339(const std::string& s, bool is_start) {
    const bool round_up = is_start;
    const auto date = Date::parse(std::string_view(s).substr(0, 10));
    if (!date) return std::nullopt;
    core::Timestamp day{chr::seconds(static_cast<long long>(date->days()) * 86400)};
    if (s.size() == 10) return is_start ? day : day + chr::seconds(86399);
    int hh = 0, mm = 0, ss = 0, n = 0;
    if (s.size() < 20 || (s[10] != 'T' && s[10] != 't') ||
        std::sscanf(s.c_str() + 11, "%2d:%2d:%2d%n", &hh, &mm, &ss, &n) != 3 || n != 8 || hh > 23 || mm > 59 ||
        ss > 59)
        return std::nullopt;
    std::size_t i = 19;
    bool fraction = false;
    if (s[i] == '.') {
        ++i;
        const auto start = i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
            if (s[i] != '0') fraction = true;
            ++i;
        }
        if (i == start || i - start > 9) return std::nullopt;
    }
    long long offset = 0;
    const auto zone = s.substr(i);
    if (zone == "Z" || zone == "z") {
        offset = 0;
    } else {
        int oh = 0, om = 0;
        if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':' ||
            std::sscanf(zone.c_str() + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59)
            return std::nullopt;
        offset = (zone[0] == '-' ? -1 : 1) * (oh * 3600LL + om * 60LL);
    }
    auto t = day + chr::seconds(hh * 3600LL + mm * 60LL + ss - offset);
    if (fraction && round_up) t += chr::seconds(1);
    return t;
}

const std::string kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(const std::string& in) {
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        for (int k = 18; k >= 0; k -= 6) out += kB64[(v >> k) & 63];
    }
    if (i < in.size()) {
        unsigned v = static_cast<unsigned char>(in[i]) << 16;
        if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(const std::string& in) {
    if (in.empty() || in.size() % 4 != 0) return std::nullopt;
    std::string out;
    unsigned v = 0;
    int bits = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '=') {
            if (i < in.size() - 2) return std::nullopt;
            break;
        }
        const auto pos = kB64.find(in[i]);
        if (pos == std::string::npos) return std::nullopt;
        v = (v << 6) | static_cast<unsigned>(pos);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((v >> bits) & 0xFF);
        }
    }
    return out;
}

std::string asset_id(const std::string& symbol) {
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : symbol) h = (h ^ c) * 1099511628211ULL;
    char buf[48];
    std::snprintf(buf, sizeof buf, "a55e7000-%04x-4000-8000-%012llx", static_cast<unsigned>(h >> 48) & 0xFFFF,
                  static_cast<unsigned long long>(h & 0xFFFFFFFFFFFFULL));
    return buf;
}

bool is_open_status(const std::string& s) { return !broker::is_terminal_status(s); }

json dec(Decimal d) { return d.to_string(); }
json dec_or_null(const std::optional<Decimal>& d) { return d ? json(d->to_string()) : json(nullptr); }
json str_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

// A decimal request field: a JSON string only (ALPACA.md: never a number, never exponent form).
std::optional<Response> read_decimal(const json& body, const char* field, int max_digits, std::optional<Decimal>& out) {
    const auto it = body.find(field);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_string())
        return invalid(std::string(field) + " must be a decimal string, got " + it->dump());
    const auto& text = it->get_ref<const std::string&>();
    const auto d = Decimal::parse(text);
    if (!d || *d != d->round_down(max_digits))
        return invalid("invalid " + std::string(field) + ": " + json_quoted(text) + " (expected a decimal with at most " +
                       std::to_string(max_digits) + " fractional digits)");
    if (!d->is_positive()) return invalid(std::string(field) + " must be > 0, got " + json_quoted(text));
    out = d;
    return std::nullopt;
}

std::optional<std::string> string_field(const json& body, const char* field, std::optional<Response>& err) {
    const auto it = body.find(field);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) {
        err = invalid(std::string(field) + " must be a string, got " + it->dump());
        return std::nullopt;
    }
    return it->get<std::string>();
}

std::optional<int> parse_int(const std::string& s) {
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    return std::stoi(s);
}

}  // namespace

const char* to_string(Delivery d) {
    switch (d) {
        case Delivery::normal: return "normal";
        case Delivery::slow: return "slow";
        case Delivery::timeout: return "timeout";
        case Delivery::reset: return "reset";
        case Delivery::truncate: return "truncate";
    }
    return "?";
}

const std::string* Response::header(const std::string& name) const {
    for (const auto& [k, v] : headers)
        if (lower(k) == lower(name)) return &v;
    return nullptr;
}

broker::Result<std::map<core::Symbol, std::vector<core::Bar>>> load_data_dir(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec);
    if (ec)
        return broker::BrokerError{broker::BrokerError::Kind::bad_data,
                                   "cannot read data dir " + dir.string() + ": " + ec.message()};
    std::map<core::Symbol, std::vector<core::Bar>> out;
    for (const auto& entry : it) {
        if (!entry.is_regular_file() || entry.path().extension() != ".csv") continue;
        const core::Symbol symbol = entry.path().stem().string();
        auto bars = broker::read_yahoo_csv(entry.path(), symbol);
        if (!bars) return bars.error();
        out[symbol] = std::move(bars).value();
    }
    return out;
}

FakeAlpaca::FakeAlpaca(FakeConfig config, std::map<core::Symbol, std::vector<core::Bar>> bars)
    : config_(std::move(config)), bars_(std::move(bars)), cash_(config_.cash) {
    for (auto& [s, v] : bars_)
        std::sort(v.begin(), v.end(), [](const core::Bar& a, const core::Bar& b) { return a.date < b.date; });
    for (const auto& [s, v] : bars_)
        for (const auto& b : v) data_dates_.insert(b.date);
    today_ = config_.today.value_or(data_dates_.empty() ? Date{} : *data_dates_.rbegin());
    frozen_time_ = config_.time;
}

std::optional<core::Decimal> FakeAlpaca::position_qty(const core::Symbol& symbol) const {
    const auto it = holdings_.find(symbol);
    if (it == holdings_.end()) return std::nullopt;
    return it->second.qty;
}

std::size_t FakeAlpaca::faults_pending() const {
    std::size_t n = 0;
    for (const auto& f : faults_) n += static_cast<std::size_t>(f.remaining);
    return n;
}

// ---- entry point --------------------------------------------------------------------

Response FakeAlpaca::handle(const Request& request, WallTime now) {
    const auto qpos = request.target.find('?');
    const std::string path = percent_decode(std::string_view(request.target).substr(0, qpos), false);
    const auto query = qpos == std::string::npos ? std::map<std::string, std::string>{}
                                                 : parse_query(std::string_view(request.target).substr(qpos + 1));
    if (path.rfind("/_fake/", 0) == 0) return control(request, path);

    count_request(path, now);
    const auto fault = take_fault(request.method, path);
    if (!fault) return route(request, path, query, now);

    // A fault: the request is carried out first only when the fault says so.
    if (!fault->apply) {
        if (fault->action == "status") {
            auto r = status_fault(fault->status);
            r.fault = fault->action;
            return r;
        }
        Response r;
        if (fault->action == "malformed") r.body = "{\"fake\": \"malformed\", \"id\": tru";
        if (fault->action == "truncate") r.body = "{\"message\":\"this body is cut short by the fake\"}";
        if (fault->action == "timeout") r.delivery = Delivery::timeout;
        if (fault->action == "reset") r.delivery = Delivery::reset;
        if (fault->action == "truncate") r.delivery = Delivery::truncate;
        r.fault = fault->action;
        return r;
    }
    Response r = route(request, path, query, now);
    if (fault->action == "status") {
        auto f = status_fault(fault->status);
        r.status = f.status;
        r.body = f.body;
        for (auto& h : f.headers) r.headers.push_back(h);
    } else if (fault->action == "malformed") {
        r.status = 200;
        r.body = r.body.size() >= 2 ? r.body.substr(0, r.body.size() / 2) : "{\"fake\": \"malformed\", \"id\": tru";
    } else if (fault->action == "slow") {
        r.delivery = Delivery::slow;
        r.delay_ms = fault->delay_ms;
    } else if (fault->action == "timeout") {
        r.delivery = Delivery::timeout;
    } else if (fault->action == "reset") {
        r.delivery = Delivery::reset;
    } else if (fault->action == "truncate") {
        r.delivery = Delivery::truncate;
        if (r.body.empty()) r.body = "{\"message\":\"this body is cut short by the fake\"}";
    }
    r.fault = fault->action;
    return r;
}

void FakeAlpaca::count_request(const std::string& path, WallTime now) {
    ++stats_.requests_total;
    ++stats_.requests_by_path[path];
    all_recent_.push_back(now);
    while (!all_recent_.empty() && now - all_recent_.front() >= kWindow) all_recent_.pop_front();
    stats_.max_requests_in_any_60s_window =
        std::max(stats_.max_requests_in_any_60s_window, static_cast<std::int64_t>(all_recent_.size()));
}

std::optional<FakeAlpaca::Fault> FakeAlpaca::take_fault(const std::string& method, const std::string& path) {
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
        if (it->method != "*" && it->method != upper(method)) continue;
        if (it->path != "*" && it->path != path) continue;
        Fault f = *it;
        if (--it->remaining <= 0) faults_.erase(it);
        return f;
    }
    return std::nullopt;
}

std::optional<Response> FakeAlpaca::check_auth(const Request& request, const std::string& path) const {
    const std::string* key = nullptr;
    const std::string* secret = nullptr;
    for (const auto& [k, v] : request.headers) {
        const auto name = lower(k);
        if (name == "apca-api-key-id") key = &v;
        if (name == "apca-api-secret-key") secret = &v;
    }
    if (!key || !secret || key->empty() || secret->empty()) return forbidden();
    if (*key == config_.key_id && *secret == config_.secret) return std::nullopt;
    // ALPACA.md: bad keys on the market data host are a 403, on the trading host a 401.
    if (path.rfind("/v2/stocks/", 0) == 0) return forbidden();
    return error(401, 40110000, "request is not authorized");
}

std::optional<Response> FakeAlpaca::check_rate_limit(WallTime now) {
    if (config_.rate_limit_per_minute <= 0) return std::nullopt;
    while (!window_.empty() && now - window_.front() >= kWindow) window_.pop_front();
    if (static_cast<int>(window_.size()) < config_.rate_limit_per_minute) {
        window_.push_back(now);
        return std::nullopt;
    }
    auto r = error(429, 42910000, "rate limit exceeded");
    const auto wait = chr::ceil<chr::seconds>(window_.front() + kWindow - now).count();
    r.headers.emplace_back("Retry-After", std::to_string(std::max<long long>(1, wait)));
    return r;
}

void FakeAlpaca::add_rate_headers(Response& r, WallTime now) const {
    if (config_.rate_limit_per_minute <= 0) return;
    const auto used = std::count_if(window_.begin(), window_.end(), [&](WallTime t) { return now - t < kWindow; });
    auto oldest = now;
    for (auto t : window_)
        if (now - t < kWindow) {
            oldest = t;
            break;
        }
    const auto reset = chr::ceil<chr::seconds>((used ? oldest + kWindow : now).time_since_epoch()).count();
    r.headers.emplace_back("X-Ratelimit-Limit", std::to_string(config_.rate_limit_per_minute));
    r.headers.emplace_back("X-Ratelimit-Remaining",
                           std::to_string(std::max<long long>(0, config_.rate_limit_per_minute - used)));
    r.headers.emplace_back("X-Ratelimit-Reset", std::to_string(reset));
}

Response FakeAlpaca::route(const Request& request, const std::string& path,
                           const std::map<std::string, std::string>& query, WallTime now) {
    if (path.rfind("/v2/", 0) != 0) return error(404, 40410000, "endpoint not found: " + path);
    const std::string method = upper(request.method);
    auto finish = [&](Response r) {
        add_rate_headers(r, now);
        return r;
    };
    if (auto denied = check_auth(request, path)) return finish(std::move(*denied));
    if (auto limited = check_rate_limit(now)) return finish(std::move(*limited));

    auto not_allowed = [&] { return finish(error(405, 40510000, "method " + method + " not allowed on " + path)); };
    auto tail = [&](const std::string& prefix) -> std::optional<std::string> {
        if (path.size() > prefix.size() && path.rfind(prefix, 0) == 0 &&
            path.find('/', prefix.size()) == std::string::npos)
            return path.substr(prefix.size());
        return std::nullopt;
    };

    if (path == "/v2/account") return method == "GET" ? finish(get_account(now)) : not_allowed();
    if (path == "/v2/positions") return method == "GET" ? finish(get_positions()) : not_allowed();
    if (auto sym = tail("/v2/positions/")) return method == "GET" ? finish(get_position(*sym)) : not_allowed();
    if (path == "/v2/orders") {
        if (method == "GET") return finish(list_orders(query));
        if (method == "POST") return finish(post_order(request, now));
        if (method == "DELETE") return finish(cancel_all(now));
        return not_allowed();
    }
    if (path == "/v2/orders:by_client_order_id") {
        if (method != "GET") return not_allowed();
        const auto it = query.find("client_order_id");
        if (it == query.end() || it->second.empty()) return finish(invalid("client_order_id is required"));
        const auto found = by_client_id_.find(it->second);
        if (found == by_client_id_.end()) return finish(error(404, 40410000, "order not found"));
        return finish(get_order(orders_[found->second], now));
    }
    if (auto id = tail("/v2/orders/")) {
        if (method == "DELETE") return finish(cancel_order(*id, now));
        if (method != "GET") return not_allowed();
        for (auto& o : orders_)
            if (o.id == *id) return finish(get_order(o, now));
        return finish(error(404, 40410000, "order not found"));
    }
    if (path == "/v2/clock") return method == "GET" ? finish(get_clock(now)) : not_allowed();
    if (path == "/v2/calendar") return method == "GET" ? finish(get_calendar(query)) : not_allowed();
    if (auto sym = tail("/v2/assets/")) return method == "GET" ? finish(get_asset(*sym)) : not_allowed();
    if (path == "/v2/stocks/bars") return method == "GET" ? finish(get_bars(query)) : not_allowed();
    if (path == "/v2/stocks/quotes/latest") return method == "GET" ? finish(get_latest(query, true)) : not_allowed();
    if (path == "/v2/stocks/trades/latest") return method == "GET" ? finish(get_latest(query, false)) : not_allowed();
    return finish(error(404, 40410000, "endpoint not found: " + path));
}

// ---- control ------------------------------------------------------------------------

Response FakeAlpaca::control(const Request& request, const std::string& path) {
    const std::string method = upper(request.method);
    auto bad = [](const std::string& m) { return json_response(400, json{{"message", m}}); };
    auto parse_body = [&](json& out) -> bool {
        out = json::parse(request.body, nullptr, false);
        return !out.is_discarded();
    };

    if (path == "/_fake/faults" && method == "DELETE") {
        faults_.clear();
        return json_response(200, json{{"faults_pending", 0}});
    }
    if (path == "/_fake/faults" && method == "POST") {
        json body;
        if (!parse_body(body) || !(body.is_object() || body.is_array()))
            return bad("/_fake/faults: body must be a JSON object or an array of objects");
        const json list = body.is_array() ? body : json::array({body});
        std::vector<Fault> parsed;
        static const std::set<std::string> kActions{"status", "timeout", "reset", "truncate", "malformed", "slow"};
        for (const auto& f : list) {
            if (!f.is_object()) return bad("/_fake/faults: each fault must be an object, got " + f.dump());
            Fault fault;
            if (f.contains("method")) {
                if (!f["method"].is_string()) return bad("/_fake/faults: method must be a string");
                fault.method = upper(f["method"].get<std::string>());
            }
            if (!f.contains("path") || !f["path"].is_string() ||
                (f["path"] != "*" && f["path"].get<std::string>().rfind('/', 0) != 0))
                return bad("/_fake/faults: path must be \"*\" or a path starting with /, got " +
                           (f.contains("path") ? f["path"].dump() : std::string("nothing")));
            fault.path = f["path"].get<std::string>();
            if (f.contains("count")) {
                if (!f["count"].is_number_integer() || f["count"].get<int>() < 1)
                    return bad("/_fake/faults: count must be an integer >= 1, got " + f["count"].dump());
                fault.remaining = f["count"].get<int>();
            }
            if (!f.contains("action") || !f["action"].is_string() || !kActions.count(f["action"].get<std::string>()))
                return bad("/_fake/faults: action must be one of status, timeout, reset, truncate, malformed, slow; got " +
                           (f.contains("action") ? f["action"].dump() : std::string("nothing")));
            fault.action = f["action"].get<std::string>();
            if (f.contains("status")) {
                if (!f["status"].is_number_integer() || f["status"].get<int>() < 100 || f["status"].get<int>() > 599)
                    return bad("/_fake/faults: status must be an HTTP status 100..599, got " + f["status"].dump());
                fault.status = f["status"].get<int>();
            }
            if (f.contains("delay_ms")) {
                if (!f["delay_ms"].is_number_integer() || f["delay_ms"].get<int>() < 0)
                    return bad("/_fake/faults: delay_ms must be an integer >= 0, got " + f["delay_ms"].dump());
                fault.delay_ms = f["delay_ms"].get<int>();
            }
            // By default a fault that loses the answer still carries the request out
            // (the client must reconcile); status and reset faults never reach it.
            fault.apply = fault.action != "status" && fault.action != "reset";
            if (f.contains("apply")) {
                if (!f["apply"].is_boolean()) return bad("/_fake/faults: apply must be true or false");
                fault.apply = f["apply"].get<bool>();
            }
            if (fault.action == "slow") fault.apply = true;
            parsed.push_back(fault);
        }
        for (auto& f : parsed) faults_.push_back(f);
        return json_response(200, json{{"faults_pending", faults_pending()}});
    }
    if (path == "/_fake/orders" && method == "POST") {
        json body;
        if (!parse_body(body) || !body.is_object()) return bad("/_fake/orders: body must be a JSON object");
        FillMode m;
        const auto mode = body.value("mode", std::string{});
        if (mode == "immediate") m.kind = FillMode::Kind::immediate;
        else if (mode == "delayed") m.kind = FillMode::Kind::delayed;
        else if (mode == "partial") m.kind = FillMode::Kind::partial;
        else if (mode == "reject") m.kind = FillMode::Kind::reject;
        else return bad("/_fake/orders: mode must be immediate, delayed, partial or reject; got " +
                        (body.contains("mode") ? body["mode"].dump() : std::string("nothing")));
        if (body.contains("polls")) {
            if (!body["polls"].is_number_integer() || body["polls"].get<int>() < 0)
                return bad("/_fake/orders: polls must be an integer >= 0, got " + body["polls"].dump());
            m.polls = body["polls"].get<int>();
        }
        if (body.contains("fraction")) {
            if (!body["fraction"].is_number() || !(body["fraction"].get<double>() > 0) ||
                !(body["fraction"].get<double>() < 1))
                return bad("/_fake/orders: fraction must be a number with 0 < fraction < 1, got " +
                           body["fraction"].dump());
            m.fraction = body["fraction"].get<double>();
        }
        mode_ = m;
        return json_response(200, json{{"mode", mode}, {"polls", m.polls}, {"fraction", m.fraction}});
    }
    if (path == "/_fake/today" && method == "POST") {
        json body;
        if (!parse_body(body) || !body.is_object()) return bad("/_fake/today: body must be a JSON object");
        const auto text = body.value("date", std::string{});
        const auto d = Date::parse(text);
        if (!d) return bad("/_fake/today: date must be YYYY-MM-DD, got " +
                           (body.contains("date") ? body["date"].dump() : std::string("nothing")));
        std::optional<TimeOfDay> frozen;
        if (body.contains("time") && !body["time"].is_null()) {
            const auto t = body["time"].is_string() ? TimeOfDay::parse(body["time"].get<std::string>()) : std::nullopt;
            if (!t) return bad("/_fake/today: time must be HH:MM (New York), got " + body["time"].dump());
            frozen = t;
        }
        today_ = *d;
        frozen_time_ = frozen;
        return json_response(200, json{{"today", today_.to_string()},
                                       {"time", frozen ? json(frozen->to_string()) : json(nullptr)}});
    }
    if (path == "/_fake/stats" && method == "GET") {
        json by_path = json::object();
        for (const auto& [p, n] : stats_.requests_by_path) by_path[p] = n;
        return json_response(200, json{{"requests_total", stats_.requests_total},
                                       {"requests_by_path", by_path},
                                       {"max_requests_in_any_60s_window", stats_.max_requests_in_any_60s_window},
                                       {"orders_submitted", stats_.orders_submitted},
                                       {"duplicate_client_order_ids_rejected", stats_.duplicate_client_order_ids_rejected},
                                       {"faults_pending", faults_pending()}});
    }
    if (path == "/_fake/reset_stats" && method == "POST") {
        stats_ = FakeStats{};
        all_recent_.clear();
        return json_response(200, json::object());
    }
    return json_response(404, json{{"message", "unknown control endpoint: " + method + " " + path}});
}

// ---- helpers over the data ----------------------------------------------------------

const core::Bar* FakeAlpaca::last_bar(const core::Symbol& symbol) const {
    const auto it = bars_.find(symbol);
    if (it == bars_.end()) return nullptr;
    const auto& v = it->second;
    auto up = std::upper_bound(v.begin(), v.end(), today_, [](Date d, const core::Bar& b) { return d < b.date; });
    if (up == v.begin()) return nullptr;
    return &*std::prev(up);
}

std::optional<Decimal> FakeAlpaca::close_on_or_before(const core::Symbol& symbol, Date date) const {
    const auto it = bars_.find(symbol);
    if (it == bars_.end()) return std::nullopt;
    const auto& v = it->second;
    auto up = std::upper_bound(v.begin(), v.end(), date, [](Date d, const core::Bar& b) { return d < b.date; });
    if (up == v.begin()) return std::nullopt;
    return core::to_price(std::prev(up)->close);
}

Decimal FakeAlpaca::reserved_for_buys() const {
    Decimal sum;
    for (const auto& o : orders_)
        if (o.side == core::Side::buy && is_open_status(o.status)) sum += (o.order_qty - o.filled_qty) * o.price;
    return sum;
}

Decimal FakeAlpaca::held_for_sells(const core::Symbol& symbol) const {
    Decimal sum;
    for (const auto& o : orders_)
        if (o.side == core::Side::sell && o.symbol == symbol && is_open_status(o.status))
            sum += o.order_qty - o.filled_qty;
    return sum;
}

std::string FakeAlpaca::fake_time(WallTime now) const {
    const auto secs = chr::floor<chr::seconds>(now);
    const auto micros = chr::duration_cast<chr::microseconds>(now - secs).count();
    const auto ny = core::utc_to_ny(core::Timestamp{secs.time_since_epoch()});
    const auto sec_of_minute = frozen_time_ ? 0 : ((secs.time_since_epoch().count() % 60) + 60) % 60;
    const auto t = core::ny_to_utc(today_, frozen_time_.value_or(ny.time)) + chr::seconds(sec_of_minute);
    auto text = core::format_utc(t);
    char frac[32];
    std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(frozen_time_ ? 0 : micros));
    text.insert(text.size() - 1, frac);
    return text;
}

std::string FakeAlpaca::next_uuid() {
    char buf[48];
    std::snprintf(buf, sizeof buf, "f4ce0000-0000-4000-8000-%012llx", static_cast<unsigned long long>(++uuid_counter_));
    return buf;
}

// ---- trading API --------------------------------------------------------------------

json FakeAlpaca::position_json(const core::Symbol& symbol, const Holding& h) const {
    const Decimal price = close_on_or_before(symbol, today_).value_or(h.avg_entry_price);
    Decimal lastday = price;
    if (const auto* bar = last_bar(symbol)) lastday = close_on_or_before(symbol, bar->date.plus_days(-1)).value_or(price);
    const Decimal market_value = h.qty * price;
    const Decimal cost_basis = h.qty * h.avg_entry_price;
    const Decimal pl = market_value - cost_basis;
    const Decimal intraday = h.qty * (price - lastday);
    auto ratio = [](Decimal a, Decimal b) { return b.is_zero() ? Decimal{} : (a / b).round_half_away(4); };
    return json{{"asset_id", asset_id(symbol)},
                {"symbol", symbol},
                {"exchange", "ARCA"},
                {"asset_class", "us_equity"},
                {"asset_marginable", true},
                {"qty", dec(h.qty)},
                {"qty_available", dec(h.qty - held_for_sells(symbol))},
                {"side", "long"},
                {"avg_entry_price", dec(h.avg_entry_price)},
                {"market_value", dec(market_value)},
                {"cost_basis", dec(cost_basis)},
                {"unrealized_pl", dec(pl)},
                {"unrealized_plpc", dec(ratio(pl, cost_basis))},
                {"unrealized_intraday_pl", dec(intraday)},
                {"unrealized_intraday_plpc", dec(ratio(intraday, h.qty * lastday))},
                {"current_price", dec(price)},
                {"lastday_price", dec(lastday)},
                {"change_today", dec(ratio(price - lastday, lastday))}};
}

Response FakeAlpaca::get_account(WallTime) const {
    Decimal long_value, last_value;
    for (const auto& [symbol, h] : holdings_) {
        const auto p = position_json(symbol, h);
        long_value += h.qty * *Decimal::parse(p["current_price"].get<std::string>());
        last_value += h.qty * *Decimal::parse(p["lastday_price"].get<std::string>());
    }
    const Decimal equity = cash_ + long_value;
    const Decimal buying_power = cash_ - reserved_for_buys();
    return json_response(200, json{{"id", "f4ce0000-acc0-4000-8000-000000000001"},
                                   {"account_number", "PAFAKE0001"},
                                   {"status", "ACTIVE"},
                                   {"crypto_status", "INACTIVE"},
                                   {"currency", "USD"},
                                   {"cash", dec(cash_)},
                                   {"equity", dec(equity)},
                                   {"last_equity", dec(cash_ + last_value)},
                                   {"portfolio_value", dec(equity)},
                                   {"long_market_value", dec(long_value)},
                                   {"short_market_value", "0"},
                                   {"buying_power", dec(buying_power)},
                                   {"regt_buying_power", dec(buying_power)},
                                   {"daytrading_buying_power", "0"},
                                   {"non_marginable_buying_power", dec(buying_power)},
                                   {"initial_margin", "0"},
                                   {"maintenance_margin", "0"},
                                   {"last_maintenance_margin", "0"},
                                   {"sma", "0"},
                                   {"accrued_fees", "0"},
                                   {"multiplier", "1"},
                                   {"daytrade_count", 0},
                                   {"pattern_day_trader", false},
                                   {"trading_blocked", false},
                                   {"transfers_blocked", false},
                                   {"account_blocked", false},
                                   {"trade_suspended_by_user", false},
                                   {"shorting_enabled", false},
                                   {"created_at", "2020-01-02T14:30:00Z"}});
}

Response FakeAlpaca::get_positions() const {
    json out = json::array();
    for (const auto& [symbol, h] : holdings_) out.push_back(position_json(symbol, h));
    return json_response(200, out);
}

Response FakeAlpaca::get_position(const std::string& symbol) const {
    const auto it = holdings_.find(symbol);
    if (it == holdings_.end()) return error(404, 40410000, "position does not exist");
    return json_response(200, position_json(symbol, it->second));
}

json FakeAlpaca::order_json(const Order& o) const {
    std::string updated = o.created_at;
    for (const auto* t : {&o.filled_at, &o.canceled_at, &o.failed_at})
        if (!t->empty()) updated = std::max(updated, *t);
    return json{{"id", o.id},
                {"client_order_id", o.client_order_id},
                {"created_at", o.created_at},
                {"updated_at", updated},
                {"submitted_at", o.created_at},
                {"filled_at", str_or_null(o.filled_at)},
                {"expired_at", nullptr},
                {"canceled_at", str_or_null(o.canceled_at)},
                {"failed_at", str_or_null(o.failed_at)},
                {"replaced_at", nullptr},
                {"replaced_by", nullptr},
                {"replaces", nullptr},
                {"asset_id", asset_id(o.symbol)},
                {"symbol", o.symbol},
                {"asset_class", "us_equity"},
                {"notional", dec_or_null(o.notional)},
                {"qty", dec_or_null(o.qty)},
                {"filled_qty", dec(o.filled_qty)},
                {"filled_avg_price", o.filled_qty.is_zero() ? json(nullptr) : dec(o.price)},
                {"order_class", ""},
                {"order_type", "market"},
                {"type", "market"},
                {"side", core::to_string(o.side)},
                {"position_intent", o.side == core::Side::buy ? "buy_to_open" : "sell_to_close"},
                {"time_in_force", "day"},
                {"limit_price", nullptr},
                {"stop_price", nullptr},
                {"status", o.status},
                {"extended_hours", false},
                {"legs", nullptr},
                {"trail_percent", nullptr},
                {"trail_price", nullptr},
                {"hwm", nullptr},
                {"commission", "0"}};
}

void FakeAlpaca::fill(Order& o, Decimal qty, WallTime now) {
    const Decimal value = qty * o.price;
    if (o.side == core::Side::buy) {
        auto& h = holdings_[o.symbol];
        const Decimal total = h.qty + qty;
        h.avg_entry_price = ((h.qty * h.avg_entry_price + value) / total).round_half_away(4);
        h.qty = total;
        cash_ -= value;
    } else {
        auto& h = holdings_[o.symbol];
        h.qty -= qty;
        if (!h.qty.is_positive()) holdings_.erase(o.symbol);
        cash_ += value;
    }
    o.filled_qty += qty;
    o.filled_at = fake_time(now);
    o.status = o.filled_qty == o.order_qty ? "filled" : "partially_filled";
}

void FakeAlpaca::advance_delayed(Order& o, WallTime now) {
    if (o.mode.kind != FillMode::Kind::delayed || o.status != "accepted") return;
    if (o.polls_seen >= o.mode.polls) fill(o, o.order_qty - o.filled_qty, now);
    else ++o.polls_seen;
}

Response FakeAlpaca::get_order(Order& o, WallTime now) {
    advance_delayed(o, now);
    return json_response(200, order_json(o));
}

Response FakeAlpaca::post_order(const Request& request, WallTime now) {
    const json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return error(400, 40010000, "request body format is invalid");

    std::optional<Response> err;
    const auto symbol = string_field(body, "symbol", err);
    if (err) return *err;
    if (!symbol || symbol->empty()) return invalid("symbol is required");
    const auto side = string_field(body, "side", err);
    if (err) return *err;
    if (!side) return invalid("side is required");
    if (*side != "buy" && *side != "sell") return invalid("invalid side: " + json_quoted(*side) + " (expected buy or sell)");
    const auto type = string_field(body, "type", err);
    if (err) return *err;
    if (!type) return invalid("type is required");
    if (*type != "market")
        return invalid("invalid type: " + json_quoted(*type) + " (ballast-fake-alpaca accepts market orders only)");
    const auto tif = string_field(body, "time_in_force", err);
    if (err) return *err;
    if (!tif) return invalid("time_in_force is required");
    if (*tif != "day")
        return invalid("invalid time_in_force: " + json_quoted(*tif) + " (ballast-fake-alpaca accepts day only)");
    if (body.contains("extended_hours") && !body["extended_hours"].is_null()) {
        if (!body["extended_hours"].is_boolean())
            return invalid("extended_hours must be a boolean, got " + body["extended_hours"].dump());
        if (body["extended_hours"].get<bool>()) return invalid("extended hours order must be DAY limit orders");
    }
    std::optional<Decimal> qty, notional;
    if (auto e = read_decimal(body, "qty", Decimal::kScaleDigits, qty)) return *e;
    if (auto e = read_decimal(body, "notional", 2, notional)) return *e;
    if (qty && notional) return error(400, 40010001, "qty and notional can not both be specified");
    if (!qty && !notional) return invalid("qty or notional is required");
    auto client_id = string_field(body, "client_order_id", err);
    if (err) return *err;
    if (client_id && client_id->size() > 48)
        return invalid("client_order_id must be no more than 48 characters, got " + std::to_string(client_id->size()));
    if (!bars_.count(*symbol)) return invalid("asset " + json_quoted(*symbol) + " not found");
    if (client_id && !client_id->empty() && by_client_id_.count(*client_id)) {
        ++stats_.duplicate_client_order_ids_rejected;
        return invalid("client_order_id must be unique");
    }
    const auto price = close_on_or_before(*symbol, today_);
    if (!price) return invalid("no price for " + json_quoted(*symbol) + " on or before " + today_.to_string());

    Order o;
    o.id = next_uuid();
    o.client_order_id = client_id && !client_id->empty() ? *client_id : o.id;
    o.symbol = *symbol;
    o.side = *side == "buy" ? core::Side::buy : core::Side::sell;
    o.qty = qty;
    o.notional = notional;
    o.price = *price;
    o.order_qty = qty ? *qty : (*notional / *price).round_down(Decimal::kScaleDigits);
    if (!o.order_qty.is_positive()) return invalid("notional " + json_quoted(notional->to_string()) + " is too small");

    // Buying power and available qty account for the open orders.
    if (o.side == core::Side::buy) {
        const Decimal cost = notional ? *notional : o.order_qty * o.price;
        const Decimal buying_power = cash_ - reserved_for_buys();
        if (cost > buying_power)
            return error(403, 40310000, "insufficient buying power",
                         json{{"buying_power", dec(buying_power)}, {"cost_basis", dec(cost)}});
    } else {
        const auto held_it = holdings_.find(o.symbol);
        const Decimal existing = held_it == holdings_.end() ? Decimal{} : held_it->second.qty;
        const Decimal held = held_for_sells(o.symbol);
        const Decimal available = existing - held;
        if (o.order_qty > available)
            return error(403, 40310000,
                         "insufficient qty available for order (requested: " + o.order_qty.to_string() +
                             ", available: " + available.to_string() + ")",
                         json{{"available", dec(available)},
                              {"existing_qty", dec(existing)},
                              {"held_for_orders", dec(held)},
                              {"symbol", o.symbol}});
    }

    o.created_at = fake_time(now);
    o.status = "accepted";
    o.mode = mode_;
    switch (o.mode.kind) {
        case FillMode::Kind::immediate: fill(o, o.order_qty, now); break;
        case FillMode::Kind::delayed:
            if (o.mode.polls <= 0) fill(o, o.order_qty, now);
            break;
        case FillMode::Kind::partial: {
            const auto fraction = Decimal::from_double(o.mode.fraction, 9).value_or(Decimal{});
            const Decimal part = (o.order_qty * fraction).round_down(Decimal::kScaleDigits);
            if (part.is_positive()) fill(o, std::min(part, o.order_qty), now);
            break;
        }
        case FillMode::Kind::reject:
            o.status = "rejected";
            o.failed_at = o.created_at;
            break;
    }
    ++stats_.orders_submitted;
    by_client_id_[o.client_order_id] = orders_.size();
    orders_.push_back(o);
    return json_response(200, order_json(orders_.back()));
}

Response FakeAlpaca::list_orders(const std::map<std::string, std::string>& query) const {
    auto get = [&](const char* k, const std::string& def) {
        const auto it = query.find(k);
        return it == query.end() || it->second.empty() ? def : it->second;
    };
    const auto status = get("status", "open");
    if (status != "open" && status != "closed" && status != "all")
        return invalid("invalid status: " + json_quoted(status) + " (expected open, closed or all)");
    const auto limit = parse_int(get("limit", "50"));
    if (!limit || *limit < 1 || *limit > 500)
        return invalid("invalid limit: " + json_quoted(get("limit", "")) + " (expected 1..500)");
    const auto direction = get("direction", "desc");
    if (direction != "asc" && direction != "desc")
        return invalid("invalid direction: " + json_quoted(direction) + " (expected asc or desc)");
    std::set<std::string> symbols;
    const auto sym_text = get("symbols", "");
    for (std::size_t start = 0; start < sym_text.size();) {
        const auto comma = std::min(sym_text.find(',', start), sym_text.size());
        if (comma > start) symbols.insert(sym_text.substr(start, comma - start));
        start = comma + 1;
    }

    json out = json::array();
    auto consider = [&](const Order& o) {
        if (static_cast<int>(out.size()) >= *limit) return;
        const bool open = is_open_status(o.status);
        if ((status == "open" && !open) || (status == "closed" && open)) return;
        if (!symbols.empty() && !symbols.count(o.symbol)) return;
        out.push_back(order_json(o));
    };
    if (direction == "asc")
        for (const auto& o : orders_) consider(o);
    else
        for (auto it = orders_.rbegin(); it != orders_.rend(); ++it) consider(*it);
    return json_response(200, out);
}

Response FakeAlpaca::cancel_order(const std::string& id, WallTime now) {
    for (auto& o : orders_) {
        if (o.id != id) continue;
        if (!is_open_status(o.status))
            return error(422, 42210000, "order is already in " + json_quoted(o.status) + " state");
        o.status = "canceled";
        o.canceled_at = fake_time(now);
        Response r;
        r.status = 204;
        return r;
    }
    return error(404, 40410000, "order not found");
}

Response FakeAlpaca::cancel_all(WallTime now) {
    json out = json::array();
    for (auto& o : orders_) {
        if (!is_open_status(o.status)) continue;
        o.status = "canceled";
        o.canceled_at = fake_time(now);
        out.push_back(json{{"id", o.id}, {"status", 200}, {"body", order_json(o)}});
    }
    return json_response(207, out);
}

Response FakeAlpaca::get_clock(WallTime now) const {
    const Date last_data = data_dates_.empty() ? Date{} : *data_dates_.rbegin();
    auto market_day = [&](Date d) { return d > last_data ? core::is_trading_day(d) : data_dates_.count(d) > 0; };
    auto next_day = [&](Date d) {
        for (int i = 0; i < 400; ++i) {
            d = d.plus_days(1);
            if (market_day(d)) return d;
        }
        return d;
    };
    const auto secs = chr::floor<chr::seconds>(now);
    const auto ny = core::utc_to_ny(core::Timestamp{secs.time_since_epoch()});
    const TimeOfDay tod = frozen_time_.value_or(ny.time);
    const auto sec_of_minute = frozen_time_ ? 0 : ((secs.time_since_epoch().count() % 60) + 60) % 60;
    const auto fake_now = core::ny_to_utc(today_, tod) + chr::seconds(sec_of_minute);
    const bool today_open = market_day(today_);
    const bool is_open = today_open && tod >= kOpen && tod < kClose;
    const Date open_day = today_open && tod < kOpen ? today_ : next_day(today_);
    const Date close_day = today_open && tod < kClose ? today_ : next_day(today_);
    return json_response(200, json{{"timestamp", format_ny(fake_now)},
                                   {"is_open", is_open},
                                   {"next_open", format_ny(core::ny_to_utc(open_day, kOpen))},
                                   {"next_close", format_ny(core::ny_to_utc(close_day, kClose))}});
}

Response FakeAlpaca::get_calendar(const std::map<std::string, std::string>& query) const {
    std::set<Date> dates = data_dates_;
    if (dates.empty()) return json_response(200, json::array());
    auto date_param = [&](const char* k, Date def, std::optional<Response>& err) {
        const auto it = query.find(k);
        if (it == query.end() || it->second.empty()) return def;
        const auto d = Date::parse(it->second);
        if (!d) err = invalid("invalid " + std::string(k) + ": " + json_quoted(it->second) + " (expected YYYY-MM-DD)");
        return d.value_or(def);
    };
    std::optional<Response> err;
    const Date start = date_param("start", *dates.begin(), err);
    if (err) return *err;
    const Date end = date_param("end", *dates.rbegin(), err);
    if (err) return *err;
    // Past the data, the NYSE calendar continues it.
    const Date last_data = *dates.rbegin();
    for (Date d = std::max(start, last_data.plus_days(1)); d <= end && d <= last_data.plus_days(3660); d = d.plus_days(1))
        if (core::is_trading_day(d)) dates.insert(d);
    json out = json::array();
    for (auto it = dates.lower_bound(start); it != dates.end() && *it <= end; ++it)
        out.push_back(json{{"date", it->to_string()},
                           {"open", "09:30"},
                           {"close", "16:00"},
                           {"session_open", "0400"},
                           {"session_close", "2000"},
                           {"settlement_date", core::next_trading_day(*it).to_string()}});
    return json_response(200, out);
}

Response FakeAlpaca::get_asset(const std::string& symbol) const {
    if (!bars_.count(symbol)) return error(404, 40410000, "asset not found for " + symbol);
    return json_response(200, json{{"id", asset_id(symbol)},
                                   {"class", "us_equity"},
                                   {"exchange", "ARCA"},
                                   {"symbol", symbol},
                                   {"name", symbol + " (ballast-fake-alpaca)"},
                                   {"status", "active"},
                                   {"tradable", true},
                                   {"marginable", true},
                                   {"shortable", false},
                                   {"easy_to_borrow", false},
                                   {"fractionable", true},
                                   {"attributes", json::array()}});
}

// ---- market data --------------------------------------------------------------------

Response FakeAlpaca::get_bars(const std::map<std::string, std::string>& query) const {
    auto get = [&](const char* k) {
        const auto it = query.find(k);
        return it == query.end() ? std::string{} : it->second;
    };
    std::set<std::string> symbols;
    const auto sym_text = get("symbols");
    for (std::size_t start = 0; start < sym_text.size();) {
        const auto comma = std::min(sym_text.find(',', start), sym_text.size());
        if (comma > start) symbols.insert(sym_text.substr(start, comma - start));
        start = comma + 1;
    }
    if (symbols.empty()) return invalid_data("symbols is required");
    const auto timeframe = get("timeframe");
    if (timeframe.empty()) return invalid_data("timeframe is required");
    if (timeframe != "1Day" && timeframe != "1D")
        return invalid_data("invalid timeframe: " + json_quoted(timeframe) + " (ballast-fake-alpaca serves 1Day only)");
    const auto adjustment = get("adjustment");
    if (!adjustment.empty() && adjustment != "raw" && adjustment != "split" && adjustment != "dividend" &&
        adjustment != "all")
        return invalid_data("invalid adjustment: " + json_quoted(adjustment) + " (expected raw, split, dividend or all)");
    const auto feed = get("feed");
    if (!feed.empty() && feed != "iex" && feed != "sip" && feed != "otc" && feed != "delayed_sip")
        return invalid_data("invalid feed: " + json_quoted(feed) + " (expected iex, sip, otc or delayed_sip)");
    const auto sort = get("sort");
    if (!sort.empty() && sort != "asc")
        return invalid_data("invalid sort: " + json_quoted(sort) + " (ballast-fake-alpaca serves asc only)");
    int limit = 1000;
    if (const auto text = get("limit"); !text.empty()) {
        const auto n = parse_int(text);
        if (!n || *n < 1 || *n > 10000) return invalid_data("invalid limit: " + json_quoted(text) + " (expected 1..10000)");
        limit = *n;
    }
    std::optional<core::Timestamp> start, end;
    if (const auto text = get("start"); !text.empty()) {
        start = parse_rfc3339(text, true);
        if (!start) return invalid_data("invalid start: " + json_quoted(text) + " (expected RFC 3339)");
    }
    if (const auto text = get("end"); !text.empty()) {
        end = parse_rfc3339(text, false);
        if (!end) return invalid_data("invalid end: " + json_quoted(text) + " (expected RFC 3339)");
    }
    if (start && end && *end < *start) return invalid_data("end should not be before start");

    // The page token is base64("SYMBOL|YYYY-MM-DD") of the first bar of the next page.
    std::optional<std::pair<std::string, Date>> cursor;
    if (const auto token = get("page_token"); !token.empty()) {
        const auto decoded = base64_decode(token);
        const auto bar = decoded ? decoded->rfind('|') : std::string::npos;
        const auto d = bar == std::string::npos ? std::nullopt : Date::parse(decoded->substr(bar + 1));
        if (!d) return invalid_data("invalid page_token: " + json_quoted(token));
        cursor.emplace(decoded->substr(0, bar), *d);
    }

    json bars = json::object();
    json next = nullptr;
    int count = 0;
    for (const auto& symbol : symbols) {
        const auto it = bars_.find(symbol);
        if (it == bars_.end()) continue;
        if (cursor && symbol < cursor->first) continue;
        for (const auto& b : it->second) {
            if (b.date > today_) break;
            const auto t = core::ny_to_utc(b.date, TimeOfDay{0});
            if ((start && t < *start) || (end && t > *end)) continue;
            if (cursor && symbol == cursor->first && b.date < cursor->second) continue;
            if (count == limit) {
                next = base64_encode(symbol + "|" + b.date.to_string());
                break;
            }
            const double vw = std::round((b.high + b.low + b.close) / 3.0 * 1e6) / 1e6;
            bars[symbol].push_back(json{{"t", bar_time(b.date)},
                                        {"o", b.open},
                                        {"h", b.high},
                                        {"l", b.low},
                                        {"c", b.close},
                                        {"v", static_cast<std::int64_t>(std::llround(b.volume))},
                                        {"n", std::max<std::int64_t>(1, std::llround(b.volume / 100.0))},
                                        {"vw", vw}});
            ++count;
        }
        if (!next.is_null()) break;
    }
    return json_response(200, json{{"bars", bars}, {"next_page_token", next}});
}

Response FakeAlpaca::get_latest(const std::map<std::string, std::string>& query, bool quotes) const {
    const auto it = query.find("symbols");
    const std::string text = it == query.end() ? std::string{} : it->second;
    std::set<std::string> symbols;
    for (std::size_t start = 0; start < text.size();) {
        const auto comma = std::min(text.find(',', start), text.size());
        if (comma > start) symbols.insert(text.substr(start, comma - start));
        start = comma + 1;
    }
    if (symbols.empty()) return invalid_data("symbols is required");
    json out = json::object();
    for (const auto& symbol : symbols) {
        const auto* bar = last_bar(symbol);
        if (!bar) continue;
        const auto t = core::format_utc(core::ny_to_utc(bar->date, kClose));
        if (quotes)
            out[symbol] = json{{"t", t},           {"ax", "V"}, {"ap", bar->close}, {"as", 1},
                               {"bx", "V"},        {"bp", bar->close}, {"bs", 1},    {"c", json::array({"R"})},
                               {"z", "B"}};
        else
            out[symbol] = json{{"t", t},  {"x", "V"}, {"p", bar->close},           {"s", 100},
                               {"c", json::array({"@"})}, {"i", 1}, {"z", "B"}};
    }
    return json_response(200, json{{quotes ? "quotes" : "trades", out}});
}

}  // namespace ballast::fake
