#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "broker/csv_bars.hpp"
#include "tests/fake_alpaca/fake_state.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

using namespace ballast;
using fake::FakeAlpaca;
using fake::Request;
using fake::Response;
using json = nlohmann::json;
using core::Date;
using std::chrono::seconds;

core::Bar bar(const std::string& symbol, const char* date, double close) {
    core::Bar b;
    b.symbol = symbol;
    b.date = *Date::parse(date);
    b.open = b.high = b.low = b.close = b.adj_close = close;
    b.volume = 1000;
    return b;
}

// AAA closes at 100 then 110; BBB at 50. The market date is 2024-03-06.
std::map<core::Symbol, std::vector<core::Bar>> small_data() {
    return {{"AAA", {bar("AAA", "2024-03-04", 95), bar("AAA", "2024-03-05", 100), bar("AAA", "2024-03-06", 110),
                     bar("AAA", "2024-03-07", 500)}},
            {"BBB", {bar("BBB", "2024-03-05", 40), bar("BBB", "2024-03-06", 50)}}};
}

struct Harness {
    explicit Harness(fake::FakeConfig config = default_config(), std::map<core::Symbol, std::vector<core::Bar>> data = small_data())
        : fake(std::move(config), std::move(data)) {}

    static fake::FakeConfig default_config() {
        fake::FakeConfig c;
        c.today = Date::parse("2024-03-06");
        return c;
    }

    Response call(const std::string& method, const std::string& target, const std::string& body = "",
                  bool auth = true) {
        Request r;
        r.method = method;
        r.target = target;
        r.body = body;
        if (auth) {
            r.headers.emplace_back("APCA-API-KEY-ID", "test-key");
            r.headers.emplace_back("apca-api-secret-key", "test-secret");
        }
        return fake.handle(r, now);
    }
    json get(const std::string& target, int expect = 200) {
        const auto r = call("GET", target);
        INFO(target << " -> " << r.status << " " << r.body);
        REQUIRE(r.status == expect);
        return json::parse(r.body);
    }
    json post(const std::string& target, const json& body, int expect = 200) {
        const auto r = call("POST", target, body.dump());
        INFO(target << " -> " << r.status << " " << r.body);
        REQUIRE(r.status == expect);
        return r.body.empty() ? json() : json::parse(r.body);
    }
    json order(const std::string& symbol, const std::string& side, const std::string& qty, const std::string& cid = "",
               int expect = 200) {
        json body{{"symbol", symbol}, {"side", side}, {"qty", qty}, {"type", "market"}, {"time_in_force", "day"}};
        if (!cid.empty()) body["client_order_id"] = cid;
        return post("/v2/orders", body, expect);
    }

