// The per-symbol rows of one repository call (signals, targets, position snapshots, the
// events of one broker answer) are written as they would be one INSERT per row: the same
// rows, values and rowids, the same upserts over rows already there, whatever the number
// of rows (statement chunks hold up to 64). The expected rows are worked out here from
// the rules of the schema (a new row takes max(rowid) + 1; an upsert keeps its rowid).
#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "storage/journal.hpp"
#include "../support/temp_dir.hpp"

using namespace ballast;
using core::Date;
using core::Decimal;
using storage::Journal;
using storage::JournalError;
using ballast::test::TempDir;

namespace {

Decimal dec(const std::string& text) { return *Decimal::parse(text); }
Date day(unsigned d) { return Date::from_ymd(2025, 3, d); }

std::string symbol(int i) {
    char name[16];
    std::snprintf(name, sizeof name, "S%03d", i);
    return name;
}

// Every row of `sql` as text, one line a row.
std::string rows(Journal& j, const std::string& sql) {
    SQLite::Statement st(j.db(), sql);
    std::ostringstream out;
    while (st.executeStep()) {
        for (int c = 0; c < st.getColumnCount(); ++c) {
            if (c) out << "|";
            const auto col = st.getColumn(c);
            if (col.isNull()) out << "NULL";
            else if (col.isFloat()) out << col.getDouble();
            else out << col.getString();
        }
        out << "\n";
    }
    return out.str();
}

// A table as the schema would hold it after single-row writes: rowid -> row text, and
// key -> rowid for the upserts.
struct Expected {
    std::map<std::int64_t, std::string> by_rowid;
    std::map<std::string, std::int64_t> by_key;
    void upsert(const std::string& key, const std::string& row) {
        if (const auto it = by_key.find(key); it != by_key.end()) {
            by_rowid[it->second] = row;
            return;
        }
        const std::int64_t id = by_rowid.empty() ? 1 : by_rowid.rbegin()->first + 1;
        by_rowid[id] = row;
        by_key[key] = id;
    }
    std::string text() const {
        std::ostringstream out;
        for (const auto& [id, row] : by_rowid) out << id << "|" << row << "\n";
        return out.str();
    }
};

std::string num(double v) {
    std::ostringstream out;
    out << v;
    return out.str();
}

struct Fixture {
    TempDir dir;
    std::unique_ptr<Journal> j = Journal::open(dir.file("journal.db"));
    std::int64_t run = storage::RunRepository(*j).start_run("backtest", "sim", "c.toml", "t");
    std::int64_t job(Date session, const char* name) {
        return storage::RunRepository(*j).start_job(run, session, name, "t");
    }
};

const int kSizes[] = {0, 1, 63, 64, 65, 128, 129, 500};

}  // namespace

TEST_CASE_METHOD(Fixture, "signals are the rows one INSERT per signal gave, upserts included", "[storage][multirow]") {
    storage::SignalRepository repo(*j);
    Expected expected;
    const auto first = job(day(3), "signals"), second = job(day(4), "signals");
    for (const int n : kSizes) {
        INFO(n << " signals");
        const Date session = day(10 + static_cast<unsigned>(n % 5));  // some sizes share a session
        core::SymbolMap<double> signals;
        for (int i = 0; i < n; ++i) signals[symbol(i)] = (i % 41 - 20) / 20.0;
        repo.save_signals(first, session, "trend", signals);
        for (const auto& [s, v] : signals)
            expected.upsert(session.to_string() + s, std::to_string(first) + "|" + session.to_string() + "|trend|" + s +
                                                         "|" + num(v));
        REQUIRE(rows(*j, "SELECT rowid, job_run_id, session_date, strategy, symbol, value FROM signals ORDER BY rowid") ==
                expected.text());

        // Again over half of them and as many new ones (a job resumed after a crash).
        core::SymbolMap<double> again;
        for (int i = n / 2; i < n / 2 + n; ++i) again[symbol(i)] = -((i % 37) / 40.0) - 0.01;
        repo.save_signals(second, session, "trend", again);
        for (const auto& [s, v] : again)
            expected.upsert(session.to_string() + s, std::to_string(second) + "|" + session.to_string() + "|trend|" + s +
                                                         "|" + num(v));
        REQUIRE(rows(*j, "SELECT rowid, job_run_id, session_date, strategy, symbol, value FROM signals ORDER BY rowid") ==
                expected.text());
    }
}

