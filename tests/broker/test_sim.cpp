#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

#include "broker/csv_bars.hpp"
#include "broker/sim.hpp"
#include "../support/temp_dir.hpp"

using namespace ballast;
using core::Date;
using core::Decimal;

namespace {

Decimal d(const char* s) { return Decimal::parse(s).value(); }
Date day(const char* s) { return Date::parse(s).value(); }

// Runs an awaitable to completion on a private io_context.
template <class T>
T wait(net::awaitable<T> a) {
    net::io_context io;
    std::optional<T> out;
    net::co_spawn(io, [&]() -> net::awaitable<void> { out.emplace(co_await std::move(a)); }, net::detached);
    io.run();
    return std::move(*out);
}

core::Bar bar(const char* sym, const char* date, double o, double c) {
    core::Bar b;
    b.symbol = sym;
    b.date = day(date);
    b.open = o;
    b.close = c;
    b.adj_close = c;
    b.high = std::max(o, c) + 1;
    b.low = std::min(o, c) - 1;
    return b;
}

}  // namespace

TEST_CASE("bundled CSV files parse and match the NYSE calendar", "[broker][csv]") {
    for (const char* sym : {"VTI", "TLT", "GLD", "DBC", "SPY", "IEF", "QQQ"}) {
        const auto r = broker::read_yahoo_csv(std::filesystem::path(BALLAST_DATA_DIR) / (std::string(sym) + ".csv"), sym);
        REQUIRE(r.ok());
        const auto& bars = r.value();
        REQUIRE(bars.size() > 4000);
        // Every bar is on a trading day, and no trading day inside the history is missing.
        for (const auto& b : bars) {
            INFO(sym << " " << b.date.to_string());
            CHECK(core::is_trading_day(b.date));
        }
        const auto days = core::trading_days(bars.front().date, bars.back().date);
        INFO(sym);
        CHECK(days.size() == bars.size());
    }
}

TEST_CASE("CSV errors name the file, line and value", "[broker][csv]") {
    const std::string header = "Date,Open,High,Low,Close,Volume,Adj Close\n";
    auto err = [&](const std::string& body) {
        const auto r = broker::parse_yahoo_csv(header + body, "X", "x.csv");
        REQUIRE_FALSE(r.ok());
        return r.error().message;
    };
    CHECK(err("2024-01-02,1,2,0.5,1.5,100,1.4\n2024-13-01,1,2,0.5,1.5,100,1.4\n").find("x.csv:3: Date: '2024-13-01'") == 0);
    CHECK(err("2024-01-02,1,2,0.5,abc,100,1.4\n").find("x.csv:2: Close: 'abc' is not a number") == 0);
    CHECK(err("2024-01-02,1,2,0.5,-1.5,100,1.4\n").find("not a positive price") != std::string::npos);
    CHECK(err("2024-01-02,1,2,1.2,1.5,100,1.4\n").find("inconsistent OHLC") != std::string::npos);
    CHECK(err("2024-01-02,1,2,0.5,1.5,100,1.4\n2024-01-02,1,2,0.5,1.5,100,1.4\n").find("duplicate") != std::string::npos);
    CHECK(err("2024-01-03,1,2,0.5,1.5,100,1.4\n2024-01-02,1,2,0.5,1.5,100,1.4\n").find("out of order") != std::string::npos);
    CHECK(err("2024-01-02,1,2,0.5,1.5\n").find("expected 7 fields, found 5") != std::string::npos);
    const auto no_close = broker::parse_yahoo_csv("Date,Open,High,Low\n", "X", "y.csv");
    CHECK(no_close.error().message.find("no 'Close' column") != std::string::npos);
    CHECK_FALSE(broker::parse_yahoo_csv("", "X", "z.csv").ok());
    // Columns are found by name, in any order; extra columns are ignored.
    const auto ok = broker::parse_yahoo_csv("Adj Close,Close,Low,High,Open,Date,MA\n1.4,1.5,0.5,2,1,2024-01-02,9\n", "X", "w.csv");
    REQUIRE(ok.ok());
    CHECK(ok.value().at(0).adj_close == 1.4);
    CHECK(broker::read_yahoo_csv("/nonexistent/X.csv", "X").error().message.find("/nonexistent/X.csv") == 0);
}

