#include "daemon/config.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string_view>
#include <system_error>
#include <unistd.h>

#include <toml++/toml.h>

#include "daemon/detail/env_file.hpp"

extern char** environ;

namespace ballast::daemon {
namespace {

namespace fs = std::filesystem;
using core::Decimal;

constexpr std::string_view kSecretHelp =
    "secrets must not be in config.toml; set APCA_API_KEY_ID / APCA_API_SECRET_KEY / "
    "BALLAST_HEALTHCHECK_URL / BALLAST_WEBHOOK_URL in the environment or in the env_file";

// ---------------------------------------------------------------------------------
// Error collection

struct Pos {
    std::uint32_t line = 1;
    std::uint32_t column = 1;
};

Pos pos_of(const toml::source_region& r) {
    if (r.begin.line == 0) return {};
    return {r.begin.line, r.begin.column};
}
Pos pos_of(const toml::node& n) { return pos_of(n.source()); }
Pos pos_of(const toml::key& k) { return pos_of(k.source()); }

class Errors {
public:
    explicit Errors(std::string file) : file_(std::move(file)) {}

    // "<file>:<line>:<col>: <key>: <problem>"
    void at(Pos p, std::string_view key, std::string_view problem) {
        std::string m = file_ + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) + ": ";
        if (!key.empty()) m.append(key).append(": ");
        m.append(problem);
        list_.push_back({p, std::move(m)});
    }
    // A complete message, sorted as if it were at `p`.
    void raw(Pos p, std::string message) { list_.push_back({p, std::move(message)}); }

    bool empty() const { return list_.empty(); }

    // Every message in file order (stable for equal positions).
    std::vector<ConfigError> take() {
        std::stable_sort(list_.begin(), list_.end(), [](const Entry& a, const Entry& b) {
            return a.pos.line != b.pos.line ? a.pos.line < b.pos.line : a.pos.column < b.pos.column;
        });
        std::vector<ConfigError> out;
        for (auto& e : list_) out.push_back({std::move(e.message)});
        return out;
    }

private:
    struct Entry {
        Pos pos;
        std::string message;
    };
    std::string file_;
    std::vector<Entry> list_;
};

// ---------------------------------------------------------------------------------
// Text helpers

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    return out;
}

