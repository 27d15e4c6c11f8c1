// A transient journal (Journal::transient(), used by `backtest --no-journal` and sweep
// points) must answer every read the jobs and the scheduler make exactly as a SQLite
// journal holding the same writes does. One script of writes runs against both; after
// every step, every read is rendered as text and the two texts must be equal.
// A journal written behind (Journal::open_write_behind, `ballast backtest`'s journal file)
// answers as a transient one and must leave in its file the rows a journal file written
// directly holds, batches, failures and all.
#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <functional>
#include <future>
#include <sstream>
#include <string>
#include <vector>

#include "storage/journal.hpp"
#include "../support/journal_text.hpp"
#include "../support/temp_dir.hpp"

using namespace ballast;
using core::Date;
using core::Decimal;
using storage::Journal;
using storage::JobStatus;
using storage::JournalError;
using ballast::test::TempDir;

namespace {

Decimal dec(const char* text) { return *Decimal::parse(text); }
Date day(int d) { return Date::from_ymd(2024, 3, static_cast<unsigned>(d)); }

using ballast::test::render;
using ballast::test::text;

// Every read the jobs and the scheduler make, as one text.
std::string reads(Journal& j) {
    std::ostringstream out;
    storage::RunRepository runs(j);
    storage::OrderRepository orders(j);
    storage::SignalRepository signals(j);
    storage::EquityRepository equity(j);
    for (int d = 1; d <= 8; ++d)
        for (const char* job : {"data-update", "signals", "rebalance"})
            for (bool dry : {false, true})
                if (const auto r = runs.find_job(day(d), job, dry))
                    out << "job " << r->id << " " << r->session.to_string() << " " << r->job << " "
                        << storage::to_string(r->status) << " " << r->error << "|" << r->detail << "\n";
    out << "latest session " << text(runs.latest_session()) << "\n";
    for (const auto& o : orders.non_terminal()) out << "open " << render(o) << "\n";
    for (int d = 1; d <= 8; ++d)
        for (const auto& o : orders.for_session(day(d))) out << "session " << render(o) << "\n";
    for (const char* id : {"a-1", "a-2", "b-1", "b-2", "c-1", "zz"})
        if (const auto o = orders.by_client_order_id(id)) out << "by id " << render(*o) << "\n";
    out << "trailing rejections " << orders.trailing_rejections() << "\n";
    for (const auto& f : orders.fills())
        out << "fill " << f.session.to_string() << " " << core::to_string(f.side) << " " << f.qty.to_string() << " "
            << f.avg_price.to_string() << " " << text(f.commission) << "\n";
    for (std::int64_t r = 1; r <= 10; ++r) out << "count " << r << " " << orders.count_for_job_run(r) << "\n";
    out << "orders " << orders.count() << "\n";
    for (int d = 1; d <= 8; ++d)
        for (const auto& [s, w] : signals.targets_for(day(d))) out << "target " << d << " " << s << " " << w.to_string() << "\n";
    out << "last rebalance " << text(signals.last_rebalance()) << "\n";
    for (const auto& [d, e] : equity.equity_series()) out << "equity " << d.to_string() << " " << e.to_string() << "\n";
    out << "peak " << text(equity.peak()) << "\n";
    for (int d = 1; d <= 9; ++d) out << "before " << d << " " << text(equity.before(day(d))) << "\n";
    if (const auto l = equity.latest())
        out << "latest " << l->session.to_string() << " " << l->cash.to_string() << " " << l->equity.to_string() << "\n";
    out << "health " << storage::HealthRepository(j).count("job_failed") << "\n";
    if (const auto h = storage::ControlRepository(j).halt()) out << "halt " << h->reason << " " << h->set_by << "\n";
    return out.str();
}

using Step = std::function<void(Journal&)>;

storage::OrderEvent event(const char* name, const char* qty = nullptr, const char* price = nullptr,
                          const char* commission = nullptr) {
    storage::OrderEvent e;
    e.event = name;
    e.at = "2024-03-01T15:00:00Z";
    if (qty) e.qty = dec(qty);
    if (price) e.price = dec(price);
    if (commission) e.commission = dec(commission);
    return e;
}

storage::OrderIntent intent(const char* id, std::int64_t job_run, int session, int leg, const char* symbol,
                            core::Side side, const char* qty) {
    return {id, job_run, day(session), leg, symbol, side, dec(qty), dec("100"), dec(qty) * dec("100"), "r", "t", "risk ok"};
}

// Every row of every table of a journal file, ids included.
std::string dump(const std::filesystem::path& file) {
    SQLite::Database db(file, SQLite::OPEN_READONLY);
    std::ostringstream out;
    for (const char* table : {"runs", "job_runs", "signals", "targets", "rebalance_decisions", "orders", "order_events",
                              "equity_snapshots", "position_snapshots", "health_events", "control_flags",
                              "control_events", "bars"}) {
        SQLite::Statement st(db, std::string("SELECT * FROM ") + table + " ORDER BY 1, 2, 3");
        while (st.executeStep()) {
            out << table;
            for (int c = 0; c < st.getColumnCount(); ++c) out << "|" << st.getColumn(c).getString();
            out << "\n";
        }
    }
    return out.str();
}

std::size_t rows(const std::filesystem::path& file, const char* table) {
    SQLite::Database db(file, SQLite::OPEN_READONLY);
    return static_cast<std::size_t>(db.execAndGet(std::string("SELECT count(*) FROM ") + table).getInt64());
}

// A new journal written behind at `file`, holding run 1 and its job run 1 (rebalance, day 1).
std::unique_ptr<Journal> behind_with_job(const std::filesystem::path& file) {
    auto j = Journal::open_write_behind(file);
    storage::RunRepository(*j).start_run("backtest", "sim", "c.toml", "t0");
    storage::RunRepository(*j).start_job(1, day(1), "rebalance", "t1");
    return j;
}

// One script of writes reaching every kind of answer (shared with test_write_behind.cpp).
std::vector<Step> script() {
    return {
        [](Journal& j) { storage::RunRepository(j).start_run("backtest", "sim", "c.toml", "t0"); },
        [](Journal& j) { storage::RunRepository(j).start_job(1, day(1), "data-update", "t1"); },
        [](Journal& j) { storage::RunRepository(j).finish_job(1, JobStatus::succeeded, "t2", "", "stored"); },
        [](Journal& j) { storage::RunRepository(j).start_job(1, day(1), "signals", "t3"); },
        [](Journal& j) { storage::RunRepository(j).finish_job(2, JobStatus::failed, "t4", "no history", ""); },
        [](Journal& j) { storage::RunRepository(j).record_skipped(1, day(1), "rebalance", "t5", "signals failed"); },
        [](Journal& j) { storage::RunRepository(j).start_job(1, day(2), "rebalance", "t6", true); },
        [](Journal& j) { storage::RunRepository(j).start_job(1, day(2), "rebalance", "t7"); },
        [](Journal& j) { storage::SignalRepository(j).save_targets(5, day(2), "s", {{"A", dec("0.5")}, {"B", dec("0.5")}}); },
        [](Journal& j) { storage::OrderRepository(j).record_intent(intent("a-1", 5, 2, 0, "A", core::Side::sell, "3")); },
        [](Journal& j) { storage::OrderRepository(j).append_event(1, event("submitted"), "submitted", "brk-1"); },
        [](Journal& j) { storage::OrderRepository(j).append_event(1, event("partially_filled", "1", "101", "0.5"), "partially_filled"); },
        [](Journal& j) { storage::OrderRepository(j).append_event(1, event("filled", "2", "98.5", "1.25"), "filled"); },
        [](Journal& j) { storage::OrderRepository(j).record_intent(intent("a-2", 5, 2, 1, "B", core::Side::buy, "2.5")); },
        [](Journal& j) { storage::OrderRepository(j).append_event(2, event("denied"), "denied"); },
        [](Journal& j) {
            storage::SignalRepository(j).save_decision(5, {day(2), true, "calendar", 0.1, "A"});
        },
        [](Journal& j) {
            storage::EquitySnapshot s{5, day(2), "t8", dec("500"), dec("1000.5"), {{"A", dec("5"), dec("100"), dec("500.5"), 0.5}}};
            storage::EquityRepository(j).save(s);
        },
        [](Journal& j) { storage::RunRepository(j).finish_job(4, JobStatus::succeeded, "t9", "", "rebalanced"); },
        [](Journal& j) { storage::RunRepository(j).start_job(1, day(3), "rebalance", "t10"); },
        [](Journal& j) { storage::OrderRepository(j).record_intent(intent("b-1", 6, 3, 0, "B", core::Side::buy, "1")); },
        [](Journal& j) { storage::OrderRepository(j).append_event(3, event("rejected"), "rejected"); },
        [](Journal& j) { storage::OrderRepository(j).record_intent(intent("b-2", 6, 3, 1, "A", core::Side::buy, "1")); },
        [](Journal& j) { storage::OrderRepository(j).append_event(4, event("submitted"), "submitted", "brk-4"); },
        [](Journal& j) { storage::OrderRepository(j).append_event(4, event("accepted"), "accepted"); },
        [](Journal& j) { storage::SignalRepository(j).save_decision(6, {day(3), true, "drift", 0.2, "B"}); },
        // A resumed job turns its session's decision around, and back (an upsert each time).
        [](Journal& j) { storage::SignalRepository(j).save_decision(6, {day(3), false, "resumed: hold", 0.2, "B"}); },
        [](Journal& j) { storage::SignalRepository(j).save_decision(6, {day(3), true, "drift", 0.2, "B"}); },
        [](Journal& j) {
            storage::EquityRepository(j).save({6, day(3), "t11", dec("400"), dec("1200"), {}});
            storage::EquityRepository(j).save({6, day(3), "t12", dec("400"), dec("900"), {}});  // replaces
        },
        [](Journal& j) { storage::OrderRepository(j).append_event(4, event("canceled"), "canceled"); },
        [](Journal& j) { storage::RunRepository(j).start_job(1, day(4), "rebalance", "t13"); },
        [](Journal& j) { storage::OrderRepository(j).record_intent(intent("c-1", 7, 4, 0, "A", core::Side::buy, "1")); },
        [](Journal& j) { storage::OrderRepository(j).append_event(5, event("rejected"), "rejected"); },
        [](Journal& j) { storage::SignalRepository(j).save_decision(7, {day(4), false, "hold", 0, ""}); },
        [](Journal& j) { storage::EquityRepository(j).save({7, day(4), "t14", dec("1300"), dec("1300"), {}}); },
        [](Journal& j) { storage::HealthRepository(j).record("t15", "scheduler", "job_failed", "x"); },
        [](Journal& j) { storage::ControlRepository(j).set_halt("drawdown", "t16", "risk:drawdown"); },
        [](Journal& j) { storage::RunRepository(j).fail_orphans("t17", "crashed", day(5)); },
        [](Journal& j) { storage::ControlRepository(j).clear_halt("t18", "operator"); },
        [](Journal& j) { storage::RunRepository(j).finish_run(1, "succeeded", "t19"); },
        // Rows that only a journal file keeps.
        [](Journal& j) { storage::SignalRepository(j).save_signals(7, day(4), "s", {{"A", 0.5}, {"B", -1.0}}); },
        [](Journal& j) { storage::BarRepository(j).upsert({core::Bar{"A", day(4), 1, 2, 0.5, 1.5, 1.5, 10}}, "test"); },
    };
}

}  // namespace

