// The rebalance job against a venue that misbehaves: the real ChainJobs, scheduler,
// journal and sim broker, with a wrapper that rejects or loses submits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <random>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <SQLiteCpp/SQLiteCpp.h>

#include "../support/process.hpp"
#include "broker/sim.hpp"
#include "daemon/jobs.hpp"
#include "storage/journal.hpp"

using namespace ballast;
using core::Date;
using core::Decimal;

namespace {

Date day(const char* s) { return Date::parse(s).value(); }
Decimal d(const char* s) { return Decimal::parse(s).value(); }

core::Bar bar(const char* sym, const char* date, double p) {
    return {sym, day(date), p, p + 1, p - 1, p, p, 1000};
}

// A broker that passes every call to another; the fakes below override what they change.
class ForwardingBroker : public broker::Broker {
public:
    explicit ForwardingBroker(broker::Broker& inner) : inner_(inner) {}
    awaitable<broker::Result<core::AccountState>> account() override { co_return co_await inner_.account(); }
    awaitable<broker::Result<broker::OrderUpdate>> submit(const broker::OrderRequest& order) override {
        co_return co_await inner_.submit(order);
    }
    awaitable<broker::Result<broker::OrderUpdate>> order_by_client_id(const std::string& id) override {
        co_return co_await inner_.order_by_client_id(id);
    }
    awaitable<broker::Result<broker::OrderUpdate>> cancel(const std::string& id) override {
        co_return co_await inner_.cancel(id);
    }
    awaitable<broker::Result<bool>> fills_now() override { co_return co_await inner_.fills_now(); }
    awaitable<broker::Result<core::Prices>> latest_prices(const std::vector<core::Symbol>& symbols) override {
        co_return co_await inner_.latest_prices(symbols);
    }

protected:
    broker::Broker& inner_;
};

// Delegates to the sim broker, but fails submits of one side in a chosen way.
class FaultyBroker final : public ForwardingBroker {
public:
    FaultyBroker(broker::Broker& inner, core::Side side, broker::BrokerError::Kind kind)
        : ForwardingBroker(inner), side_(side), kind_(kind) {}
    int submits = 0;
    awaitable<broker::Result<broker::OrderUpdate>> submit(const broker::OrderRequest& order) override {
        ++submits;
        if (order.side == side_ && on_submit) on_submit();
        if (order.side == side_ && active) {
            // The order may have reached the broker before the failure came back.
            if (place_anyway) (void)co_await inner_.submit(order);
            co_return broker::BrokerError{kind_, "injected failure"};
        }
        co_return co_await inner_.submit(order);
    }
    bool place_anyway = false;
    std::function<void()> on_submit;
    bool active = true;

private:
    core::Side side_;
    broker::BrokerError::Kind kind_;
};

// Market data that answers what the sim market has, rearranged by `shape` (a venue's
// own order, a session missing, and so on).
class ShapedMarket final : public broker::MarketData {
public:
    ShapedMarket(broker::MarketData& inner, std::function<void(std::vector<core::Bar>&)> shape)
        : inner_(inner), shape_(std::move(shape)) {}
    awaitable<broker::Result<std::vector<core::Bar>>> daily_bars(const std::vector<core::Symbol>& symbols, Date from,
                                                                 Date to) override {
        auto bars = co_await inner_.daily_bars(symbols, from, to);
        if (!bars) co_return bars;
        std::vector<core::Bar> shaped = std::move(bars).value();
        shape_(shaped);
        co_return shaped;
    }

private:
    broker::MarketData& inner_;
    std::function<void(std::vector<core::Bar>&)> shape_;
};

// The sim broker with its positions listed backwards (a venue need not sort them).
class ReversedBroker final : public ForwardingBroker {
public:
    using ForwardingBroker::ForwardingBroker;
    awaitable<broker::Result<core::AccountState>> account() override {
        auto a = co_await inner_.account();
        if (!a) co_return a;
        core::AccountState reversed = std::move(a).value();
        std::reverse(reversed.positions.begin(), reversed.positions.end());
        co_return reversed;
    }
};

struct Fixture {
    test::TempDir dir;
    std::unique_ptr<storage::Journal> journal = storage::Journal::open(dir / "j.db");
    std::shared_ptr<spdlog::logger> log = std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_st>());
    std::shared_ptr<broker::SimMarket> market = broker::SimMarket::from_bars(
        {{"AAA", {bar("AAA", "2024-01-02", 100), bar("AAA", "2024-01-03", 100), bar("AAA", "2024-01-04", 100)}},
         {"BBB", {bar("BBB", "2024-01-02", 50), bar("BBB", "2024-01-03", 50), bar("BBB", "2024-01-04", 50)}}});
    daemon::ReplayClock clock{core::ny_to_utc(day("2024-01-02"), core::TimeOfDay{0})};
    daemon::Config config;
    std::unique_ptr<broker::SimBroker> sim;
    core::FixedWeights strategy{"half-half", {{"AAA", d("0.5")}, {"BBB", d("0.5")}}};