    FakeAlpaca fake;
    fake::WallTime now = std::chrono::system_clock::time_point(seconds(1'709'740'800));  // 2024-03-06T16:00:00Z
};

}  // namespace

TEST_CASE("auth: missing headers are 403 and a wrong key is 401", "[fake][alpaca]") {
    Harness h;
    auto r = h.call("GET", "/v2/account", "", false);
    CHECK(r.status == 403);
    CHECK(json::parse(r.body) == json{{"message", "forbidden."}});

    Request bad;
    bad.method = "GET";
    bad.target = "/v2/account";
    bad.headers = {{"APCA-API-KEY-ID", "test-key"}, {"APCA-API-SECRET-KEY", "nope"}};
    r = h.fake.handle(bad, h.now);
    CHECK(r.status == 401);
    CHECK(json::parse(r.body) == json{{"code", 40110000}, {"message", "request is not authorized"}});
    CHECK(r.header("X-Ratelimit-Limit"));

    // The market data host answers bad keys with 403 (ALPACA.md).
    bad.target = "/v2/stocks/bars?symbols=AAA&timeframe=1Day";
    CHECK(h.fake.handle(bad, h.now).status == 403);

    r = h.call("GET", "/v2/account");
    CHECK(r.status == 200);
    REQUIRE(r.header("x-ratelimit-remaining"));
    CHECK(*r.header("X-Ratelimit-Remaining") == "199");
}

TEST_CASE("account and positions follow immediate fills", "[fake][alpaca]") {
    Harness h;
    auto acct = h.get("/v2/account");
    CHECK(acct["cash"] == "100000");
    CHECK(acct["equity"] == "100000");
    CHECK(acct["buying_power"] == "100000");
    CHECK(acct["status"] == "ACTIVE");
    CHECK(acct["daytrade_count"] == 0);
    CHECK(h.get("/v2/positions") == json::array());
    CHECK(h.get("/v2/positions/AAA", 404) == json{{"code", 40410000}, {"message", "position does not exist"}});

    // Fills at the latest close on or before the market date (110, not the later 500).
    auto o = h.order("AAA", "buy", "10", "cid-1");
    CHECK(o["status"] == "filled");
    CHECK(o["filled_qty"] == "10");
    CHECK(o["filled_avg_price"] == "110");
    CHECK(o["qty"] == "10");
    CHECK(o["notional"].is_null());
    CHECK(o["client_order_id"] == "cid-1");
    CHECK(h.fake.cash() == core::Decimal::from_int(98900));

    acct = h.get("/v2/account");
    CHECK(acct["cash"] == "98900");
    CHECK(acct["equity"] == "100000");
    CHECK(acct["last_equity"] == "99900");  // 10 x previous close 100
    auto pos = h.get("/v2/positions/AAA");
    CHECK(pos["qty"] == "10");
    CHECK(pos["market_value"] == "1100");
    CHECK(pos["lastday_price"] == "100");
    CHECK(pos["side"] == "long");
    CHECK(h.get("/v2/positions").size() == 1);

    // Notional buy: qty = notional / price, cost = notional.
    o = h.post("/v2/orders", json{{"symbol", "BBB"}, {"side", "buy"}, {"notional", "25.5"}, {"type", "market"},
                                  {"time_in_force", "day"}});
    CHECK(o["notional"] == "25.5");
    CHECK(o["qty"].is_null());
    CHECK(o["filled_qty"] == "0.51");

    // Sells beyond the holding and buys beyond the cash are refused.
    auto err = h.order("AAA", "sell", "11", "", 403);
    CHECK(err["code"] == 40310000);
    CHECK(err["message"] == "insufficient qty available for order (requested: 11, available: 10)");
    CHECK(err["available"] == "10");
    err = h.order("AAA", "buy", "1000", "", 403);
    CHECK(err["message"] == "insufficient buying power");
    CHECK(err["cost_basis"] == "110000");

    h.order("AAA", "sell", "10");
    h.get("/v2/positions/AAA", 404);
    CHECK(h.get("/v2/account")["cash"] == "99974.5");
}

TEST_CASE("order validation errors", "[fake][alpaca]") {
    Harness h;
    auto post_raw = [&](const std::string& body) { return h.call("POST", "/v2/orders", body); };
    auto r = post_raw("{not json");
    CHECK(r.status == 400);
    CHECK(json::parse(r.body) == json{{"code", 40010000}, {"message", "request body format is invalid"}});
    CHECK(post_raw("[1,2]").status == 400);

    const json good{{"symbol", "AAA"}, {"side", "buy"}, {"qty", "1"}, {"type", "market"}, {"time_in_force", "day"}};
    auto with = [&](const std::string& field, const json& value) {
        json b = good;
        if (value.is_null()) b.erase(field);
        else b[field] = value;
        const auto resp = post_raw(b.dump());
        INFO(field << " -> " << resp.body);
        return resp;
    };
    for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{
             {"symbol", nullptr}, {"side", "hold"}, {"side", nullptr}, {"type", "limit"}, {"time_in_force", "gtc"},
             {"qty", 1}, {"qty", "1e3"}, {"qty", "-1"}, {"qty", "0"}, {"qty", "0.0000000001"}, {"qty", nullptr},
             {"symbol", "ZZZ"}, {"extended_hours", true}, {"client_order_id", std::string(49, 'x')}}) {
        const auto resp = with(field, value);
        CHECK(resp.status == 422);
        CHECK(json::parse(resp.body)["code"] == 40010001);
    }
    // Both qty and notional: 400 (ALPACA.md).
    CHECK(with("notional", "10").status == 400);
    CHECK(with("client_order_id", std::string(48, 'x')).status == 200);
    CHECK(h.fake.stats().orders_submitted == 1);
}