TEST_CASE("a transient journal answers every read as a SQLite journal with the same writes", "[storage][transient]") {
    const auto steps = script();
    auto sql = Journal::open(":memory:");
    auto memory = Journal::transient();
    CHECK(memory->path() == ":transient:");
    CHECK(reads(*sql) == reads(*memory));
    for (std::size_t i = 0; i < steps.size(); ++i) {
        INFO("after step " << i + 1);
        steps[i](*sql);
        steps[i](*memory);
        REQUIRE(reads(*sql) == reads(*memory));
    }
    // The script reached every kind of answer.
    const auto final_reads = reads(*memory);
    CHECK(final_reads.find("open ") == std::string::npos);
    CHECK(final_reads.find("fill ") != std::string::npos);
    CHECK(final_reads.find("last rebalance 2024-03-02") != std::string::npos);  // 03-03's order was canceled
    CHECK(final_reads.find("trailing rejections 1") != std::string::npos);
}

TEST_CASE("a transient journal refuses what the journal's constraints refuse", "[storage][transient]") {
    for (auto make : {std::function<std::unique_ptr<Journal>()>([] { return Journal::open(":memory:"); }),
                      std::function<std::unique_ptr<Journal>()>([] { return Journal::transient(); })}) {
        auto j = make();
        storage::RunRepository runs(*j);
        runs.start_run("backtest", "sim", "", "t");
        runs.start_job(1, day(1), "signals", "t");
        CHECK_THROWS_AS(runs.start_job(1, day(1), "signals", "t"), storage::JournalError);
        CHECK_NOTHROW(runs.start_job(1, day(1), "signals", "t", true));  // dry runs may repeat
        CHECK_NOTHROW(runs.start_job(1, day(1), "signals", "t", true));
        storage::OrderRepository orders(*j);
        orders.record_intent(intent("x-1", 1, 1, 0, "A", core::Side::buy, "1"));
        CHECK_THROWS_AS(orders.record_intent(intent("x-1", 1, 1, 1, "A", core::Side::buy, "1")), storage::JournalError);
        CHECK_THROWS_AS(orders.append_event(99, event("filled", "1", "1"), "filled"), storage::JournalError);
        CHECK_THROWS_AS(runs.finish_job(99, JobStatus::succeeded, "t", "", ""), storage::JournalError);
    }
}