    Fixture() {
        config.sim.price_field = core::PriceField::close;
        config.rebalance.min_interval_days = 0;
        config.orders.planner.cash_reserve = Decimal{};
        config.risk.max_order_fraction = d("1");
        config.risk.max_position_fraction = d("1");
        // All in AAA: the plan sells AAA and buys BBB.
        start_sim(R"({"version": 1, "cash": "0", "positions": {"AAA": "100"}, "orders": []})");
    }

    // A sim broker over `market` (fills at the close, no slippage) from this state file text.
    void start_sim(const std::string& state_json) {
        const auto state = dir / "sim.json";
        test::write_file(state, state_json);
        broker::SimBrokerConfig c;
        c.fill = core::FillModel::close;
        c.slippage_bps = 0;
        c.price_field = core::PriceField::close;
        c.state_file = state;
        sim = std::make_unique<broker::SimBroker>(market, c, [this] { return clock.now(); });
        REQUIRE(sim->load_state().value());
    }

    broker::MarketData* data = nullptr;  // the market data, when not `market` itself
    bool dry_run = false;

    daemon::SessionOutcome run(broker::Broker& b, Date session) {
        daemon::ChainJobs jobs(config, *journal, b, data ? *data : *market, strategy, clock, dry_run, log);
        const auto run_id = storage::RunRepository(*journal).start_run("test", "sim", "", "x");
        daemon::Scheduler scheduler(clock, jobs, *journal, config.schedule, run_id, dry_run, log);
        daemon::SessionOutcome out;
        net::io_context io;
        net::co_spawn(io, [&]() -> awaitable<void> { out = co_await scheduler.run_session(session, true); }, net::detached);
        io.run();
        return out;
    }
    int rows(const std::string& sql) {
        SQLite::Database db((dir / "j.db").string(), SQLite::OPEN_READONLY);
        return db.execAndGet(sql).getInt();
    }
};

}  // namespace

TEST_CASE("a rejected sell stops the buys that needed its proceeds", "[daemon][jobs]") {
    Fixture f;
    FaultyBroker broker(*f.sim, core::Side::sell, broker::BrokerError::Kind::rejected);
    const auto out = f.run(broker, day("2024-01-02"));
    INFO(out.failure);
    CHECK(out.failure.empty());
    CHECK(broker.submits == 1);  // the sell only
    CHECK(f.rows("SELECT count(*) FROM orders WHERE side = 'buy'") == 0);
    CHECK(f.rows("SELECT count(*) FROM orders WHERE side = 'sell' AND status = 'rejected'") == 1);
    CHECK(f.rows("SELECT count(*) FROM job_runs WHERE job = 'rebalance' AND detail LIKE '%buys not sent: sell AAA was rejected%'") == 1);
    // Nothing traded, so it does not count as a rebalance: the next session tries again.
    broker.active = false;
    f.run(broker, day("2024-01-03"));
    CHECK(f.rows("SELECT count(*) FROM orders WHERE status = 'filled'") == 2);
}

