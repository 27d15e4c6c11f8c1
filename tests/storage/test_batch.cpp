// The rule of storage::Transaction (a replay's batch): repository writes inside it take no
// savepoint of their own, so a write that fails ends the whole transaction: it is rolled
// back at once, every later use of the journal and the commit throw a JournalError naming
// the first failure, and nothing of the transaction reaches the file. Outside a
// Transaction, each write is still its own transaction and a failed one is undone alone.
#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>

#include <cstdio>
#include <map>
#include <string>

#include "storage/journal.hpp"
#include "../support/temp_dir.hpp"

using namespace ballast;
using core::Date;
using core::Decimal;
using storage::Journal;
using storage::JournalError;
using ballast::test::TempDir;

namespace {

Decimal dec(const char* text) { return *Decimal::parse(text); }
Date day(unsigned d) { return Date::from_ymd(2025, 3, d); }

core::SymbolMap<double> signals(int n, int bad = -1) {
    core::SymbolMap<double> out;
    for (int i = 0; i < n; ++i) {
        char name[16];
        std::snprintf(name, sizeof name, "S%03d", i);
        out[name] = i == bad ? 1.5 : 0.25;  // 1.5 breaks CHECK (value BETWEEN -1 AND 1)
    }
    return out;
}

// The message of the JournalError `body` throws ("" if none).
template <class F>
std::string failure_of(F&& body) {
    try {
        body();
    } catch (const JournalError& e) {
        return e.what();
    }
    return "";
}

struct Fixture {
    TempDir dir;
    std::filesystem::path path = dir.file("journal.db");
    std::unique_ptr<Journal> j = Journal::open(path);
    std::int64_t run = storage::RunRepository(*j).start_run("backtest", "sim", "c.toml", "t");
    std::int64_t job = storage::RunRepository(*j).start_job(run, day(3), "signals", "t");

    // What another connection sees committed in the file.
    int committed(const std::string& sql) {
        SQLite::Database other(path, SQLite::OPEN_READONLY);
        return other.execAndGet(sql).getInt();
    }
};

}  // namespace

TEST_CASE_METHOD(Fixture, "a failed write inside a Transaction abandons it: nothing of it lands", "[storage][batch]") {
    storage::HealthRepository health(*j);
    storage::SignalRepository repo(*j);
    storage::RunRepository runs(*j);
    std::string first;
    {
        storage::Transaction tx(*j);
        health.record("t1", "test", "before", "");
        repo.save_signals(job, day(3), "trend", signals(100));
        runs.finish_job(job, storage::JobStatus::succeeded, "t2", "", "done");
        // Fails at its 71st row, after a first statement of 64 rows went in.
        first = failure_of([&] { repo.save_signals(job, day(4), "trend", signals(100, 70)); });
        CHECK_THAT(first, Catch::StartsWith("journal " + path.string() + ": cannot store signals: ") &&
                              Catch::Contains("CHECK constraint failed"));

        // Rolled back at once: the write lock is free for another process.
        SQLite::Database other(path, SQLite::OPEN_READWRITE);
        CHECK_NOTHROW(other.exec("BEGIN IMMEDIATE; ROLLBACK"));

        // Every later write, read, nested transaction and the commit throw, naming the first failure.
        const auto refused = [&](auto&& body, const char* what) {
            try {
                body();
                FAIL("expected a JournalError");
            } catch (const JournalError& e) {
                CHECK(e.kind() == JournalError::Kind::constraint);  // the first failure's kind
                CHECK_THAT(e.what(), Catch::StartsWith("journal " + path.string() + ": " + what + ": ") &&
                                         Catch::Contains(first));
            }
        };
        refused([&] { health.record("t3", "test", "after", ""); }, "cannot record the health event");
        refused([&] { repo.save_signals(job, day(5), "trend", signals(3)); }, "cannot store signals");
        refused([&] { runs.start_job(run, day(5), "signals", "t"); }, "cannot record the job run");
        refused([&] { health.count("before"); }, "cannot count health events");
        refused([&] { runs.find_job(day(3), "signals"); }, "cannot read job runs");
        refused([&] { storage::Transaction nested(*j); }, "cannot begin a transaction");
        refused([&] { tx.commit(); }, "cannot commit");
        refused([&] { tx.commit(); }, "cannot commit");  // and again
    }
    // Nothing of the transaction is in the file; what was committed before it is.
    CHECK(committed("SELECT COUNT(*) FROM health_events") == 0);
    CHECK(committed("SELECT COUNT(*) FROM signals") == 0);
    CHECK(committed("SELECT COUNT(*) FROM job_runs WHERE status = 'running'") == 1);
    CHECK(j->integrity_check() == "ok");

    // Once the Transaction is gone the journal works again, in or out of a new one.
    health.record("t4", "test", "later", "");
    {
        storage::Transaction tx(*j);
        repo.save_signals(job, day(3), "trend", signals(70));
        tx.commit();
    }
    CHECK(committed("SELECT COUNT(*) FROM health_events") == 1);
    CHECK(committed("SELECT COUNT(*) FROM signals") == 70);

    // And the file is sound when opened afresh.
    j.reset();
    auto again = Journal::open(path);
    CHECK(again->integrity_check() == "ok");
    CHECK(storage::HealthRepository(*again).count("later") == 1);
    CHECK(storage::RunRepository(*again).find_job(day(3), "signals")->status == storage::JobStatus::running);
}