TEST_CASE("a transient journal keeps no bars and writes no file", "[storage][transient]") {
    auto j = Journal::transient();
    storage::BarRepository bars(*j);
    bars.upsert({core::Bar{"A", day(1), 1, 2, 0.5, 1.5, 1.5, 10}}, "test");
    CHECK(bars.count() == 0);
    CHECK_FALSE(bars.last_date("A"));
    CHECK(bars.range("A", day(1), day(9)).empty());
    CHECK(j->integrity_check() == "ok");
    CHECK(j->schema_version() == Journal::latest_version());
    storage::Transaction tx(*j);
    tx.commit();
}

TEST_CASE("a journal written behind reads as a transient one and lands the rows a journal file holds",
          "[storage][write-behind]") {
    const auto steps = script();
    TempDir dir;
    auto plain = Journal::open(dir.file("plain.db"));
    auto behind = Journal::open_write_behind(dir.file("behind.db"));
    CHECK(behind->path() == dir.file("behind.db"));
    // Steps 10..24 as one batch (a replay's), with a nested Transaction committed inside it;
    // the rest each on its own.
    std::unique_ptr<storage::Transaction> plain_tx, behind_tx;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        INFO("after step " << i + 1);
        if (i == 10) {
            plain_tx = std::make_unique<storage::Transaction>(*plain);
            behind_tx = std::make_unique<storage::Transaction>(*behind);
        }
        if (i == 15) {
            storage::Transaction a(*plain), b(*behind);
            steps[i](*plain);
            steps[i](*behind);
            a.commit();
            b.commit();
        } else {
            steps[i](*plain);
            steps[i](*behind);
        }
        if (i == 24) {
            plain_tx->commit();
            behind_tx->commit();
            plain_tx.reset();
            behind_tx.reset();
        }
        REQUIRE(reads(*plain) == reads(*behind));
    }
    behind->sync();
    const auto expected = dump(dir.file("plain.db"));
    CHECK(expected.find("signals|7|2024-03-04|s|B|-1") != std::string::npos);
    CHECK(expected.find("bars|A|2024-03-04") != std::string::npos);
    CHECK(expected.find("position_snapshots|") != std::string::npos);
    CHECK(dump(dir.file("behind.db")) == expected);
    // And once the journal is gone, the file is whole.
    behind.reset();
    CHECK(dump(dir.file("behind.db")) == expected);
    CHECK(Journal::open(dir.file("behind.db"))->integrity_check() == "ok");
}