TEST_CASE("sim broker fills at the close with slippage and commission", "[broker][sim]") {
    auto market = broker::SimMarket::from_bars({{"AAA", {bar("AAA", "2024-01-02", 10, 20), bar("AAA", "2024-01-03", 21, 22)}}});
    core::Timestamp now = core::ny_to_utc(day("2024-01-02"), core::TimeOfDay{17 * 60});
    broker::SimBrokerConfig cfg;
    cfg.fill = core::FillModel::close;
    cfg.slippage_bps = 10;
    cfg.commission_per_order = d("1");
    cfg.initial_cash = d("1000");
    broker::SimBroker b(market, cfg, [&] { return now; });
    const auto u = wait(b.submit({"c1", "AAA", core::Side::buy, d("10")}));
    REQUIRE(u.ok());
    CHECK(u.value().status == "filled");
    CHECK(u.value().filled_avg_price.value() == d("20.02"));  // 20 + 10 bps
    CHECK(u.value().commission == d("1"));
    const auto acct = wait(b.account());
    CHECK(acct.value().cash == d("798.8"));  // 1000 - 200.20 - 1
    CHECK(acct.value().positions.at(0).qty == d("10"));
    // Duplicate client order ids are refused; unknown ids are not found.
    CHECK(wait(b.submit({"c1", "AAA", core::Side::buy, d("1")})).error().message.find("unique") != std::string::npos);
    CHECK(wait(b.order_by_client_id("nope")).error().kind == broker::BrokerError::Kind::not_found);
    // Selling more than held is rejected.
    const auto s = wait(b.submit({"c2", "AAA", core::Side::sell, d("11")}));
    CHECK(s.value().status == "rejected");
}

TEST_CASE("sim broker fills next-open orders once the next session opens", "[broker][sim]") {
    auto market = broker::SimMarket::from_bars({{"AAA", {bar("AAA", "2024-01-02", 10, 20), bar("AAA", "2024-01-03", 21, 22)}}});
    core::Timestamp now = core::ny_to_utc(day("2024-01-02"), core::TimeOfDay{17 * 60});
    broker::SimBrokerConfig cfg;
    cfg.fill = core::FillModel::next_open;
    cfg.slippage_bps = 0;
    cfg.initial_cash = d("100");
    broker::SimBroker b(market, cfg, [&] { return now; });
    REQUIRE(wait(b.submit({"c1", "AAA", core::Side::buy, d("10")})).value().status == "accepted");
    CHECK(wait(b.order_by_client_id("c1")).value().status == "accepted");
    now = core::ny_to_utc(day("2024-01-03"), core::TimeOfDay{9 * 60 + 29});
    CHECK(wait(b.order_by_client_id("c1")).value().status == "accepted");
    now = core::ny_to_utc(day("2024-01-03"), core::TimeOfDay{9 * 60 + 30});
    // 10 at 21 costs 210 > 100: the affordable 4 fill, the rest is canceled.
    const auto u = wait(b.order_by_client_id("c1")).value();
    CHECK(u.status == "canceled");
    CHECK(u.filled_qty == d("4"));
    CHECK(u.filled_avg_price.value() == d("21"));
    CHECK(wait(b.account()).value().cash == d("16"));
}

