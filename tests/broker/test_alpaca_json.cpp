#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "broker/alpaca_json.hpp"

using namespace ballast;
using namespace ballast::broker::alpaca;
using broker::BrokerError;
using core::Date;
using core::Decimal;

namespace {

const std::filesystem::path kDir = std::filesystem::path{BALLAST_TEST_DATA_DIR} / "alpaca";

std::string sample(const std::string& name) {
    std::ifstream in(kDir / name, std::ios::binary);
    REQUIRE(in);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Decimal dec(const char* s) { return Decimal::parse(s).value(); }

core::Timestamp utc(const char* date, int h, int m, int s) {
    return core::Timestamp{std::chrono::days{Date::parse(date).value().days()}} + std::chrono::hours{h} +
           std::chrono::minutes{m} + std::chrono::seconds{s};
}

// Replaces the first occurrence of `from` (which must exist).
std::string replace(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

// Runs a parser and reports only ok / the error, so that every parser fits one table.
using Check = std::function<std::optional<BrokerError>(std::string_view endpoint, std::string_view body)>;
template <class F>
Check check_of(F parse) {
    return [parse](std::string_view ep, std::string_view body) -> std::optional<BrokerError> {
        auto r = parse(ep, body);
        if (r) return std::nullopt;
        return r.error();
    };
}

struct Sample {
    const char* file;
    const char* endpoint;
    Check check;
};

const std::vector<Sample>& samples() {
    static const std::vector<Sample> table = {
        {"account.json", "GET /v2/account", check_of(parse_account)},
        {"asset_AAPL.json", "GET /v2/assets/AAPL", check_of(parse_asset)},
        {"bars_AAPL_with_next_page_token.json", "GET /v2/stocks/bars", check_of(parse_bars_page)},
        {"bars_empty.json", "GET /v2/stocks/bars", check_of(parse_bars_page)},
        {"bars_multi_AAPL_TSLA.json", "GET /v2/stocks/bars", check_of(parse_bars_page)},
        {"calendar.json", "GET /v2/calendar", check_of(parse_calendar)},
        {"cancel_all_orders_207.json", "DELETE /v2/orders", check_of(parse_multi_status)},
        {"clock.json", "GET /v2/clock", check_of(parse_clock)},
        {"close_all_positions_207.json", "DELETE /v2/positions", check_of(parse_multi_status)},
        {"order_by_client_order_id.json", "GET /v2/orders:by_client_order_id", check_of(parse_order)},
        {"order_post_market_accepted.json", "POST /v2/orders", check_of(parse_order)},
        {"orders_list.json", "GET /v2/orders", check_of(parse_orders)},
        {"position_AAPL.json", "GET /v2/positions/AAPL", check_of(parse_position)},
        {"positions_list.json", "GET /v2/positions", check_of(parse_positions)},
        {"quotes_latest_AAPL.json", "GET /v2/stocks/quotes/latest", check_of(parse_latest_quotes)},
        {"snapshots_AAPL.json", "GET /v2/stocks/snapshots", check_of(parse_snapshots)},
        {"trades_latest_AAPL_TSLA.json", "GET /v2/stocks/trades/latest", check_of(parse_latest_trades)},
    };
    return table;
}

// Error bodies are read by the lenient parse_error, which has no failure to check.
const std::set<std::string> kErrorBodies = {
    "error_401_not_authorized.json", "error_403_insufficient_buying_power.json", "error_403_insufficient_qty.json",
    "error_404_order_not_found.json", "error_422_order_id_missing.json"};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Asserts a bad_payload naming the endpoint and every given part.
void require_error(const std::optional<BrokerError>& e, const std::string& endpoint,
                   const std::vector<std::string>& parts) {
    REQUIRE(e.has_value());
    INFO(e->message);
    CHECK(e->kind == BrokerError::Kind::bad_payload);
    CHECK(e->message.rfind(endpoint + ": ", 0) == 0);
    for (const auto& p : parts) CHECK(contains(e->message, p));
}

}  // namespace

TEST_CASE("every sample body parses with its parser", "[broker][alpaca]") {
    std::set<std::string> covered = kErrorBodies;
    for (const auto& s : samples()) {
        INFO(s.file);
        const auto e = s.check(s.endpoint, sample(s.file));
        INFO((e ? e->message : std::string{"ok"}));
        CHECK_FALSE(e.has_value());
        covered.insert(s.file);
    }
    // A new sample file must be added to the table.
    for (const auto& entry : std::filesystem::directory_iterator(kDir)) {
        const auto name = entry.path().filename().string();
        if (entry.path().extension() != ".json") continue;
        INFO(name);
        CHECK(covered.count(name) == 1);
    }
}

TEST_CASE("account sample values are exact", "[broker][alpaca]") {
    const auto r = parse_account("GET /v2/account", sample("account.json"));
    REQUIRE(r);
    const Account& a = r.value();
    CHECK(a.equity.to_string() == "103820.56");
    CHECK(a.last_equity == dec("103529.24"));
    CHECK(a.cash == dec("-23140.2"));
    CHECK(a.buying_power == dec("262113.632"));
    REQUIRE(a.non_marginable_buying_power);
    CHECK(*a.non_marginable_buying_power == dec("98945.02"));
    CHECK(a.status == "ACTIVE");
    CHECK(a.currency == "USD");
    CHECK_FALSE(a.trading_blocked);
    CHECK_FALSE(a.account_blocked);
    CHECK_FALSE(a.trade_suspended_by_user);
    CHECK_FALSE(a.pattern_day_trader);
}

TEST_CASE("position samples", "[broker][alpaca]") {
    const auto one = parse_position("GET /v2/positions/AAPL", sample("position_AAPL.json"));
    REQUIRE(one);
    CHECK(one.value().symbol == "AAPL");
    CHECK(one.value().qty == dec("5"));
    CHECK_FALSE(one.value().qty_available);
    CHECK(one.value().side == "long");
    CHECK(one.value().market_value == dec("600"));
    CHECK(one.value().avg_entry_price == dec("100"));
    CHECK(one.value().current_price == dec("120"));
    CHECK(one.value().lastday_price == dec("119"));

    const auto list = parse_positions("GET /v2/positions", sample("positions_list.json"));
    REQUIRE(list);
    REQUIRE(list.value().size() == 1);
    CHECK(list.value()[0].symbol == "AAPL");
    CHECK(parse_positions("GET /v2/positions", "[]").value().empty());
}

TEST_CASE("order samples and the update view", "[broker][alpaca]") {
    const auto r = parse_order("POST /v2/orders", sample("order_post_market_accepted.json"));
    REQUIRE(r);
    const Order& o = r.value();
    CHECK(o.id == "61e69015-8549-4bfd-b9c3-01e75843f47d");
    CHECK(o.client_order_id == "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4");
    CHECK(o.status == "accepted");
    CHECK(o.qty == dec("1"));  // a number in this mock
    CHECK_FALSE(o.notional);
    CHECK(o.filled_qty.is_zero());
    CHECK_FALSE(o.filled_avg_price);
    CHECK(o.commission == dec("1.25"));
    CHECK(o.side == "buy");
    CHECK(o.type == "market");
    CHECK(o.time_in_force == "day");
    CHECK(o.submitted_at == std::optional<std::string>{"2021-03-16T18:38:01.937734Z"});
    CHECK_FALSE(o.filled_at);
    CHECK_FALSE(is_terminal(o.status));

    const broker::OrderUpdate u = to_update(o);
    CHECK(u.broker_order_id == o.id);
    CHECK(u.client_order_id == o.client_order_id);
    CHECK(u.status == "accepted");
    CHECK(u.commission == dec("1.25"));
    CHECK(u.updated_at == "2021-03-16T18:38:01Z");

    const auto list = parse_orders("GET /v2/orders", sample("orders_list.json"));
    REQUIRE(list);
    REQUIRE(list.value().size() == 1);
    CHECK(list.value()[0].status == "new");
    CHECK(list.value()[0].type == "stop");
    CHECK(list.value()[0].filled_avg_price == dec("0"));
    CHECK(list.value()[0].filled_at == std::optional<std::string>{"2019-08-24T14:15:22Z"});
}

TEST_CASE("terminal order statuses", "[broker][alpaca]") {
    for (const char* s : {"filled", "canceled", "expired", "rejected", "replaced"}) CHECK(is_terminal(s));
    for (const char* s : {"new", "accepted", "pending_new", "partially_filled", "done_for_day", "pending_cancel",
                          "pending_replace", "stopped", "suspended", "calculated", "held", ""})
        CHECK_FALSE(is_terminal(s));
}

TEST_CASE("to_update takes the latest time Alpaca gives and defaults commission", "[broker][alpaca]") {
    Order o;
    o.id = "b";
    o.client_order_id = "c";
    o.status = "filled";
    o.filled_qty = dec("3");
    o.filled_avg_price = dec("10.5");
    o.created_at = "2022-05-16T13:00:00Z";
    o.filled_at = "2022-05-16T09:30:01.5-04:00";
    const auto u = to_update(o);
    CHECK(u.updated_at == "2022-05-16T13:30:01Z");
    CHECK(u.commission.is_zero());
    CHECK(u.filled_qty == dec("3"));
    CHECK(u.filled_avg_price == dec("10.5"));
    CHECK(to_update(Order{}).updated_at.empty());
}

TEST_CASE("clock sample converts offsets to UTC", "[broker][alpaca]") {
    const auto r = parse_clock("GET /v2/clock", sample("clock.json"));
    REQUIRE(r);
    CHECK(r.value().timestamp == utc("2022-05-16", 20, 32, 24));
    CHECK_FALSE(r.value().is_open);
    CHECK(r.value().next_open == utc("2022-05-17", 13, 30, 0));
    CHECK(r.value().next_close == utc("2022-05-17", 20, 0, 0));
}

TEST_CASE("calendar sample", "[broker][alpaca]") {
    const auto r = parse_calendar("GET /v2/calendar", sample("calendar.json"));
    REQUIRE(r);
    REQUIRE(r.value().size() == 2);
    const CalendarDay& d = r.value()[0];
    CHECK(d.date == Date::from_ymd(2022, 5, 16));
    CHECK(d.open.minutes == 9 * 60 + 30);
    CHECK(d.close.minutes == 16 * 60);
    REQUIRE(d.session_open);
    CHECK(d.session_open->minutes == 4 * 60);
    CHECK(d.session_close->minutes == 20 * 60);

    const auto early = parse_calendar("GET /v2/calendar", R"([{"date":"2022-11-25","open":"09:30","close":"13:00"}])");
    REQUIRE(early);
    CHECK(early.value()[0].close.minutes == 13 * 60);
    CHECK_FALSE(early.value()[0].session_open);

    const auto bad = parse_calendar("GET /v2/calendar", R"([{"date":"2022-11-25","open":"09:30","close":"1300"}])");
    require_error(bad ? std::nullopt : std::optional{bad.error()}, "GET /v2/calendar",
                  {"calendar[0].close", "\"1300\"", "HH:MM"});
    const auto bad_date = parse_calendar("GET /v2/calendar", R"([{"date":"2022-02-30","open":"09:30","close":"16:00"}])");
    require_error(bad_date ? std::nullopt : std::optional{bad_date.error()}, "GET /v2/calendar",
                  {"calendar[0].date", "2022-02-30"});
}

TEST_CASE("asset sample", "[broker][alpaca]") {
    const auto r = parse_asset("GET /v2/assets/AAPL", sample("asset_AAPL.json"));
    REQUIRE(r);
    CHECK(r.value().symbol == "AAPL");
    CHECK(r.value().tradable);
    CHECK(r.value().fractionable);
    CHECK(r.value().status == "active");
}

TEST_CASE("bars pages", "[broker][alpaca]") {
    const auto page = parse_bars_page("GET /v2/stocks/bars", sample("bars_AAPL_with_next_page_token.json"));
    REQUIRE(page);
    REQUIRE(page.value().bars.size() == 2);
    CHECK(page.value().next_page_token == std::optional<std::string>{"QUFQTHxEfDIwMjItMDItMDJUMDU6MDA6MDAuMDAwMDAwMDAwWg=="});
    const core::Bar& b = page.value().bars[0];
    CHECK(b.symbol == "AAPL");
    CHECK(b.date == Date::from_ymd(2022, 2, 1));
    CHECK(b.open == 174.0);
    CHECK(b.high == 174.84);
    CHECK(b.low == 172.31);
    CHECK(b.close == 174.61);
    CHECK(b.adj_close == b.close);
    CHECK(b.volume == 85998033.0);
    CHECK(page.value().bars[1].date == Date::from_ymd(2022, 2, 2));

    const auto multi = parse_bars_page("GET /v2/stocks/bars", sample("bars_multi_AAPL_TSLA.json"));
    REQUIRE(multi);
    REQUIRE(multi.value().bars.size() == 2);
    CHECK(multi.value().bars[0].symbol == "AAPL");
    CHECK(multi.value().bars[1].symbol == "TSLA");
    CHECK(multi.value().bars[1].close == 858.97);
    CHECK_FALSE(multi.value().next_page_token);

    for (const char* body : {R"({"bars": {}, "next_page_token": null})", R"({"bars": null, "next_page_token": null})",
                             R"({"bars": {"AAPL": null}})", R"({"bars": {}, "next_page_token": ""})"}) {
        INFO(body);
        const auto empty = parse_bars_page("GET /v2/stocks/bars", body);
        REQUIRE(empty);
        CHECK(empty.value().bars.empty());
        CHECK_FALSE(empty.value().next_page_token);
    }
    const auto empty = parse_bars_page("GET /v2/stocks/bars", sample("bars_empty.json"));
    REQUIRE(empty);
    CHECK(empty.value().bars.empty());
}

TEST_CASE("daily bar date is the New York date of t", "[broker][alpaca]") {
    struct Row {
        const char* t;
        const char* date;
    };
    for (const Row& row : std::vector<Row>{
             {"2022-01-03T05:00:00Z", "2022-01-03"},  // winter: EST midnight
             {"2022-07-01T04:00:00Z", "2022-07-01"},  // summer: EDT midnight
             {"2022-03-14T04:00:00Z", "2022-03-14"},  // first Monday after spring-forward
             {"2022-11-07T05:00:00Z", "2022-11-07"},  // first Monday after fall-back
             {"2022-07-01T00:00:00-04:00", "2022-07-01"},
             {"2022-07-01T03:59:59Z", "2022-06-30"},
         }) {
        INFO(row.t);
        const std::string body = std::string{R"({"bars":{"SPY":[{"t":")"} + row.t +
                                 R"(","o":1,"h":2,"l":0.5,"c":1.5,"v":100,"n":1,"vw":1.2}]},"next_page_token":null})";
        const auto r = parse_bars_page("GET /v2/stocks/bars", body);
        REQUIRE(r);
        REQUIRE(r.value().bars.size() == 1);
        CHECK(r.value().bars[0].date == Date::parse(row.date).value());
    }
}