TEST_CASE("a write the file refuses stops a journal written behind with that write's error",
          "[storage][write-behind]") {
    TempDir dir;
    const auto file = dir.file("behind.db");
    auto j = behind_with_job(file);
    storage::SignalRepository signals(*j);
    {
        storage::Transaction tx(*j);
        signals.save_targets(1, day(1), "s", {{"A", dec("1")}});
        tx.commit();
    }
    {
        // Memory keeps no foreign keys; the file refuses targets of a job run it does not hold.
        storage::Transaction tx(*j);
        signals.save_targets(1, day(2), "s", {{"A", dec("1")}});
        signals.save_targets(99, day(2), "s", {{"B", dec("1")}});
        tx.commit();  // handed over; the writer has not seen it yet
    }
    try {
        j->sync();
        FAIL("sync() did not throw");
    } catch (const JournalError& e) {
        CHECK(e.kind() == JournalError::Kind::constraint);
        CHECK_THAT(e.what(), Catch::Contains(file.string()) && Catch::Contains("FOREIGN KEY"));
    }
    // From then on: the next commit, a write outside a Transaction, sync.
    {
        storage::Transaction tx(*j);
        signals.save_targets(1, day(3), "s", {{"A", dec("1")}});
        CHECK_THROWS_WITH(tx.commit(), Catch::Contains("cannot commit: refused: the journal file refused an earlier "
                                                       "write") &&
                                           Catch::Contains("FOREIGN KEY"));
    }
    CHECK_THROWS_AS(storage::HealthRepository(*j).record("t", "test", "note", ""), JournalError);
    CHECK_THROWS_AS(j->sync(), JournalError);
    j.reset();
    // The file holds the batch before the failure, and nothing of it or after.
    CHECK(rows(file, "targets") == 1);
    CHECK(rows(file, "job_runs") == 1);
    CHECK(rows(file, "health_events") == 0);
    CHECK(Journal::open(file)->integrity_check() == "ok");
}