TEST_CASE("sim broker state survives a restart through its state file", "[broker][sim]") {
    const auto file = std::filesystem::temp_directory_path() / ("ballast-sim-" + std::to_string(::getpid()) + ".json");
    std::filesystem::remove(file);
    auto market = broker::SimMarket::from_bars({{"AAA", {bar("AAA", "2024-01-02", 10, 20)}}});
    const core::Timestamp now = core::ny_to_utc(day("2024-01-02"), core::TimeOfDay{17 * 60});
    broker::SimBrokerConfig cfg;
    cfg.fill = core::FillModel::close;
    cfg.slippage_bps = 0;
    cfg.initial_cash = d("1000");
    cfg.state_file = file;
    {
        broker::SimBroker b(market, cfg, [&] { return now; });
        REQUIRE(b.load_state().ok());
        REQUIRE(wait(b.submit({"c1", "AAA", core::Side::buy, d("2.5")})).ok());
    }
    broker::SimBroker again(market, cfg, [&] { return now; });
    REQUIRE(again.load_state().value());
    CHECK(wait(again.account()).value().cash == d("950"));
    CHECK(wait(again.order_by_client_id("c1")).value().filled_qty == d("2.5"));
    // A damaged state file is an error naming the file.
    std::ofstream(file) << "{\"version\": 1, \"cash\": 12}";
    broker::SimBroker broken(market, cfg, [&] { return now; });
    const auto r = broken.load_state();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(file.string()) == 0);
    CHECK(r.error().message.find("cash") != std::string::npos);
    std::filesystem::remove(file);
}

TEST_CASE("sim broker reports the average entry price of each holding, as a broker does", "[broker][sim]") {
    // Buys at 20 then 22 (closes of two sessions, no slippage): 10 x 20 + 5 x 22 = 310 for
    // 15 shares, 20.6667 a share (4 dp). A partial sell keeps it; selling out clears it;
    // the state file carries it across a restart.
    auto market = broker::SimMarket::from_bars({{"AAA", {bar("AAA", "2024-01-02", 10, 20), bar("AAA", "2024-01-03", 21, 22)}}});
    core::Timestamp now = core::ny_to_utc(day("2024-01-02"), core::TimeOfDay{17 * 60});
    const auto file = std::filesystem::temp_directory_path() / ("ballast-sim-entry-" + std::to_string(::getpid()) + ".json");
    std::filesystem::remove(file);
    broker::SimBrokerConfig cfg;
    cfg.fill = core::FillModel::close;
    cfg.slippage_bps = 0;
    cfg.initial_cash = d("1000");
    cfg.state_file = file;
    const auto entry = [](broker::SimBroker& b) { return wait(b.account()).value().positions.at(0).avg_entry_price; };
    {
        broker::SimBroker b(market, cfg, [&] { return now; });
        REQUIRE(b.load_state().ok());
        REQUIRE(wait(b.submit({"c1", "AAA", core::Side::buy, d("10")})).value().status == "filled");
        CHECK(entry(b) == d("20"));
        now = core::ny_to_utc(day("2024-01-03"), core::TimeOfDay{17 * 60});
        REQUIRE(wait(b.submit({"c2", "AAA", core::Side::buy, d("5")})).value().status == "filled");
        CHECK(entry(b) == d("20.6667"));
        REQUIRE(wait(b.submit({"c3", "AAA", core::Side::sell, d("6")})).value().status == "filled");
        CHECK(entry(b) == d("20.6667"));
    }
    {
        broker::SimBroker again(market, cfg, [&] { return now; });
        REQUIRE(again.load_state().value());
        CHECK(entry(again) == d("20.6667"));
        REQUIRE(wait(again.submit({"c4", "AAA", core::Side::sell, d("9")})).value().status == "filled");
        CHECK(wait(again.account()).value().positions.empty());
        REQUIRE(wait(again.submit({"c5", "AAA", core::Side::buy, d("1")})).value().status == "filled");
        CHECK(entry(again) == d("22"));  // a new holding starts from its own price
    }
    // A state file written before entry prices were kept: the holding has none.
    std::ofstream(file) << R"({"version": 1, "cash": "100", "positions": {"AAA": "3"}, "orders": []})";
    broker::SimBroker old(market, cfg, [&] { return now; });
    REQUIRE(old.load_state().value());
    CHECK_FALSE(entry(old).has_value());
    // Buying more does not make one up from the new shares alone.
    REQUIRE(wait(old.submit({"c9", "AAA", core::Side::buy, d("1")})).value().status == "filled");
    CHECK_FALSE(entry(old).has_value());
    // A bad entry price is an error naming the key.
    std::ofstream(file) << R"({"version": 1, "cash": "100", "positions": {"AAA": "3"}, "entry_prices": {"AAA": "-1"}, "orders": []})";
    broker::SimBroker bad(market, cfg, [&] { return now; });
    const auto r = bad.load_state();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("entry_prices.AAA") != std::string::npos);
    std::filesystem::remove(file);
}

