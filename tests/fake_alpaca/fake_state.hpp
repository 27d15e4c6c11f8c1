#pragma once
// The in-memory core of ballast-fake-alpaca: one paper account, its orders and the
// market data of a directory of Yahoo CSV files, answering Alpaca REST requests
// (trading API v2 and market data v2, see docs/alpaca.md) with no sockets at all.
//
// `FakeAlpaca::handle(request, now)` is the whole protocol: the socket layer
// (server.hpp) only parses HTTP, calls it and carries out `Response::delivery`.
// Not thread-safe: call from one thread (the server's io_context thread).
//
// Conventions the fake follows (documented in docs/alpaca.md):
// - Trading decimals are JSON strings, market-data prices and sizes JSON numbers.
// - The fake's market date is `today`: bars, quotes and trades after it do not exist
//   yet; orders fill at the latest close on or before it (rounded to 4 decimals).
// - Wall-clock `now` is a parameter: the rate limiter uses it as is; timestamps in
//   bodies (created_at, the clock) use the fake date with now's New York time of day
//   (or the frozen time set through POST /_fake/today).
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "broker/broker.hpp"
#include "core/types.hpp"

namespace ballast::fake {

using WallTime = std::chrono::system_clock::time_point;

struct Request {
    std::string method;  // "GET", "POST", "DELETE", ...
    std::string target;  // path with the query string: "/v2/orders?status=all"
    std::vector<std::pair<std::string, std::string>> headers;  // names compared case-insensitively
    std::string body;
};

// How the socket layer must deliver a response (set by the fault queue).
enum class Delivery {
    normal,
    slow,      // wait `delay_ms`, then answer normally
    timeout,   // answer nothing; keep the connection open until the client closes it
    reset,     // close the TCP connection (RST) without answering
    truncate,  // send the headers with a Content-Length larger than the body, then close
};
const char* to_string(Delivery d);

struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;  // beside Content-Type/Length
    std::string body;                                           // JSON text, or empty (204)
    Delivery delivery = Delivery::normal;
    int delay_ms = 0;  // with Delivery::slow
    std::string fault;  // the fault action applied, for the request log ("" = none)
    const std::string* header(const std::string& name) const;  // case-insensitive; nullptr if absent
};

struct FakeConfig {
    std::string key_id = "test-key";
    std::string secret = "test-secret";
    core::Decimal cash = core::Decimal::from_int(100000);
    int rate_limit_per_minute = 200;  // per key, sliding 60 s window; 0 = off
    std::optional<core::Date> today;  // default: the last date of the data
    std::optional<core::TimeOfDay> time;  // frozen New York time of day; default: the real one
};

// How new orders fill (POST /_fake/orders); an order keeps the mode it was placed under.
struct FillMode {
    enum class Kind { immediate, delayed, partial, reject };
    Kind kind = Kind::immediate;
    int polls = 1;         // delayed: this many GETs of the order answer `accepted`; the next one sees it filled
    double fraction = 0.5;  // partial: filled share of the qty (0 < fraction < 1), then `partially_filled`
};

// Reads every `*.csv` in `dir` with broker::read_yahoo_csv; the symbol is the file
// stem. Kind::bad_data naming the file on the first malformed file or an unreadable dir.
broker::Result<std::map<core::Symbol, std::vector<core::Bar>>> load_data_dir(const std::filesystem::path& dir);

// Counters for GET /_fake/stats. Counts every request outside /_fake/.
struct FakeStats {
    std::int64_t requests_total = 0;
    std::map<std::string, std::int64_t> requests_by_path;  // path without the query
    std::int64_t max_requests_in_any_60s_window = 0;
    std::int64_t orders_submitted = 0;  // POST /v2/orders answered 200
    std::int64_t duplicate_client_order_ids_rejected = 0;
};

class FakeAlpaca {
public:
    FakeAlpaca(FakeConfig config, std::map<core::Symbol, std::vector<core::Bar>> bars);

