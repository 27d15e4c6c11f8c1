// A transient journal (Journal::transient(), used by `backtest --no-journal` and sweep
// points) must answer every read the jobs and the scheduler make exactly as a SQLite
// journal holding the same writes does. One script of writes runs against both; after
// every step, every read is rendered as text and the two texts must be equal.
#include <catch2/catch.hpp>

#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "storage/journal.hpp"
#include "../support/journal_text.hpp"

using namespace ballast;
using core::Date;
using core::Decimal;
using storage::Journal;
using storage::JobStatus;

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

}  // namespace

TEST_CASE("a transient journal answers every read as a SQLite journal with the same writes", "[storage][transient]") {
    const std::vector<Step> steps{
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
    };
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