TEST_CASE("sim broker finds orders by client_order_id across a restart and refuses repeated ids", "[broker][sim]") {
    auto market = broker::SimMarket::from_bars({{"AAA", {bar("AAA", "2024-01-02", 10, 20)}}});
    const core::Timestamp now = core::ny_to_utc(day("2024-01-02"), core::TimeOfDay{17 * 60});
    const auto file = std::filesystem::temp_directory_path() / ("ballast-sim-ids-" + std::to_string(::getpid()) + ".json");
    std::filesystem::remove(file);
    broker::SimBrokerConfig cfg;
    cfg.fill = core::FillModel::close;
    cfg.initial_cash = d("100000");
    cfg.state_file = file;
    {
        broker::SimBroker b(market, cfg, [&] { return now; });
        REQUIRE(b.load_state().ok());
        // A rejected quantity does not take the id: it can be used afterwards.
        CHECK_FALSE(wait(b.submit({"id-0", "AAA", core::Side::buy, d("0")})).ok());
        for (int i = 0; i < 300; ++i)
            REQUIRE(wait(b.submit({"id-" + std::to_string(i), "AAA", core::Side::buy, d("1")})).value().status == "filled");
        const auto again = wait(b.submit({"id-7", "AAA", core::Side::buy, d("1")}));
        REQUIRE_FALSE(again.ok());
        CHECK(again.error().kind == broker::BrokerError::Kind::rejected);
        CHECK(again.error().message.find("id-7") != std::string::npos);
    }
    broker::SimBroker restarted(market, cfg, [&] { return now; });
    REQUIRE(restarted.load_state().value());
    for (int i = 0; i < 300; i += 37) CHECK(wait(restarted.order_by_client_id("id-" + std::to_string(i))).value().client_order_id == "id-" + std::to_string(i));
    CHECK(wait(restarted.order_by_client_id("id-300")).error().kind == broker::BrokerError::Kind::not_found);
    CHECK(wait(restarted.cancel("nope")).error().kind == broker::BrokerError::Kind::not_found);
    CHECK_FALSE(wait(restarted.submit({"id-299", "AAA", core::Side::buy, d("1")})).ok());
    // A state file listing one id twice is damaged: the error names the order and the id.
    std::ifstream in(file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto first = text.find("\"id-1\"");
    REQUIRE(first != std::string::npos);
    text.replace(text.find("\"id-2\""), 6, "\"id-1\"");
    std::ofstream(file) << text;
    broker::SimBroker damaged(market, cfg, [&] { return now; });
    const auto r = damaged.load_state();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("orders[2].client_order_id") != std::string::npos);
    CHECK(r.error().message.find("id-1 is repeated") != std::string::npos);
    std::filesystem::remove(file);
}