    // Answers one request. Never throws for bad input: every problem is an HTTP error
    // response with an Alpaca-style body naming the field and the value.
    Response handle(const Request& request, WallTime now);

    // State, for tests and the stats endpoint.
    core::Date today() const { return today_; }
    core::Decimal cash() const { return cash_; }
    std::optional<core::Decimal> position_qty(const core::Symbol& symbol) const;
    const FakeStats& stats() const { return stats_; }
    std::size_t faults_pending() const;  // sum of the remaining counts

private:
    struct Order {
        std::string id, client_order_id;
        core::Symbol symbol;
        core::Side side = core::Side::buy;
        std::optional<core::Decimal> qty, notional;  // as requested
        core::Decimal order_qty;                      // shares (notional / price for notional orders)
        core::Decimal price;                          // fill price, fixed at submission
        core::Decimal filled_qty;
        std::string status;
        std::string created_at, filled_at, canceled_at, failed_at;
        FillMode mode;
        int polls_seen = 0;
    };
    struct Holding {
        core::Decimal qty, avg_entry_price;
    };
    struct Fault {
        std::string method = "*", path;
        int remaining = 1;
        std::string action;  // status, timeout, reset, truncate, malformed, slow
        int status = 500;
        int delay_ms = 1000;
        bool apply = false;  // whether the request is still carried out
    };

    Response route(const Request& request, const std::string& path, const std::map<std::string, std::string>& query,
                   WallTime now);
    Response control(const Request& request, const std::string& path);
    std::optional<Response> check_auth(const Request& request, const std::string& path) const;
    std::optional<Response> check_rate_limit(WallTime now);
    void add_rate_headers(Response& r, WallTime now) const;
    void count_request(const std::string& path, WallTime now);
    std::optional<Fault> take_fault(const std::string& method, const std::string& path);

    Response get_account(WallTime now) const;
    Response get_positions() const;
    Response get_position(const std::string& symbol) const;
    Response post_order(const Request& request, WallTime now);
    Response get_order(Order& order, WallTime now);
    Response list_orders(const std::map<std::string, std::string>& query) const;
    Response cancel_order(const std::string& id, WallTime now);
    Response cancel_all(WallTime now);
    Response get_clock(WallTime now) const;
    Response get_calendar(const std::map<std::string, std::string>& query) const;
    Response get_asset(const std::string& symbol) const;
    Response get_bars(const std::map<std::string, std::string>& query) const;
    Response get_latest(const std::map<std::string, std::string>& query, bool quotes) const;

    void fill(Order& order, core::Decimal qty, WallTime now);
    void advance_delayed(Order& order, WallTime now);
    nlohmann::json order_json(const Order& order) const;
    nlohmann::json position_json(const core::Symbol& symbol, const Holding& h) const;
    std::optional<core::Decimal> close_on_or_before(const core::Symbol& symbol, core::Date date) const;
    const core::Bar* last_bar(const core::Symbol& symbol) const;  // latest on or before today
    core::Decimal reserved_for_buys() const;
    core::Decimal held_for_sells(const core::Symbol& symbol) const;
    std::string fake_time(WallTime now) const;  // ISO-8601 UTC with microseconds
    std::string next_uuid();

    FakeConfig config_;
    std::map<core::Symbol, std::vector<core::Bar>> bars_;
    std::set<core::Date> data_dates_;  // every date of any symbol
    core::Date today_;
    std::optional<core::TimeOfDay> frozen_time_;
    core::Decimal cash_;
    std::map<core::Symbol, Holding> holdings_;
    std::vector<Order> orders_;  // in submission order
    std::map<std::string, std::size_t> by_client_id_;
    FillMode mode_;
    std::deque<Fault> faults_;
    std::deque<WallTime> window_;       // the key's accepted requests in the last 60 s
    std::deque<WallTime> all_recent_;   // every counted request in the last 60 s (stats)
    FakeStats stats_;
    std::uint64_t uuid_counter_ = 0;
};

}  // namespace ballast::fake
