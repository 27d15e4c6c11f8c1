// End to end through the real binary: replay the bundled history into a temp journal,
// then check the journal independently of the code that wrote it.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <set>

#include <SQLiteCpp/SQLiteCpp.h>

#include "../support/process.hpp"

using ballast::test::run_ballast;
using ballast::test::shell_quote;
using ballast::test::TempDir;

namespace {

const std::map<std::string, double> kTargets{{"VTI", 0.4}, {"TLT", 0.3}, {"GLD", 0.2}, {"DBC", 0.1}};

int count_migrations() {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(BALLAST_MIGRATIONS_DIR))
        if (e.path().extension() == ".sql") ++n;
    return n;
}

// Days between two YYYY-MM-DD dates.
int days_between(const std::string& a, const std::string& b) {
    auto to_days = [](const std::string& s) {
        std::tm tm{};
        tm.tm_year = std::stoi(s.substr(0, 4)) - 1900;
        tm.tm_mon = std::stoi(s.substr(5, 2)) - 1;
        tm.tm_mday = std::stoi(s.substr(8, 2));
        return static_cast<long>(timegm(&tm) / 86400);
    };
    return static_cast<int>(to_days(b) - to_days(a));
}

struct Replay {
    TempDir dir;
    std::filesystem::path journal = dir / "journal.db";
    ballast::test::ProcessResult result;
    explicit Replay(const std::string& sim_extra, const std::string& window = "") {
        const auto config = dir / "config.toml";
        ballast::test::write_file(config, ballast::test::sim_config(journal, sim_extra));
        result = run_ballast("demo --quiet --config " + shell_quote(config.string()) + " --journal " +
                             shell_quote(journal.string()) + window);
    }
};

void check_common_invariants(SQLite::Database& db) {
    // WAL and the schema version.
    CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
    CHECK(db.execAndGet("PRAGMA user_version").getInt() == count_migrations());
    CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
    // No order with a non-positive quantity.
    CHECK(db.execAndGet("SELECT count(*) FROM orders WHERE CAST(qty AS REAL) <= 0").getInt() == 0);
    CHECK(db.execAndGet("SELECT count(*) FROM orders").getInt() > 0);
    // Within a job run, every sell precedes every buy (by leg and by row order).
    CHECK(db.execAndGet("SELECT count(*) FROM orders s JOIN orders b ON s.job_run_id = b.job_run_id"
                        " WHERE s.side = 'sell' AND b.side = 'buy' AND (s.leg > b.leg OR s.id > b.id)")
              .getInt() == 0);
    // Every order reached a terminal state at the broker, and each has its intent event first.
    CHECK(db.execAndGet("SELECT count(*) FROM orders WHERE status NOT IN ('filled','canceled','rejected','denied','expired')"
                        " AND session_date < (SELECT max(session_date) FROM orders)")
              .getInt() == 0);
    CHECK(db.execAndGet("SELECT count(*) FROM orders o WHERE (SELECT event FROM order_events e WHERE e.order_id = o.id"
                        " ORDER BY e.id LIMIT 1) IS NOT 'intent_recorded'")
              .getInt() == 0);
    // No job ran twice for a session.
    CHECK(db.execAndGet("SELECT count(*) FROM (SELECT 1 FROM job_runs WHERE dry_run = 0"
                        " GROUP BY session_date, job HAVING count(*) > 1)")
              .getInt() == 0);
}

}  // namespace