TEST_CASE("duplicate client_order_id is refused forever", "[fake][alpaca]") {
    Harness h;
    h.post("/_fake/orders", json{{"mode", "delayed"}, {"polls", 5}});
    const auto o = h.order("AAA", "buy", "1", "dup-1");
    CHECK(o["status"] == "accepted");
    CHECK(h.call("DELETE", "/v2/orders/" + o["id"].get<std::string>()).status == 204);

    const auto err = h.order("AAA", "buy", "1", "dup-1", 422);
    CHECK(err == json{{"code", 40010001}, {"message", "client_order_id must be unique"}});
    h.order("BBB", "sell", "1", "dup-1", 422);
    CHECK(h.fake.stats().duplicate_client_order_ids_rejected == 2);
    CHECK(h.fake.stats().orders_submitted == 1);

    const auto stats = h.get("/_fake/stats");
    CHECK(stats["duplicate_client_order_ids_rejected"] == 2);
    CHECK(stats["orders_submitted"] == 1);
}

TEST_CASE("orders by id and by client_order_id", "[fake][alpaca]") {
    Harness h;
    const auto o = h.order("AAA", "buy", "2", "find-me");
    const auto id = o["id"].get<std::string>();
    CHECK(h.get("/v2/orders/" + id) == o);
    CHECK(h.get("/v2/orders:by_client_order_id?client_order_id=find-me") == o);
    CHECK(h.get("/v2/orders%3Aby_client_order_id?client_order_id=find-me")["id"] == id);
    CHECK(h.get("/v2/orders:by_client_order_id?client_order_id=nope", 404) ==
          json{{"code", 40410000}, {"message", "order not found"}});
    h.get("/v2/orders/00000000-0000-0000-0000-000000000000", 404);
    h.get("/v2/orders:by_client_order_id", 422);
    // A filled order cannot be canceled.
    const auto r = h.call("DELETE", "/v2/orders/" + id);
    CHECK(r.status == 422);
    CHECK(json::parse(r.body)["message"] == "order is already in \"filled\" state");
    CHECK(h.call("DELETE", "/v2/orders/unknown").status == 404);
}

TEST_CASE("delayed mode fills after N polls of that order", "[fake][alpaca]") {
    Harness h;
    h.post("/_fake/orders", json{{"mode", "delayed"}, {"polls", 2}});
    const auto o = h.order("AAA", "buy", "10", "slow-1");
    CHECK(o["status"] == "accepted");
    CHECK(o["filled_qty"] == "0");
    CHECK(o["filled_avg_price"].is_null());
    const auto id = o["id"].get<std::string>();
    CHECK(h.fake.cash() == core::Decimal::from_int(100000));
    // Buying power already reserves the open buy; listing orders is not a poll.
    CHECK(h.get("/v2/account")["buying_power"] == "98900");
    CHECK(h.get("/v2/orders").size() == 1);

    CHECK(h.get("/v2/orders/" + id)["status"] == "accepted");
    CHECK(h.get("/v2/orders:by_client_order_id?client_order_id=slow-1")["status"] == "accepted");
    const auto filled = h.get("/v2/orders/" + id);
    CHECK(filled["status"] == "filled");
    CHECK(filled["filled_qty"] == "10");
    CHECK(filled["filled_at"].is_string());
    CHECK(h.fake.cash() == core::Decimal::from_int(98900));
    CHECK(h.fake.position_qty("AAA") == core::Decimal::from_int(10));
}