TEST_CASE("sim market's latest bars: on the date, else the latest within the window, for any order of symbols", "[broker][sim]") {
    auto market = broker::SimMarket::from_bars({
        {"AAA", {bar("AAA", "2024-01-02", 1, 10), bar("AAA", "2024-01-03", 1, 11), bar("AAA", "2024-01-05", 1, 12)}},
        {"BBB", {bar("BBB", "2024-01-02", 1, 20)}},
        {"CCC", {bar("CCC", "2024-01-04", 1, 30), bar("CCC", "2024-01-10", 1, 31)}},
    });
    const auto close_of = [](const broker::SimMarket::Quote* b) { return b ? b->close : -1.0; };
    const auto latest = [&](std::vector<core::Symbol> symbols, const char* date, int back) {
        std::vector<double> out;
        for (const auto* b : market->latest_bars(symbols, day(date), back)) out.push_back(close_of(b));
        return out;
    };
    CHECK(latest({"AAA", "BBB", "CCC"}, "2024-01-05", 10) == std::vector<double>{12, 20, 30});
    CHECK(latest({"AAA", "BBB", "CCC"}, "2024-01-04", 10) == std::vector<double>{11, 20, 30});
    CHECK(latest({"CCC", "ZZZ", "AAA", "BBB"}, "2024-01-04", 10) == std::vector<double>{30, -1, 11, 20});
    CHECK(latest({"AAA", "BBB", "CCC"}, "2024-01-01", 10) == std::vector<double>{-1, -1, -1});  // before any data
    CHECK(latest({"AAA", "BBB", "CCC"}, "2024-01-12", 8) == std::vector<double>{12, -1, 31});    // BBB too old
    CHECK(latest({"AAA", "AAA"}, "2024-01-03", 0) == std::vector<double>{11, 11});
    CHECK(latest({}, "2024-01-03", 10).empty());
}

TEST_CASE("sim state file with a non-positive order quantity is refused, naming the order", "[broker][sim]") {
    auto market = broker::SimMarket::from_bars({{"AAA", {bar("AAA", "2024-01-02", 10, 20)}}});
    const core::Timestamp now = core::ny_to_utc(day("2024-01-03"), core::TimeOfDay{17 * 60});
    const auto file = std::filesystem::temp_directory_path() / ("ballast-sim-qty-" + std::to_string(::getpid()) + ".json");
    broker::SimBrokerConfig cfg;
    cfg.state_file = file;
    for (const char* qty : {"0", "-5"}) {
        std::ofstream(file) << R"({"version": 1, "cash": "100", "positions": {}, "orders": [{"client_order_id": "x",)"
                            << R"( "symbol": "AAA", "side": "sell", "qty": ")" << qty
                            << R"(", "filled_qty": "0", "commission": "0", "submitted_date": "2024-01-02",)"
                            << R"( "submitted_minutes": 600, "id": "sim-1", "status": "accepted"}]})";
        broker::SimBroker b(market, cfg, [&] { return now; });
        const auto r = b.load_state();
        INFO(qty);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("orders[0].qty") != std::string::npos);
    }
    std::filesystem::remove(file);
}