TEST_CASE_METHOD(Fixture, "targets are the rows one INSERT per target gave, upserts included", "[storage][multirow]") {
    storage::SignalRepository repo(*j);
    Expected expected;
    const auto first = job(day(3), "signals"), second = job(day(4), "signals");
    for (const int n : kSizes) {
        INFO(n << " targets");
        const Date session = day(10 + static_cast<unsigned>(n % 5));
        core::Weights targets;
        for (int i = 0; i < n; ++i) targets[symbol(i)] = dec("0.00" + std::to_string(100 + i)) + dec("0.1") + dec("0.2");
        repo.save_targets(first, session, "trend", targets);
        for (const auto& [s, w] : targets)
            expected.upsert(session.to_string() + s, std::to_string(first) + "|" + session.to_string() + "|trend|" + s +
                                                         "|" + w.to_string());
        REQUIRE(rows(*j, "SELECT rowid, job_run_id, session_date, strategy, symbol, weight FROM targets ORDER BY rowid") ==
                expected.text());
        CHECK(repo.targets_for(session).size() >= targets.size());

        core::Weights again;  // another strategy's targets replace them symbol by symbol
        for (int i = n / 2; i < n / 2 + n; ++i) again[symbol(i)] = dec("-0.5") / Decimal::from_int(i + 3);
        repo.save_targets(second, session, "momentum", again);
        for (const auto& [s, w] : again)
            expected.upsert(session.to_string() + s, std::to_string(second) + "|" + session.to_string() + "|momentum|" +
                                                         s + "|" + w.to_string());
        REQUIRE(rows(*j, "SELECT rowid, job_run_id, session_date, strategy, symbol, weight FROM targets ORDER BY rowid") ==
                expected.text());
    }
}

TEST_CASE_METHOD(Fixture, "position snapshots are the rows one INSERT per position gave", "[storage][multirow]") {
    storage::EquityRepository equity(*j);
    const auto reb = job(day(3), "rebalance");
    for (const int n : kSizes) {
        INFO(n << " positions");
        storage::EquitySnapshot s;
        s.job_run_id = reb;
        s.session = day(10 + static_cast<unsigned>(n % 5));
        s.at = s.session.to_string() + "T21:00:00Z";
        s.cash = dec("1000.25");
        s.equity = dec("123456.789");
        for (int i = 0; i < n; ++i)
            s.positions.push_back({symbol(i), dec(std::to_string(i + 1) + ".125"), dec("99.5") + Decimal::from_int(i),
                                   dec("12.5") * Decimal::from_int(i + 1), i / 1000.0});
        // A session's earlier snapshot is replaced: its positions go, the new ones follow
        // the rows left (rowid = max + 1).
        const auto before = rows(*j, "SELECT rowid, snapshot_id, symbol, qty, price, market_value, weight"
                                     " FROM position_snapshots WHERE snapshot_id NOT IN (SELECT id FROM equity_snapshots"
                                     " WHERE session_date = '" + s.session.to_string() + "') ORDER BY rowid");
        std::int64_t next = j->db().execAndGet("SELECT COALESCE(MAX(rowid), 0) FROM position_snapshots WHERE snapshot_id"
                                               " NOT IN (SELECT id FROM equity_snapshots WHERE session_date = '" +
                                               s.session.to_string() + "')")
                                .getInt64() + 1;
        equity.save(s);
        const std::int64_t id =
            j->db().execAndGet("SELECT id FROM equity_snapshots WHERE session_date = '" + s.session.to_string() + "'").getInt64();
        std::ostringstream mine;
        for (const auto& p : s.positions)
            mine << next++ << "|" << id << "|" << p.symbol << "|" << p.qty.to_string() << "|" << p.price.to_string() << "|"
                 << p.market_value.to_string() << "|" << num(p.weight) << "\n";
        CHECK(rows(*j, "SELECT rowid, snapshot_id, symbol, qty, price, market_value, weight FROM position_snapshots"
                       " WHERE snapshot_id = " + std::to_string(id) + " ORDER BY rowid") == mine.str());
        CHECK(rows(*j, "SELECT rowid, snapshot_id, symbol, qty, price, market_value, weight FROM position_snapshots"
                       " WHERE snapshot_id <> " + std::to_string(id) + " ORDER BY rowid") == before);
        const auto latest = equity.latest();
        REQUIRE(latest);
        if (latest->session == s.session) CHECK(latest->positions.size() == static_cast<std::size_t>(n));
    }
}