TEST_CASE("a submit that may have reached the broker stays open and stops the session", "[daemon][jobs]") {
    Fixture f;
    FaultyBroker broker(*f.sim, core::Side::sell, broker::BrokerError::Kind::timeout);
    const auto out = f.run(broker, day("2024-01-02"));
    CHECK(out.failure.find("left for reconciliation") != std::string::npos);
    CHECK(broker.submits == 1);
    CHECK(f.rows("SELECT count(*) FROM orders WHERE status = 'intent'") == 1);
    CHECK(f.rows("SELECT count(*) FROM orders WHERE side = 'buy'") == 0);
    // Next session: reconciliation finds the broker never had it, closes it, then trades.
    broker.active = false;
    f.run(broker, day("2024-01-03"));
    CHECK(f.rows("SELECT count(*) FROM orders WHERE status = 'canceled' AND session_date = '2024-01-02'") == 1);
    CHECK(f.rows("SELECT count(*) FROM orders WHERE status = 'filled' AND session_date = '2024-01-03'") == 2);
    CHECK(f.rows("SELECT count(*) FROM orders WHERE status NOT IN ('filled','canceled','rejected','denied')") == 0);
}

TEST_CASE("rejections in a row trip the breaker: halted until resume", "[daemon][jobs][risk]") {
    Fixture f;
    f.config.breakers.max_consecutive_rejections = 1;
    FaultyBroker broker(*f.sim, core::Side::sell, broker::BrokerError::Kind::rejected);
    f.run(broker, day("2024-01-02"));
    CHECK(f.rows("SELECT count(*) FROM orders WHERE status = 'rejected'") == 1);
    const auto halt = storage::ControlRepository(*f.journal).halt();
    REQUIRE(halt);
    CHECK(halt->set_by == "risk:consecutive_rejections");
    CHECK(f.rows("SELECT count(*) FROM health_events WHERE kind = 'breaker_tripped'") == 1);
    // The next session places nothing, even with a healthy broker.
    broker.active = false;
    f.run(broker, day("2024-01-03"));
    CHECK(f.rows("SELECT count(*) FROM orders") == 1);
    CHECK(f.rows("SELECT count(*) FROM rebalance_decisions WHERE session_date = '2024-01-03' AND reason LIKE 'halted%'") == 1);
    // Resume clears it; the breaker must not re-trip on the old rejection once orders fill.
    storage::ControlRepository(*f.journal).clear_halt("x", "test");
    f.config.breakers.max_consecutive_rejections = 2;
    f.run(broker, day("2024-01-04"));
    CHECK(f.rows("SELECT count(*) FROM orders WHERE status = 'filled'") == 2);
}

TEST_CASE("a rejection that answers a retry of a placed order is checked, and the order adopted",
          "[daemon][jobs]") {
    Fixture f;
    FaultyBroker broker(*f.sim, core::Side::sell, broker::BrokerError::Kind::rejected);
    broker.place_anyway = true;  // the sell exists at the broker although the answer says no
    const auto out = f.run(broker, day("2024-01-02"));
    INFO(out.failure);
    CHECK(out.failure.empty());
    CHECK(f.rows("SELECT count(*) FROM orders WHERE side = 'sell' AND status = 'filled'") == 1);
    CHECK(f.rows("SELECT count(*) FROM orders WHERE side = 'buy' AND status = 'filled'") == 1);
    CHECK(f.rows("SELECT count(*) FROM orders WHERE status = 'rejected'") == 0);
}

TEST_CASE("a halt thrown while sells are out stops the buys", "[daemon][jobs][risk]") {
    Fixture f;
    FaultyBroker broker(*f.sim, core::Side::sell, broker::BrokerError::Kind::rejected);
    broker.active = false;
    broker.on_submit = [&] { storage::ControlRepository(*f.journal).set_halt("operator", "x", "test"); };
    f.run(broker, day("2024-01-02"));
    CHECK(f.rows("SELECT count(*) FROM orders WHERE side = 'sell' AND status = 'filled'") == 1);
    CHECK(f.rows("SELECT count(*) FROM orders WHERE side = 'buy'") == 0);
    CHECK(f.rows("SELECT count(*) FROM job_runs WHERE job = 'rebalance' AND detail LIKE '%buys not sent: halted%'") == 1);
}