TEST_CASE("partial mode stays partially_filled until canceled", "[fake][alpaca]") {
    Harness h;
    h.post("/_fake/orders", json{{"mode", "partial"}, {"fraction", 0.25}});
    const auto o = h.order("AAA", "buy", "10");
    CHECK(o["status"] == "partially_filled");
    CHECK(o["filled_qty"] == "2.5");
    const auto id = o["id"].get<std::string>();
    CHECK(h.get("/v2/orders/" + id)["status"] == "partially_filled");
    CHECK(h.get("/v2/orders?status=open").size() == 1);

    CHECK(h.call("DELETE", "/v2/orders/" + id).status == 204);
    const auto canceled = h.get("/v2/orders/" + id);
    CHECK(canceled["status"] == "canceled");
    CHECK(canceled["filled_qty"] == "2.5");
    CHECK(canceled["canceled_at"].is_string());
    CHECK(h.call("DELETE", "/v2/orders/" + id).status == 422);
    CHECK(h.fake.position_qty("AAA") == core::Decimal::parse("2.5"));
    CHECK(h.get("/v2/orders?status=closed").size() == 1);
    CHECK(h.get("/v2/orders?status=open").empty());
}

TEST_CASE("reject mode answers 200 with status rejected", "[fake][alpaca]") {
    Harness h;
    h.post("/_fake/orders", json{{"mode", "reject"}});
    const auto o = h.order("AAA", "buy", "1");
    CHECK(o["status"] == "rejected");
    CHECK(o["failed_at"].is_string());
    CHECK(h.fake.cash() == core::Decimal::from_int(100000));
    h.post("/_fake/orders", json{{"mode", "sideways"}}, 400);
    h.post("/_fake/orders", json{{"mode", "partial"}, {"fraction", 1.5}}, 400);
}

TEST_CASE("order lists and cancel all", "[fake][alpaca]") {
    Harness h;
    h.order("AAA", "buy", "1", "c1");
    h.post("/_fake/orders", json{{"mode", "delayed"}, {"polls", 9}});
    h.order("AAA", "buy", "1", "c2");
    h.order("BBB", "buy", "1", "c3");
    CHECK(h.get("/v2/orders").size() == 2);
    CHECK(h.get("/v2/orders?status=all").size() == 3);
    CHECK(h.get("/v2/orders?status=all")[0]["client_order_id"] == "c3");  // newest first
    CHECK(h.get("/v2/orders?status=all&direction=asc")[0]["client_order_id"] == "c1");
    CHECK(h.get("/v2/orders?status=all&limit=1").size() == 1);
    CHECK(h.get("/v2/orders?status=all&symbols=BBB").size() == 1);
    CHECK(h.get("/v2/orders?status=closed").size() == 1);
    h.get("/v2/orders?status=bogus", 422);
    h.get("/v2/orders?limit=501", 422);

    const auto r = h.call("DELETE", "/v2/orders");
    CHECK(r.status == 207);
    const auto arr = json::parse(r.body);
    REQUIRE(arr.size() == 2);
    CHECK(arr[0]["status"] == 200);
    CHECK(arr[0]["body"]["status"] == "canceled");
    CHECK(h.get("/v2/orders").empty());
    CHECK(h.call("PUT", "/v2/orders").status == 405);
    CHECK(h.call("GET", "/v2/nothing").status == 404);
}