bool is_bare_key(std::string_view k) {
    if (k.empty()) return false;
    return std::all_of(k.begin(), k.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

// A TOML basic string literal.
std::string toml_quote(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

// "a.b" + "c" -> "a.b.c"; keys that are not bare are quoted.
std::string join(std::string_view path, std::string_view key) {
    std::string k = is_bare_key(key) ? std::string(key) : toml_quote(key);
    if (path.empty()) return k;
    return std::string(path) + "." + k;
}

// Shortest round-trip text of a double ("5", "0.25", "1e+20").
std::string shortest(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
    std::array<char, 400> buf{};
    const double mag = std::fabs(v);
    const bool plain = mag == 0 || (mag >= 1e-4 && mag < 1e15);  // no exponent for everyday values
    const auto r = plain ? std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed)
                         : std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return std::string(buf.data(), r.ptr);
}

// A double as it should be shown after arithmetic (x * 100 may leave 7.000000000000001).
std::string tidy(double v) {
    if (!std::isfinite(v)) return shortest(v);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.12g", v);
    return buf;
}

// A string value for an error message: quoted, cut at 40 characters.
std::string snippet(std::string_view s) {
    constexpr std::size_t kMax = 40;
    if (s.size() <= kMax) return toml_quote(s);
    return toml_quote(s.substr(0, kMax)) + "...";
}

std::string pad2(unsigned v) { return (v < 10 ? "0" : "") + std::to_string(v); }

// What a node is, for "found ...".
std::string describe(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::string: return "string " + snippet(n.as_string()->get());
        case toml::node_type::integer: return "integer " + std::to_string(n.as_integer()->get());
        case toml::node_type::floating_point: return "float " + shortest(n.as_floating_point()->get());
        case toml::node_type::boolean: return n.as_boolean()->get() ? "boolean true" : "boolean false";
        case toml::node_type::date: {
            const auto d = n.as_date()->get();
            return "date " + std::to_string(d.year) + "-" + pad2(d.month) + "-" + pad2(d.day);
        }
        case toml::node_type::time: {
            const auto t = n.as_time()->get();
            return "time " + pad2(t.hour) + ":" + pad2(t.minute) + ":" + pad2(t.second);
        }
        case toml::node_type::date_time: return "a date-time";
        case toml::node_type::array: return "an array";
        case toml::node_type::table: return "a table";
        case toml::node_type::none: break;
    }
    return "nothing";
}

// Levenshtein distance, case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    const auto la = lower(a), lb = lower(b);
    std::vector<std::size_t> prev(lb.size() + 1), cur(lb.size() + 1);
    for (std::size_t j = 0; j <= lb.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= la.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= lb.size(); ++j) {
            const std::size_t subst = prev[j - 1] + (la[i - 1] == lb[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
        }
        std::swap(prev, cur);
    }
    return prev[lb.size()];
}

// The closest known key, if close enough to be a likely typo.
std::optional<std::string_view> suggest(std::string_view key, const std::vector<std::string_view>& known) {
    const std::size_t limit = std::min<std::size_t>(3, std::max<std::size_t>(1, key.size() / 3));
    std::optional<std::string_view> best;
    std::size_t best_d = limit + 1;
    for (const auto k : known) {
        const auto d = edit_distance(key, k);
        if (d < best_d) {
            best = k;
            best_d = d;
        }
    }
    return best;
}

// Key names that hold credentials (exact names and fragments).
bool looks_secret(std::string_view key) {
    const auto k = lower(key);
    for (const std::string_view exact : {"api_key", "apikey", "key_id", "secret", "secret_key", "token", "password",
                                         "passwd", "healthcheck_url", "webhook_url", "credentials"}) {
        if (k == exact) return true;
    }
    for (const std::string_view part : {"secret", "password", "passwd", "token", "api_key", "apikey", "key_id",
                                        "credential", "webhook", "healthcheck"}) {
        if (k.find(part) != std::string::npos) return true;
    }
    return false;
}

// ---------------------------------------------------------------------------------
// Typed readers. Each reports its own error and returns nullopt when the key is
// absent or invalid, so the caller keeps the default.

// Whether `t` has `key`; errors if present with the wrong type are the readers' job.
const toml::node* find(const toml::table& t, std::string_view key) { return t.get(key); }

void type_error(Errors& e, const toml::node& n, std::string_view path, std::string_view expected) {
    e.at(pos_of(n), path, "expected " + std::string(expected) + ", found " + describe(n));
}

const toml::table* read_table(const toml::table& t, std::string_view path, std::string_view key, Errors& e) {
    const auto* n = find(t, key);
    if (n == nullptr) return nullptr;
    if (const auto* tbl = n->as_table()) return tbl;
    type_error(e, *n, join(path, key), "a table");
    return nullptr;
}

struct Str {
    std::string value;
    Pos pos;
};

std::optional<Str> read_string(const toml::table& t, std::string_view path, std::string_view key, Errors& e) {
    const auto* n = find(t, key);
    if (n == nullptr) return std::nullopt;
    if (const auto* s = n->as_string()) return Str{s->get(), pos_of(*n)};
    type_error(e, *n, join(path, key), "a string");
    return std::nullopt;
}

std::optional<Str> read_nonempty(const toml::table& t, std::string_view path, std::string_view key, Errors& e,
                                 std::string_view what) {
    auto s = read_string(t, path, key, e);
    if (s && s->value.empty()) {
        e.at(s->pos, join(path, key), "expected " + std::string(what) + ", found an empty string");
        return std::nullopt;
    }
    return s;
}

// One of `choices`, listed in the message when the value is not.
std::optional<std::string> read_enum(const toml::table& t, std::string_view path, std::string_view key, Errors& e,
                                     std::initializer_list<std::string_view> choices) {
    auto s = read_string(t, path, key, e);
    if (!s) return std::nullopt;
    if (std::find(choices.begin(), choices.end(), s->value) != choices.end()) return s->value;
    std::string list;
    for (const auto c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
    e.at(s->pos, join(path, key), "expected one of " + list + "; found " + snippet(s->value));
    return std::nullopt;
}

std::optional<bool> read_bool(const toml::table& t, std::string_view path, std::string_view key, Errors& e) {
    const auto* n = find(t, key);
    if (n == nullptr) return std::nullopt;
    if (const auto* b = n->as_boolean()) return b->get();
    type_error(e, *n, join(path, key), "a boolean (true or false)");
    return std::nullopt;
}

std::optional<std::int64_t> read_int(const toml::table& t, std::string_view path, std::string_view key, Errors& e,
                                     std::int64_t lo, std::int64_t hi) {
    const auto* n = find(t, key);
    if (n == nullptr) return std::nullopt;
    const auto* i = n->as_integer();
    if (i == nullptr) {
        type_error(e, *n, join(path, key), "an integer");
        return std::nullopt;
    }
    const auto v = i->get();
    if (v < lo || v > hi) {
        e.at(pos_of(*n), join(path, key),
             "expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + ", found " + std::to_string(v));
        return std::nullopt;
    }
    return v;
}

// A closed or open interval for numbers.
struct Range {
    double lo;
    double hi;
    bool lo_open;
    bool hi_open;
    std::string_view what = "a number";  // "a percentage", "an amount in dollars", ...

    bool contains(double v) const {
        if (std::isnan(v)) return false;
        const bool above = lo_open ? v > lo : v >= lo;
        const bool below = hi_open ? v < hi : v <= hi;
        return above && below;
    }
    std::string text() const {
        return std::string(lo_open ? "(" : "[") + tidy(lo) + ", " + tidy(hi) + (hi_open ? ")" : "]");
    }
};

struct Num {
    double value = 0;  // for range checks and double-typed fields
    Decimal exact;     // integers exactly, floats rounded to 6 fractional digits
    Pos pos;
};

std::optional<Num> number_of(const toml::node& n, std::string_view path, Errors& e, const Range& range) {
    Num out{0, {}, pos_of(n)};
    std::string text;
    std::optional<Decimal> exact;
    if (const auto* i = n.as_integer()) {
        const auto v = i->get();
        out.value = static_cast<double>(v);
        text = std::to_string(v);
        constexpr std::int64_t kMaxUnits = 9'000'000'000;
        if (v > -kMaxUnits && v < kMaxUnits) exact = Decimal::from_int(v);
    } else if (const auto* f = n.as_floating_point()) {
        out.value = f->get();
        text = shortest(out.value);
        exact = Decimal::from_double(out.value, 6);
    } else {
        type_error(e, n, path, "a number");
        return std::nullopt;
    }
    if (!range.contains(out.value) || !exact) {
        e.at(out.pos, path, "expected " + std::string(range.what) + " in " + range.text() + ", found " + text);
        return std::nullopt;
    }
    out.exact = *exact;
    return out;
}

std::optional<Num> read_number(const toml::table& t, std::string_view path, std::string_view key, Errors& e,
                               const Range& range) {
    const auto* n = find(t, key);
    if (n == nullptr) return std::nullopt;
    return number_of(*n, join(path, key), e, range);
}

Decimal percent_to_fraction(Decimal pct) { return pct / Decimal::from_int(100); }

struct TimeAt {
    core::TimeOfDay value;
    Pos pos;
};

// "HH:MM" strings, or a TOML local time with zero seconds.
std::optional<TimeAt> read_time(const toml::table& t, std::string_view path, std::string_view key, Errors& e) {
    const auto* n = find(t, key);
    if (n == nullptr) return std::nullopt;
    if (const auto* s = n->as_string()) {
        if (auto v = core::TimeOfDay::parse(s->get())) return TimeAt{*v, pos_of(*n)};
    } else if (const auto* tv = n->as_time()) {
        const auto x = tv->get();
        if (x.second == 0 && x.nanosecond == 0) return TimeAt{core::TimeOfDay{x.hour * 60 + x.minute}, pos_of(*n)};
    }
    type_error(e, *n, join(path, key), "a time \"HH:MM\" (00:00 to 23:59)");
    return std::nullopt;
}

struct DateAt {
    core::Date value;
    Pos pos;
};

// "YYYY-MM-DD" strings, or a TOML local date.
std::optional<DateAt> read_date(const toml::table& t, std::string_view path, std::string_view key, Errors& e) {
    const auto* n = find(t, key);
    if (n == nullptr) return std::nullopt;
    if (const auto* s = n->as_string()) {
        if (auto v = core::Date::parse(s->get())) return DateAt{*v, pos_of(*n)};
    } else if (const auto* dv = n->as_date()) {
        const auto d = dv->get();
        const auto text = std::to_string(d.year) + "-" + pad2(d.month) + "-" + pad2(d.day);
        if (auto v = core::Date::parse(text)) return DateAt{*v, pos_of(*n)};
    }
    type_error(e, *n, join(path, key), "a date \"YYYY-MM-DD\"");
    return std::nullopt;
}

// ---------------------------------------------------------------------------------
// Structure checks

// Reports every key of `t` outside `known` (secret-looking keys are reported by
// scan_secrets instead).
void check_keys(const toml::table& t, std::string_view path, std::initializer_list<std::string_view> known,
                Errors& e) {
    for (auto&& [k, v] : t) {
        const std::string_view name = k.str();
        if (looks_secret(name)) continue;
        if (std::find(known.begin(), known.end(), name) != known.end()) continue;
        std::string problem = v.is_table() ? "unknown table" : "unknown key";
        if (const auto s = suggest(name, known)) problem += "; did you mean '" + std::string(*s) + "'?";
        e.at(pos_of(k), join(path, name), problem);
    }
}

void scan_secrets(const toml::node& n, const std::string& path, Errors& e);

void scan_secrets_table(const toml::table& t, const std::string& path, Errors& e) {
    for (auto&& [k, v] : t) {
        const auto key_path = join(path, k.str());
        if (looks_secret(k.str())) {
            e.at(pos_of(k), key_path, kSecretHelp);
            continue;
        }
        scan_secrets(v, key_path, e);
    }
}

// Every key anywhere whose name looks like a credential; the value is never shown.
void scan_secrets(const toml::node& n, const std::string& path, Errors& e) {
    if (const auto* t = n.as_table()) {
        scan_secrets_table(*t, path, e);
    } else if (const auto* a = n.as_array()) {
        for (std::size_t i = 0; i < a->size(); ++i) scan_secrets(*a->get(i), path + "[" + std::to_string(i) + "]", e);
    }
}

fs::path resolve(const fs::path& base_dir, const std::string& p) {
    fs::path path(p);
    if (path.is_relative()) path = base_dir / path;
    return path.lexically_normal();
}

// Ticker: 1-10 of A-Z 0-9 . - (uppercase).
bool is_ticker(std::string_view s) {
    if (s.empty() || s.size() > 10) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
    });
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>((c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c);
    return out;
}

struct WeightAt {
    std::string symbol;
    Decimal percent;
    Pos pos;
};

// The largest weight a strategy can give one symbol, checked against
// risk.max_position_pct once [risk] is read.
struct ConcentrationAt {
    std::string key;     // where to report it, e.g. "strategy.params.safe_asset"
    Decimal percent;     // the largest possible weight, percent
    std::string why;     // "IEF receives every weight moved out of ..."
    Pos pos;
};

struct StrategyChecks {
    std::vector<WeightAt> weights;
    std::vector<ConcentrationAt> concentration;
};

constexpr std::string_view kTickerText = "a ticker symbol of 1-10 uppercase characters A-Z 0-9 . -";

// A ticker string at `path`: 1-10 of A-Z 0-9 . - (with a hint when lower case).
bool check_ticker(const std::string& symbol, Pos pos, const std::string& path, Errors& e) {
    if (is_ticker(symbol)) return true;
    const std::string hint = is_ticker(upper(symbol)) ? " (did you mean '" + upper(symbol) + "'?)" : "";
    e.at(pos, path, "expected " + std::string(kTickerText) + ", found " + snippet(symbol) + hint);
    return false;
}

std::optional<Str> read_ticker(const toml::table& t, std::string_view path, std::string_view key, Errors& e) {
    auto s = read_string(t, path, key, e);
    if (!s || !check_ticker(s->value, s->pos, join(path, key), e)) return std::nullopt;
    return s;
}

// An array of distinct tickers (at least one).
struct UniverseAt {
    std::vector<core::Symbol> symbols;
    Pos pos;
};
std::optional<UniverseAt> read_universe(const toml::table& t, std::string_view path, std::string_view key, Errors& e) {
    const auto* n = find(t, key);
    if (n == nullptr) return std::nullopt;
    const auto key_path = join(path, key);
    const auto* a = n->as_array();
    if (a == nullptr) {
        type_error(e, *n, key_path, "an array of ticker symbols (e.g. [\"SPY\", \"EFA\", \"AGG\"])");
        return std::nullopt;
    }
    if (a->empty()) {
        e.at(pos_of(*n), key_path, "expected at least one ticker symbol, found an empty array");
        return std::nullopt;
    }
    UniverseAt out{{}, pos_of(*n)};
    std::map<std::string, Pos> seen;
    bool ok = true;
    for (std::size_t i = 0; i < a->size(); ++i) {
        const auto& item = *a->get(i);
        const auto item_path = key_path + "[" + std::to_string(i) + "]";
        const auto* s = item.as_string();
        if (s == nullptr) {
            type_error(e, item, item_path, std::string(kTickerText));
            ok = false;
            continue;
        }
        const std::string symbol = s->get();
        if (!check_ticker(symbol, pos_of(item), item_path, e)) {
            ok = false;
            continue;
        }
        if (const auto it = seen.find(symbol); it != seen.end()) {
            e.at(pos_of(item), item_path,
                 "duplicate symbol " + snippet(symbol) + " (first at column " + std::to_string(it->second.column) + ")");
            ok = false;
            continue;
        }
        seen.emplace(symbol, pos_of(item));
        out.symbols.push_back(symbol);
    }
    if (!ok) return std::nullopt;
    return out;
}

// The parameters of each strategy kind, for unknown-key messages.
constexpr std::array<std::string_view, 4> kKinds{"fixed_weights", "trend", "dual_momentum", "risk_parity"};
std::vector<std::string_view> params_of(std::string_view kind) {
    if (kind == "trend") return {"sma_days", "safe_asset"};
    if (kind == "dual_momentum") return {"universe", "lookback_days", "top_n", "absolute_threshold", "cash_proxy", "safe_asset"};
    if (kind == "risk_parity") return {"universe", "lookback_days", "vol_target"};
    return {};
}

std::string list_of(const std::vector<std::string_view>& keys) {
    std::string out;
    for (const auto k : keys) out += (out.empty() ? "" : ", ") + std::string(k);
    return out;
}

// Every key of [strategy.params] that `kind` does not take.
void check_params(const toml::table& t, std::string_view kind, Errors& e) {
    const auto mine = params_of(kind);
    for (auto&& [k, v] : t) {
        const std::string_view name = k.str();
        if (looks_secret(name)) continue;
        if (std::find(mine.begin(), mine.end(), name) != mine.end()) continue;
        std::string problem = "unknown parameter; kind \"" + std::string(kind) + "\" takes " +
                              (mine.empty() ? std::string("no parameters") : list_of(mine));
        if (const auto s = suggest(name, mine)) {
            problem += "; did you mean '" + std::string(*s) + "'?";
        } else {
            for (const auto other : kKinds) {
                const auto theirs = params_of(other);
                if (std::find(theirs.begin(), theirs.end(), name) == theirs.end()) continue;
                problem += " (" + std::string(name) + " belongs to kind \"" + std::string(other) + "\")";
                break;
            }
        }
        e.at(pos_of(k), join("strategy.params", name), problem);
    }
}

// [strategy.weights]: SYMBOL = percent, summing to 100.
void read_weights(const toml::table& strategy, Pos strategy_pos, Config& c, StrategyChecks& checks, Errors& e) {
    const auto* wn = strategy.get("weights");
    if (wn == nullptr) {
        e.at(strategy_pos, "strategy.weights",
             "missing; expected a [strategy.weights] table of SYMBOL = percent (e.g. VTI = 40)");
        return;
    }
    const auto* wt = read_table(strategy, "strategy", "weights", e);
    if (wt == nullptr) return;
    if (wt->empty()) {
        e.at(pos_of(*wn), "strategy.weights", "expected at least one SYMBOL = percent entry, found an empty table");
        return;
    }

    // Each symbol and weight, then duplicates and the sum.
    const Range weight_range{0, 100, true, false, "a percentage"};
    std::map<std::string, std::pair<std::string, Pos>> seen;  // upper-cased -> first spelling
    Decimal sum;
    bool all_valid = true;
    for (auto&& [k, v] : *wt) {
        const std::string symbol(k.str());
        if (looks_secret(symbol)) {
            all_valid = false;
            continue;
        }
        const auto path = join("strategy.weights", symbol);
        check_ticker(symbol, pos_of(k), path, e);
        const auto key = upper(symbol);
        if (const auto it = seen.find(key); it != seen.end()) {
            e.at(pos_of(k), path,
                 "duplicate symbol: " + snippet(symbol) + " repeats " + snippet(it->second.first) + " (line " +
                     std::to_string(it->second.second.line) + "); symbols are compared case-insensitively");
        } else {
            seen.emplace(key, std::make_pair(symbol, pos_of(k)));
        }
        const auto w = number_of(v, path, e, weight_range);
        if (!w) {
            all_valid = false;
            continue;
        }
        sum += w->exact;
        checks.weights.push_back({symbol, w->exact, w->pos});
        c.strategy.weights[symbol] = percent_to_fraction(w->exact);
    }
    if (all_valid) {
        const auto tolerance = Decimal::parse("0.01").value();
        if ((sum - Decimal::from_int(100)).abs() > tolerance) {
            e.at(pos_of(*wt), "strategy.weights",
                 "weights sum to " + sum.to_string_fixed(2) + "%, expected 100% (±0.01%)");
        }
    }
}

// [strategy.params] of kind = "trend".
void read_trend_params(const toml::table* t, Config& c, StrategyChecks& checks, Errors& e) {
    auto& p = c.strategy.trend;
    if (t == nullptr) return;
    const std::string_view path = "strategy.params";
    if (auto v = read_int(*t, path, "sma_days", e, 2, 1000)) p.sma_days = static_cast<std::size_t>(*v);
    if (auto v = read_ticker(*t, path, "safe_asset", e)) {
        p.safe_asset = v->value;
        // Every base weight can end up in the safe asset.
        Decimal total;
        for (const auto& w : checks.weights) total += w.percent;
        checks.concentration.push_back({join(path, "safe_asset"), total,
                                        v->value + " receives every weight whose symbol is below its SMA (up to " +
                                            total.to_string() + "%)",
                                        v->pos});
    }
}

// [strategy.params] of kind = "dual_momentum".
void read_dual_momentum_params(const toml::table* t, Pos strategy_pos, Config& c, StrategyChecks& checks, Errors& e) {
    auto& p = c.strategy.dual_momentum;
    const std::string_view path = "strategy.params";
    const auto universe = t ? read_universe(*t, path, "universe", e) : std::nullopt;
    if (universe) p.candidates = universe->symbols;
    else if (t == nullptr || t->get("universe") == nullptr)
        e.at(strategy_pos, "strategy.params.universe",
             "missing; kind \"dual_momentum\" expects [strategy.params] universe = [\"SPY\", \"EFA\", ...], the candidates");
    if (t == nullptr) return;
    if (auto v = read_int(*t, path, "lookback_days", e, 1, 1000)) p.lookback_days = static_cast<std::size_t>(*v);
    std::optional<Pos> top_n_pos;
    if (auto v = read_int(*t, path, "top_n", e, 1, 1000)) {
        p.top_n = static_cast<std::size_t>(*v);
        top_n_pos = pos_of(*t->get("top_n"));
        if (universe && p.top_n > universe->symbols.size())
            e.at(*top_n_pos, join(path, "top_n"),
                 "expected at most the " + std::to_string(universe->symbols.size()) +
                     " symbols of strategy.params.universe, found " + std::to_string(*v));
    }
    const auto threshold = read_number(*t, path, "absolute_threshold", e, {-100, 1000, false, false, "a percentage"});
    if (threshold) p.absolute_threshold = threshold->value / 100.0;
    if (auto v = read_ticker(*t, path, "cash_proxy", e)) {
        p.cash_proxy = v->value;
        if (threshold)
            e.at(threshold->pos, join(path, "absolute_threshold"),
                 "set either absolute_threshold or cash_proxy (the hurdle is then " + v->value +
                     "'s return over lookback_days), not both");
    }
    if (auto v = read_ticker(*t, path, "safe_asset", e)) {
        p.safe_asset = v->value;
        checks.concentration.push_back(
            {join(path, "safe_asset"), Decimal::from_int(100),
             v->value + " receives every pick whose return is below the hurdle (up to 100%)", v->pos});
    }
    // Each pick's share.
    const Decimal share = (Decimal::from_int(100) / Decimal::from_int(static_cast<std::int64_t>(p.top_n)))
                              .round_down(core::kWeightDigits);
    checks.concentration.push_back({join(path, "top_n"), share,
                                    "each of the top " + std::to_string(p.top_n) + " picks gets " + share.to_string() +
                                        "%" + (top_n_pos ? "" : " (top_n defaults to 1)"),
                                    top_n_pos.value_or(universe ? universe->pos : strategy_pos)});
}

// [strategy.params] of kind = "risk_parity".
void read_risk_parity_params(const toml::table* t, Pos strategy_pos, Config& c, Errors& e) {
    auto& p = c.strategy.risk_parity;
    const std::string_view path = "strategy.params";
    const auto universe = t ? read_universe(*t, path, "universe", e) : std::nullopt;
    if (universe) p.universe = universe->symbols;
    else if (t == nullptr || t->get("universe") == nullptr)
        e.at(strategy_pos, "strategy.params.universe",
             "missing; kind \"risk_parity\" expects [strategy.params] universe = [\"VTI\", \"TLT\", ...]");
    if (t == nullptr) return;
    if (auto v = read_int(*t, path, "lookback_days", e, 2, 1000)) p.lookback_days = static_cast<std::size_t>(*v);
    if (auto v = read_number(*t, path, "vol_target", e, {0, 200, true, false, "an annualised volatility in percent"}))
        p.vol_target = v->value / 100.0;
}

// [strategy]
void read_strategy(const toml::table& root, Config& c, StrategyChecks& checks, Errors& e) {
    const auto* strategy = read_table(root, "", "strategy", e);
    const auto* n = root.get("strategy");
    const Pos strategy_pos = n ? pos_of(*n) : Pos{};
    if (strategy == nullptr) {
        if (n == nullptr) {
            e.at(strategy_pos, "strategy.weights",
                 "missing; expected a [strategy.weights] table of SYMBOL = percent (e.g. VTI = 40)");
        }
        return;
    }
    check_keys(*strategy, "strategy", {"name", "kind", "weights", "params"}, e);
    if (auto v = read_nonempty(*strategy, "strategy", "name", e, "a non-empty name")) c.strategy.name = v->value;
    const auto kind = read_enum(*strategy, "strategy", "kind", e, {"fixed_weights", "trend", "dual_momentum", "risk_parity"});
    if (kind) c.strategy.kind = *kind;
    if (strategy->get("kind") != nullptr && !kind) {
        // An unknown kind: check what can be checked without it.
        if (strategy->get("weights") != nullptr) read_weights(*strategy, strategy_pos, c, checks, e);
        c.strategy.weights.clear();
        return;
    }
    const auto& k = c.strategy.kind;

    // Weights: base weights of fixed_weights and trend; not used by the others.
    if (k == "fixed_weights" || k == "trend") {
        read_weights(*strategy, strategy_pos, c, checks, e);
    } else if (const auto* w = strategy->get("weights")) {
        e.at(pos_of(*w), "strategy.weights",
             "not used by kind \"" + k + "\"; list its symbols in strategy.params.universe instead");
    }

    const auto* params = read_table(*strategy, "strategy", "params", e);
    if (params) check_params(*params, k, e);
    if (k == "trend") read_trend_params(params, c, checks, e);
    if (k == "dual_momentum") read_dual_momentum_params(params, strategy_pos, c, checks, e);
    if (k == "risk_parity") read_risk_parity_params(params, strategy_pos, c, e);
}

// [rebalance]
void read_rebalance(const toml::table& root, Config& c, Errors& e) {
    const auto* t = read_table(root, "", "rebalance", e);
    if (t == nullptr) return;
    const std::string_view p = "rebalance";
    check_keys(*t, p, {"calendar", "calendar_day", "drift_mode", "drift_threshold", "min_interval_days"}, e);
    if (auto v = read_enum(*t, p, "calendar", e, {"drift", "daily", "weekly", "monthly", "quarterly", "annual"})) {
        c.rebalance.calendar = core::parse_rebalance_calendar(*v).value();
    }
    if (auto v = read_enum(*t, p, "calendar_day", e, {"first", "last"})) {
        c.rebalance.calendar_day = core::parse_calendar_day(*v).value();
    }
    if (auto v = read_enum(*t, p, "drift_mode", e, {"absolute", "relative"})) {
        c.rebalance.drift_mode = *v == "absolute" ? core::DriftMode::absolute : core::DriftMode::relative;
    }
    if (auto v = read_number(*t, p, "drift_threshold", e, {0, 100, true, false, "a percentage"})) {
        c.rebalance.drift_threshold = v->value / 100.0;
    }
    if (auto v = read_int(*t, p, "min_interval_days", e, 0, 3660)) c.rebalance.min_interval_days = static_cast<int>(*v);
}

// [orders]
void read_orders(const toml::table& root, Config& c, Errors& e) {
    const auto* t = read_table(root, "", "orders", e);
    if (t == nullptr) return;
    const std::string_view p = "orders";
    auto& planner = c.orders.planner;
    check_keys(*t, p, {"fractional", "qty_decimals", "min_order_notional", "cash_reserve"}, e);
    if (auto v = read_bool(*t, p, "fractional", e)) planner.fractional = *v;
    if (auto v = read_int(*t, p, "qty_decimals", e, 0, 9)) planner.qty_decimals = static_cast<int>(*v);
    if (auto v = read_number(*t, p, "min_order_notional", e, {0, 1e6, false, false, "an amount in dollars"})) {
        planner.min_order_notional = v->exact;
    }
    if (auto v = read_number(*t, p, "cash_reserve", e, {0, 50, false, true, "a percentage"})) {
        planner.cash_reserve = percent_to_fraction(v->exact);
    }
}

// [risk]; returns max_position_pct's position for the weight cross-check.
std::optional<Pos> read_risk(const toml::table& root, Config& c, Errors& e) {
    const auto* t = read_table(root, "", "risk", e);
    if (t == nullptr) return std::nullopt;
    const std::string_view p = "risk";
    check_keys(*t, p,
               {"max_order_pct", "max_position_pct", "max_gross_exposure_pct", "price_sanity_pct", "stop_loss_pct",
                "max_daily_loss_pct", "max_drawdown_pct", "max_consecutive_rejections"},
               e);
    const Range pct{0, 100, true, false, "a percentage"};
    auto& r = c.risk;
    if (auto v = read_number(*t, p, "max_order_pct", e, pct)) r.max_order_fraction = percent_to_fraction(v->exact);
    std::optional<Pos> max_position_pos;
    if (auto v = read_number(*t, p, "max_position_pct", e, pct)) {
        r.max_position_fraction = percent_to_fraction(v->exact);
        max_position_pos = v->pos;
    }
    if (auto v = read_number(*t, p, "max_gross_exposure_pct", e, {0, 200, true, false, "a percentage"})) {
        r.max_gross_exposure = percent_to_fraction(v->exact);
    }
    if (auto v = read_number(*t, p, "price_sanity_pct", e, pct)) r.price_sanity = percent_to_fraction(v->exact);
    if (auto v = read_number(*t, p, "stop_loss_pct", e, {0, 100, true, true, "a percentage"})) {
        r.stop_loss = percent_to_fraction(v->exact);
    }
    // Circuit breakers.
    if (auto v = read_number(*t, p, "max_daily_loss_pct", e, pct)) c.breakers.max_daily_loss = v->value / 100.0;
    if (auto v = read_number(*t, p, "max_drawdown_pct", e, pct)) c.breakers.max_drawdown = v->value / 100.0;
    if (auto v = read_int(*t, p, "max_consecutive_rejections", e, 1, 1000)) {
        c.breakers.max_consecutive_rejections = static_cast<int>(*v);
    }
    return max_position_pos;
}

// [schedule]
void read_schedule(const toml::table& root, Config& c, Errors& e) {
    const auto* t = read_table(root, "", "schedule", e);
    if (t == nullptr) return;
    const std::string_view p = "schedule";
    auto& s = c.schedule;
    check_keys(*t, p, {"timezone", "data_update", "signals", "rebalance"}, e);
    if (auto v = read_enum(*t, p, "timezone", e, {"America/New_York"})) s.timezone = *v;

    // Times, then their order: data_update < signals < rebalance.
    struct Job {
        std::string_view key;
        core::TimeOfDay* value;
        std::optional<Pos> pos;  // nullopt when defaulted
        bool valid = true;
    };
    std::array<Job, 3> jobs{{{"data_update", &s.data_update, {}}, {"signals", &s.signals, {}}, {"rebalance", &s.rebalance, {}}}};
    for (auto& j : jobs) {
        if (auto v = read_time(*t, p, j.key, e)) {
            *j.value = v->value;
            j.pos = v->pos;
        } else if (t->get(j.key) != nullptr) {
            j.valid = false;
        }
    }
    for (std::size_t i = 1; i < jobs.size(); ++i) {
        const auto& a = jobs[i - 1];
        const auto& b = jobs[i];
        if (!a.valid || !b.valid || *a.value < *b.value) continue;
        // Blame a key that is in the file, the later one when both are.
        const auto describe_job = [](const Job& j) {
            return std::string(j.key) + " at " + j.value->to_string() + (j.pos ? "" : " (the default)");
        };
        const std::string order = " (jobs run data_update < signals < rebalance)";
        if (b.pos) {
            e.at(*b.pos, join(p, b.key), describe_job(b) + " must be later than " + describe_job(a) + order);
        } else if (a.pos) {
            e.at(*a.pos, join(p, a.key), describe_job(a) + " must be earlier than " + describe_job(b) + order);
        }
    }
}

// [sim]
void read_sim(const toml::table& root, const fs::path& base_dir, Config& c, Errors& e) {
    c.sim.data_dir = resolve(base_dir, "data");
    c.sim.state_file = fs::path(c.journal.string() + ".sim.json");
    const auto* t = read_table(root, "", "sim", e);
    if (t == nullptr) return;
    const std::string_view p = "sim";
    auto& s = c.sim;
    check_keys(*t, p,
               {"data_dir", "price_field", "fill", "slippage_bps", "commission_per_order", "commission_bps",
                "initial_cash", "start", "end", "state_file"},
               e);
    if (auto v = read_nonempty(*t, p, "data_dir", e, "a directory path")) s.data_dir = resolve(base_dir, v->value);
    if (auto v = read_enum(*t, p, "price_field", e, {"close", "adj_close"})) {
        s.price_field = *v == "close" ? PriceField::close : PriceField::adj_close;
    }
    if (auto v = read_enum(*t, p, "fill", e, {"next_open", "close"})) {
        s.fill = *v == "close" ? FillModel::close : FillModel::next_open;
    }
    const Range bps{0, 1000, false, false, "basis points"};
    if (auto v = read_number(*t, p, "slippage_bps", e, bps)) s.slippage_bps = v->value;
    if (auto v = read_number(*t, p, "commission_per_order", e, {0, 1e6, false, false, "an amount in dollars"})) {
        s.commission_per_order = v->exact;
    }
    if (auto v = read_number(*t, p, "commission_bps", e, bps)) s.commission_bps = v->value;
    if (auto v = read_number(*t, p, "initial_cash", e, {0, 1e9, true, false, "an amount in dollars"})) {
        s.initial_cash = v->exact;
    }
    const auto start = read_date(*t, p, "start", e);
    const auto end = read_date(*t, p, "end", e);
    if (start) s.start = start->value;
    if (end) s.end = end->value;
    if (start && end && end->value < start->value) {
        e.at(end->pos, "sim.end",
             end->value.to_string() + " is before sim.start " + start->value.to_string() + "; expected start <= end");
    }
    if (auto v = read_nonempty(*t, p, "state_file", e, "a file path")) s.state_file = resolve(base_dir, v->value);
}

// [alpaca]
void read_alpaca(const toml::table& root, const fs::path& base_dir, Config& c, Errors& e) {
    auto& a = c.alpaca;
    a.trading_url = c.mode == Mode::live ? kAlpacaLiveUrl : kAlpacaPaperUrl;
    const auto* t = read_table(root, "", "alpaca", e);
    if (t == nullptr) return;
    const std::string_view p = "alpaca";
    check_keys(*t, p,
               {"trading_url", "data_url", "ca_file", "feed", "adjustment", "rate_limit_per_minute",
                "connect_timeout_ms", "request_timeout_ms", "max_attempts", "breaker_cooldown_ms", "fill_timeout_seconds",
                "job_deadline_seconds"},
               e);
    const auto url = [&](std::string_view key, std::string& out) {
        const auto v = read_nonempty(*t, p, key, e, "an https:// URL");
        if (!v) return;
        if (v->value.rfind("https://", 0) != 0 || v->value.size() <= 8) {
            e.at(v->pos, join(p, key), "expected an https:// URL, found " + toml_quote(v->value));
            return;
        }
        out = v->value;
        while (out.size() > 8 && out.back() == '/') out.pop_back();
        // Paper must never reach the live host, nor live the paper host.
        if (key == "trading_url" && c.mode == Mode::paper && out == kAlpacaLiveUrl)
            e.at(v->pos, join(p, key), std::string("mode is \"paper\" but trading_url is the live API ") + kAlpacaLiveUrl);
        if (key == "trading_url" && c.mode == Mode::live && out == kAlpacaPaperUrl)
            e.at(v->pos, join(p, key), std::string("mode is \"live\" but trading_url is the paper API ") + kAlpacaPaperUrl);
    };
    url("trading_url", a.trading_url);
    url("data_url", a.data_url);
    if (auto v = read_nonempty(*t, p, "ca_file", e, "a file path")) a.ca_file = resolve(base_dir, v->value);
    if (auto v = read_enum(*t, p, "feed", e, {"iex", "sip"})) a.feed = *v;
    if (auto v = read_enum(*t, p, "adjustment", e, {"raw", "split", "dividend", "all"})) a.adjustment = *v;
    if (auto v = read_int(*t, p, "rate_limit_per_minute", e, 1, 10000)) a.rate_limit_per_minute = static_cast<int>(*v);
    if (auto v = read_int(*t, p, "connect_timeout_ms", e, 100, 120000)) a.connect_timeout_ms = static_cast<int>(*v);
    if (auto v = read_int(*t, p, "request_timeout_ms", e, 100, 300000)) a.request_timeout_ms = static_cast<int>(*v);
    if (auto v = read_int(*t, p, "max_attempts", e, 1, 20)) a.max_attempts = static_cast<int>(*v);
    if (auto v = read_int(*t, p, "breaker_cooldown_ms", e, 100, 3600000)) a.breaker_cooldown_ms = static_cast<int>(*v);
    if (auto v = read_int(*t, p, "fill_timeout_seconds", e, 1, 3600)) a.fill_timeout_seconds = static_cast<int>(*v);
    const auto deadline = read_int(*t, p, "job_deadline_seconds", e, 10, 86400);
    if (deadline) a.job_deadline_seconds = static_cast<int>(*deadline);
    // A rebalance polls its sells, then its buys, each up to fill_timeout_seconds, and must
    // still have time to cancel what did not fill.
    if (a.job_deadline_seconds < 2 * a.fill_timeout_seconds + 60) {
        const auto* node = t->get("job_deadline_seconds");
        if (node == nullptr) node = t->get("fill_timeout_seconds");
        e.at(node ? pos_of(*node) : Pos{}, join(p, "job_deadline_seconds"),
             std::to_string(a.job_deadline_seconds) + " s leaves no time to poll sells and buys for fill_timeout_seconds (" +
                 std::to_string(a.fill_timeout_seconds) + " s each) and cancel; expected at least " +
                 std::to_string(2 * a.fill_timeout_seconds + 60));
    }
}

// Secrets from the env file and the environment (which wins); mode's needs.
void read_secrets(const toml::table& root, const std::optional<Pos>& env_file_pos,
                  const std::map<std::string, std::string>& env, Config& c, Errors& e) {
    std::map<std::string, std::string> merged;
    if (c.env_file) {
        std::string why;
        if (auto file = detail::read_env_file(*c.env_file, why)) {
            merged = std::move(file->values);
            for (const int line : file->malformed_lines) {
                e.raw(*env_file_pos, c.env_file->string() + ":" + std::to_string(line) + ": expected KEY=VALUE");
            }
        } else {
            e.at(*env_file_pos, "env_file", "cannot read env file " + toml_quote(c.env_file->string()) + ": " + why);
        }
    }
    for (const auto& [k, v] : env) {
        if (!v.empty()) merged[k] = v;  // an empty variable does not hide the file's value
    }

    const auto get = [&](const char* name) -> std::optional<std::string> {
        const auto it = merged.find(name);
        if (it == merged.end() || it->second.empty()) return std::nullopt;
        return it->second;
    };
    c.secrets.alpaca_key_id = get("APCA_API_KEY_ID");
    c.secrets.alpaca_secret_key = get("APCA_API_SECRET_KEY");
    c.secrets.healthcheck_url = get("BALLAST_HEALTHCHECK_URL");
    c.secrets.webhook_url = get("BALLAST_WEBHOOK_URL");

    if (c.mode == Mode::sim) return;
    std::string missing;
    if (!c.secrets.alpaca_key_id) missing += "APCA_API_KEY_ID";
    if (!c.secrets.alpaca_secret_key) missing += std::string(missing.empty() ? "" : ", ") + "APCA_API_SECRET_KEY";
    if (missing.empty()) return;
    const auto* mode = root.get("mode");
    e.at(mode ? pos_of(*mode) : Pos{}, "mode",
         std::string("mode \"") + to_string(c.mode) +
             "\" needs APCA_API_KEY_ID and APCA_API_SECRET_KEY in the environment or in the env_file; not set: " +
             missing);
}

// Validates a parsed document into `c`.
void read_document(const toml::table& root, const fs::path& base_dir, const std::map<std::string, std::string>& env,
                   Config& c, Errors& e) {
    scan_secrets_table(root, "", e);
    check_keys(root, "",
               {"mode", "journal", "env_file", "strategy", "rebalance", "orders", "risk", "schedule", "sim", "alpaca"}, e);

    if (auto v = read_enum(root, "", "mode", e, {"sim", "paper", "live"})) {
        c.mode = *v == "sim" ? Mode::sim : *v == "paper" ? Mode::paper : Mode::live;
    }
    c.journal = resolve(base_dir, "ballast.db");
    if (auto v = read_nonempty(root, "", "journal", e, "a file path")) c.journal = resolve(base_dir, v->value);
    std::optional<Pos> env_file_pos;
    if (auto v = read_nonempty(root, "", "env_file", e, "a file path")) {
        c.env_file = resolve(base_dir, v->value);
        env_file_pos = v->pos;
    }

    StrategyChecks strategy_checks;
    read_strategy(root, c, strategy_checks, e);
    read_rebalance(root, c, e);
    read_orders(root, c, e);
    const auto max_position_pos = read_risk(root, c, e);
    // The risk stage checks the planner's own cash reserve independently.
    c.risk.cash_reserve = c.orders.planner.cash_reserve;
    read_schedule(root, c, e);
    read_sim(root, base_dir, c, e);
    read_alpaca(root, base_dir, c, e);

    // No single target may exceed the position limit, or every rebalance would be denied.
    const auto max_pct = c.risk.max_position_fraction * Decimal::from_int(100);
    const std::string limit_text =
        "risk.max_position_pct " + max_pct.to_string() + "%" +
        (max_position_pos ? " (line " + std::to_string(max_position_pos->line) + ")" : " (the default)");
    for (const auto& w : strategy_checks.weights) {
        if (w.percent <= max_pct) continue;
        e.at(w.pos, join("strategy.weights", w.symbol),
             "weight " + w.percent.to_string() + "% exceeds " + limit_text);
    }
    // A strategy that can concentrate more than the limit would see those buys denied.
    for (const auto& x : strategy_checks.concentration) {
        if (x.percent <= max_pct) continue;
        e.at(x.pos, x.key, x.why + ", more than " + limit_text + "; raise risk.max_position_pct to at least " +
                               x.percent.to_string());
    }

    read_secrets(root, env_file_pos, env, c, e);
}

// Whether line `line_no` (1-based) of `text` is `key = ...` with a secret-looking key
// (any part of a dotted key).
bool line_key_looks_secret(std::string_view text, std::uint32_t line_no) {
    for (std::uint32_t i = 1; i < line_no; ++i) {
        const auto nl = text.find('\n');
        if (nl == std::string_view::npos) return false;
        text.remove_prefix(nl + 1);
    }
    const auto line = text.substr(0, text.find('\n'));
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) return false;
    std::string part;
    for (const char c : line.substr(0, eq)) {
        if (c == '.') {
            if (looks_secret(part)) return true;
            part.clear();
        } else if (c != ' ' && c != '\t' && c != '"' && c != '\'') {
            part += c;
        }
    }
    return looks_secret(part);
}

fs::path absolute_or_self(const fs::path& p) {
    std::error_code ec;
    auto a = fs::absolute(p, ec);
    return ec ? p : a.lexically_normal();
}

LoadResult load_text(std::string_view text, const std::string& display_name, const fs::path& source,
                     const std::map<std::string, std::string>& env) {
    Errors e(display_name);
    LoadResult out;
    toml::table root;
    try {
        root = toml::parse(text, display_name);
    } catch (const toml::parse_error& err) {
        // toml++ may quote the offending token, so a line keyed like a secret gets no details.
        const auto p = pos_of(err.source());
        const std::string description = line_key_looks_secret(text, p.line)
                                            ? "TOML syntax error (details withheld: the key looks like a secret); " +
                                                  std::string(kSecretHelp)
                                            : std::string(err.description());
        e.raw(p, display_name + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) + ": " + description);
        out.errors = e.take();
        return out;
    }
    Config c;
    c.source = absolute_or_self(source);
    read_document(root, c.source.parent_path(), env, c, e);
    if (e.empty()) out.config = std::move(c);
    out.errors = e.take();
    return out;
}