TEST_CASE("latest quotes and trades and snapshots", "[broker][alpaca]") {
    const auto q = parse_latest_quotes("GET /v2/stocks/quotes/latest", sample("quotes_latest_AAPL.json"));
    REQUIRE(q);
    REQUIRE(q.value().count("AAPL") == 1);
    const Quote& quote = q.value().at("AAPL");
    CHECK(quote.ask_price == dec("161.11"));
    CHECK(quote.ask_size == dec("13"));
    CHECK(quote.bid_price == dec("161.1"));
    CHECK(quote.bid_size == dec("2"));
    CHECK(quote.time == utc("2022-03-18", 14, 2, 43));

    const auto t = parse_latest_trades("GET /v2/stocks/trades/latest", sample("trades_latest_AAPL_TSLA.json"));
    REQUIRE(t);
    REQUIRE(t.value().size() == 2);
    CHECK(t.value().at("AAPL").price == dec("161.2958"));
    CHECK(t.value().at("TSLA").price == dec("720.19"));
    CHECK(t.value().at("TSLA").size == dec("100"));
    CHECK(t.value().at("TSLA").time == utc("2022-07-15", 19, 59, 59));

    CHECK(parse_latest_quotes("GET /v2/stocks/quotes/latest", R"({"quotes":{}})").value().empty());
    CHECK(parse_latest_trades("GET /v2/stocks/trades/latest", R"({"trades":null})").value().empty());

    const auto s = parse_snapshots("GET /v2/stocks/snapshots", sample("snapshots_AAPL.json"));
    REQUIRE(s);
    const Snapshot& snap = s.value().at("AAPL");
    REQUIRE(snap.latest_trade);
    CHECK(snap.latest_trade->price == dec("161.1998"));
    REQUIRE(snap.latest_quote);
    CHECK(snap.latest_quote->bid_price == dec("161.19"));
    REQUIRE(snap.daily_bar);
    CHECK(snap.daily_bar->date == Date::from_ymd(2022, 3, 18));
    REQUIRE(snap.prev_daily_bar);
    CHECK(snap.prev_daily_bar->date == Date::from_ymd(2022, 3, 17));
    CHECK(snap.prev_daily_bar->close == 160.62);
}