TEST_CASE("an order the broker no longer knows is closed, not a reason to stop forever", "[daemon][jobs]") {
    Fixture f;
    const auto run_id = storage::RunRepository(*f.journal).start_run("test", "sim", "", "x");
    const auto job = storage::RunRepository(*f.journal).start_job(run_id, day("2024-01-02"), "rebalance", "x");
    storage::OrderRepository orders(*f.journal);
    const auto id = orders.record_intent({"bl-ghost-0", job, day("2024-01-02"), 0, "AAA", core::Side::buy, d("1"),
                                          d("100"), d("100"), "test", "x", ""});
    orders.append_event(id, {"submitted", "x", std::nullopt, std::nullopt, std::nullopt, ""}, "submitted", "sim-999");
    daemon::ChainJobs jobs(f.config, *f.journal, *f.sim, *f.market, f.strategy, f.clock, false, f.log);
    std::optional<broker::Result<int>> open;
    net::io_context io;
    net::co_spawn(io, [&]() -> awaitable<void> { open.emplace(co_await jobs.reconcile_orders()); }, net::detached);
    io.run();
    REQUIRE(open->ok());
    CHECK(open->value() == 0);
    CHECK(f.rows("SELECT count(*) FROM orders WHERE client_order_id = 'bl-ghost-0' AND status = 'expired'") == 1);
    CHECK(f.rows("SELECT count(*) FROM health_events WHERE kind = 'order_vanished'") == 1);
}

TEST_CASE("a rebalance resumed with its sells still queued sends only what is missing", "[daemon][jobs]") {
    Fixture f;
    // A queued venue: orders fill at the next open.
    broker::SimBrokerConfig c;
    c.fill = core::FillModel::next_open;
    c.slippage_bps = 0;
    c.price_field = core::PriceField::close;
    c.state_file = f.dir / "sim.json";
    broker::SimBroker queued(f.market, c, [&] { return f.clock.now(); });
    REQUIRE(queued.load_state().value());
    // The crashed process had recorded its job run and sent the AAA sell, then died.
    f.clock = daemon::ReplayClock(core::ny_to_utc(day("2024-01-02"), core::TimeOfDay{16 * 60 + 50}));
    const auto run_id = storage::RunRepository(*f.journal).start_run("crashed", "sim", "", "x");
    storage::RunRepository runs(*f.journal);
    for (const char* job : {"data-update", "signals"}) {
        const auto id = runs.start_job(run_id, day("2024-01-02"), job, "x");
        runs.finish_job(id, storage::JobStatus::succeeded, "x", "", "");
    }
    storage::BarRepository(*f.journal).upsert({bar("AAA", "2024-01-02", 100), bar("BBB", "2024-01-02", 50)}, "t");
    storage::SignalRepository(*f.journal).save_targets(1, day("2024-01-02"), "half-half",
                                                       {{"AAA", d("0.5")}, {"BBB", d("0.5")}});
    const auto job = runs.start_job(run_id, day("2024-01-02"), "rebalance", "x");
    storage::OrderRepository orders(*f.journal);
    const auto sell = orders.record_intent({"bl-20240102-" + std::to_string(job) + "-0", job, day("2024-01-02"), 0,
                                            "AAA", core::Side::sell, d("50"), d("100"), d("5000"), "t", "x", ""});
    const broker::OrderRequest request{"bl-20240102-" + std::to_string(job) + "-0", "AAA", core::Side::sell, d("50")};
    net::io_context io;
    std::optional<broker::Result<broker::OrderUpdate>> sent;
    net::co_spawn(io, [&]() -> awaitable<void> { sent.emplace(co_await queued.submit(request)); }, net::detached);
    io.run();
    REQUIRE(sent->ok());
    orders.append_event(sell, {"submitted", "x", std::nullopt, std::nullopt, std::nullopt, ""}, "submitted",
                        sent->value().broker_order_id);
    // The restart resumes the rebalance: the queued sell counts as done, only the buy is sent.
    f.run(queued, day("2024-01-02"));
    CHECK(f.rows("SELECT count(*) FROM orders WHERE side = 'sell'") == 1);
    CHECK(f.rows("SELECT count(*) FROM orders WHERE side = 'buy' AND symbol = 'BBB' AND qty = '100'") == 1);
    CHECK(f.rows("SELECT count(*) FROM job_runs WHERE job = 'rebalance' AND status = 'succeeded'") == 1);
    CHECK(queued.order_count() == 2);
}