TEST_CASE_METHOD(Fixture, "the events of one answer are the rows one append_event per event gave", "[storage][multirow]") {
    storage::OrderRepository orders(*j);
    const auto reb = job(day(3), "rebalance");
    const auto intent = [&](const std::string& id) {
        storage::OrderIntent i;
        i.client_order_id = id;
        i.job_run_id = reb;
        i.session = day(3);
        i.symbol = "VTI";
        i.qty = dec("1000");
        i.ref_price = dec("10");
        i.notional = dec("10000");
        i.at = "t0";
        i.risk = "risk ok: within limits";
        return orders.record_intent(i);
    };
    for (const int n : {0, 1, 2, 3, 63, 64, 65, 130}) {
        INFO(n << " events");
        std::vector<storage::OrderRepository::StatusEvent> events;
        for (int k = 0; k < n; ++k) {
            storage::OrderEvent e;
            e.at = "2025-03-03T15:" + std::to_string(10 + k % 50) + ":00Z";
            if (k == 0) {
                e.event = "submitted";
            } else if (k % 3 == 0) {
                e.event = "accepted";
                e.detail = k % 2 ? "" : "venue note " + std::to_string(k);
            } else {
                e.event = k + 1 == n ? "filled" : "partially_filled";
                e.qty = dec("1.5");
                e.price = dec("10.25") + Decimal::from_int(k % 7);
                if (k % 2) e.commission = dec("0.01");
            }
            events.push_back({e, k == 0 ? "submitted" : k + 1 == n ? "filled" : "partially_filled"});
        }
        const auto together = intent("together-" + std::to_string(n));
        const auto one_by_one = intent("single-" + std::to_string(n));
        orders.append_events(together, events, "brk-" + std::to_string(n));
        for (std::size_t k = 0; k < events.size(); ++k)
            orders.append_event(one_by_one, events[k].event, events[k].new_status, k == 0 ? "brk-" + std::to_string(n) : "");
        const auto history = [&](std::int64_t id) {
            return rows(*j, "SELECT at, event, qty, price, commission, detail FROM order_events WHERE order_id = " +
                                std::to_string(id) + " ORDER BY id");
        };
        CHECK(history(together) == history(one_by_one));
        CHECK(rows(*j, "SELECT COUNT(*) FROM order_events WHERE order_id = " + std::to_string(together)) ==
              std::to_string(n + 1) + "\n");
        // Appended in order, ids ascending without gaps.
        if (n > 0)
            CHECK(rows(*j, "SELECT MAX(id) - MIN(id) + 1 FROM order_events WHERE event <> 'intent_recorded' AND order_id = " +
                               std::to_string(together)) == std::to_string(n) + "\n");
        const auto order = [&](std::int64_t id) {
            return rows(*j, "SELECT broker_order_id, status, filled_qty, filled_avg_price, updated_at FROM orders"
                            " WHERE id = " + std::to_string(id));
        };
        CHECK(order(together) == order(one_by_one));
    }
}

TEST_CASE_METHOD(Fixture, "a row that fails fails the whole write, with the same messages", "[storage][multirow]") {
    storage::SignalRepository repo(*j);
    storage::EquityRepository equity(*j);
    const auto sig = job(day(3), "signals");
    for (const int bad : {0, 63, 64, 65, 499}) {
        INFO("bad row " << bad);
        core::SymbolMap<double> signals;
        for (int i = 0; i < 500; ++i) signals[symbol(i)] = i == bad ? 1.5 : 0.5;
        try {
            repo.save_signals(sig, day(4), "trend", signals);
            FAIL("expected a constraint error");
        } catch (const JournalError& e) {
            CHECK(e.kind() == JournalError::Kind::constraint);
            CHECK_THAT(e.what(), Catch::StartsWith("journal " + j->path().string() + ": cannot store signals: ") &&
                                     Catch::Contains("CHECK constraint failed"));
        }
        CHECK(rows(*j, "SELECT COUNT(*) FROM signals") == "0\n");
    }

    core::Weights targets;
    for (int i = 0; i < 100; ++i) targets[symbol(i)] = dec("0.01");
    CHECK_THROWS_WITH(repo.save_targets(sig + 1000, day(4), "trend", targets),
                      Catch::StartsWith("journal " + j->path().string() + ": cannot store targets: ") &&
                          Catch::Contains("FOREIGN KEY constraint failed"));
    CHECK(rows(*j, "SELECT COUNT(*) FROM targets") == "0\n");

    // A snapshot whose 66th position repeats a symbol is refused whole; the session's
    // earlier snapshot stays.
    storage::EquitySnapshot s{0, day(4), "t", dec("1"), dec("2"), {}};
    s.positions.push_back({"A", dec("1"), dec("1"), dec("1"), 0.5});
    equity.save(s);
    s.positions.clear();
    for (int i = 0; i < 65; ++i) s.positions.push_back({symbol(i), dec("1"), dec("1"), dec("1"), 0});
    s.positions.push_back({symbol(3), dec("1"), dec("1"), dec("1"), 0});
    CHECK_THROWS_WITH(equity.save(s), Catch::StartsWith("journal " + j->path().string() +
                                                        ": cannot store the equity snapshot: ") &&
                                          Catch::Contains("UNIQUE constraint failed: position_snapshots.snapshot_id,"
                                                          " position_snapshots.symbol"));
    CHECK(rows(*j, "SELECT symbol FROM position_snapshots") == "A\n");
}