TEST_CASE("multi-status answers", "[broker][alpaca]") {
    const auto c = parse_multi_status("DELETE /v2/orders", sample("cancel_all_orders_207.json"));
    REQUIRE(c);
    REQUIRE(c.value().size() == 2);
    CHECK(c.value()[0].id == std::optional<std::string>{"497f6eca-6276-4993-bfeb-53cbbbba6f08"});
    CHECK(c.value()[0].status == 200);
    CHECK_FALSE(c.value()[0].order);
    CHECK_FALSE(c.value()[0].error);
    CHECK(c.value()[1].status == 404);
    REQUIRE(c.value()[1].error);
    CHECK(c.value()[1].error->code == 40410000);
    CHECK(c.value()[1].error->message == "order not found");

    const auto p = parse_multi_status("DELETE /v2/positions", sample("close_all_positions_207.json"));
    REQUIRE(p);
    REQUIRE(p.value().size() == 3);
    CHECK(p.value()[0].symbol == std::optional<std::string>{"BTCUSD"});
    REQUIRE(p.value()[0].order);
    CHECK(p.value()[0].order->qty == dec("0.0283"));
    CHECK(p.value()[0].order->status == "pending_new");
    REQUIRE(p.value()[1].error);
    CHECK(p.value()[1].error->code == 40310000);
    CHECK(contains(p.value()[1].error->message, "insufficient qty"));
    CHECK(p.value()[2].error->message == "account is not allowed to short");
}