TEST_CASE("every order's intent carries the risk stage's verdict, approved or denied", "[daemon][jobs][risk]") {
    // AAA (all the account) is sold, BBB bought with a 40% cap on any position: the buy of
    // 50% is denied by max_position_weight, the sell approved; both verdicts are journaled.
    Fixture f;
    f.config.risk.max_position_fraction = d("0.4");
    const auto out = f.run(*f.sim, day("2024-01-03"));
    INFO(out.failure);
    CHECK(f.rows("SELECT count(*) FROM order_events e JOIN orders o ON o.id = e.order_id WHERE o.symbol = 'AAA'"
                 " AND e.event = 'intent_recorded' AND e.detail = 'risk ok: within limits'") == 1);
    CHECK(f.rows("SELECT count(*) FROM order_events e JOIN orders o ON o.id = e.order_id WHERE o.symbol = 'BBB'"
                 " AND e.event = 'intent_recorded' AND e.detail LIKE 'risk denied: max_position_weight: %'") == 1);
    CHECK(f.rows("SELECT count(*) FROM orders WHERE symbol = 'BBB' AND status = 'denied'") == 1);
    CHECK(f.rows("SELECT count(*) FROM order_events WHERE event = 'intent_recorded' AND detail IS NULL") == 0);
}

TEST_CASE("a gap after known bars holds the chain and names every missing day", "[daemon][jobs][data]") {
    // Session 2024-01-02 reads both symbols; by 2024-01-05 BBB lacks 01-03 and 01-04.
    Fixture f;
    f.market = broker::SimMarket::from_bars(
        {{"AAA", {bar("AAA", "2024-01-02", 100), bar("AAA", "2024-01-03", 100), bar("AAA", "2024-01-04", 100),
                  bar("AAA", "2024-01-05", 100)}},
         {"BBB", {bar("BBB", "2024-01-02", 50), bar("BBB", "2024-01-05", 50)}}});
    REQUIRE(f.run(*f.sim, day("2024-01-02")).failure.empty());
    const auto out = f.run(*f.sim, day("2024-01-05"));
    CHECK(out.failure ==
          "data-update failed: gap in the market data: no bar for BBB on 2024-01-03 and 1 more trading day(s) up to "
          "2024-01-05; holding");
    CHECK(f.rows("SELECT count(*) FROM orders WHERE session_date = '2024-01-05'") == 0);
    // A duplicate bar is refused the same way.
    Fixture g;
    g.market = broker::SimMarket::from_bars({{"AAA", {bar("AAA", "2024-01-02", 100), bar("AAA", "2024-01-02", 101)}},
                                             {"BBB", {bar("BBB", "2024-01-02", 50)}}});
    CHECK(g.run(*g.sim, day("2024-01-02")).failure ==
          "data-update failed: duplicate bar AAA 2024-01-02 from market data; holding");
}

TEST_CASE("a data update takes bars in any order and several sessions at once, as the usual fetch",
          "[daemon][jobs][data]") {
    // The same three sessions read three ways: as the sim market answers (one bar per symbol
    // and session, in order), shuffled by the venue, and with 2024-01-03 missed and then
    // caught up with 2024-01-04. Each journals the same bars and trades the same orders.
    const auto orders_of = [](Fixture& f) {
        SQLite::Database db((f.dir / "j.db").string(), SQLite::OPEN_READONLY);
        SQLite::Statement st(db, "SELECT session_date || ' ' || symbol || ' ' || side || ' ' || qty || ' ' || status"
                                 " FROM orders ORDER BY id");
        std::vector<std::string> out;
        while (st.executeStep()) out.push_back(st.getColumn(0).getString());
        return out;
    };
    Fixture plain;
    for (const char* s : {"2024-01-02", "2024-01-03", "2024-01-04"}) REQUIRE(plain.run(*plain.sim, day(s)).failure.empty());
    REQUIRE_FALSE(orders_of(plain).empty());

    Fixture shuffled;
    std::mt19937 rng(3);
    ShapedMarket venue(*shuffled.market, [&](std::vector<core::Bar>& bars) { std::shuffle(bars.begin(), bars.end(), rng); });
    shuffled.data = &venue;
    for (const char* s : {"2024-01-02", "2024-01-03", "2024-01-04"})
        REQUIRE(shuffled.run(*shuffled.sim, day(s)).failure.empty());
    CHECK(orders_of(shuffled) == orders_of(plain));
    CHECK(shuffled.rows("SELECT count(*) FROM bars") == plain.rows("SELECT count(*) FROM bars"));

    Fixture late;
    bool lost = true;  // 2024-01-03's bars do not arrive on that session
    ShapedMarket flaky(*late.market, [&](std::vector<core::Bar>& bars) {
        if (lost) std::erase_if(bars, [](const core::Bar& b) { return b.date == day("2024-01-03"); });
    });
    late.data = &flaky;
    REQUIRE(late.run(*late.sim, day("2024-01-02")).failure.empty());
    CHECK(late.run(*late.sim, day("2024-01-03")).failure.find("no bar for AAA on 2024-01-03") != std::string::npos);
    lost = false;
    REQUIRE(late.run(*late.sim, day("2024-01-04")).failure.empty());
    CHECK(late.rows("SELECT count(*) FROM bars") == 6);
    CHECK(late.rows("SELECT count(*) FROM job_runs WHERE job = 'data-update' AND session_date = '2024-01-04'"
                    " AND detail = 'stored 4 bars for 2 symbols through 2024-01-04'") == 1);
}