TEST_CASE("a journal written behind drops a batch that is not committed, and refuses writes from then on",
          "[storage][write-behind]") {
    TempDir dir;
    const auto file = dir.file("behind.db");
    auto j = behind_with_job(file);
    {
        storage::Transaction tx(*j);
        storage::SignalRepository(*j).save_decision(1, {day(1), true, "calendar", 0, ""});
        tx.commit();
    }
    const bool nested = GENERATE(false, true);
    INFO("undone as a nested transaction: " << nested);
    if (nested) {
        storage::Transaction tx(*j);
        storage::HealthRepository(*j).record("t", "test", "note", "");
        {
            storage::Transaction inner(*j);
            storage::SignalRepository(*j).save_targets(1, day(2), "s", {{"A", dec("1")}});
        }  // undone
        CHECK_THROWS_WITH(tx.commit(), Catch::Contains("cannot commit: refused"));
    } else {
        storage::Transaction tx(*j);
        storage::SignalRepository(*j).save_targets(1, day(2), "s", {{"A", dec("1")}});
    }  // undone
    // Memory keeps what the file will never have: from here on it is refused.
    CHECK(storage::SignalRepository(*j).targets_for(day(2)).size() == 1);  // reads answer from memory
    CHECK_THROWS_WITH(storage::Transaction(*j), Catch::Contains("cannot begin a transaction: refused") &&
                                                    Catch::Contains("a transaction was undone"));
    CHECK_THROWS_AS(storage::HealthRepository(*j).record("t", "test", "note", ""), JournalError);
    CHECK_THROWS_WITH(j->sync(), Catch::Contains("a transaction was undone"));
    j.reset();
    CHECK(rows(file, "rebalance_decisions") == 1);
    CHECK(rows(file, "targets") == 0);
    CHECK(rows(file, "health_events") == 0);
}

TEST_CASE("a write refused in memory inside a batch abandons it, as on a journal file", "[storage][write-behind]") {
    // The scheduler's sequence when a job's write fails: the job's error is caught, the job
    // run is finished (refused: the batch was abandoned), the batch is not committed.
    for (const bool behind : {false, true}) {
        INFO("written behind: " << behind);
        TempDir dir;
        const auto file = dir.file("j.db");
        auto j = behind ? Journal::open_write_behind(file) : Journal::open(file);
        storage::RunRepository runs(*j);
        storage::OrderRepository orders(*j);
        runs.start_run("backtest", "sim", "c.toml", "t0");
        {
            storage::Transaction tx(*j);
            const auto job = runs.start_job(1, day(1), "rebalance", "t1");
            orders.record_intent(intent("a-1", job, 1, 0, "A", core::Side::buy, "1"));
            runs.finish_job(job, JobStatus::succeeded, "t2", "", "ok");
            tx.commit();
        }
        {
            storage::Transaction tx(*j);
            const auto job = runs.start_job(1, day(2), "rebalance", "t3");
            CHECK_THROWS_WITH(orders.record_intent(intent("a-1", job, 2, 0, "A", core::Side::buy, "1")),
                              Catch::Contains("a-1"));
            CHECK_THROWS_WITH(runs.finish_job(job, JobStatus::failed, "t4", "duplicate", ""), Catch::Contains("refused"));
            CHECK_THROWS_AS(tx.commit(), JournalError);
        }
        if (behind) CHECK_THROWS_AS(j->sync(), JournalError);
        j.reset();
        CHECK(rows(file, "job_runs") == 1);
        CHECK(rows(file, "orders") == 1);
    }
}

