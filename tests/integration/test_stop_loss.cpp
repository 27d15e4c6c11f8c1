// The per-position stop-loss (risk.stop_loss_pct) through the real binary: a holding
// that closes at or past its stop below the broker's average entry price is sold in full
// on that very session, whatever the rebalance calendar says, and nothing else trades;
// the next scheduled rebalance decides afresh. Backtest and `run --replay` agree.
#include <cmath>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include "../support/process.hpp"
#include "core/calendar.hpp"

using namespace ballast::test;
namespace fs = std::filesystem;

namespace {

// AAA holds at 100 through 2024-02-01, then closes 2% lower every session; BBB stays at 50.
// 2024-02-01's rebalance finds nothing worth $10 to trade, so 2024-02-02 rebalances (AAA at
// 98: the average entry becomes 99.9797). Closes of AAA: 02-05 96.04, 02-06 94.1192, 02-07
// 92.2368, 02-08 90.3922, 02-09 88.5843: the first at least 10% below the entry is 02-09.
void write_prices(const fs::path& dir) {
    fs::create_directories(dir);
    std::string aaa = "Date,Open,High,Low,Close,Adj Close,Volume\n";
    std::string bbb = aaa;
    double price = 100;
    const auto start = ballast::core::Date::parse("2024-01-02").value();
    const auto end = ballast::core::Date::parse("2024-03-28").value();
    for (const auto d : ballast::core::trading_days(start, end)) {
        const double open = price;
        if (d > ballast::core::Date::parse("2024-02-01").value()) price = std::round(price * 0.98 * 10000) / 10000;
        char line[160];
        std::snprintf(line, sizeof line, "%s,%.4f,%.4f,%.4f,%.4f,%.4f,1000\n", d.to_string().c_str(), open,
                      std::max(open, price) + 0.5, std::min(open, price) - 0.5, price, price);
        aaa += line;
        std::snprintf(line, sizeof line, "%s,50,50.5,49.5,50,50,1000\n", d.to_string().c_str());
        bbb += line;
    }
    write_file(dir / "AAA.csv", aaa);
    write_file(dir / "BBB.csv", bbb);
}

std::string config(const fs::path& journal, const fs::path& prices, bool stop) {
    return "mode = \"sim\"\njournal = \"" + journal.string() +
           "\"\n[strategy]\nname = \"pair\"\n[strategy.weights]\nAAA = 50\nBBB = 50\n"
           "[rebalance]\ncalendar = \"monthly\"\nmin_interval_days = 0\n"
           "[orders]\nfractional = true\n"
           "[risk]\nmax_position_pct = 60\n" +
           std::string(stop ? "stop_loss_pct = 10\n" : "") + "[sim]\ndata_dir = \"" + prices.string() +
           "\"\nfill = \"close\"\nslippage_bps = 0\nprice_field = \"close\"\nstart = \"2024-01-02\"\nend = \"2024-03-28\"\n";
}

using Order = std::tuple<std::string, std::string, std::string, std::string, std::string>;

std::vector<Order> orders_of(const fs::path& journal) {
    SQLite::Database db(journal.string(), SQLite::OPEN_READONLY);
    SQLite::Statement q(db, "SELECT session_date, symbol, side, qty, status FROM orders ORDER BY session_date, leg");
    std::vector<Order> out;
    while (q.executeStep())
        out.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                         q.getColumn(3).getString(), q.getColumn(4).getString());
    return out;
}

std::string one(const fs::path& journal, const std::string& sql) {
    SQLite::Database db(journal.string(), SQLite::OPEN_READONLY);
    SQLite::Statement q(db, sql);
    return q.executeStep() && !q.getColumn(0).isNull() ? q.getColumn(0).getString() : "";
}

}  // namespace

TEST_CASE("a stop-loss sells the stopped holding on its session, in backtest and daemon alike",
          "[integration][stop_loss]") {
    TempDir dir;
    write_prices(dir / "prices");
    write_file(dir / "stop.toml", config(dir / "daemon.db", dir / "prices", true));
    const auto backtest = run_ballast("backtest -q --json --config " + shell_quote((dir / "stop.toml").string()) +
                                          " --journal " + shell_quote((dir / "backtest.db").string()),
                                      "", (dir / "stderr.txt").string());
    INFO(read_bytes(dir / "stderr.txt"));
    REQUIRE(backtest.exit_code == 0);
    CHECK(backtest.output.find("\"stop_exits\": 2") != std::string::npos);  // 02-09, and 03-11 after the buy-back
    const auto daemon = run_ballast("run --replay --config " + shell_quote((dir / "stop.toml").string()));
    INFO(daemon.output);
    REQUIRE(daemon.exit_code == 0);

    for (const auto& journal : {dir / "backtest.db", dir / "daemon.db"}) {
        INFO(journal.string());
        const auto orders = orders_of(journal);
        // 2024-01-02 buys both; 2024-02-09 sells all of AAA and nothing else; 2024-03-01
        // (the next monthly rebalance) buys AAA back.
        std::vector<Order> on_stop_day;
        for (const auto& o : orders)
            if (std::get<0>(o) == "2024-02-09") on_stop_day.push_back(o);
        REQUIRE(on_stop_day.size() == 1);
        CHECK(std::get<1>(on_stop_day[0]) == "AAA");
        CHECK(std::get<2>(on_stop_day[0]) == "sell");
        CHECK(std::get<4>(on_stop_day[0]) == "filled");
        // Sold in full: the shares held before are the shares sold.
        CHECK(one(journal, "SELECT qty FROM position_snapshots p JOIN equity_snapshots e ON e.id = p.snapshot_id"
                           " WHERE p.symbol = 'AAA' AND e.session_date < '2024-02-09'"
                           " ORDER BY e.session_date DESC LIMIT 1") == std::get<3>(on_stop_day[0]));
        CHECK(one(journal, "SELECT COUNT(*) FROM orders WHERE session_date > '2024-02-02' AND session_date < '2024-02-09'") ==
              "0");
        const auto reason = one(journal, "SELECT reason FROM rebalance_decisions WHERE session_date = '2024-02-09'");
        CHECK(reason.rfind("stop-loss: AAA at 88.5843 is 11.40% below its reference 99.9797, at or past the stop of 10.00%", 0) ==
              0);
        // Not a rebalance: the March calendar rebalance still happens, and buys AAA back.
        CHECK(one(journal, "SELECT rebalance FROM rebalance_decisions WHERE session_date = '2024-02-09'") == "0");
        CHECK(one(journal, "SELECT COUNT(*) FROM orders WHERE session_date = '2024-03-01' AND symbol = 'AAA'"
                           " AND side = 'buy'") == "1");
        CHECK(one(journal, "SELECT COUNT(*) FROM health_events WHERE kind = 'stop_loss'") != "0");
    }
    CHECK(orders_of(dir / "backtest.db") == orders_of(dir / "daemon.db"));

    // Without stop_loss_pct the same history holds AAA down to March.
    write_file(dir / "nostop.toml", config(dir / "unused.db", dir / "prices", false));
    const auto plain = run_ballast("backtest -q --json --config " + shell_quote((dir / "nostop.toml").string()) +
                                       " --journal " + shell_quote((dir / "plain.db").string()),
                                   "", (dir / "stderr.txt").string());
    REQUIRE(plain.exit_code == 0);
    CHECK(one(dir / "plain.db", "SELECT COUNT(*) FROM orders WHERE session_date = '2024-02-09'") == "0");
    CHECK(one(dir / "plain.db", "SELECT COUNT(*) FROM health_events WHERE kind = 'stop_loss'") == "0");
}