const char* to_string(PriceField f) { return f == PriceField::close ? "close" : "adj_close"; }
const char* to_string(FillModel f) { return f == FillModel::close ? "close" : "next_open"; }

std::string drift_mode_name(core::DriftMode m) { return m == core::DriftMode::absolute ? "absolute" : "relative"; }

std::string percent_text(Decimal fraction) { return (fraction * Decimal::from_int(100)).to_string(); }

std::string redacted(const std::optional<std::string>& s) { return s ? "\"<set, redacted>\"" : "\"<not set>\""; }

}  // namespace

const char* to_string(Mode m) {
    switch (m) {
        case Mode::sim: return "sim";
        case Mode::paper: return "paper";
        case Mode::live: return "live";
    }
    return "?";
}

LoadResult load_config(const std::filesystem::path& file, const std::map<std::string, std::string>& env) {
    // Read the whole file; a missing or unreadable file is one error naming it.
    const std::string name = file.string();
    std::error_code ec;
    if (fs::is_directory(file, ec)) return {std::nullopt, {{name + ": cannot read config file: is a directory"}}};
    std::ifstream in(file, std::ios::binary);
    if (!in) return {std::nullopt, {{name + ": cannot read config file: " + std::strerror(errno)}}};
    std::ostringstream buf;
    buf << in.rdbuf();
    if (in.bad()) return {std::nullopt, {{name + ": cannot read config file: read error"}}};
    return load_text(buf.str(), name, file, env);
}