// The jobs remember the last holdings they found all inside the strategy's universe, to
// skip the walk when they come again: a holding that appears (or goes) later must still
// be seen.
class ExtraHoldingBroker final : public ForwardingBroker {
public:
    using ForwardingBroker::ForwardingBroker;
    bool extra = false;  // the account also lists 100 ZZZ
    awaitable<broker::Result<core::AccountState>> account() override {
        auto a = co_await inner_.account();
        if (!a || !extra) co_return a;
        core::AccountState with = std::move(a).value();
        with.positions.emplace_back("ZZZ", d("100"));
        co_return with;
    }
};

TEST_CASE("a holding that appears outside the strategy between sessions is fetched from then on", "[daemon][jobs][data]") {
    Fixture f;
    f.market = broker::SimMarket::from_bars(
        {{"AAA", {bar("AAA", "2024-01-02", 100), bar("AAA", "2024-01-03", 100), bar("AAA", "2024-01-04", 100)}},
         {"BBB", {bar("BBB", "2024-01-02", 50), bar("BBB", "2024-01-03", 50), bar("BBB", "2024-01-04", 50)}},
         {"ZZZ", {bar("ZZZ", "2024-01-02", 10), bar("ZZZ", "2024-01-03", 10), bar("ZZZ", "2024-01-04", 10)}}});
    ExtraHoldingBroker broker(*f.sim);
    // One ChainJobs for all three sessions (Fixture::run makes one per session).
    daemon::ChainJobs jobs(f.config, *f.journal, broker, *f.market, f.strategy, f.clock, false, f.log);
    const auto run_id = storage::RunRepository(*f.journal).start_run("test", "sim", "", "x");
    daemon::Scheduler scheduler(f.clock, jobs, *f.journal, f.config.schedule, run_id, false, f.log);
    const auto data_update_of = [&](const char* session, bool extra) {
        broker.extra = extra;
        net::io_context io;
        net::co_spawn(io, [&]() -> awaitable<void> { co_await scheduler.run_session(day(session), true); }, net::detached);
        io.run();
        SQLite::Database db((f.dir / "j.db").string(), SQLite::OPEN_READONLY);
        SQLite::Statement st(db, "SELECT detail FROM job_runs WHERE job = 'data-update' AND session_date = ?");
        st.bind(1, session);
        REQUIRE(st.executeStep());
        return st.getColumn(0).getString();
    };
    CHECK(data_update_of("2024-01-02", false) == "stored 2 bars for 2 symbols through 2024-01-02");
    CHECK(data_update_of("2024-01-03", true) == "stored 6 bars for 3 symbols through 2024-01-03");
    CHECK(data_update_of("2024-01-04", false) == "stored 2 bars for 2 symbols through 2024-01-04");
}