TEST_CASE("error bodies are read leniently", "[broker][alpaca]") {
    struct Row {
        std::string body;
        long long code;
        std::string message;
    };
    const std::string junk_long(500, 'x');
    for (const Row& row : std::vector<Row>{
             {sample("error_401_not_authorized.json"), 40110000, "request is not authorized"},
             {sample("error_403_insufficient_buying_power.json"), 40310000, "insufficient buying power"},
             {sample("error_403_insufficient_qty.json"), 40310000,
              "insufficient qty available for order (requested: 1000, available: 0)"},
             {sample("error_404_order_not_found.json"), 40410000, "order not found"},
             {sample("error_422_order_id_missing.json"), 40010001, "order_id is missing"},
             {R"({"message":"forbidden."})", 0, "forbidden."},
             {R"({"code":"x","message":"m"})", 0, "m"},
             {R"({"code":42910000})", 42910000, R"({"code":42910000})"},
             {"<html>502 Bad Gateway</html>\r\n", 0, "<html>502 Bad Gateway</html>??"},
             {"", 0, "(empty body)"},
             {"null", 0, "null"},
             {std::string{"\x01\xff{"}, 0, "??{"},
             {junk_long, 0, std::string(200, 'x') + "..."},
         }) {
        INFO(row.body);
        const ApiError e = parse_error(row.body);
        CHECK(e.code == row.code);
        CHECK(e.message == row.message);
    }
}