LoadResult load_config_string(std::string_view toml_text, const std::filesystem::path& source_name,
                              const std::map<std::string, std::string>& env) {
    return load_text(toml_text, source_name.string(), source_name, env);
}

std::map<std::string, std::string> process_environment() {
    std::map<std::string, std::string> out;
    for (char** p = environ; p != nullptr && *p != nullptr; ++p) {
        const std::string_view entry(*p);
        const auto eq = entry.find('=');
        if (eq == std::string_view::npos) continue;
        out.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
    return out;
}

std::string render_effective_config(const Config& c) {
    std::ostringstream o;
    const auto& pl = c.orders.planner;
    o << "# Effective ballast configuration (defaults filled in, paths resolved).\n";
    o << "# Source: " << c.source.string() << "\n\n";
    o << "mode = " << toml_quote(to_string(c.mode)) << "\n";
    o << "journal = " << toml_quote(c.journal.string()) << "\n";
    if (c.env_file) o << "env_file = " << toml_quote(c.env_file->string()) << "\n";
    else o << "# env_file: not set\n";

    o << "\n[strategy]\n";
    o << "name = " << toml_quote(c.strategy.name) << "\n";
    o << "kind = " << toml_quote(c.strategy.kind) << "\n";
    const auto& k = c.strategy.kind;
    if (k == "fixed_weights" || k == "trend") {
        o << "\n[strategy.weights]  # percent of equity\n";
        for (const auto& [symbol, w] : c.strategy.weights) {
            o << (is_bare_key(symbol) ? symbol : toml_quote(symbol)) << " = " << percent_text(w) << "\n";
        }
    }
    const auto symbols = [](const std::vector<core::Symbol>& list) {
        std::string out = "[";
        for (const auto& s : list) out += (out.size() > 1 ? ", " : "") + toml_quote(s);
        return out + "]";
    };
    const auto optional_symbol = [&](const char* key, const std::optional<core::Symbol>& s, const char* unset) {
        if (s) o << key << " = " << toml_quote(*s) << "\n";
        else o << "# " << key << ": not set (" << unset << ")\n";
    };
    if (k == "trend") {
        const auto& p = c.strategy.trend;
        o << "\n[strategy.params]\n";
        o << "sma_days = " << p.sma_days << "  # trading days\n";
        optional_symbol("safe_asset", p.safe_asset, "cash");
    } else if (k == "dual_momentum") {
        const auto& p = c.strategy.dual_momentum;
        o << "\n[strategy.params]\n";
        o << "universe = " << symbols(p.candidates) << "\n";
        o << "lookback_days = " << p.lookback_days << "  # trading days\n";
        o << "top_n = " << p.top_n << "\n";
        if (p.cash_proxy) o << "cash_proxy = " << toml_quote(*p.cash_proxy) << "  # the hurdle is its return\n";
        else o << "absolute_threshold = " << tidy(p.absolute_threshold * 100.0) << "  # percent\n";
        optional_symbol("safe_asset", p.safe_asset, "cash");
    } else if (k == "risk_parity") {
        const auto& p = c.strategy.risk_parity;
        o << "\n[strategy.params]\n";
        o << "universe = " << symbols(p.universe) << "\n";
        o << "lookback_days = " << p.lookback_days << "  # trading days\n";
        if (p.vol_target) o << "vol_target = " << tidy(*p.vol_target * 100.0) << "  # percent a year\n";
        else o << "# vol_target: not set (fully invested)\n";
    }

    o << "\n[rebalance]\n";
    o << "calendar = " << toml_quote(core::to_string(c.rebalance.calendar)) << "\n";
    o << "calendar_day = " << toml_quote(core::to_string(c.rebalance.calendar_day)) << "\n";
    o << "drift_mode = " << toml_quote(drift_mode_name(c.rebalance.drift_mode)) << "\n";
    o << "drift_threshold = " << tidy(c.rebalance.drift_threshold * 100.0) << "  # percent\n";
    o << "min_interval_days = " << c.rebalance.min_interval_days << "\n";

    o << "\n[orders]\n";
    o << "fractional = " << (pl.fractional ? "true" : "false") << "\n";
    o << "qty_decimals = " << pl.qty_decimals << "\n";
    o << "min_order_notional = " << pl.min_order_notional.to_string() << "  # dollars\n";
    o << "cash_reserve = " << percent_text(pl.cash_reserve) << "  # percent\n";

    o << "\n[risk]\n";
    o << "max_order_pct = " << percent_text(c.risk.max_order_fraction) << "\n";
    o << "max_position_pct = " << percent_text(c.risk.max_position_fraction) << "\n";
    o << "max_gross_exposure_pct = " << percent_text(c.risk.max_gross_exposure) << "\n";
    const auto off = [&](const char* key) { o << "# " << key << ": not set (off)\n"; };
    if (c.risk.price_sanity) o << "price_sanity_pct = " << percent_text(*c.risk.price_sanity) << "\n";
    else off("price_sanity_pct");
    if (c.risk.stop_loss) o << "stop_loss_pct = " << percent_text(*c.risk.stop_loss) << "\n";
    else off("stop_loss_pct");
    if (c.breakers.max_daily_loss) o << "max_daily_loss_pct = " << tidy(*c.breakers.max_daily_loss * 100.0) << "\n";
    else off("max_daily_loss_pct");
    if (c.breakers.max_drawdown) o << "max_drawdown_pct = " << tidy(*c.breakers.max_drawdown * 100.0) << "\n";
    else off("max_drawdown_pct");
    if (c.breakers.max_consecutive_rejections)
        o << "max_consecutive_rejections = " << *c.breakers.max_consecutive_rejections << "\n";
    else off("max_consecutive_rejections");

    o << "\n[schedule]\n";
    o << "timezone = " << toml_quote(c.schedule.timezone) << "\n";
    o << "data_update = " << toml_quote(c.schedule.data_update.to_string()) << "\n";
    o << "signals = " << toml_quote(c.schedule.signals.to_string()) << "\n";
    o << "rebalance = " << toml_quote(c.schedule.rebalance.to_string()) << "\n";

    o << "\n[sim]\n";
    o << "data_dir = " << toml_quote(c.sim.data_dir.string()) << "\n";
    o << "price_field = " << toml_quote(to_string(c.sim.price_field)) << "\n";
    o << "fill = " << toml_quote(to_string(c.sim.fill)) << "\n";
    o << "slippage_bps = " << tidy(c.sim.slippage_bps) << "\n";
    o << "commission_per_order = " << c.sim.commission_per_order.to_string() << "\n";
    o << "commission_bps = " << tidy(c.sim.commission_bps) << "\n";
    o << "initial_cash = " << c.sim.initial_cash.to_string() << "\n";
    if (c.sim.start) o << "start = " << toml_quote(c.sim.start->to_string()) << "\n";
    else o << "# start: not set (first date common to all symbols)\n";
    if (c.sim.end) o << "end = " << toml_quote(c.sim.end->to_string()) << "\n";
    else o << "# end: not set (last date in the data)\n";
    o << "state_file = " << toml_quote(c.sim.state_file.string()) << "\n";

    o << "\n[alpaca]\n";
    o << "trading_url = " << toml_quote(c.alpaca.trading_url) << "\n";
    o << "data_url = " << toml_quote(c.alpaca.data_url) << "\n";
    if (c.alpaca.ca_file) o << "ca_file = " << toml_quote(c.alpaca.ca_file->string()) << "\n";
    else o << "# ca_file: not set (the system trust store)\n";
    o << "feed = " << toml_quote(c.alpaca.feed) << "\n";
    o << "adjustment = " << toml_quote(c.alpaca.adjustment) << "\n";
    o << "rate_limit_per_minute = " << c.alpaca.rate_limit_per_minute << "\n";
    o << "connect_timeout_ms = " << c.alpaca.connect_timeout_ms << "\n";
    o << "request_timeout_ms = " << c.alpaca.request_timeout_ms << "\n";
    o << "max_attempts = " << c.alpaca.max_attempts << "\n";
    o << "breaker_cooldown_ms = " << c.alpaca.breaker_cooldown_ms << "\n";
    o << "fill_timeout_seconds = " << c.alpaca.fill_timeout_seconds << "\n";
    o << "job_deadline_seconds = " << c.alpaca.job_deadline_seconds << "\n";

    // Secrets as comments: their presence only, never a value.
    o << "\n# [secrets]  (from the environment or env_file; never read from config.toml)\n";
    o << "# APCA_API_KEY_ID = " << redacted(c.secrets.alpaca_key_id) << "\n";
    o << "# APCA_API_SECRET_KEY = " << redacted(c.secrets.alpaca_secret_key) << "\n";
    o << "# BALLAST_HEALTHCHECK_URL = " << redacted(c.secrets.healthcheck_url) << "\n";
    o << "# BALLAST_WEBHOOK_URL = " << redacted(c.secrets.webhook_url) << "\n";
    return o.str();
}

}  // namespace ballast::daemon