TEST_CASE("a holding outside the strategy, and positions a venue lists unsorted, are fetched, valued and sold",
          "[daemon][jobs][data]") {
    const auto run_with = [](bool reversed) {
        Fixture f;
        f.market = broker::SimMarket::from_bars(
            {{"AAA", {bar("AAA", "2024-01-02", 100)}}, {"BBB", {bar("BBB", "2024-01-02", 50)}},
             {"CCC", {bar("CCC", "2024-01-02", 20)}}, {"ZZZ", {bar("ZZZ", "2024-01-02", 10)}}});
        f.start_sim(R"({"version": 1, "cash": "0", "positions": {"AAA": "10", "CCC": "50", "ZZZ": "100"}, "orders": []})");
        ReversedBroker backwards(*f.sim);
        const auto out = reversed ? f.run(backwards, day("2024-01-02")) : f.run(*f.sim, day("2024-01-02"));
        INFO(out.failure);
        CHECK(out.failure.empty());
        CHECK(f.rows("SELECT count(*) FROM job_runs WHERE detail = 'stored 4 bars for 4 symbols through 2024-01-02'") == 1);
        CHECK(f.rows("SELECT count(*) FROM orders WHERE side = 'sell' AND status = 'filled' AND symbol IN ('CCC', 'ZZZ')"
                     " AND reason LIKE 'not in the targets: sell all%'") == 2);
        // Equity 10 x 100 + 50 x 20 + 100 x 10 = 3,000, half in each target.
        CHECK(f.rows("SELECT count(*) FROM equity_snapshots WHERE equity = '3000'") == 1);
        SQLite::Database db((f.dir / "j.db").string(), SQLite::OPEN_READONLY);
        SQLite::Statement st(db, "SELECT group_concat(symbol || ':' || side || ':' || qty, ' ') FROM"
                                 " (SELECT symbol, side, qty FROM orders ORDER BY id)");
        REQUIRE(st.executeStep());
        return st.getColumn(0).getString();
    };
    const auto sorted = run_with(false);
    CHECK(sorted == "CCC:sell:50 ZZZ:sell:100 AAA:buy:5 BBB:buy:30");
    CHECK(run_with(true) == sorted);
}

// Counts the account reads; the reads after the first `deposit_after` answer with 25
// dollars more cash (what a deposit between two reads would look like).
class CountingBroker final : public ForwardingBroker {
public:
    using ForwardingBroker::ForwardingBroker;
    int reads = 0;
    int deposit_after = 1'000'000;
    awaitable<broker::Result<core::AccountState>> account() override {
        auto a = co_await inner_.account();
        if (!a || ++reads <= deposit_after) co_return a;
        core::AccountState state = std::move(a).value();
        state.cash += Decimal::from_int(25);
        co_return state;
    }
};

TEST_CASE("a rebalance that sends nothing snapshots the account it read; one that trades reads it again",
          "[daemon][jobs]") {
    Fixture f;
    CountingBroker broker(*f.sim);
    // 2024-01-02 trades (AAA sold, BBB bought, at the close): the data update, the
    // rebalance's plan, its buys after the sells and its snapshot each read the account.
    auto out = f.run(broker, day("2024-01-02"));
    INFO(out.failure);
    REQUIRE(out.failure.empty());
    CHECK(f.rows("SELECT count(*) FROM orders WHERE status = 'filled'") == 2);
    CHECK(broker.reads == 4);
    // The snapshot is of the account after the fills: 50 AAA and 100 BBB at 100 and 50.
    CHECK(f.rows("SELECT count(*) FROM equity_snapshots WHERE session_date = '2024-01-02' AND cash = '0'"
                 " AND equity = '10000'") == 1);

    // 2024-01-03 is on target and holds: two reads (the data update's and the plan's), and
    // the snapshot is of the account the plan read, not of a later read (which would show
    // the 25 dollars that appear after the second read).
    broker.reads = 0;
    broker.deposit_after = 2;
    out = f.run(broker, day("2024-01-03"));
    REQUIRE(out.failure.empty());
    CHECK(f.rows("SELECT count(*) FROM orders") == 2);
    CHECK(f.rows("SELECT count(*) FROM rebalance_decisions WHERE session_date = '2024-01-03' AND rebalance = 0") == 1);
    CHECK(broker.reads == 2);
    CHECK(f.rows("SELECT count(*) FROM equity_snapshots WHERE session_date = '2024-01-03' AND equity = '10000'") == 1);
}