TEST_CASE("replay with fills at the close: rebalances only on drift and interval, weights on target after",
          "[integration][replay]") {
    Replay replay("fill = \"close\"\n");
    INFO(replay.result.output);
    REQUIRE(replay.result.exit_code == 0);
    SQLite::Database db(replay.journal.string(), SQLite::OPEN_READONLY);
    check_common_invariants(db);

    // Per session: equity snapshot positions (end of session) and valuation prices.
    std::vector<std::string> sessions;
    {
        SQLite::Statement st(db, "SELECT session_date FROM equity_snapshots ORDER BY session_date");
        while (st.executeStep()) sessions.push_back(st.getColumn(0).getString());
    }
    REQUIRE(sessions.size() > 4000);
    auto positions_at = [&](const std::string& session, double& cash) {
        std::map<std::string, double> qty;
        SQLite::Statement st(db, "SELECT CAST(s.cash AS REAL), p.symbol, CAST(p.qty AS REAL) FROM equity_snapshots s"
                                 " LEFT JOIN position_snapshots p ON p.snapshot_id = s.id WHERE s.session_date = ?");
        st.bind(1, session);
        while (st.executeStep()) {
            cash = st.getColumn(0).getDouble();
            if (!st.getColumn(1).isNull()) qty[st.getColumn(1).getString()] = st.getColumn(2).getDouble();
        }
        return qty;
    };
    auto price_of = [&](const std::string& symbol, const std::string& session) {
        SQLite::Statement st(db, "SELECT adj_close FROM bars WHERE symbol = ? AND date = ?");
        st.bind(1, symbol);
        st.bind(2, session);
        REQUIRE(st.executeStep());
        return st.getColumn(0).getDouble();
    };
    std::set<std::string> rebalanced;
    {
        SQLite::Statement st(db, "SELECT DISTINCT session_date FROM orders WHERE status IN ('filled','canceled')");
        while (st.executeStep()) rebalanced.insert(st.getColumn(0).getString());
    }
    REQUIRE(rebalanced.size() >= 3);

    std::string last_rebalance;
    int checked_holds = 0;
    for (std::size_t i = 0; i < sessions.size(); ++i) {
        const auto& s = sessions[i];
        const bool did = rebalanced.count(s) > 0;
        if (i > 0) {
            // Drift before trading: yesterday's holdings at today's prices.
            double cash = 0;
            const auto held = positions_at(sessions[i - 1], cash);
            double equity = cash;
            std::map<std::string, double> value;
            for (const auto& [sym, q] : held) equity += value[sym] = q * price_of(sym, s);
            double max_drift = 0;
            for (const auto& [sym, t] : kTargets) max_drift = std::max(max_drift, std::fabs(value[sym] / equity - t));
            const bool interval_ok = last_rebalance.empty() || days_between(last_rebalance, s) >= 30;
            INFO("session " << s << " drift " << max_drift << " last rebalance " << last_rebalance);
            if (did) {
                CHECK(interval_ok);
                CHECK(max_drift > 0.05);
            } else if (interval_ok && std::fabs(max_drift - 0.05) > 1e-4) {
                CHECK(max_drift < 0.05);  // no rebalance was missed
                ++checked_holds;
            }
        }
        if (did) {
            // Right after the rebalance every weight is within 1 percentage point of its target.
            double cash = 0;
            const auto held = positions_at(s, cash);
            double equity = cash;
            for (const auto& [sym, q] : held) equity += q * price_of(sym, s);
            for (const auto& [sym, t] : kTargets) {
                const double w = held.count(sym) ? held.at(sym) * price_of(sym, s) / equity : 0.0;
                INFO("after rebalance " << s << " " << sym << " weight " << w);
                CHECK(std::fabs(w - t) <= 0.01);
            }
            last_rebalance = s;
        }
    }
    CHECK(checked_holds > 1000);
}

TEST_CASE("replay with next-open fills keeps the order invariants", "[integration][replay]") {
    Replay replay("fill = \"next_open\"\nslippage_bps = 10\ncommission_per_order = 1.0\n",
                  " --from 2010-01-04 --to 2014-12-31");
    INFO(replay.result.output);
    REQUIRE(replay.result.exit_code == 0);
    CHECK(replay.result.output.find("summary 2010-01-04 .. 2014-12-31") != std::string::npos);
    SQLite::Database db(replay.journal.string(), SQLite::OPEN_READONLY);
    check_common_invariants(db);
    // Orders are filled the session after they were placed, at that session's open.
    CHECK(db.execAndGet("SELECT count(*) FROM order_events WHERE event = 'filled' AND commission = '1'").getInt() > 0);
    CHECK(db.execAndGet("SELECT min(session_date) FROM equity_snapshots").getString() == "2010-01-04");
}

TEST_CASE("the demo runs on the shipped config and prints its summary", "[integration][demo]") {
    TempDir dir;
    const auto journal = dir / "ballast-demo.db";
    const auto r = run_ballast("demo --config " + shell_quote(std::string(BALLAST_TEST_DATA_DIR) + "/../../config.toml") +
                               " --journal " + shell_quote(journal.string()));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    for (const char* needle : {"  2006  equity", "  2025  equity", "start value     $100,000.00", "end value", "CAGR",
                               "max drawdown", "rebalances", "orders", "journal: ", "sqlite3 -header -column"})
        CHECK(r.output.find(needle) != std::string::npos);
    SQLite::Database db(journal.string(), SQLite::OPEN_READONLY);
    check_common_invariants(db);
    // The three commands the demo prints work on its journal.
    CHECK(db.execAndGet("SELECT count(*) FROM v_equity").getInt() > 4000);
    CHECK(db.execAndGet("SELECT count(*) FROM v_orders").getInt() > 0);
    CHECK(db.execAndGet("SELECT count(*) FROM rebalance_decisions WHERE rebalance = 1").getInt() > 0);
}

TEST_CASE("a demo whose journal cannot be written any more stops with the journal's error (exit 74)",
          "[integration][demo][failure]") {
    // The file-size limit of the process stands for a full disk: the journal outgrows it
    // within the first batches and SQLite's write fails.
    TempDir dir;
    const auto journal = dir / "ballast-demo.db";
    const auto r = run_ballast("demo --config " + shell_quote(std::string(BALLAST_TEST_DATA_DIR) + "/../../config.toml") +
                                   " --journal " + shell_quote(journal.string()),
                               "trap '' XFSZ; ulimit -f 2048;");
    INFO(r.output);
    CHECK(r.exit_code == 74);
    CHECK(r.output.find("ballast: journal ") != std::string::npos);
    // What was committed before stays readable.
    SQLite::Database db(journal.string(), SQLite::OPEN_READONLY);
    CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
}