TEST_CASE("sim broker answers the same of each order after a restart; a state file's ids and statuses are the sim's own",
          "[broker][sim]") {
    auto market = broker::SimMarket::from_bars({{"AAA", {bar("AAA", "2024-01-02", 10, 20), bar("AAA", "2024-01-03", 21, 22)}}});
    core::Timestamp now = core::ny_to_utc(day("2024-01-02"), core::TimeOfDay{17 * 60});
    const test::TempDir dir;
    const auto file = dir.file("state.json");
    broker::SimBrokerConfig cfg;
    cfg.fill = core::FillModel::next_open;
    cfg.slippage_bps = 0;
    cfg.initial_cash = d("100");
    cfg.state_file = file;
    const auto fields = [](const broker::OrderUpdate& u) {
        return std::make_tuple(u.client_order_id, u.broker_order_id, u.symbol, u.side, u.qty, u.status, u.filled_qty,
                               u.filled_avg_price, u.commission, u.reason, u.updated_at);
    };
    const std::vector<std::string> ids{"buy", "sell", "poor", "dropped", "open"};
    std::vector<broker::OrderUpdate> before;
    const auto at = [](const char* date, int minutes) { return core::ny_to_utc(day(date), core::TimeOfDay{minutes}); };
    {
        broker::SimBroker b(market, cfg, [&] { return now; });
        REQUIRE_FALSE(b.load_state().value());
        // Due at the next open, in this order: 4 at 21 cost 84 of the 100; 5 are more than
        // the 4 then held; 1 more at 21 costs more than the 16 left.
        REQUIRE(wait(b.submit({"buy", "AAA", core::Side::buy, d("4")})).ok());
        REQUIRE(wait(b.submit({"sell", "AAA", core::Side::sell, d("5")})).ok());
        now = at("2024-01-03", 9 * 60);
        REQUIRE(wait(b.submit({"poor", "AAA", core::Side::buy, d("1")})).ok());
        REQUIRE(wait(b.submit({"dropped", "AAA", core::Side::buy, d("1")})).ok());
        now = at("2024-01-03", 9 * 60 + 10);
        REQUIRE(wait(b.cancel("dropped")).value().status == "canceled");
        now = at("2024-01-03", 9 * 60 + 31);  // after the open: waits for the next bar
        REQUIRE(wait(b.submit({"open", "AAA", core::Side::sell, d("1")})).ok());
        now = at("2024-01-03", 9 * 60 + 32);
        for (const auto& id : ids) before.push_back(wait(b.order_by_client_id(id)).value());
    }
    // What each answer says: the sim's id by position, the time of its last change.
    const auto opened = core::format_utc(at("2024-01-03", 9 * 60 + 31));
    CHECK(before[0].broker_order_id == "sim-1");
    CHECK(before[4].broker_order_id == "sim-5");
    CHECK(before[0].status == "filled");
    CHECK(before[0].filled_qty == d("4"));
    CHECK(before[0].filled_avg_price == d("21"));
    CHECK(before[0].updated_at == opened);  // filled when first asked after the open
    CHECK(before[1].status == "rejected");
    CHECK(before[1].reason.find("insufficient qty") == 0);
    CHECK(before[2].status == "rejected");
    CHECK(before[2].reason.find("insufficient buying power") == 0);
    CHECK(before[3].status == "canceled");
    CHECK(before[3].reason == "canceled on request");
    CHECK(before[3].updated_at == core::format_utc(at("2024-01-03", 9 * 60 + 10)));
    CHECK(before[4].status == "accepted");
    CHECK(before[4].updated_at == opened);
    CHECK(before[4].side == "sell");
    CHECK(before[4].qty == d("1"));
    broker::SimBroker again(market, cfg, [&] { return now; });
    REQUIRE(again.load_state().value());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        INFO(ids[i]);
        CHECK(fields(wait(again.order_by_client_id(ids[i])).value()) == fields(before[i]));
    }
    // The next order after a restart continues the ids.
    CHECK(wait(again.submit({"next", "AAA", core::Side::sell, d("1")})).value().broker_order_id == "sim-6");

    // A state file naming another id or a status the sim never gives is damaged.
    const std::string text = test::read_bytes(file);
    for (const auto& [from, to, field] : {std::tuple{"\"sim-2\"", "\"sim-9\"", "orders[1].id"},
                                          std::tuple{"\"rejected\"", "\"pending\"", "orders[1].status"}}) {
        std::string damaged = text;
        REQUIRE(damaged.find(from) != std::string::npos);
        damaged.replace(damaged.find(from), std::string(from).size(), to);
        std::ofstream(file) << damaged;
        broker::SimBroker b(market, cfg, [&] { return now; });
        const auto r = b.load_state();
        INFO(field);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find(field) != std::string::npos);
        CHECK(r.error().message.find(std::string(to).substr(1, 5)) != std::string::npos);
    }
}