TEST_CASE("only a new journal is written behind", "[storage][write-behind]") {
    TempDir dir;
    const auto file = dir.file("used.db");
    storage::RunRepository(*Journal::open(file)).start_run("run", "sim", "c.toml", "t0");
    const auto size = std::filesystem::file_size(file);
    const auto written = std::filesystem::last_write_time(file);
    CHECK_THROWS_WITH(Journal::open_write_behind(file),
                      Catch::Contains(file.string()) && Catch::Contains("already exists"));
    CHECK(std::filesystem::file_size(file) == size);  // not touched
    CHECK(std::filesystem::last_write_time(file) == written);
    CHECK_THROWS_AS(Journal::open_write_behind(dir.file("no-such-dir/x.db")), JournalError);
}

TEST_CASE("batches queued behind the writer land as one by one, up to the one the file refuses",
          "[storage][write-behind]") {
    TempDir dir;
    const auto file = dir.file("behind.db");
    auto j = behind_with_job(file);
    // The writer waits here until the four batches below are queued behind it, so it
    // takes them together: one transaction, which fails on the third and is applied again
    // batch by batch.
    std::promise<void> open_gate;
    std::shared_future<void> gate = open_gate.get_future().share();
    j->write_behind([gate](Journal&) { gate.wait(); });
    storage::SignalRepository signals(*j);
    for (int b = 1; b <= 4; ++b) {
        storage::Transaction tx(*j);
        signals.save_targets(b == 3 ? 99 : 1, day(b), "s", {{"A", dec("0.5")}, {"B", dec("0.5")}});
        storage::SignalRepository(*j).save_decision(1, {day(b), true, "calendar", 0, ""});
        tx.commit();
    }
    open_gate.set_value();
    CHECK_THROWS_WITH(j->sync(), Catch::Contains("FOREIGN KEY"));
    j.reset();
    CHECK(rows(file, "targets") == 4);  // batches 1 and 2, two rows each
    CHECK(rows(file, "rebalance_decisions") == 2);
    CHECK(rows(file, "job_runs") == 1);
}

TEST_CASE("batches queued behind the writer and applied together land as one by one", "[storage][write-behind]") {
    TempDir dir;
    auto plain = Journal::open(dir.file("plain.db"));
    auto behind = Journal::open_write_behind(dir.file("behind.db"));
    std::promise<void> open_gate;
    std::shared_future<void> gate = open_gate.get_future().share();
    behind->write_behind([gate](Journal&) { gate.wait(); });
    const auto steps = script();
    // Four batches of the script's steps, queued behind the waiting writer.
    const std::size_t per = (steps.size() + 3) / 4;
    for (std::size_t first = 0; first < steps.size(); first += per) {
        storage::Transaction a(*plain), b(*behind);
        for (std::size_t i = first; i < std::min(steps.size(), first + per); ++i) {
            steps[i](*plain);
            steps[i](*behind);
        }
        a.commit();
        b.commit();
    }
    open_gate.set_value();
    behind->sync();
    CHECK(dump(dir.file("behind.db")) == dump(dir.file("plain.db")));
}

TEST_CASE("a transient journal runs a job once per session, and keeps a session's latest dry run", "[storage][transient]") {
    // As a journal file does: each rule checked on both.
    for (const bool transient : {false, true}) {
        INFO((transient ? "transient" : "SQLite"));
        auto j = transient ? Journal::transient() : Journal::open(":memory:");
        storage::RunRepository runs(*j);
        runs.start_run("backtest", "sim", "c.toml", "t0");
        const auto first = runs.start_job(1, day(1), "rebalance", "t1");
        try {
            runs.start_job(1, day(1), "rebalance", "t2");
            FAIL("expected a constraint error");
        } catch (const JournalError& e) {
            CHECK(e.kind() == JournalError::Kind::constraint);
            CHECK(std::string(e.what()).find("rebalance") != std::string::npos);
        }
        CHECK(runs.find_job(day(1), "rebalance")->id == first);  // the first is kept
        const auto dry1 = runs.start_job(1, day(1), "rebalance", "t3", true);
        const auto dry2 = runs.start_job(1, day(1), "rebalance", "t4", true);
        CHECK(dry2 != dry1);
        CHECK(runs.find_job(day(1), "rebalance", true)->id == dry2);  // the latest dry run
        CHECK(runs.find_job(day(1), "rebalance")->id == first);
    }
}