TEST_CASE("a dry run plans and journals its orders without reading the account again", "[daemon][jobs]") {
    Fixture f;
    f.dry_run = true;
    CountingBroker broker(*f.sim);
    const auto out = f.run(broker, day("2024-01-02"));
    INFO(out.failure);
    REQUIRE(out.failure.empty());
    // The sell of AAA and the buy of BBB journaled as dry runs, nothing sent.
    CHECK(f.rows("SELECT count(*) FROM orders WHERE status = 'dry_run'") == 2);
    CHECK(broker.reads == 2);  // the data update's and the plan's: it snapshots nothing
    CHECK(f.rows("SELECT count(*) FROM equity_snapshots") == 0);
}

TEST_CASE("positions that change symbol but not count are valued at their own closes", "[daemon][jobs]") {
    // Held AAA and CCC; the targets are half AAA, half BBB: CCC is sold and BBB bought, so
    // the account holds two symbols before and after, but not the same two. The breaker
    // check values the first account, the snapshot the second (each symbol at its own
    // close: BBB at CCC's 20 would make the equity 1,400).
    Fixture f;
    f.market = broker::SimMarket::from_bars({{"AAA", {bar("AAA", "2024-01-02", 100)}},
                                             {"BBB", {bar("BBB", "2024-01-02", 50)}},
                                             {"CCC", {bar("CCC", "2024-01-02", 20)}}});
    f.start_sim(R"({"version": 1, "cash": "0", "positions": {"AAA": "10", "CCC": "50"}, "orders": []})");
    f.config.breakers.max_drawdown = 0.5;
    const auto out = f.run(*f.sim, day("2024-01-02"));
    INFO(out.failure);
    REQUIRE(out.failure.empty());
    CHECK(f.rows("SELECT count(*) FROM orders WHERE status = 'filled'") == 2);  // CCC sold, BBB bought
    CHECK(f.rows("SELECT count(*) FROM position_snapshots WHERE symbol = 'BBB' AND qty = '20' AND price = '50'") == 1);
    CHECK(f.rows("SELECT count(*) FROM equity_snapshots WHERE equity = '2000'") == 1);
}

TEST_CASE("a bar with impossible prices holds the chain and says what is wrong with it", "[daemon][jobs][data]") {
    // After a good session, the next session's usual fetch (one bar per symbol) carries one
    // bad BBB bar: the fast check turns it down and the full checks name it.
    const std::vector<std::pair<std::function<void(core::Bar&)>, std::string>> cases{
        // Each of the four relations broken alone (the bar is open = close = 50, low 49, high 51).
        {[](core::Bar& b) { b.open = b.low - 0.25; }, "low/high inconsistent"},
        {[](core::Bar& b) { b.close = b.low - 0.25; }, "low/high inconsistent"},
        {[](core::Bar& b) { b.open = b.high + 0.25; }, "low/high inconsistent"},
        {[](core::Bar& b) { b.close = b.high + 0.25; }, "low/high inconsistent"},
        {[](core::Bar& b) { b.close = 0; }, "non-positive price"},
        {[](core::Bar& b) { b.open = -1; }, "non-positive price"},
        {[](core::Bar& b) { b.adj_close = std::nan(""); }, "non-positive price"},
        {[](core::Bar& b) { b.high = std::nan(""); }, "non-positive price"},
    };
    for (const auto& [spoil, why] : cases) {
        Fixture f;
        ShapedMarket shaped(*f.market, [&spoil = spoil](std::vector<core::Bar>& bars) {
            for (auto& b : bars)
                if (b.symbol == "BBB" && b.date == day("2024-01-03")) spoil(b);
        });
        f.data = &shaped;
        REQUIRE(f.run(*f.sim, day("2024-01-02")).failure.empty());
        const auto out = f.run(*f.sim, day("2024-01-03"));
        CHECK(out.failure == "data-update failed: invalid bar BBB 2024-01-03: " + why + "; holding");
        CHECK(f.rows("SELECT count(*) FROM orders WHERE session_date = '2024-01-03'") == 0);
    }
}