TEST_CASE("clock, calendar and assets", "[fake][alpaca]") {
    Harness h;  // now = 2024-03-06 11:00 New York (EST)
    auto clock = h.get("/v2/clock");
    CHECK(clock["timestamp"] == "2024-03-06T11:00:00-05:00");
    CHECK(clock["is_open"] == true);
    CHECK(clock["next_open"] == "2024-03-07T09:30:00-05:00");
    CHECK(clock["next_close"] == "2024-03-06T16:00:00-05:00");

    h.post("/_fake/today", json{{"date", "2024-03-08"}, {"time", "17:00"}});  // past the data: NYSE calendar
    CHECK(h.fake.today() == *Date::parse("2024-03-08"));
    clock = h.get("/v2/clock");
    CHECK(clock["is_open"] == false);
    CHECK(clock["timestamp"] == "2024-03-08T17:00:00-05:00");
    CHECK(clock["next_open"] == "2024-03-11T09:30:00-04:00");  // DST began on 2024-03-10
    h.post("/_fake/today", json{{"date", "2024-3-8"}}, 400);

    const auto cal = h.get("/v2/calendar?start=2024-03-05&end=2024-03-06");
    REQUIRE(cal.size() == 2);
    CHECK(cal[0]["date"] == "2024-03-05");
    CHECK(cal[0]["open"] == "09:30");
    CHECK(cal[0]["close"] == "16:00");
    CHECK(h.get("/v2/calendar?start=2024-03-01&end=2024-03-11").size() == 6);  // 4-7 from data, 8 and 11 from NYSE
    h.get("/v2/calendar?start=yesterday", 422);

    const auto asset = h.get("/v2/assets/AAA");
    CHECK(asset["symbol"] == "AAA");
    CHECK(asset["tradable"] == true);
    CHECK(asset["fractionable"] == true);
    CHECK(asset["status"] == "active");
    h.get("/v2/assets/ZZZ", 404);
}

TEST_CASE("bars paginate across symbols exactly like the CSV files", "[fake][alpaca]") {
    auto data = fake::load_data_dir(BALLAST_DATA_DIR);
    REQUIRE(data.ok());
    fake::FakeConfig config;
    config.rate_limit_per_minute = 0;
    Harness h(config, data.value());
    CHECK(h.fake.today() == *Date::parse("2025-03-07"));

    const std::vector<std::string> symbols{"GLD", "TLT", "VTI"};
    std::map<std::string, std::vector<json>> got;
    std::string token;
    int pages = 0;
    std::string last_symbol;
    for (;;) {
        std::string target = "/v2/stocks/bars?symbols=VTI,TLT,GLD,NOPE&timeframe=1Day&start=2024-01-01T00:00:00Z"
                             "&end=2024-03-31T23:59:59-04:00&limit=7&adjustment=raw&feed=iex";
        if (!token.empty()) target += "&page_token=" + token;
        const auto page = h.get(target);
        ++pages;
        std::size_t n = 0;
        for (const auto& [symbol, bars] : page["bars"].items()) {
            CHECK(symbol >= last_symbol);  // ordered by symbol, then time
            last_symbol = symbol;
            for (const auto& b : bars) got[symbol].push_back(b);
            n += bars.size();
        }
        CHECK(n <= 7);
        if (page["next_page_token"].is_null()) break;
        CHECK(n == 7);
        token = page["next_page_token"].get<std::string>();
        REQUIRE(pages < 100);
    }
    CHECK(got.count("NOPE") == 0);
    std::size_t total = 0;
    for (const auto& symbol : symbols) {
        auto csv = broker::read_yahoo_csv(std::string(BALLAST_DATA_DIR) + "/" + symbol + ".csv", symbol);
        REQUIRE(csv.ok());
        std::vector<core::Bar> expected;
        for (const auto& b : csv.value())
            if (b.date >= *Date::parse("2024-01-01") && b.date <= *Date::parse("2024-03-31")) expected.push_back(b);
        REQUIRE(got[symbol].size() == expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) {
            const auto& b = got[symbol][i];
            CHECK(b["t"] == core::format_utc(core::ny_to_utc(expected[i].date, core::TimeOfDay{0})));
            CHECK(b["o"].get<double>() == expected[i].open);
            CHECK(b["h"].get<double>() == expected[i].high);
            CHECK(b["l"].get<double>() == expected[i].low);
            CHECK(b["c"].get<double>() == expected[i].close);
            CHECK(b["v"].get<double>() == expected[i].volume);
            CHECK(b["n"].is_number_integer());
            CHECK(b["vw"].is_number());
        }
        total += expected.size();
    }
    CHECK(pages == static_cast<int>((total + 6) / 7));
    CHECK(got["VTI"].front()["t"] == "2024-01-02T05:00:00Z");  // winter
    CHECK(got["VTI"].back()["t"] == "2024-03-28T04:00:00Z");   // summer

    // An exact multiple of the limit ends with a null token, not an empty page.
    const auto one = h.get("/v2/stocks/bars?symbols=VTI&timeframe=1Day&start=2024-01-02&end=2024-01-02&limit=1");
    CHECK(one["bars"]["VTI"].size() == 1);
    CHECK(one["next_page_token"].is_null());
    CHECK(h.get("/v2/stocks/bars?symbols=NOPE&timeframe=1Day") == json{{"bars", json::object()}, {"next_page_token", nullptr}});
    h.get("/v2/stocks/bars?symbols=VTI&timeframe=1Min", 422);
    h.get("/v2/stocks/bars?symbols=VTI&timeframe=1Day&limit=0", 422);
    h.get("/v2/stocks/bars?symbols=VTI&timeframe=1Day&start=2024-13-01", 422);
    h.get("/v2/stocks/bars?symbols=VTI&timeframe=1Day&page_token=%21%21", 422);
    h.get("/v2/stocks/bars?timeframe=1Day", 422);
}