TEST_CASE_METHOD(Fixture, "a write refused by the repository itself abandons the Transaction too", "[storage][batch]") {
    storage::OrderRepository orders(*j);
    storage::HealthRepository health(*j);
    storage::Transaction tx(*j);
    health.record("t1", "test", "before", "");
    const auto first = failure_of([&] { orders.append_event(9999, {"accepted", "t", {}, {}, {}, ""}, "accepted"); });
    CHECK_THAT(first, Catch::Contains("no order with id 9999"));
    CHECK_THAT(failure_of([&] { tx.commit(); }), Catch::Contains(first));
    CHECK(committed("SELECT COUNT(*) FROM health_events") == 0);
}

TEST_CASE_METHOD(Fixture, "a write that fails inside a nested Transaction abandons the outer one", "[storage][batch]") {
    storage::SignalRepository repo(*j);
    storage::Transaction outer(*j);
    repo.save_signals(job, day(3), "trend", signals(10));
    std::string first;
    {
        storage::Transaction inner(*j);  // as ChainJobs::evaluate_strategy inside a replay's batch
        first = failure_of([&] { repo.save_targets(job + 1000, day(3), "trend", {{"A", dec("1")}}); });
        CHECK_THAT(first, Catch::Contains("FOREIGN KEY constraint failed"));
        CHECK_THAT(failure_of([&] { inner.commit(); }), Catch::Contains(first));
    }
    CHECK_THAT(failure_of([&] { outer.commit(); }), Catch::Contains(first));
    CHECK(committed("SELECT COUNT(*) FROM signals") == 0);
}

TEST_CASE_METHOD(Fixture, "outside a Transaction a failed write is undone alone", "[storage][batch]") {
    storage::SignalRepository repo(*j);
    storage::HealthRepository health(*j);
    storage::RunRepository runs(*j);
    health.record("t1", "test", "before", "");
    CHECK_THAT(failure_of([&] { repo.save_signals(job, day(4), "trend", signals(100, 70)); }),
               Catch::Contains("cannot store signals"));
    CHECK_THAT(failure_of([&] { runs.start_job(run, day(3), "signals", "t"); }), Catch::Contains("already recorded"));
    // Nothing of the failed writes, everything else, and the journal goes on.
    CHECK(committed("SELECT COUNT(*) FROM signals") == 0);
    health.record("t2", "test", "after", "");
    repo.save_signals(job, day(4), "trend", signals(100));
    CHECK(committed("SELECT COUNT(*) FROM health_events") == 2);
    CHECK(committed("SELECT COUNT(*) FROM signals") == 100);
}

TEST_CASE_METHOD(Fixture, "a nested Transaction rolled back without a failed write still undoes only itself",
                 "[storage][batch]") {
    storage::HealthRepository health(*j);
    {
        storage::Transaction outer(*j);
        health.record("t", "test", "kept", "");
        {
            storage::Transaction inner(*j);
            health.record("t", "test", "undone", "");
        }  // e.g. an exception that is not a journal failure left the scope
        health.record("t", "test", "kept", "");
        outer.commit();
    }
    CHECK(committed("SELECT COUNT(*) FROM health_events WHERE kind = 'kept'") == 2);
    CHECK(committed("SELECT COUNT(*) FROM health_events WHERE kind = 'undone'") == 0);
}
