// Inside a storage::Transaction (a replay's batch) the journal may keep an order's row
// back until it knows more of the order's life, and write the rows of several orders
// together. None of that may show: one script of order writes, mixed with other writes,
// reads and nested transactions, runs against a journal with a Transaction open and one
// without; after every step every read must answer the same, and after the commit both
// files must hold the same rows, ids included.
#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <functional>
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
using storage::JournalError;
using ballast::test::TempDir;

namespace {

Decimal dec(const char* text) { return *Decimal::parse(text); }
Date day(unsigned d) { return Date::from_ymd(2024, 3, d); }
using ballast::test::render;
using ballast::test::text;

// Every order read the jobs make, as one text.
std::string reads(Journal& j) {
    std::ostringstream out;
    storage::OrderRepository orders(j);
    for (const auto& o : orders.non_terminal()) out << "open " << render(o) << "\n";
    for (unsigned d = 1; d <= 4; ++d)
        for (const auto& o : orders.for_session(day(d))) out << "session " << render(o) << "\n";
    for (const char* id : {"a-1", "a-2", "a-3", "b-1", "b-2", "c-1", "c-2", "c-3", "zz"})
        if (const auto o = orders.by_client_order_id(id)) out << "by id " << render(*o) << "\n";
    out << "trailing rejections " << orders.trailing_rejections() << "\n";
    for (const auto& f : orders.fills())
        out << "fill " << f.session.to_string() << " " << f.qty.to_string() << " " << f.avg_price.to_string() << " "
            << text(f.commission) << "\n";
    for (std::int64_t r = 1; r <= 6; ++r) out << "count " << r << " " << orders.count_for_job_run(r) << "\n";
    out << "orders " << orders.count() << "\n";
    const auto last = storage::SignalRepository(j).last_rebalance();
    out << "last rebalance " << (last ? last->to_string() : "none") << "\n";
    return out.str();
}

// A whole table, ids included.
std::string table(const std::filesystem::path& file, const std::string& sql) {
    SQLite::Database db(file, SQLite::OPEN_READONLY);
    SQLite::Statement st(db, sql);
    std::ostringstream out;
    while (st.executeStep()) {
        for (int c = 0; c < st.getColumnCount(); ++c) out << (c ? "|" : "") << st.getColumn(c).getString();
        out << "\n";
    }
    return out.str();
}

storage::OrderEvent event(const char* name, const char* at, const char* qty = nullptr, const char* price = nullptr,
                          const char* commission = nullptr, const char* detail = "") {
    storage::OrderEvent e;
    e.event = name;
    e.at = at;
    if (qty) e.qty = dec(qty);
    if (price) e.price = dec(price);
    if (commission) e.commission = dec(commission);
    e.detail = detail;
    return e;
}

storage::OrderIntent intent(const char* id, std::int64_t job_run, unsigned session, int leg, const char* symbol,
                            core::Side side, const char* qty, const char* risk = "risk ok: within limits") {
    return {id, job_run, day(session), leg, symbol, side, dec(qty), dec("100.5"), dec(qty) * dec("100.5"), "drift",
            "2024-03-0" + std::to_string(session) + "T20:50:0" + std::to_string(leg) + "Z", risk};
}

using Step = std::function<void(Journal&)>;
using Events = std::vector<storage::OrderRepository::StatusEvent>;

void answer(Journal& j, std::int64_t id, Events events, const char* broker = "") {
    storage::OrderRepository(j).append_events(id, events, broker);
}

}  // namespace

