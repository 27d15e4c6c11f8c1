#pragma once
// Alpaca's wire format as pure functions: response bodies -> typed values, typed values
// -> request bodies and request targets. No I/O, no logging, and nothing is thrown out of
// any function here.
//
// Parsers take the endpoint the body came from (e.g. "GET /v2/account"; used only in
// messages, so never put a secret in it) and the raw body. On failure they return
// BrokerError{Kind::bad_payload, message} with the message
//     "<endpoint>: <json path>: got <value>; expected <what>"
// e.g. "GET /v2/orders: orders[3].filled_qty: got true; expected a decimal (string or
// number)". A missing field reads "...: filled_qty: missing; expected ...". Values are
// shown as JSON text cut to 60 characters. A body that is not JSON (empty, truncated,
// trailing junk) reads "<endpoint>: malformed JSON at byte N: <reason>".
//
// Decimals: every decimal field accepts a JSON string ("12.5") or a JSON number (12.5).
// Strings are read exactly; exponent forms in strings ("1e3") are rejected. Numbers are
// read through their shortest round-trip text (so 0.1 is exactly 0.1; integers are exact;
// a number with more than 17 significant digits is read as its nearest double), and
// exponent forms of numbers (1e-05) are expanded, not rejected. More than 9 fractional
// digits are rounded half away from zero. Values beyond core::Decimal's range
// (-9223372036.854775807..9223372036.854775807), e.g. 99999999999999999999 (shown as
// 1e+20: the number is read as a double) or 1e400, are errors that say "in range".
// Optional fields are nullopt when missing or null; when present they are validated as
// strictly as required ones. Unknown fields are ignored.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.hpp"
#include "core/calendar.hpp"
#include "core/decimal.hpp"
#include "core/types.hpp"