// ---- failures -----------------------------------------------------------------------

TEST_CASE("missing required fields are named", "[broker][alpaca]") {
    struct Row {
        const char* file;
        const char* field;  // removed by renaming its key
        const char* path;
    };
    for (const Row& row : std::vector<Row>{
             {"account.json", "\"equity\"", "equity: missing"},
             {"account.json", "\"last_equity\"", "last_equity: missing"},
             {"account.json", "\"trading_blocked\"", "trading_blocked: missing"},
             {"account.json", "\"currency\"", "currency: missing"},
             {"order_post_market_accepted.json", "\"filled_qty\"", "filled_qty: missing"},
             {"order_post_market_accepted.json", "\"status\"", "status: missing"},
             {"order_post_market_accepted.json", "\"client_order_id\"", "client_order_id: missing"},
             {"orders_list.json", "\"filled_qty\"", "orders[0].filled_qty: missing"},
             {"positions_list.json", "\"market_value\"", "positions[0].market_value: missing"},
             {"clock.json", "\"next_close\"", "next_close: missing"},
             {"calendar.json", "\"close\"", "calendar[0].close: missing"},
             {"asset_AAPL.json", "\"fractionable\"", "fractionable: missing"},
             {"bars_AAPL_with_next_page_token.json", "\"bars\"", "bars: missing"},
             {"bars_multi_AAPL_TSLA.json", "\"c\"", "bars.AAPL[0].c: missing"},
             {"quotes_latest_AAPL.json", "\"bp\"", "quotes.AAPL.bp: missing"},
             {"trades_latest_AAPL_TSLA.json", "\"p\"", "trades.AAPL.p: missing"},
         }) {
        const Sample* s = nullptr;
        for (const auto& c : samples())
            if (std::string{c.file} == row.file) s = &c;
        REQUIRE(s);
        INFO(row.file << " without " << row.field);
        const std::string body = replace(sample(row.file), row.field, "\"renamed_away\"");
        require_error(s->check(s->endpoint, body), s->endpoint, {row.path, "expected"});
    }
}