TEST_CASE("inside a Transaction, orders and their events read and land as they do outside one",
          "[storage][batch][orders]") {
    using storage::OrderRepository;
    const auto sell = core::Side::sell, buy = core::Side::buy;
    const std::vector<Step> steps{
        [](Journal& j) { storage::RunRepository(j).start_run("backtest", "sim", "c.toml", "t0"); },
        [](Journal& j) { storage::RunRepository(j).start_job(1, day(1), "rebalance", "t1"); },
        // An intent and its answer (submitted, filled).
        [&](Journal& j) { OrderRepository(j).record_intent(intent("a-1", 1, 1, 0, "AAA", sell, "3")); },
        [&](Journal& j) {
            answer(j, 1, {{event("submitted", "t2"), "submitted"}, {event("filled", "t2", "3", "101.25", "0.5"), "filled"}},
                   "brk-1");
        },
        // A risk denial.
        [&](Journal& j) {
            OrderRepository(j).record_intent(intent("a-2", 1, 1, 1, "BBB", sell, "2", "risk denied: max: too big"));
        },
        [](Journal& j) {
            OrderRepository(j).append_event(2, event("denied", "t3", nullptr, nullptr, nullptr, "max: too big"), "denied");
        },
        // An order left open (accepted), then another filled in two parts with a commission.
        [&](Journal& j) { OrderRepository(j).record_intent(intent("a-3", 1, 1, 2, "CCC", buy, "1.5")); },
        [&](Journal& j) { answer(j, 3, {{event("submitted", "t4"), "submitted"}, {event("accepted", "t4"), "accepted"}}, "brk-3"); },
        [&](Journal& j) { OrderRepository(j).record_intent(intent("b-1", 1, 1, 3, "DDD", buy, "4")); },
        [&](Journal& j) {
            answer(j, 4, {{event("submitted", "t5"), "submitted"},
                          {event("partially_filled", "t5", "1", "99", "0.25"), "partially_filled"}},
                   "brk-4");
        },
        [&](Journal& j) { answer(j, 4, {{event("filled", "t6", "3", "99.5", "1"), "filled"}}); },
        // Other writes in between.
        [](Journal& j) { storage::HealthRepository(j).record("t6", "test", "note", "x"); },
        [](Journal& j) { storage::SignalRepository(j).save_decision(1, {day(1), true, "drift", 0.1, "AAA"}); },
        // Two intents, then their answers in the other order; then the open one's fill.
        [&](Journal& j) { OrderRepository(j).record_intent(intent("b-2", 1, 1, 4, "EEE", buy, "1")); },
        [&](Journal& j) { OrderRepository(j).record_intent(intent("c-1", 1, 1, 5, "FFF", buy, "2")); },
        [&](Journal& j) { answer(j, 6, {{event("submitted", "t7"), "submitted"}, {event("rejected", "t7", nullptr, nullptr, nullptr, "no"), "rejected"}}); },
        [&](Journal& j) { answer(j, 5, {{event("submitted", "t8"), "submitted"}, {event("canceled", "t8"), "canceled"}}, "brk-5"); },
        [&](Journal& j) { answer(j, 3, {{event("filled", "t9", "1.5", "100", "0.75"), "filled"}}); },
        // A second session; an order filled with no new quantity; a nested transaction
        // committed and one rolled back, each with an intent.
        [](Journal& j) { storage::RunRepository(j).start_job(1, day(2), "rebalance", "t10"); },
        [&](Journal& j) { OrderRepository(j).record_intent(intent("c-2", 2, 2, 0, "AAA", buy, "1")); },
        [&](Journal& j) {
            storage::Transaction tx(j);
            OrderRepository(j).record_intent(intent("c-3", 2, 2, 1, "BBB", buy, "1"));
            answer(j, 8, {{event("submitted", "t11"), "submitted"}, {event("filled", "t11"), "filled"}});
            tx.commit();
        },
        [&](Journal& j) {
            storage::Transaction tx(j);
            OrderRepository(j).record_intent(intent("zz", 2, 2, 2, "CCC", buy, "1"));
            answer(j, 9, {{event("submitted", "t12"), "submitted"}});
        },  // rolled back: no zz
        [&](Journal& j) { answer(j, 7, {{event("submitted", "t13"), "submitted"}}, "brk-7"); },
        [&](Journal& j) { answer(j, 7, {{event("expired", "t14"), "expired"}}); },
        [](Journal& j) { storage::RunRepository(j).finish_job(2, storage::JobStatus::succeeded, "t15", "", "ok"); },
    };
    // Reading after every step, and reading only at the end (rows kept back the longest).
    const bool read_each = GENERATE(true, false);
    INFO("read after every step: " << read_each);
    TempDir dir;
    auto plain = Journal::open(dir.file("plain.db"));
    auto batched = Journal::open(dir.file("batched.db"));
    {
        storage::Transaction tx(*batched);
        REQUIRE(reads(*plain) == reads(*batched));
        for (std::size_t i = 0; i < steps.size(); ++i) {
            INFO("after step " << i + 1);
            steps[i](*plain);
            steps[i](*batched);
            if (read_each || i + 1 == steps.size()) REQUIRE(reads(*plain) == reads(*batched));
        }
        tx.commit();
    }
    const auto final_reads = reads(*plain);
    CHECK(final_reads.find("fill 2024-03-01 4 99.375 1") != std::string::npos);
    CHECK(final_reads.find("zz") == std::string::npos);
    for (const char* sql : {"SELECT * FROM orders ORDER BY id", "SELECT * FROM order_events ORDER BY id",
                            "SELECT id, job, status, finished_at FROM job_runs ORDER BY id",
                            "SELECT * FROM rebalance_decisions", "SELECT * FROM health_events ORDER BY id"}) {
        INFO(sql);
        CHECK(table(dir.file("plain.db"), sql) == table(dir.file("batched.db"), sql));
    }
}