TEST_CASE("sim market loads a large universe on every core with the same bars; the first bad file in order is the error",
          "[broker][sim]") {
    const test::TempDir tmp;
    const auto& dir = tmp.path();
    std::vector<core::Symbol> symbols;
    for (int s = 0; s < 60; ++s) {
        symbols.push_back("S" + std::to_string(100 + s));
        std::ofstream out(dir / (symbols.back() + ".csv"));
        out << "Date,Open,High,Low,Close,Adj Close,Volume\n";
        // Each symbol its own prices (and its own length), so that a mix-up shows.
        for (int d = 2; d < 20 + s % 7; ++d)
            out << "2024-01-" << (d < 10 ? "0" : "") << d << "," << 10 + s << "," << 12 + s << "," << 9 + s << ","
                << 11 + s + d / 100.0 << "," << 11 + s << "," << 1000 + d << "\n";
    }
    const auto loaded = broker::SimMarket::load(dir, symbols);
    REQUIRE(loaded.ok());
    auto& market = *loaded.value();
    CHECK(market.symbols().size() == symbols.size());
    for (const auto& sym : symbols) {
        const auto bars = broker::read_yahoo_csv(dir / (sym + ".csv"), sym).value();
        INFO(sym);
        const auto fetched = wait(market.daily_bars({sym}, day("2024-01-01"), day("2024-01-31"))).value();
        REQUIRE(fetched.size() == bars.size());
        for (std::size_t i = 0; i < bars.size(); ++i) {
            CHECK(fetched[i].symbol == sym);
            CHECK(fetched[i].date == bars[i].date);
            CHECK(fetched[i].open == bars[i].open);
            CHECK(fetched[i].high == bars[i].high);
            CHECK(fetched[i].low == bars[i].low);
            CHECK(fetched[i].close == bars[i].close);
            CHECK(fetched[i].adj_close == bars[i].adj_close);
            CHECK(fetched[i].volume == bars[i].volume);
        }
    }
    // Two damaged files: the one earlier in the list is named, whichever thread read it.
    std::ofstream(dir / "S150.csv") << "Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,x\n";
    std::ofstream(dir / "S107.csv") << "Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,oops\n";
    for (int round = 0; round < 5; ++round) {
        const auto bad = broker::SimMarket::load(dir, symbols);
        REQUIRE_FALSE(bad.ok());
        CHECK(bad.error().message.find("S107.csv:2") != std::string::npos);
        CHECK(bad.error().message.find("oops") != std::string::npos);
    }
    std::filesystem::remove(dir / "S107.csv");
    const auto missing = broker::SimMarket::load(dir, symbols);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message.find("S107.csv") != std::string::npos);
}

TEST_CASE("sim broker reloading its state file mid-run stamps the next order with the clock's time, not a stale one",
          "[broker][sim]") {
    auto market = broker::SimMarket::from_bars({{"AAA", {bar("AAA", "2024-01-02", 10, 20)}}});
    const test::TempDir dir;
    const auto file = dir.file("state.json");
    broker::SimBrokerConfig cfg;
    cfg.fill = core::FillModel::close;
    cfg.initial_cash = d("1000");
    cfg.state_file = file;
    const core::Timestamp early = core::ny_to_utc(day("2024-01-02"), core::TimeOfDay{16 * 60});
    const core::Timestamp late = core::ny_to_utc(day("2024-01-02"), core::TimeOfDay{17 * 60});
    core::Timestamp now = early;
    std::string earlier_file;
    {
        broker::SimBroker b(market, cfg, [&] { return now; });
        REQUIRE(wait(b.submit({"first", "AAA", core::Side::buy, d("1")})).ok());
        earlier_file = test::read_bytes(file);
    }
    broker::SimBroker b(market, cfg, [&] { return now; });
    REQUIRE(b.load_state().value());
    now = late;
    REQUIRE(wait(b.submit({"second", "AAA", core::Side::buy, d("1")})).value().updated_at == core::format_utc(late));
    // Another process's file (holding only the early order) is read back in; an order at the
    // same clock reading must still carry that reading.
    std::ofstream(file) << earlier_file;
    REQUIRE(b.load_state().value());
    CHECK_FALSE(wait(b.order_by_client_id("second")).ok());
    const auto third = wait(b.submit({"third", "AAA", core::Side::buy, d("1")}));
    REQUIRE(third.ok());
    CHECK(third.value().updated_at == core::format_utc(late));
    CHECK(third.value().broker_order_id == "sim-2");
    CHECK(wait(b.order_by_client_id("first")).value().updated_at == core::format_utc(early));
}