TEST_CASE("bars, quotes and trades stop at the market date", "[fake][alpaca]") {
    Harness h;
    auto page = h.get("/v2/stocks/bars?symbols=AAA&timeframe=1Day");
    REQUIRE(page["bars"]["AAA"].size() == 3);  // 2024-03-07 is after the market date
    CHECK(page["bars"]["AAA"][2]["c"] == 110);
    const auto quotes = h.get("/v2/stocks/quotes/latest?symbols=AAA,BBB,ZZZ");
    CHECK(quotes["quotes"]["AAA"]["ap"] == 110);
    CHECK(quotes["quotes"]["BBB"]["bp"] == 50);
    CHECK_FALSE(quotes["quotes"].contains("ZZZ"));
    const auto trades = h.get("/v2/stocks/trades/latest?symbols=AAA");
    CHECK(trades["trades"]["AAA"]["p"] == 110);
    CHECK(trades["trades"]["AAA"]["t"] == "2024-03-06T21:00:00Z");

    h.post("/_fake/today", json{{"date", "2024-03-07"}});
    CHECK(h.get("/v2/stocks/trades/latest?symbols=AAA")["trades"]["AAA"]["p"] == 500);
    CHECK(h.order("AAA", "buy", "1")["filled_avg_price"] == "500");
}

TEST_CASE("rate limit: sliding 60 s window per key", "[fake][alpaca]") {
    auto config = Harness::default_config();
    config.rate_limit_per_minute = 3;
    Harness h(config);
    const auto t0 = h.now;
    for (int i = 0; i < 3; ++i) {
        h.now = t0 + seconds(i * 10);
        const auto r = h.call("GET", "/v2/clock");
        REQUIRE(r.status == 200);
        CHECK(*r.header("X-Ratelimit-Remaining") == std::to_string(2 - i));
    }
    h.now = t0 + seconds(59);
    auto r = h.call("GET", "/v2/clock");
    CHECK(r.status == 429);
    CHECK(json::parse(r.body) == json{{"code", 42910000}, {"message", "rate limit exceeded"}});
    CHECK(*r.header("Retry-After") == "1");
    CHECK(*r.header("X-Ratelimit-Limit") == "3");
    CHECK(*r.header("X-Ratelimit-Remaining") == "0");
    const auto reset = std::chrono::duration_cast<seconds>((t0 + seconds(60)).time_since_epoch()).count();
    CHECK(*r.header("X-Ratelimit-Reset") == std::to_string(reset));

    h.now = t0 + seconds(60);  // the first request left the window
    CHECK(h.call("GET", "/v2/clock").status == 200);
    CHECK(h.call("GET", "/v2/clock").status == 429);
    CHECK(h.fake.stats().max_requests_in_any_60s_window == 5);  // 429s count as received requests
    CHECK(h.call("GET", "/_fake/stats", "", false).status == 200);  // control: no auth, no limit
}