TEST_CASE("wrong types and bad values are named with the value", "[broker][alpaca]") {
    const std::string account = sample("account.json");
    const auto acc = [](const std::string& body) {
        const auto r = parse_account("GET /v2/account", body);
        return r ? std::nullopt : std::optional{r.error()};
    };
    require_error(acc(replace(account, R"("equity": "103820.56")", R"("equity": true)")), "GET /v2/account",
                  {"equity: got true", "expected a decimal"});
    require_error(acc(replace(account, R"("equity": "103820.56")", R"("equity": null)")), "GET /v2/account",
                  {"equity: got null", "expected a decimal"});
    require_error(acc(replace(account, R"("cash": "-23140.2")", R"("cash": "12abc")")), "GET /v2/account",
                  {"cash: got \"12abc\"", "expected a decimal"});
    require_error(acc(replace(account, R"("cash": "-23140.2")", R"("cash": "1e3")")), "GET /v2/account",
                  {"cash: got \"1e3\"", "without exponent"});
    require_error(acc(replace(account, R"("cash": "-23140.2")", R"("cash": {"a": 1})")), "GET /v2/account",
                  {"cash: got {\"a\":1}", "expected a decimal"});
    require_error(acc(replace(account, R"("trading_blocked": false)", R"("trading_blocked": "false")")),
                  "GET /v2/account", {"trading_blocked: got \"false\"", "a boolean"});
    require_error(acc(replace(account, R"("status": "ACTIVE")", R"("status": 1)")), "GET /v2/account",
                  {"status: got 1", "a string"});
    // A long value is cut.
    const std::string long_value(300, '7');
    const auto cut = acc(replace(account, R"("cash": "-23140.2")", "\"cash\": \"" + long_value + "x\""));
    REQUIRE(cut);
    CHECK(cut->message.size() < 200);
    CHECK(contains(cut->message, "..."));

    const std::string orders = sample("orders_list.json");
    const auto ord = [](const std::string& body) {
        const auto r = parse_orders("GET /v2/orders", body);
        return r ? std::nullopt : std::optional{r.error()};
    };
    require_error(ord(replace(orders, R"("filled_qty": 0)", R"("filled_qty": false)")), "GET /v2/orders",
                  {"orders[0].filled_qty: got false", "expected a decimal"});
    require_error(ord(replace(orders, R"("filled_at": "2019-08-24T14:15:22Z")", R"("filled_at": "yesterday")")),
                  "GET /v2/orders", {"orders[0].filled_at: got \"yesterday\"", "RFC 3339"});
    // The third order of a list is named by its index.
    const std::string order = sample("order_post_market_accepted.json");
    const std::string three = "[" + order + "," + order + "," + replace(order, R"("filled_qty": "0")", R"("filled_qty": [])") + "]";
    require_error(ord(three), "GET /v2/orders", {"orders[2].filled_qty: got []"});

    const auto bars = parse_bars_page("GET /v2/stocks/bars",
                                      replace(sample("bars_multi_AAPL_TSLA.json"), R"("c": 858.97)", R"("c": "858.97")"));
    REQUIRE_FALSE(bars);
    require_error(bars.error(), "GET /v2/stocks/bars", {"bars.TSLA[0].c: got \"858.97\"", "a number"});
    const auto bad_t = parse_bars_page("GET /v2/stocks/bars",
                                       replace(sample("bars_multi_AAPL_TSLA.json"), "2022-03-09T05:00:00Z", "2022-03-09"));
    REQUIRE_FALSE(bad_t);
    require_error(bad_t.error(), "GET /v2/stocks/bars", {"bars.AAPL[0].t: got \"2022-03-09\"", "RFC 3339"});
    const auto bars_list = parse_bars_page("GET /v2/stocks/bars", R"({"bars": [], "next_page_token": null})");
    REQUIRE_FALSE(bars_list);
    require_error(bars_list.error(), "GET /v2/stocks/bars", {"bars: got []", "keyed by symbol"});
    const auto token = parse_bars_page("GET /v2/stocks/bars", R"({"bars": {}, "next_page_token": 5})");
    REQUIRE_FALSE(token);
    require_error(token.error(), "GET /v2/stocks/bars", {"next_page_token: got 5"});

    const auto multi = parse_multi_status("DELETE /v2/orders", R"([{"id":"a","status":"200"}])");
    REQUIRE_FALSE(multi);
    require_error(multi.error(), "DELETE /v2/orders", {"entries[0].status: got \"200\"", "an integer"});
}

TEST_CASE("huge numbers are out of range at their field", "[broker][alpaca]") {
    const std::string account = sample("account.json");
    struct Row {
        const char* value;
        const char* shown;
    };
    for (const Row& row : std::vector<Row>{{"1e400", "1e400"},
                                           {"-1e400", "-1e400"},
                                           {"99999999999999999999", "1e+20"},
                                           {"18446744073709551615", "18446744073709551615"},
                                           {"9223372037", "9223372037"},
                                           {"\"99999999999999999999\"", "\"99999999999999999999\""},
                                           {"\"9223372036.854775808\"", "\"9223372036.854775808\""},
                                           {"1e20", "1e+20"}}) {
        INFO(row.value);
        const auto r = parse_account("GET /v2/account",
                                     replace(account, R"("equity": "103820.56")", std::string{"\"equity\": "} + row.value));
        REQUIRE_FALSE(r);
        require_error(r.error(), "GET /v2/account", {"equity: got ", row.shown, "range"});
    }
    // Inside an array, the element index is named.
    const std::string order = sample("order_post_market_accepted.json");
    const std::string list = "[" + order + "," + replace(order, R"("qty": 1)", R"("qty": 1e400)") + "]";
    const auto r = parse_orders("GET /v2/orders", list);
    REQUIRE_FALSE(r);
    require_error(r.error(), "GET /v2/orders", {"orders[1].qty: got 1e400", "range"});
    const auto bare = parse_orders("GET /v2/orders", "[1, 2, 1e999]");
    REQUIRE_FALSE(bare);
    require_error(bare.error(), "GET /v2/orders", {"orders[2]: got 1e999"});
    const auto nested = parse_bars_page("GET /v2/stocks/bars",
                                        replace(sample("bars_multi_AAPL_TSLA.json"), R"("v": 19227323)", R"("v": 1e999)"));
    REQUIRE_FALSE(nested);
    require_error(nested.error(), "GET /v2/stocks/bars", {"bars.TSLA[0].v: got 1e999"});
}

