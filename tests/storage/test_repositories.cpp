#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>

#include <chrono>
#include <string>
#include <vector>

#include "storage/journal.hpp"
#include "../support/temp_dir.hpp"

using namespace ballast;
using core::Date;
using core::Decimal;
using storage::Journal;
using storage::JournalError;
using storage::JobStatus;
using ballast::test::TempDir;

namespace {

Decimal dec(const char* text) {
    return *Decimal::parse(text);
}

Date day(int y, unsigned m, unsigned d) {
    return Date::from_ymd(y, m, d);
}

core::Bar bar(const std::string& symbol, Date date, double close) {
    return core::Bar{symbol, date, close - 1, close + 1, close - 2, close, close * 0.9, 1000};
}

JournalError::Kind error_kind(auto&& body) {
    try {
        body();
    } catch (const JournalError& e) {
        return e.kind();
    }
    FAIL("expected a JournalError");
    return JournalError::Kind::io;
}

struct Fixture {
    TempDir dir;
    std::unique_ptr<Journal> j = Journal::open(dir.file("journal.db"));
    std::int64_t run = storage::RunRepository(*j).start_run("once", "sim", "config.toml", "2025-03-06T21:00:00Z");

    std::int64_t job(Date session, const std::string& name) {
        return storage::RunRepository(*j).start_job(run, session, name, "2025-03-06T21:00:00Z");
    }

    storage::OrderIntent intent(const std::string& id, std::int64_t job_run, Date session, int leg,
                                const char* qty) {
        storage::OrderIntent i;
        i.client_order_id = id;
        i.job_run_id = job_run;
        i.session = session;
        i.leg = leg;
        i.symbol = "VTI";
        i.side = core::Side::buy;
        i.qty = dec(qty);
        i.ref_price = dec("250.5");
        i.notional = dec(qty) * dec("250.5");
        i.reason = "drift";
        i.at = "2025-03-06T21:00:01Z";
        return i;
    }
};

}  // namespace

TEST_CASE_METHOD(Fixture, "bars upsert, range, on_date and last_date", "[storage][repo]") {
    storage::BarRepository bars(*j);
    CHECK(bars.count() == 0);
    CHECK_FALSE(bars.last_date("VTI"));

    bars.upsert({bar("VTI", day(2025, 3, 3), 250), bar("VTI", day(2025, 3, 4), 251), bar("VTI", day(2025, 3, 5), 252),
                 bar("TLT", day(2025, 3, 4), 90.125)},
                "sim-csv");
    CHECK(bars.count() == 4);
    CHECK(bars.last_date("VTI") == day(2025, 3, 5));
    CHECK(bars.last_date("TLT") == day(2025, 3, 4));

    auto range = bars.range("VTI", day(2025, 3, 4), day(2025, 3, 10));
    REQUIRE(range.size() == 2);
    CHECK(range[0].date == day(2025, 3, 4));
    CHECK(range[1].close == 252);
    CHECK(range[1].adj_close == 252 * 0.9);
    CHECK(range[1].volume == 1000);
    CHECK(range[1].symbol == "VTI");

    // Upsert replaces by (symbol, date).
    bars.upsert({bar("VTI", day(2025, 3, 4), 260)}, "alpaca");
    CHECK(bars.count() == 4);
    auto on = bars.on_date({"VTI", "TLT", "GLD"}, day(2025, 3, 4));
    REQUIRE(on.size() == 2);
    CHECK(on.at("VTI").close == 260);
    CHECK(on.at("TLT").close == 90.125);
    CHECK(on.count("GLD") == 0);
    CHECK(j->db().execAndGet("SELECT source FROM bars WHERE symbol = 'VTI' AND date = '2025-03-04'").getString() ==
          "alpaca");

    // A bad bar fails the whole batch, naming the bar.
    try {
        bars.upsert({bar("GLD", day(2025, 3, 4), 180), bar("GLD", day(2025, 3, 5), -5)}, "sim-csv");
        FAIL("expected a constraint error");
    } catch (const JournalError& e) {
        CHECK(e.kind() == JournalError::Kind::constraint);
        CHECK(std::string(e.what()).find("GLD 2025-03-05") != std::string::npos);
    }
    CHECK(bars.count() == 4);
}