TEST_CASE("fault queue: matching, counts and actions", "[fake][alpaca]") {
    Harness h;
    h.post("/_fake/faults", json{{"method", "GET"}, {"path", "/v2/account"}, {"count", 2}, {"action", "status"},
                                 {"status", 503}});
    CHECK(h.fake.faults_pending() == 2);
    CHECK(h.call("GET", "/v2/clock").status == 200);     // other path
    CHECK(h.call("POST", "/v2/account").status == 405);  // other method
    auto r = h.call("GET", "/v2/account?x=1");
    CHECK(r.status == 503);
    CHECK(json::parse(r.body)["code"] == 50310000);
    CHECK(h.call("GET", "/v2/account").status == 503);
    CHECK(h.call("GET", "/v2/account").status == 200);
    CHECK(h.fake.faults_pending() == 0);

    h.post("/_fake/faults", json::array({json{{"path", "*"}, {"action", "timeout"}},
                                         json{{"path", "*"}, {"action", "reset"}},
                                         json{{"path", "*"}, {"action", "slow"}, {"delay_ms", 250}},
                                         json{{"path", "*"}, {"action", "malformed"}},
                                         json{{"path", "/v2/orders"}, {"action", "truncate"}}}));
    CHECK(h.get("/_fake/stats")["faults_pending"] == 5);
    CHECK(h.call("GET", "/v2/clock").delivery == fake::Delivery::timeout);
    CHECK(h.call("GET", "/v2/clock").delivery == fake::Delivery::reset);
    r = h.call("GET", "/v2/clock");
    CHECK(r.delivery == fake::Delivery::slow);
    CHECK(r.delay_ms == 250);
    CHECK(json::parse(r.body)["is_open"] == true);
    r = h.call("GET", "/v2/account");
    CHECK(r.status == 200);
    CHECK(json::parse(r.body, nullptr, false).is_discarded());
    // A truncated order answer still places the order: the client must reconcile.
    json body{{"symbol", "AAA"}, {"side", "buy"}, {"qty", "1"}, {"type", "market"}, {"time_in_force", "day"},
              {"client_order_id", "lost-answer"}};
    r = h.call("POST", "/v2/orders", body.dump());
    CHECK(r.delivery == fake::Delivery::truncate);
    CHECK(h.get("/v2/orders:by_client_order_id?client_order_id=lost-answer")["status"] == "filled");
    CHECK(h.fake.faults_pending() == 0);

    // A reset (by default) never reaches the fake; apply=true makes it place the order.
    h.post("/_fake/faults", json{{"method", "POST"}, {"path", "/v2/orders"}, {"action", "reset"}});
    body["client_order_id"] = "never-seen";
    CHECK(h.call("POST", "/v2/orders", body.dump()).delivery == fake::Delivery::reset);
    h.get("/v2/orders:by_client_order_id?client_order_id=never-seen", 404);
    h.post("/_fake/faults", json{{"path", "/v2/orders"}, {"action", "status"}, {"status", 500}, {"apply", true}});
    body["client_order_id"] = "placed-anyway";
    CHECK(h.call("POST", "/v2/orders", body.dump()).status == 500);
    CHECK(h.get("/v2/orders:by_client_order_id?client_order_id=placed-anyway")["status"] == "filled");

    // Bad control bodies are precise 400s; DELETE clears the queue.
    h.post("/_fake/faults", json{{"path", "/v2/account"}, {"action", "explode"}}, 400);
    h.post("/_fake/faults", json{{"path", "v2/account"}, {"action", "reset"}}, 400);
    h.post("/_fake/faults", json{{"path", "*"}, {"action", "reset"}, {"count", 0}}, 400);
    h.post("/_fake/faults", json{{"path", "*"}, {"action", "reset"}, {"count", 3}});
    CHECK(h.call("DELETE", "/_fake/faults").status == 200);
    CHECK(h.fake.faults_pending() == 0);
}