TEST_CASE("the same script with no read until the commit lands the same rows", "[storage][batch][orders]") {
    TempDir dir;
    const auto run = [&](const char* name, bool batch) {
        auto j = Journal::open(dir.file(name));
        std::optional<storage::Transaction> tx;
        if (batch) tx.emplace(*j);
        storage::RunRepository(*j).start_run("backtest", "sim", "c.toml", "t0");
        storage::RunRepository(*j).start_job(1, day(1), "rebalance", "t1");
        storage::OrderRepository orders(*j);
        // 150 orders: more than one statement's worth of rows, answered as they come.
        for (int i = 0; i < 150; ++i) {
            const std::string id = "o-" + std::to_string(i);
            auto in = intent(id.c_str(), 1, 1, i, "UUU", i % 3 ? core::Side::buy : core::Side::sell, "2");
            in.symbol = "S" + std::to_string(i);
            const auto oid = orders.record_intent(in);
            if (i % 10 == 9) {
                orders.append_event(oid, event("denied", "td", nullptr, nullptr, nullptr, "rule"), "denied");
                continue;
            }
            answer(*j, oid, {{event("submitted", "ts"), "submitted"}, {event("filled", "tf", "2", "10.5", "0.01"), "filled"}},
                   ("brk-" + id).c_str());
        }
        storage::HealthRepository(*j).record("t", "test", "end", "");
        if (tx) tx->commit();
    };
    run("plain.db", false);
    run("batched.db", true);
    for (const char* sql : {"SELECT * FROM orders ORDER BY id", "SELECT * FROM order_events ORDER BY id",
                            "SELECT * FROM health_events ORDER BY id"}) {
        INFO(sql);
        CHECK(table(dir.file("plain.db"), sql) == table(dir.file("batched.db"), sql));
    }
    CHECK(table(dir.file("batched.db"), "SELECT COUNT(*) FROM order_events") == "435\n");
}

TEST_CASE("inside a Transaction a duplicate intent is refused at once, with the same message",
          "[storage][batch][orders]") {
    TempDir dir;
    auto j = Journal::open(dir.file("journal.db"));
    storage::RunRepository(*j).start_run("backtest", "sim", "c.toml", "t0");
    storage::RunRepository(*j).start_job(1, day(1), "rebalance", "t1");
    storage::OrderRepository orders(*j);
    orders.record_intent(intent("a-1", 1, 1, 0, "AAA", core::Side::buy, "1"));  // committed
    for (const char* id : {"a-1", "a-2"}) {
        INFO(id);
        storage::Transaction tx(*j);
        if (std::string(id) == "a-2") orders.record_intent(intent("a-2", 1, 1, 1, "AAA", core::Side::buy, "1"));  // kept back
        try {
            orders.record_intent(intent(id, 1, 1, 2, "BBB", core::Side::buy, "1"));
            FAIL("expected a constraint error");
        } catch (const JournalError& e) {
            CHECK(e.kind() == JournalError::Kind::constraint);
            CHECK(std::string(e.what()) == "journal " + dir.file("journal.db").string() +
                                               ": an order with client_order_id '" + id + "' is already recorded");
        }
        CHECK_THROWS_WITH(tx.commit(), Catch::Contains(std::string("client_order_id '") + id + "' is already recorded"));
    }
    CHECK(table(dir.file("journal.db"), "SELECT client_order_id FROM orders") == "a-1\n");
}

TEST_CASE("inside a Transaction an intent the schema refuses fails the batch at its next use", "[storage][batch][orders]") {
    TempDir dir;
    auto j = Journal::open(dir.file("journal.db"));
    storage::RunRepository(*j).start_run("backtest", "sim", "c.toml", "t0");
    storage::RunRepository(*j).start_job(1, day(1), "rebalance", "t1");
    storage::OrderRepository orders(*j);
    auto bad = intent("a-1", 1, 1, 0, "AAA", core::Side::buy, "1");
    bad.job_run_id = 99;  // no such job run: a foreign key the schema checks
    // Outside a Transaction, at once.
    CHECK_THROWS_WITH(orders.record_intent(bad), Catch::Contains("cannot record the order intent") &&
                                                     Catch::Contains("FOREIGN KEY constraint failed"));
    // Inside one, by the write or read that brings the row to the file (at the latest the
    // commit); the batch is abandoned and nothing of it lands.
    for (int when = 0; when < 3; ++when) {
        INFO("when " << when);
        storage::Transaction tx(*j);
        storage::HealthRepository(*j).record("t", "test", "in batch", "");
        std::string first;
        try {
            const auto id = orders.record_intent(bad);
            if (when == 0) orders.count();
            if (when == 1) answer(*j, id, {{event("submitted", "t"), "submitted"}});
            if (when == 1) storage::HealthRepository(*j).record("t", "test", "after", "");
            tx.commit();
            FAIL("expected a constraint error");
        } catch (const JournalError& e) {
            first = e.what();
        }
        CHECK_THAT(first, Catch::Contains("FOREIGN KEY constraint failed"));
        CHECK_THROWS_WITH(tx.commit(), Catch::Contains("refused") && Catch::Contains(first));
    }
    CHECK(table(dir.file("journal.db"), "SELECT COUNT(*) FROM orders") == "0\n");
    CHECK(table(dir.file("journal.db"), "SELECT COUNT(*) FROM health_events") == "0\n");
}