namespace ballast::broker::alpaca {

// ---- time ---------------------------------------------------------------------------

// RFC 3339 "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)" (the 'T' and 'Z' may be lower
// case) -> UTC, fractional seconds truncated. nullopt for anything else: missing offset,
// more than 9 fractional digits, impossible dates/times, leap second 60.
std::optional<core::Timestamp> parse_rfc3339(std::string_view text);

// ---- trading API --------------------------------------------------------------------

// GET /v2/account
struct Account {
    core::Decimal equity;
    core::Decimal last_equity;  // equity at the previous close
    core::Decimal cash;
    core::Decimal buying_power;
    std::optional<core::Decimal> non_marginable_buying_power;
    std::string status;  // "ACTIVE", ...
    bool trading_blocked = false;
    bool account_blocked = false;
    bool trade_suspended_by_user = false;
    bool pattern_day_trader = false;
    std::string currency;  // "USD"
};
Result<Account> parse_account(std::string_view endpoint, std::string_view body);

// GET /v2/positions (array), GET /v2/positions/{symbol} (object)
struct Position {
    std::string symbol;
    core::Decimal qty;  // Alpaca's sign convention: negative for short positions
    std::optional<core::Decimal> qty_available;
    std::string side;  // "long" / "short"
    core::Decimal market_value;
    core::Decimal avg_entry_price;
    std::optional<core::Decimal> current_price;
    std::optional<core::Decimal> lastday_price;
};
Result<Position> parse_position(std::string_view endpoint, std::string_view body);
Result<std::vector<Position>> parse_positions(std::string_view endpoint, std::string_view body);

// Order objects (POST /v2/orders, GET /v2/orders/{id}, GET /v2/orders:by_client_order_id,
// GET /v2/orders as an array). Timestamps are kept as Alpaca's text but validated as
// RFC 3339 when present.
struct Order {
    std::string id;
    std::string client_order_id;
    std::string symbol;
    std::optional<core::Decimal> qty;       // exactly one of qty / notional, normally
    std::optional<core::Decimal> notional;
    core::Decimal filled_qty;
    std::optional<core::Decimal> filled_avg_price;
    std::optional<core::Decimal> commission;  // not sent by the live API today
    std::string side;           // "buy" / "sell"
    std::string type;           // "market", "limit", ...
    std::string time_in_force;  // "day", "gtc", ...
    std::string status;         // see is_terminal
    std::optional<std::string> created_at;
    std::optional<std::string> updated_at;
    std::optional<std::string> submitted_at;
    std::optional<std::string> filled_at;
    std::optional<std::string> canceled_at;
    std::optional<std::string> expired_at;
    std::optional<std::string> failed_at;
};
Result<Order> parse_order(std::string_view endpoint, std::string_view body);
Result<std::vector<Order>> parse_orders(std::string_view endpoint, std::string_view body);

// filled, canceled, expired, rejected, replaced (same as broker::is_terminal_status).
bool is_terminal(std::string_view status);

// The broker-neutral view: commission defaults to 0; reason is empty (Alpaca's order
// object carries none); updated_at is "YYYY-MM-DDTHH:MM:SSZ" from the first present of
// updated_at, filled_at, canceled_at, expired_at, failed_at, submitted_at, created_at
// (empty when none is present).
OrderUpdate to_update(const Order& order);

// GET /v2/clock
struct Clock {
    core::Timestamp timestamp;
    bool is_open = false;
    core::Timestamp next_open;
    core::Timestamp next_close;
};
Result<Clock> parse_clock(std::string_view endpoint, std::string_view body);

// GET /v2/calendar (array). open/close are New York wall-clock "HH:MM"; the extended
// session bounds come as "HHMM" (also accepted as "HH:MM").
struct CalendarDay {
    core::Date date;
    core::TimeOfDay open;
    core::TimeOfDay close;  // 13:00 on early-close days
    std::optional<core::TimeOfDay> session_open;
    std::optional<core::TimeOfDay> session_close;
};
Result<std::vector<CalendarDay>> parse_calendar(std::string_view endpoint, std::string_view body);

// GET /v2/assets/{symbol}
struct Asset {
    std::string symbol;
    bool tradable = false;
    bool fractionable = false;
    std::string status;  // "active" / "inactive"
};
Result<Asset> parse_asset(std::string_view endpoint, std::string_view body);

// ---- errors -------------------------------------------------------------------------

// An error body {"code": 40310000, "message": "..."} (extra fields ignored). Lenient and
// total: code is 0 when missing or not an integer; message is the "message" string when
// there is one, else the first 200 bytes of the body, else "(empty body)". The message
// is sanitized: at most 200 bytes, control and non-ASCII bytes replaced by '?'.
struct ApiError {
    long long code = 0;
    std::string message;
};
ApiError parse_error(std::string_view body);

// One entry of a 207 multi-status answer (DELETE /v2/orders: {id, status, body?};
// DELETE /v2/positions: {symbol, status, body}). When `status` is 2xx and `body` is an
// object it is parsed as an Order (a malformed one is an error); otherwise a present body
// is read leniently by parse_error.
struct MultiStatusEntry {
    std::optional<std::string> id;
    std::optional<std::string> symbol;
    int status = 0;
    std::optional<Order> order;
    std::optional<ApiError> error;
};
Result<std::vector<MultiStatusEntry>> parse_multi_status(std::string_view endpoint, std::string_view body);

// ---- market data API ----------------------------------------------------------------

// GET /v2/stocks/bars: {"bars": {"SYM": [{t,o,h,l,c,v,n,vw}...]}, "next_page_token": ..}.
// Each bar's date is the New York date of `t` (daily bars are stamped at New York
// midnight); adj_close = close (ask with adjustment=all for adjusted prices); volume = v.
// Bars keep the page's order per symbol; symbols come in ascending order. "bars": null
// or {} (and a symbol mapped to null) mean no bars. next_page_token null, missing or ""
// is nullopt (the last page).
struct BarsPage {
    std::vector<core::Bar> bars;
    std::optional<std::string> next_page_token;
};
Result<BarsPage> parse_bars_page(std::string_view endpoint, std::string_view body);

struct Quote {
    core::Timestamp time;
    core::Decimal bid_price;
    core::Decimal bid_size;
    core::Decimal ask_price;
    core::Decimal ask_size;
};
struct Trade {
    core::Timestamp time;
    core::Decimal price;
    core::Decimal size;
};
// GET /v2/stocks/quotes/latest: {"quotes": {"SYM": {t, bp, bs, ap, as, ...}}}.
// GET /v2/stocks/trades/latest: {"trades": {"SYM": {t, p, s, ...}}}.
// Unknown symbols are absent; "quotes"/"trades": null reads as empty.
Result<std::map<core::Symbol, Quote>> parse_latest_quotes(std::string_view endpoint, std::string_view body);
Result<std::map<core::Symbol, Trade>> parse_latest_trades(std::string_view endpoint, std::string_view body);

// GET /v2/stocks/snapshots: {"SYM": {latestTrade, latestQuote, minuteBar, dailyBar,
// prevDailyBar}}; each part is nullopt when missing or null (minuteBar is not read).
struct Snapshot {
    std::optional<Trade> latest_trade;
    std::optional<Quote> latest_quote;
    std::optional<core::Bar> daily_bar;
    std::optional<core::Bar> prev_daily_bar;
};
Result<std::map<core::Symbol, Snapshot>> parse_snapshots(std::string_view endpoint, std::string_view body);

// ---- requests -----------------------------------------------------------------------

// POST /v2/orders body, keys in this order:
// {"symbol":..,"qty":"12.5","side":"buy","type":"market","time_in_force":"day",
//  "client_order_id":..}. qty is a decimal string (core::Decimal::to_string: never
// exponent form). Strings are JSON-escaped; the output is ASCII.
std::string order_request_json(const OrderRequest& order);

// Percent-encodes every byte except RFC 3986 unreserved ones (A-Z a-z 0-9 - . _ ~),
// as %XX with upper-case hex.
std::string url_encode(std::string_view text);

struct BarsQuery {
    std::vector<core::Symbol> symbols;  // non-empty
    std::string timeframe = "1Day";
    core::Timestamp start;  // sent as "YYYY-MM-DDTHH:MM:SSZ"
    core::Timestamp end;
    int limit = 10000;                 // 1..10000, bars across all symbols of a page
    std::string adjustment = "all";    // raw | split | dividend | all
    std::string feed = "iex";          // iex | sip
    std::optional<std::string> page_token;  // omitted when nullopt or empty
};
// "/v2/stocks/bars?symbols=A,B&timeframe=1Day&start=..&end=..&limit=10000&adjustment=all
// &feed=iex[&page_token=..]". Every symbol and value is url_encode'd; the commas
// separating symbols stay literal (a comma inside a symbol would be sent as %2C).
std::string bars_target(const BarsQuery& query);
// "/v2/stocks/quotes/latest?symbols=A,B&feed=iex" and ".../trades/latest?...", same rules.
std::string latest_quotes_target(const std::vector<core::Symbol>& symbols, std::string_view feed);
std::string latest_trades_target(const std::vector<core::Symbol>& symbols, std::string_view feed);
// "/v2/orders:by_client_order_id?client_order_id=<encoded>"
std::string order_by_client_id_target(std::string_view client_order_id);
// "/v2/calendar?start=YYYY-MM-DD&end=YYYY-MM-DD"
std::string calendar_target(core::Date start, core::Date end);

}  // namespace ballast::broker::alpaca