TEST_CASE("decimals accept numbers or strings exactly", "[broker][alpaca]") {
    const std::string position = sample("position_AAPL.json");
    struct Row {
        const char* json_value;
        const char* exact;
    };
    for (const Row& row : std::vector<Row>{
             {R"("2211")", "2211"},
             {"2211", "2211"},
             {"0.1", "0.1"},
             {R"("0.1")", "0.1"},
             {"-0.1", "-0.1"},
             {"161.1998", "161.1998"},
             {"0.00001", "0.00001"},        // shortest text is 1e-05
             {"1.5e-7", "0.00000015"},
             {"1e3", "1000"},
             {"-2.5E+2", "-250"},
             {R"("0.0000000015")", "0.000000002"},  // rounded half away to 9 digits
             {R"("-12.50")", "-12.5"},
             {R"("+3")", "3"},
             {"123456789.123456789", "123456789.12345679"},  // as a double (17 digits)
             {R"("123456789.123456789")", "123456789.123456789"},
             {"9223372036", "9223372036"},
             {"0", "0"},
         }) {
        INFO(row.json_value);
        const auto r = parse_position("GET /v2/positions/AAPL",
                                      replace(position, R"("qty": "5")", std::string{"\"qty\": "} + row.json_value));
        REQUIRE(r);
        CHECK(r.value().qty.to_string() == row.exact);
    }
    for (const char* bad : {R"("")", R"(" 1")", R"("1.")", R"(".")", R"("1,000")", R"("NaN")", R"("0x10")", R"("string")"}) {
        INFO(bad);
        const auto r = parse_position("GET /v2/positions/AAPL", replace(position, R"("qty": "5")", std::string{"\"qty\": "} + bad));
        if (std::string{bad} == R"("1.")") {
            // Decimal::parse accepts "1." as 1; keep that consistent with the core type.
            CHECK(r);
            continue;
        }
        REQUIRE_FALSE(r);
        require_error(r.error(), "GET /v2/positions/AAPL", {"qty: got ", "expected a decimal"});
    }
}

TEST_CASE("malformed bodies fail with the endpoint and never crash", "[broker][alpaca]") {
    // Truncations of every sample at many lengths.
    for (const auto& s : samples()) {
        const std::string body = sample(s.file);
        for (std::size_t n = 0; n < body.size(); n += (n < 40 ? 1 : 7)) {
            // A prefix that ends after the last significant character may still be complete.
            if (body.find_first_not_of(" \r\n\t", n) == std::string::npos) break;
            INFO(s.file << " cut at " << n);
            const auto e = s.check(s.endpoint, body.substr(0, n));
            REQUIRE(e.has_value());
            CHECK(e->kind == BrokerError::Kind::bad_payload);
            CHECK(e->message.rfind(std::string{s.endpoint} + ": ", 0) == 0);
            if (n > 0) {
                INFO(e->message);
                CHECK(contains(e->message, "malformed JSON at byte "));
            }
        }
    }
    struct Row {
        std::string body;
        std::string part;
    };
    for (const Row& row : std::vector<Row>{
             {"", "empty body"},
             {"null", "body: got null; expected an object"},
             {"[]", "body: got []; expected an object"},
             {"\"x\"", "body: got \"x\"; expected an object"},
             {"{} x", "malformed JSON at byte"},
             {"{\"equity\": \"1\",}", "malformed JSON at byte"},
             {"\xff\xfe{}", "malformed JSON at byte"},
             {"{\"a\": \"\xc3\x28\"}", "malformed JSON at byte"},
         }) {
        INFO(row.body);
        const auto r = parse_account("GET /v2/account", row.body);
        REQUIRE_FALSE(r);
        require_error(r.error(), "GET /v2/account", {row.part});
    }
    const auto obj_for_array = parse_orders("GET /v2/orders", sample("order_post_market_accepted.json"));
    REQUIRE_FALSE(obj_for_array);
    require_error(obj_for_array.error(), "GET /v2/orders", {"orders: got {", "expected an array"});
    const auto scalar_elem = parse_orders("GET /v2/orders", "[null]");
    REQUIRE_FALSE(scalar_elem);
    require_error(scalar_elem.error(), "GET /v2/orders", {"orders[0]: got null; expected an object"});
    const auto null_bars = parse_bars_page("GET /v2/stocks/bars", "null");
    REQUIRE_FALSE(null_bars);
    require_error(null_bars.error(), "GET /v2/stocks/bars", {"body: got null"});
    // Deep nesting is an error, not a stack overflow.
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    const auto d = parse_account("GET /v2/account", deep);
    REQUIRE_FALSE(d);
}