TEST_CASE("stats count requests by path and reset", "[fake][alpaca]") {
    Harness h;
    h.get("/v2/clock");
    h.get("/v2/clock?x=1");
    h.get("/v2/account");
    auto stats = h.get("/_fake/stats");
    CHECK(stats["requests_total"] == 3);
    CHECK(stats["requests_by_path"]["/v2/clock"] == 2);
    CHECK(stats["max_requests_in_any_60s_window"] == 3);
    h.post("/_fake/reset_stats", json::object());
    stats = h.get("/_fake/stats");
    CHECK(stats["requests_total"] == 0);
    CHECK(stats["requests_by_path"] == json::object());
    h.get("/_fake/nothing", 404);
}

// ---- socket level -------------------------------------------------------------------

namespace {

std::string run_capture(const std::string& cmd) {
    std::string out;
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (!pipe) return out;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, pipe)) out += buf;
    ::pclose(pipe);
    return out;
}

}  // namespace

TEST_CASE("the real binary serves HTTPS and stops on SIGTERM", "[fake][alpaca][process]") {
    test::TempDir dir;
    const auto cert = dir / "cert.pem";
    const auto key = dir / "key.pem";
    const std::string make_cert = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                                  "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
                                  key.string() + "' -out '" + cert.string() + "' >/dev/null 2>&1";
    REQUIRE(std::system(make_cert.c_str()) == 0);

    int out_pipe[2];
    REQUIRE(::pipe(out_pipe) == 0);
    const std::string err_log = (dir / "stderr.log").string();
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(out_pipe[1], 1);
        const int err = ::open(err_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (err >= 0) ::dup2(err, 2);
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        ::execl(BALLAST_FAKE_ALPACA_BINARY, "ballast-fake-alpaca", "--cert", cert.c_str(), "--key", key.c_str(),
                "--port", "0", "--data-dir", BALLAST_DATA_DIR, "--key-id", "smoke-key", "--secret", "smoke-secret",
                "--ready-file", (dir / "ready").c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(out_pipe[1]);
    std::string line;
    char c = 0;
    while (::read(out_pipe[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out_pipe[0]);
    INFO("first line: " << line << "\nstderr: " << test::read_bytes(err_log));
    REQUIRE(line.rfind("listening on 127.0.0.1:", 0) == 0);
    const std::string port = line.substr(std::string("listening on 127.0.0.1:").size());
    CHECK(test::read_bytes(dir / "ready") == port + "\n");

    if (std::system("command -v curl >/dev/null 2>&1") == 0) {
        const std::string base = "curl -sS --max-time 20 --cacert '" + cert.string() + "' ";
        const auto body = run_capture(base + "-H 'APCA-API-KEY-ID: smoke-key' -H 'APCA-API-SECRET-KEY: smoke-secret' "
                                             "https://localhost:" + port + "/v2/account");
        INFO("body: " << body);
        const auto account = json::parse(body, nullptr, false);
        REQUIRE_FALSE(account.is_discarded());
        CHECK(account["status"] == "ACTIVE");
        CHECK(account["cash"] == "100000");
        // Host-name verification holds for the IP SAN too; a wrong key is a 401.
        const auto code = run_capture(base + "-o /dev/null -w '%{http_code}' -H 'APCA-API-KEY-ID: x' "
                                             "-H 'APCA-API-SECRET-KEY: y' https://127.0.0.1:" + port + "/v2/account");
        CHECK(code == "401");
    } else {
        WARN("curl not installed: only the start-up and shutdown were checked");
    }

    REQUIRE(::kill(pid, SIGTERM) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    const auto log = test::read_bytes(err_log);
    CHECK(log.find("GET /v2/account -> 200") != std::string::npos);
    CHECK(log.find("smoke-secret") == std::string::npos);
    CHECK(log.find("smoke-key") == std::string::npos);
}