TEST_CASE("sim market's look-ups agree with a scan of the bars on every day, for series with gaps, late starts and "
          "early ends",
          "[broker][sim]") {
    // bar, bar_after, latest_bars and daily_bars (each with its own search and hints) are
    // compared with a plain scan of the bars, for every calendar day around the data.
    const auto days = core::trading_days(day("2024-01-02"), day("2024-02-29"));
    REQUIRE(days.size() > 30);
    using Bars = std::map<core::Symbol, std::vector<core::Bar>>;
    const auto make = [&](const char* sym, int number, const std::vector<Date>& dates) {
        std::vector<core::Bar> out;
        for (std::size_t i = 0; i < dates.size(); ++i) {
            out.push_back(bar(sym, dates[i].to_string().c_str(), 1, 100.0 * number + static_cast<double>(i)));
        }
        return out;
    };
    const auto slice = [&](std::size_t from, std::size_t to) {
        return std::vector<Date>(days.begin() + static_cast<std::ptrdiff_t>(from), days.begin() + static_cast<std::ptrdiff_t>(to));
    };
    std::vector<Date> gap = days;
    gap.erase(gap.begin() + 5, gap.begin() + 7);
    Bars base{{"ALL", make("ALL", 1, days)},        {"LATE", make("LATE", 2, slice(10, days.size()))},
              {"EARLY", make("EARLY", 3, slice(0, 15))}, {"GAP", make("GAP", 4, gap)},
              {"ONE", make("ONE", 5, slice(20, 21))},    {"NONE", {}}};
    Bars odd = base;  // and a series with a Saturday in it
    std::vector<Date> with_saturday = slice(0, 12);
    with_saturday.push_back(day("2024-01-20"));
    std::sort(with_saturday.begin(), with_saturday.end());
    odd["SAT"] = make("SAT", 6, with_saturday);

    for (const Bars* bars : {&base, &odd}) {
        auto market = broker::SimMarket::from_bars(*bars);
        std::vector<core::Symbol> symbols;
        for (const auto& [s, v] : *bars) symbols.push_back(s);
        symbols.push_back("ZZZ");  // not in the market
        const auto close_of = [](const auto* b) { return b ? b->close : -1.0; };
        const auto scan = [&](const core::Symbol& s, auto&& pick) -> const core::Bar* {
            const auto it = bars->find(s);
            if (it == bars->end()) return nullptr;
            const core::Bar* found = nullptr;
            for (const auto& b : it->second)
                if (pick(b, found)) found = &b;
            return found;
        };
        std::size_t checked = 0;
        for (Date d = day("2023-12-20"); d <= day("2024-03-10"); d = d.plus_days(1)) {
            for (const auto& s : symbols) {
                INFO(s << " on " << d.to_string());
                const auto* on = scan(s, [&](const core::Bar& b, const core::Bar*) { return b.date == d; });
                CHECK(close_of(market->bar(s, d)) == close_of(on));
                const auto* after = scan(s, [&](const core::Bar& b, const core::Bar* f) { return !f && b.date > d; });
                CHECK(close_of(market->bar_after(s, d)) == close_of(after));
                ++checked;
            }
            for (const int back : {0, 1, 3, 10}) {
                INFO("latest on " << d.to_string() << " back " << back);
                const auto got = market->latest_bars(symbols, d, back);
                REQUIRE(got.size() == symbols.size());
                for (std::size_t i = 0; i < symbols.size(); ++i) {
                    const auto* latest = scan(symbols[i], [&](const core::Bar& b, const core::Bar*) { return b.date <= d; });
                    if (latest && latest->date < d.plus_days(-back)) latest = nullptr;
                    CHECK(close_of(got[i]) == close_of(latest));
                }
            }
            for (const int span : {0, 1, 6}) {
                INFO("daily bars from " << d.to_string() << " for " << span << " days");
                const Date to = d.plus_days(span);
                std::vector<std::pair<core::Symbol, double>> want, got;
                for (const auto& s : symbols)
                    if (const auto it = bars->find(s); it != bars->end())
                        for (const auto& b : it->second)
                            if (b.date >= d && b.date <= to) want.emplace_back(s, b.close);
                const auto fetched = wait(market->daily_bars(symbols, d, to));
                REQUIRE(fetched);
                for (const auto& b : fetched.value()) got.emplace_back(b.symbol, b.close);
                CHECK(got == want);
            }
        }
        CHECK(checked > 500);
    }
}