TEST_CASE("rfc3339 times", "[broker][alpaca]") {
    struct Row {
        const char* text;
        std::optional<core::Timestamp> utc;
    };
    for (const Row& row : std::vector<Row>{
             {"2022-05-17T13:30:00Z", utc("2022-05-17", 13, 30, 0)},
             {"2022-05-17t13:30:00z", utc("2022-05-17", 13, 30, 0)},
             {"2022-05-17T09:30:00-04:00", utc("2022-05-17", 13, 30, 0)},
             {"2022-05-17T19:00:00+05:30", utc("2022-05-17", 13, 30, 0)},
             {"2022-05-16T16:32:24.14373588-04:00", utc("2022-05-16", 20, 32, 24)},
             {"2022-03-18T14:02:43.651613184Z", utc("2022-03-18", 14, 2, 43)},
             {"2022-03-18T14:02:43.9Z", utc("2022-03-18", 14, 2, 43)},
             {"2022-12-31T23:30:00-01:00", utc("2023-01-01", 0, 30, 0)},
             {"2022-01-01T00:30:00+01:00", utc("2021-12-31", 23, 30, 0)},
             {"2024-02-29T00:00:00Z", utc("2024-02-29", 0, 0, 0)},
             {"2022-05-17T13:30:00", std::nullopt},              // no offset
             {"2022-05-17 13:30:00Z", std::nullopt},
             {"2022-05-17T13:30Z", std::nullopt},
             {"2022-05-17T13:30:00.Z", std::nullopt},
             {"2022-05-17T13:30:00.1234567891Z", std::nullopt},  // 10 fractional digits
             {"2022-05-17T24:00:00Z", std::nullopt},
             {"2022-05-17T13:60:00Z", std::nullopt},
             {"2022-05-17T13:30:60Z", std::nullopt},
             {"2023-02-29T00:00:00Z", std::nullopt},
             {"2022-05-17T13:30:00+0400", std::nullopt},
             {"2022-05-17T13:30:00+04", std::nullopt},
             {"2022-05-17T13:30:00+24:00", std::nullopt},
             {"2022-05-17T13:30:00Zjunk", std::nullopt},
             {"2022-5-17T13:30:00Z", std::nullopt},
             {"", std::nullopt},
         }) {
        INFO(row.text);
        CHECK(parse_rfc3339(row.text) == row.utc);
    }
}

TEST_CASE("order request json", "[broker][alpaca]") {
    broker::OrderRequest o;
    o.client_order_id = "bal-2022-05-17-AAPL-\"q\"";
    o.symbol = "BRK.B";
    o.side = core::Side::sell;
    o.qty = dec("12.5");
    CHECK(order_request_json(o) ==
          R"({"symbol":"BRK.B","qty":"12.5","side":"sell","type":"market","time_in_force":"day","client_order_id":"bal-2022-05-17-AAPL-\"q\""})");

    for (const char* q : {"0.000001", "0.000000001", "1000000", "9000000000", "3"}) {
        INFO(q);
        o.qty = dec(q);
        o.side = core::Side::buy;
        const std::string text = order_request_json(o);
        const auto j = nlohmann::json::parse(text);
        CHECK(j.at("qty").get<std::string>() == q);
        CHECK(j.at("side") == "buy");
        CHECK(j.at("symbol") == "BRK.B");
        CHECK(j.at("client_order_id") == o.client_order_id);
        CHECK(j.at("type") == "market");
        CHECK(j.at("time_in_force") == "day");
        CHECK(Decimal::parse(j.at("qty").get<std::string>()) == o.qty);
    }
}

TEST_CASE("url encoding and request targets", "[broker][alpaca]") {
    CHECK(url_encode("AZaz09-._~") == "AZaz09-._~");
    CHECK(url_encode("a b+c/d=e&f,g:h") == "a%20b%2Bc%2Fd%3De%26f%2Cg%3Ah");
    CHECK(url_encode("\xc3\xa9") == "%C3%A9");
    CHECK(url_encode("") == "");

    BarsQuery q;
    q.symbols = {"SPY", "TLT", "BRK.B"};
    q.start = utc("2022-01-03", 5, 0, 0);
    q.end = utc("2022-02-01", 4, 59, 59);
    CHECK(bars_target(q) ==
          "/v2/stocks/bars?symbols=SPY,TLT,BRK.B&timeframe=1Day&start=2022-01-03T05%3A00%3A00Z"
          "&end=2022-02-01T04%3A59%3A59Z&limit=10000&adjustment=all&feed=iex");
    q.page_token = "QUFQTHxEfDIw+/Wg==";
    q.limit = 500;
    q.feed = "sip";
    CHECK(bars_target(q) ==
          "/v2/stocks/bars?symbols=SPY,TLT,BRK.B&timeframe=1Day&start=2022-01-03T05%3A00%3A00Z"
          "&end=2022-02-01T04%3A59%3A59Z&limit=500&adjustment=all&feed=sip&page_token=QUFQTHxEfDIw%2B%2FWg%3D%3D");
    q.page_token = "";
    CHECK_FALSE(contains(bars_target(q), "page_token"));
    q.symbols = {"A,B"};
    CHECK(contains(bars_target(q), "symbols=A%2CB&"));

    CHECK(latest_quotes_target({"SPY", "GLD"}, "iex") == "/v2/stocks/quotes/latest?symbols=SPY,GLD&feed=iex");
    CHECK(latest_trades_target({"SPY"}, "sip") == "/v2/stocks/trades/latest?symbols=SPY&feed=sip");
    CHECK(order_by_client_id_target("bal 1/2") == "/v2/orders:by_client_order_id?client_order_id=bal%201%2F2");
    CHECK(calendar_target(Date::from_ymd(2022, 5, 16), Date::from_ymd(2022, 6, 1)) ==
          "/v2/calendar?start=2022-05-16&end=2022-06-01");
}