TEST_CASE_METHOD(Fixture, "a bulk upsert stores every bar in one go", "[storage][repo]") {
    // Speed is measured by tests/bench/bench_ingest, not asserted here.
    std::vector<core::Bar> many;
    for (int s = 0; s < 20; ++s) {
        const std::string symbol = "S" + std::to_string(s);
        for (int d = 0; d < 5'000; ++d) many.push_back(bar(symbol, Date::from_days(d), 100 + d % 7));
    }
    storage::BarRepository bars(*j);
    bars.upsert(many, "bulk");
    CHECK(bars.count() == 100'000);
    bars.upsert(many, "bulk");  // idempotent
    CHECK(bars.count() == 100'000);
    const auto back = bars.range("S7", Date::from_days(10), Date::from_days(12));
    REQUIRE(back.size() == 3);
    CHECK(back[1].close == many[7 * 5'000 + 11].close);
}

TEST_CASE_METHOD(Fixture, "a bulk upsert names the bar it cannot store and keeps the last of repeated bars",
                 "[storage][repo]") {
    // The bars go to SQLite many to a statement: a refused bar in a later statement still
    // fails the whole call and is named, and a bar repeated in the same call (in one
    // statement or across two) is stored as its last copy, as one by one.
    storage::BarRepository bars(*j);
    std::vector<core::Bar> many;
    for (int d = 0; d < 150; ++d) many.push_back(bar("AAA", Date::from_days(20'000 + d), 100 + d));
    auto bad = many;
    bad[130].close = 0;
    try {
        bars.upsert(bad, "bulk");
        FAIL("expected a constraint error");
    } catch (const JournalError& e) {
        CHECK(e.kind() == JournalError::Kind::constraint);
        CHECK_THAT(e.what(), Catch::Contains("cannot store the bar AAA " + bad[130].date.to_string()));
    }
    CHECK(bars.count() == 0);
    auto repeated = many;
    repeated.push_back(bar("AAA", many[3].date, 7));    // a later statement
    repeated.push_back(bar("AAA", many[149].date, 8));  // the same statement as its first copy
    repeated.push_back(bar("AAA", many[149].date, 9));
    bars.upsert(repeated, "bulk");
    CHECK(bars.count() == 150);
    CHECK(bars.range("AAA", many[3].date, many[3].date).at(0).close == 7);
    CHECK(bars.range("AAA", many[149].date, many[149].date).at(0).close == 9);
    CHECK(bars.range("AAA", many[4].date, many[4].date).at(0).close == 104);
}

TEST_CASE_METHOD(Fixture, "job runs: uniqueness, finish, skipped, orphans", "[storage][repo]") {
    storage::RunRepository runs(*j);
    const Date s = day(2025, 3, 6);
    const auto data = job(s, "data-update");

    auto found = runs.find_job(s, "data-update");
    REQUIRE(found);
    CHECK(found->id == data);
    CHECK(found->run_id == run);
    CHECK(found->session == s);
    CHECK(found->status == JobStatus::running);
    CHECK(found->finished_at.empty());
    CHECK_FALSE(runs.find_job(s, "signals"));

    // A job never runs twice for one session.
    try {
        job(s, "data-update");
        FAIL("expected a constraint error");
    } catch (const JournalError& e) {
        CHECK(e.kind() == JournalError::Kind::constraint);
        const std::string what = e.what();
        CHECK(what.find("2025-03-06") != std::string::npos);
        CHECK(what.find("data-update") != std::string::npos);
    }
    CHECK(error_kind([&] { job(s, "no-such-job"); }) == JournalError::Kind::constraint);
    CHECK(error_kind([&] { runs.start_job(9999, s, "signals", "t"); }) == JournalError::Kind::constraint);

    runs.finish_job(data, JobStatus::failed, "2025-03-06T21:02:00Z", "stale data: VTI last bar 2025-03-04", "");
    found = runs.find_job(s, "data-update");
    CHECK(found->status == JobStatus::failed);
    CHECK(found->error == "stale data: VTI last bar 2025-03-04");
    CHECK(found->detail.empty());
    CHECK(found->finished_at == "2025-03-06T21:02:00Z");

    const auto skipped = runs.record_skipped(run, s, "signals", "2025-03-06T21:02:00Z", "data-update failed");
    found = runs.find_job(s, "signals");
    REQUIRE(found);
    CHECK(found->id == skipped);
    CHECK(found->status == JobStatus::skipped);
    CHECK(found->error == "data-update failed");
    CHECK(error_kind([&] { runs.record_skipped(run, s, "signals", "t", "again"); }) ==
          JournalError::Kind::constraint);

    // Orphans left by a crash.
    job(day(2025, 3, 7), "data-update");
    job(day(2025, 3, 7), "signals");
    CHECK(runs.fail_orphans("2025-03-08T14:00:00Z", "interrupted (process restarted)") == 2);
    CHECK(runs.find_job(day(2025, 3, 7), "signals")->status == JobStatus::failed);
    CHECK(runs.find_job(day(2025, 3, 7), "signals")->error == "interrupted (process restarted)");
    CHECK(runs.fail_orphans("2025-03-08T14:00:00Z", "again") == 0);

    runs.finish_run(run, "succeeded", "2025-03-08T14:00:01Z");
    CHECK(j->db().execAndGet("SELECT status FROM runs").getString() == "succeeded");
    CHECK(error_kind([&] { runs.finish_run(run + 100, "succeeded", "t"); }) == JournalError::Kind::constraint);
    CHECK(j->db().execAndGet("SELECT COUNT(*) FROM v_runs WHERE command = 'once'").getInt() == 4);
    CHECK(std::string(storage::to_string(JobStatus::skipped)) == "skipped");
}

TEST_CASE_METHOD(Fixture, "signals, targets, decisions and last_rebalance", "[storage][repo]") {
    storage::SignalRepository signals(*j);
    storage::OrderRepository orders(*j);
    const Date s1 = day(2025, 3, 5), s2 = day(2025, 3, 6), s3 = day(2025, 3, 7);

    const auto sig = job(s1, "signals");
    signals.save_signals(sig, s1, "all-weather", {{"VTI", 1.0}, {"TLT", -0.25}});
    CHECK(j->db().execAndGet("SELECT value FROM signals WHERE symbol = 'TLT'").getDouble() == -0.25);
    CHECK(error_kind([&] { signals.save_signals(sig, s1, "momentum", {{"VTI", 1.5}}); }) ==
          JournalError::Kind::constraint);

    // Weights that are inexact as doubles stay exact.
    core::Weights w{{"VTI", dec("0.1") + dec("0.2")}, {"TLT", dec("0.3")}, {"GLD", dec("0.2")},
                    {"DBC", dec("0.123456789")}};
    signals.save_targets(sig, s1, "all-weather", w);
    const auto back = signals.targets_for(s1);
    CHECK(back == w);
    CHECK(back.at("VTI").to_string() == "0.3");
    CHECK(j->db().execAndGet("SELECT weight FROM targets WHERE symbol = 'VTI'").getString() == "0.3");
    CHECK(signals.targets_for(s2).empty());

    CHECK_FALSE(signals.last_rebalance());
    const auto r1 = job(s1, "rebalance");
    signals.save_decision(r1, {s1, true, "drift 6.1% > 5%", 0.061, "VTI"});
    // A decision without orders is not a rebalance that happened.
    CHECK_FALSE(signals.last_rebalance());
    orders.record_intent(intent("s1-VTI", r1, s1, 0, "4"));
    CHECK(signals.last_rebalance() == s1);

    const auto r2 = job(s2, "rebalance");
    signals.save_decision(r2, {s2, false, "max drift 1.2% within band 5%", 0.012, ""});
    CHECK(signals.last_rebalance() == s1);
    CHECK(j->db().execAndGet("SELECT drift_symbol IS NULL FROM rebalance_decisions WHERE session_date = "
                             "'2025-03-06'")
              .getInt() == 1);

    // Only denied orders: nothing was placed.
    const auto r3 = job(s3, "rebalance");
    signals.save_decision(r3, {s3, true, "drift 7% > 5%", 0.07, "TLT"});
    const auto denied = orders.record_intent(intent("s3-VTI", r3, s3, 0, "4"));
    orders.append_event(denied, {"denied", "2025-03-07T21:00:02Z", {}, {}, {}, "max order notional"}, "denied");
    CHECK(signals.last_rebalance() == s1);

    // Saving again (a job resumed after a crash decides again) replaces the decision.
    signals.save_decision(r3, {s3, false, "again", 0, ""});
    CHECK(j->db().execAndGet("SELECT reason FROM rebalance_decisions WHERE session_date = '2025-03-07'").getString() ==
          "again");
    CHECK(j->db().execAndGet("SELECT decision FROM v_targets WHERE symbol = 'VTI'").getString() == "drift 6.1% > 5%");
}

TEST_CASE_METHOD(Fixture, "orders: intent, events, status and fill totals", "[storage][repo]") {
    storage::OrderRepository orders(*j);
    const Date s = day(2025, 3, 6);
    const auto reb = job(s, "rebalance");

    const auto id = orders.record_intent(intent("ballast-20250306-1-VTI", reb, s, 1, "10"));
    CHECK(orders.count() == 1);
    auto row = orders.by_client_order_id("ballast-20250306-1-VTI");
    REQUIRE(row);
    CHECK(row->id == id);
    CHECK(row->status == "intent");
    CHECK(row->qty == dec("10"));
    CHECK(row->filled_qty.is_zero());
    CHECK_FALSE(row->filled_avg_price);
    CHECK(row->broker_order_id.empty());
    CHECK(row->leg == 1);
    CHECK(row->side == core::Side::buy);
    CHECK(j->db().execAndGet("SELECT notional FROM orders").getString() == "2505");
    CHECK(j->db().execAndGet("SELECT event FROM order_events").getString() == "intent_recorded");
    CHECK_FALSE(orders.by_client_order_id("nope"));

    // Duplicate client ids are refused (write-ahead is idempotent by id).
    CHECK(error_kind([&] { orders.record_intent(intent("ballast-20250306-1-VTI", reb, s, 1, "10")); }) ==
          JournalError::Kind::constraint);

    orders.append_event(id, {"submitted", "2025-03-06T21:00:02Z", {}, {}, {}, ""}, "submitted", "alp-123");
    orders.append_event(id, {"accepted", "2025-03-06T21:00:03Z", {}, {}, {}, ""}, "accepted");
    orders.append_event(id, {"partially_filled", "2025-03-06T21:00:04Z", dec("3"), dec("250.1"), dec("0"), ""},
                        "partially_filled");
    orders.append_event(id, {"filled", "2025-03-06T21:00:05Z", dec("7"), dec("250.2"), dec("0.01"), ""}, "filled");
    row = orders.by_client_order_id("ballast-20250306-1-VTI");
    CHECK(row->status == "filled");
    CHECK(row->broker_order_id == "alp-123");
    CHECK(row->filled_qty == dec("10"));
    REQUIRE(row->filled_avg_price);
    CHECK(row->filled_avg_price->to_string() == "250.17");  // (3*250.1 + 7*250.2) / 10
    CHECK(j->db().execAndGet("SELECT COUNT(*) FROM order_events WHERE order_id = " + std::to_string(id)).getInt() ==
          5);
    CHECK(j->db().execAndGet("SELECT last_event FROM v_orders").getString() == "filled");
    CHECK(j->db().execAndGet("SELECT filled_fraction FROM v_orders").getDouble() == 1.0);

    // order_events is append-only.
    try {
        j->db().exec("UPDATE order_events SET event = 'x'");
        FAIL("UPDATE must be refused");
    } catch (const SQLite::Exception& e) {
        CHECK(std::string(e.what()).find("order_events is append-only") != std::string::npos);
    }
    CHECK_THROWS_WITH(j->db().exec("DELETE FROM order_events"), Catch::Contains("order_events is append-only"));
    CHECK(j->db().execAndGet("SELECT COUNT(*) FROM order_events").getInt() == 5);

    // Unknown order ids and statuses are errors, and leave no event behind.
    CHECK(error_kind([&] { orders.append_event(9999, {"accepted", "t", {}, {}, {}, ""}, "accepted"); }) ==
          JournalError::Kind::constraint);
    CHECK(error_kind([&] { orders.append_event(id, {"accepted", "t", {}, {}, {}, ""}, "weird"); }) ==
          JournalError::Kind::constraint);
    CHECK(j->db().execAndGet("SELECT COUNT(*) FROM order_events").getInt() == 5);
}

TEST_CASE_METHOD(Fixture, "non_terminal and for_session", "[storage][repo]") {
    storage::OrderRepository orders(*j);
    const Date s = day(2025, 3, 6);
    const auto reb = job(s, "rebalance");
    const char* statuses[] = {"filled", "canceled", "expired", "rejected", "denied", "submitted", "accepted",
                              "partially_filled"};
    int leg = 0;
    for (const char* status : statuses) {
        const auto id = orders.record_intent(intent(std::string("c-") + status, reb, s, leg++, "1"));
        orders.append_event(id, {status, "2025-03-06T21:00:02Z", {}, {}, {}, ""}, status);
    }
    orders.record_intent(intent("c-intent", reb, s, leg++, "1"));

    std::vector<std::string> open;
    for (const auto& o : orders.non_terminal()) open.push_back(o.status);
    CHECK(open == std::vector<std::string>{"submitted", "accepted", "partially_filled", "intent"});

    const auto all = orders.for_session(s);
    REQUIRE(all.size() == 9);
    CHECK(all.front().client_order_id == "c-filled");
    CHECK(all.back().client_order_id == "c-intent");
    CHECK(orders.for_session(day(2025, 3, 7)).empty());
}

TEST_CASE_METHOD(Fixture, "equity snapshots: save, replace, series, latest", "[storage][repo]") {
    storage::EquityRepository equity(*j);
    CHECK_FALSE(equity.latest());
    CHECK(equity.equity_series().empty());

    storage::EquitySnapshot a;
    a.job_run_id = job(day(2025, 3, 5), "rebalance");
    a.session = day(2025, 3, 5);
    a.at = "2025-03-05T21:05:00Z";
    a.cash = dec("0.1") + dec("0.2");
    a.equity = dec("10000.3");
    a.positions = {{"VTI", dec("4"), dec("250.5"), dec("1002"), 0.1002},
                   {"TLT", dec("1.5"), dec("90.123456789"), dec("135.185185184"), 0.0135}};
    equity.save(a);

    storage::EquitySnapshot b = a;
    b.job_run_id = 0;  // taken outside a job
    b.session = day(2025, 3, 6);
    b.at = "2025-03-06T21:05:00Z";
    b.equity = dec("9500");
    b.positions = {{"VTI", dec("4"), dec("240"), dec("960"), 0.101}};
    equity.save(b);

    auto latest = equity.latest();
    REQUIRE(latest);
    CHECK(latest->session == day(2025, 3, 6));
    CHECK(latest->job_run_id == 0);
    CHECK(latest->cash.to_string() == "0.3");
    REQUIRE(latest->positions.size() == 1);
    CHECK(latest->positions[0].market_value == dec("960"));

    // A later snapshot of the same session replaces it, positions included.
    b.equity = dec("9600.01");
    b.positions = {{"GLD", dec("2"), dec("180"), dec("360"), 0.0375}, {"VTI", dec("4"), dec("241"), dec("964"), 0.1}};
    equity.save(b);
    latest = equity.latest();
    CHECK(latest->equity.to_string() == "9600.01");
    REQUIRE(latest->positions.size() == 2);
    CHECK(latest->positions[0].symbol == "GLD");
    CHECK(latest->positions[0].weight == 0.0375);
    CHECK(j->db().execAndGet("SELECT COUNT(*) FROM position_snapshots").getInt() == 4);

    const auto series = equity.equity_series();
    REQUIRE(series.size() == 2);
    CHECK(series[0] == std::pair{day(2025, 3, 5), dec("10000.3")});
    CHECK(series[1].second.to_string() == "9600.01");

    // The views.
    CHECK(j->db().execAndGet("SELECT COUNT(*) FROM v_positions").getInt() == 2);
    CHECK(j->db().execAndGet("SELECT peak FROM v_equity WHERE session_date = '2025-03-06'").getDouble() == 10000.3);
    CHECK(j->db().execAndGet("SELECT drawdown FROM v_equity WHERE session_date = '2025-03-06'").getDouble() ==
          Approx(9600.01 / 10000.3 - 1).margin(1e-6));
}

TEST_CASE_METHOD(Fixture, "a stored decimal that does not parse is reported as corrupt", "[storage][repo]") {
    storage::OrderRepository orders(*j);
    const Date s = day(2025, 3, 6);
    const auto id = orders.record_intent(intent("c-1", job(s, "rebalance"), s, 0, "1"));
    // Bypass the CHECK constraints the way a hand edit might.
    j->db().exec("PRAGMA ignore_check_constraints = ON");
    j->db().exec("UPDATE orders SET filled_qty = '1e3' WHERE id = " + std::to_string(id));
    try {
        orders.by_client_order_id("c-1");
        FAIL("expected corrupt");
    } catch (const JournalError& e) {
        CHECK(e.kind() == JournalError::Kind::corrupt);
        const std::string what = e.what();
        CHECK(what.find("orders.filled_qty") != std::string::npos);
        CHECK(what.find("row " + std::to_string(id)) != std::string::npos);
        CHECK(what.find("'1e3'") != std::string::npos);
    }
}

TEST_CASE_METHOD(Fixture, "health events and the halt flag", "[storage][repo]") {
    storage::HealthRepository health(*j);
    health.record("2025-03-06T21:00:00Z", "broker", "http_error", "503 from /v2/orders");
    health.record("2025-03-06T21:00:05Z", "broker", "http_error", "");
    health.record("2025-03-06T21:00:09Z", "breaker", "breaker_open", "3 failures");
    CHECK(health.count("http_error") == 2);
    CHECK(health.count("breaker_open") == 1);
    CHECK(health.count("none") == 0);

    storage::ControlRepository control(*j);
    CHECK_FALSE(control.halt());
    control.set_halt("drawdown 21% > 20%", "2025-03-06T21:00:00Z", "breaker");
    auto halt = control.halt();
    REQUIRE(halt);
    CHECK(halt->reason == "drawdown 21% > 20%");
    CHECK(halt->set_by == "breaker");
    control.set_halt("manual", "2025-03-06T22:00:00Z", "alice");
    CHECK(control.halt()->set_by == "alice");
    control.clear_halt("2025-03-07T09:00:00Z", "bob");
    CHECK_FALSE(control.halt());
    CHECK(j->db().execAndGet("SELECT group_concat(action || ':' || actor, ',') FROM control_events").getString() ==
          "halt:breaker,halt:alice,resume:bob");
}

TEST_CASE_METHOD(Fixture, "repository writes inside a caller's transaction commit or roll back with it", "[storage][repo]") {
    storage::BarRepository bars(*j);
    storage::HealthRepository health(*j);
    {
        storage::Transaction tx(*j);
        bars.upsert({bar("VTI", day(2025, 3, 3), 250)}, "sim-csv");
        health.record("2025-03-06T21:00:00Z", "test", "inside", "");
        tx.commit();
    }
    CHECK(bars.count() == 1);
    CHECK(health.count("inside") == 1);
    {
        storage::Transaction tx(*j);
        bars.upsert({bar("TLT", day(2025, 3, 3), 90)}, "sim-csv");
    }
    CHECK(bars.count() == 1);
    // A failing write inside it abandons the whole transaction (see tests/storage/test_batch.cpp).
    {
        storage::Transaction tx(*j);
        bars.upsert({bar("GLD", day(2025, 3, 3), 180)}, "sim-csv");
        CHECK_THROWS_AS(bars.upsert({bar("VTI", day(2025, 3, 4), 250), bar("VTI", day(2025, 3, 5), 0)}, "x"),
                        JournalError);
        CHECK_THROWS_AS(tx.commit(), JournalError);
    }
    CHECK(bars.count() == 1);
}

TEST_CASE_METHOD(Fixture, "a transaction inside another is a savepoint", "[storage][repo]") {
    storage::HealthRepository health(*j);
    {
        storage::Transaction outer(*j);
        health.record("t", "test", "kept", "");
        {
            storage::Transaction inner(*j);
            health.record("t", "test", "undone", "");
        }  // destroyed without commit: only its own write is undone
        {
            storage::Transaction inner(*j);
            health.record("t", "test", "kept", "");
            inner.commit();
        }
        outer.commit();
    }
    CHECK(health.count("kept") == 2);
    CHECK(health.count("undone") == 0);
}
