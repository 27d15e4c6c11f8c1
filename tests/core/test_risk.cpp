#include <catch2/catch.hpp>

#include "core/planner.hpp"
#include "core/risk.hpp"

using namespace ballast::core;

namespace {

Decimal d(const char* s) { return Decimal::parse(s).value(); }

// Limits with every rule but the one under test out of the way.
RiskLimits loose() {
    RiskLimits l;
    l.max_order_fraction = d("10");
    l.max_position_fraction = d("10");
    l.max_gross_exposure = d("10");
    l.cash_reserve = Decimal{};
    return l;
}

PlannedOrder buy(const char* symbol, const char* qty, const char* price) {
    return {symbol, Side::buy, d(qty), d(price), (d(qty) * d(price)).round_half_away(2), ""};
}
PlannedOrder sell(const char* symbol, const char* qty, const char* price) {
    return {symbol, Side::sell, d(qty), d(price), (d(qty) * d(price)).round_down(2), ""};
}

Plan plan_of(const char* equity, std::vector<PlannedOrder> orders) {
    Plan p;
    p.equity = d(equity);
    p.orders = std::move(orders);
    return p;
}

}  // namespace

TEST_CASE("max_order_notional denies a buy just above the limit", "[core][risk]") {
    auto limits = loose();
    limits.max_order_fraction = d("0.5");
    const AccountState acct{d("10000"), {}};
    // 50 x 100 = 5000 = 50.00% of 10000: at the limit, allowed.
    auto v = check_risk(plan_of("10000", {buy("VTI", "50", "100")}), acct, {{"VTI", d("100")}}, limits);
    CHECK(v.at(0).approved);
    CHECK(v.at(0).rule == "ok");
    // 50 x 100.0002 = 5000.01: just above.
    v = check_risk(plan_of("10000", {buy("VTI", "50", "100.0002")}), acct, {{"VTI", d("100.0002")}}, limits);
    CHECK_FALSE(v.at(0).approved);
    CHECK(v.at(0).rule == "max_order_notional");
    CHECK(v.at(0).detail.find("50.00%") != std::string::npos);
}

TEST_CASE("max_position_weight counts the shares already held", "[core][risk]") {
    auto limits = loose();
    limits.max_position_fraction = d("0.6");
    // 10 held x 100 = 1000, + 5000 bought = 6000 of 10000 = 60%: allowed.
    const AccountState acct{d("9000"), {{"VTI", d("10")}}};
    const Prices prices{{"VTI", d("100")}};
    auto v = check_risk(plan_of("10000", {buy("VTI", "50", "100")}), acct, prices, limits);
    CHECK(v.at(0).approved);
    // + 5000.01 (50.0001 shares): 60.0001%.
    v = check_risk(plan_of("10000", {buy("VTI", "50.0001", "100")}), acct, prices, limits);
    CHECK_FALSE(v.at(0).approved);
    CHECK(v.at(0).rule == "max_position_weight");
}

TEST_CASE("max_gross_exposure denies a buy just above the limit", "[core][risk]") {
    auto limits = loose();
    limits.max_gross_exposure = d("0.8");
    // Cash 5000, A 30 x 100, B 20 x 100: equity 10000, gross 50%.
    const AccountState acct{d("5000"), {{"A", d("30")}, {"B", d("20")}}};
    const Prices prices{{"A", d("100")}, {"B", d("100")}, {"C", d("100")}};
    // + C 30 x 100 = 3000: gross 80.00%, at the limit.
    auto v = check_risk(plan_of("10000", {buy("C", "30", "100")}), acct, prices, limits);
    CHECK(v.at(0).approved);
    // + C 30.0001 x 100 = 3000.01: gross 80.0001%.
    v = check_risk(plan_of("10000", {buy("C", "30.0001", "100")}), acct, prices, limits);
    CHECK_FALSE(v.at(0).approved);
    CHECK(v.at(0).rule == "max_gross_exposure");
    // The default (100%) never stops a fully invested plan: A + B + C 50 = 100%.
    v = check_risk(plan_of("10000", {buy("C", "50", "100")}), acct, prices, RiskLimits{});
    CHECK(v.at(0).approved);
}

TEST_CASE("a sell that opens a short above the gross limit is denied and blocks the buys", "[core][risk]") {
    auto limits = loose();
    limits.max_gross_exposure = d("0.55");
    const AccountState acct{d("5000"), {{"A", d("30")}, {"B", d("20")}}};
    const Prices prices{{"A", d("100")}, {"B", d("100")}, {"C", d("100")}};
    // Selling 30 A closes it (gross falls to 20%): allowed. Selling 80 B leaves -60 B:
    // gross 60% > 55%: denied. The buy after it is approved on its own, but the report
    // says the buys must not go.
    const auto r = evaluate_risk(plan_of("10000", {sell("A", "30", "100"), sell("B", "80", "100"), buy("C", "10", "100")}),
                                 acct, prices, limits);
    REQUIRE(r.verdicts.size() == 3);
    CHECK(r.verdicts[0].approved);
    CHECK_FALSE(r.verdicts[1].approved);
    CHECK(r.verdicts[1].rule == "max_gross_exposure");
    CHECK(r.verdicts[2].approved);
    CHECK(r.sell_denied());
    CHECK(r.buys_blocked == "sell B was denied (max_gross_exposure)");
}

TEST_CASE("cash_reserve denies a buy that leaves less than the reserve", "[core][risk]") {
    auto limits = loose();
    limits.cash_reserve = d("0.05");
    const AccountState acct{d("10000"), {}};
    const Prices prices{{"VTI", d("100")}};
    // 95 x 100 leaves 500 = 5% of 10000: allowed.
    auto v = check_risk(plan_of("10000", {buy("VTI", "95", "100")}), acct, prices, limits);
    CHECK(v.at(0).approved);
    // 95.0001 x 100 leaves 499.99.
    v = check_risk(plan_of("10000", {buy("VTI", "95.0001", "100")}), acct, prices, limits);
    CHECK_FALSE(v.at(0).approved);
    CHECK(v.at(0).rule == "cash_reserve");
    CHECK(v.at(0).detail.find("499.99") != std::string::npos);
    // Reserve 0 (the default) still refuses a negative balance when leverage is allowed.
    limits.cash_reserve = Decimal{};
    v = check_risk(plan_of("10000", {buy("VTI", "100", "100")}), acct, prices, limits);
    CHECK(v.at(0).approved);
    v = check_risk(plan_of("10000", {buy("VTI", "100.0001", "100")}), acct, prices, limits);
    CHECK(v.at(0).rule == "cash_reserve");
}

TEST_CASE("later orders are judged on the approved orders only", "[core][risk]") {
    const AccountState acct{d("10000"), {}};
    const Prices prices{{"A", d("100")}, {"B", d("100")}, {"C", d("100")}};
    // A uses 6000; B (6000 more) would overdraw and is denied; C (3000) fits in what is left.
    const auto v = check_risk(plan_of("10000", {buy("A", "60", "100"), buy("B", "60", "100"), buy("C", "30", "100")}),
                              acct, prices, loose());
    REQUIRE(v.size() == 3);
    CHECK(v[0].approved);
    CHECK(v[1].rule == "cash_reserve");
    CHECK(v[2].approved);
    CHECK(v[0].order.symbol == "A");
    CHECK(v[2].order.symbol == "C");
}

TEST_CASE("price_sanity compares the quote with the reference price", "[core][risk]") {
    auto limits = loose();
    limits.price_sanity = d("0.1");
    const AccountState acct{d("10000"), {{"TLT", d("10")}}};
    const Prices prices{{"VTI", d("100")}, {"TLT", d("100")}};
    const auto plan = plan_of("11000", {sell("TLT", "10", "100"), buy("VTI", "10", "100")});
    RiskContext ctx;
    // 110 is 10.00% above 100: allowed; 89.99 is 10.01% below: denied, and as a sell it
    // blocks the buys.
    ctx.quotes = {{"VTI", d("110")}, {"TLT", d("89.99")}};
    auto r = evaluate_risk(plan, acct, prices, limits, ctx);
    CHECK_FALSE(r.verdicts.at(0).approved);
    CHECK(r.verdicts.at(0).rule == "price_sanity");
    CHECK(r.verdicts.at(0).detail.find("10.01%") != std::string::npos);
    CHECK(r.verdicts.at(1).approved);
    CHECK(r.buys_blocked == "sell TLT was denied (price_sanity)");
    CHECK(r.notes.empty());
    // 110.01 is just above.
    ctx.quotes = {{"VTI", d("110.01")}, {"TLT", d("90")}};
    r = evaluate_risk(plan, acct, prices, limits, ctx);
    CHECK(r.verdicts.at(0).approved);
    CHECK(r.verdicts.at(1).rule == "price_sanity");
    CHECK_FALSE(r.sell_denied());
    // A missing quote is reported, not denied.
    ctx.quotes = {{"VTI", d("100")}};
    r = evaluate_risk(plan, acct, prices, limits, ctx);
    CHECK(r.verdicts.at(0).approved);
    CHECK(r.verdicts.at(1).approved);
    REQUIRE(r.notes.size() == 1);
    CHECK(r.notes[0].find("no quote for TLT") != std::string::npos);
    // Off by default: no check, no notes.
    r = evaluate_risk(plan, acct, prices, loose(), {});
    CHECK(r.notes.empty());
    CHECK(r.verdicts.at(0).approved);
}

TEST_CASE("stop_loss fires at the stop and denies buys of the stopped symbol", "[core][risk]") {
    const AccountState acct{d("1000"), {{"GLD", d("10")}, {"DBC", d("10")}, {"VTI", d("5")}}};
    const Prices refs{{"GLD", d("100")}, {"DBC", d("100")}};
    // GLD at 90 is 10.00% below 100: stopped; DBC at 90.01 is 9.99% below: not; VTI has no
    // reference: noted.
    Prices prices{{"GLD", d("90")}, {"DBC", d("90.01")}, {"VTI", d("50")}};
    auto s = evaluate_stops(acct, prices, refs, d("0.1"));
    REQUIRE(s.stops.size() == 1);
    CHECK(s.stops[0].symbol == "GLD");
    CHECK(s.stops[0].fall == d("0.1"));
    CHECK(s.stops[0].detail.find("10.00%") != std::string::npos);
    REQUIRE(s.notes.size() == 1);
    CHECK(s.notes[0].find("VTI") != std::string::npos);
    // exit_stopped drops it from the targets.
    const auto targets = exit_stopped({{"GLD", d("0.5")}, {"DBC", d("0.5")}}, s.stops);
    CHECK(targets.count("GLD") == 0);
    CHECK(targets.count("DBC") == 1);

    auto limits = loose();
    limits.stop_loss = d("0.1");
    RiskContext ctx;
    ctx.stop_references = refs;
    const auto plan = plan_of("3050.10", {buy("GLD", "1", "90"), buy("DBC", "1", "90.01")});
    auto r = evaluate_risk(plan, acct, prices, limits, ctx);
    CHECK(r.verdicts.at(0).rule == "stop_loss");
    CHECK(r.verdicts.at(1).approved);
    CHECK(r.stops.size() == 1);
    CHECK_FALSE(r.sell_denied());  // buys denied by stop_loss do not block anything
    // Off: no stops, no notes.
    r = evaluate_risk(plan, acct, prices, loose(), ctx);
    CHECK(r.stops.empty());
    CHECK(r.notes.empty());
    CHECK(r.verdicts.at(0).approved);
}

TEST_CASE("a plan with no equity denies buys instead of dividing by zero", "[core][risk]") {
    const AccountState acct{Decimal{}, {}};
    const auto v = check_risk(plan_of("0", {buy("VTI", "1", "100")}), acct, {{"VTI", d("100")}}, RiskLimits{});
    CHECK(v.at(0).rule == "equity_not_positive");
}

TEST_CASE("plans from the planner pass the risk stage with the same cash reserve", "[core][risk]") {
    // Whole and fractional shares, with buys scaled down to the cash: the risk stage's
    // reserve and gross arithmetic never refuses the planner's own output.
    const Prices prices{{"VTI", d("231.17")}, {"TLT", d("91.33")}, {"GLD", d("187.01")}, {"DBC", d("23.47")}};
    const Weights targets{{"VTI", d("0.4")}, {"TLT", d("0.3")}, {"GLD", d("0.2")}, {"DBC", d("0.1")}};
    for (const bool fractional : {false, true}) {
        for (const char* reserve : {"0", "0.005", "0.05"}) {
            PlannerConfig pc;
            pc.fractional = fractional;
            pc.cash_reserve = d(reserve);
            RiskLimits limits;
            limits.cash_reserve = d(reserve);
            const AccountState fresh{d("100000"), {}};
            const AccountState drifted{d("123.45"), {{"VTI", d("250")}, {"TLT", d("200")}, {"GLD", d("40")}}};
            for (const auto& acct : {fresh, drifted}) {
                const auto plan = plan_orders(acct, targets, prices, pc);
                REQUIRE(plan.hold_reason.empty());
                REQUIRE_FALSE(plan.orders.empty());
                for (const auto& v : check_risk(plan, acct, prices, limits)) {
                    INFO(v.order.symbol << " " << v.rule << ": " << v.detail << " (reserve " << reserve << ")");
                    CHECK(v.approved);
                }
            }
        }
    }
}

TEST_CASE("breakers trip on reaching their limits", "[core][risk][breakers]") {
    BreakerLimits limits;
    limits.max_daily_loss = 0.05;
    limits.max_drawdown = 0.2;
    limits.max_consecutive_rejections = 3;
    BreakerInputs in{d("100000"), d("100000"), d("100000"), 0};
    CHECK_FALSE(evaluate_breakers(in, limits));

    SECTION("daily loss") {
        limits.max_drawdown.reset();  // the fall is also a drawdown from the peak
        in.equity = d("95000.01");  // 4.99999%
        CHECK_FALSE(evaluate_breakers(in, limits));
        in.equity = d("95000");     // 5.00%
        const auto t = evaluate_breakers(in, limits);
        REQUIRE(t);
        CHECK(t->rule == "daily_loss");
        CHECK(t->reason == "daily loss of 5.00% (equity $95,000.00, previous close $100,000.00) reached the limit of 5.00%");
        in.previous_close_equity.reset();  // no previous close: not checked
        CHECK_FALSE(evaluate_breakers(in, limits));
    }
    SECTION("drawdown") {
        in.previous_close_equity = d("79000");  // a gain today
        in.equity = d("80000.01");              // 19.99999% below the peak
        CHECK_FALSE(evaluate_breakers(in, limits));
        in.equity = d("80000");                 // 20.00%
        const auto t = evaluate_breakers(in, limits);
        REQUIRE(t);
        CHECK(t->rule == "drawdown");
        CHECK(t->reason.find("20.00%") != std::string::npos);
        CHECK(t->reason.find("$100,000.00") != std::string::npos);
        in.equity = d("120000");                // above the peak
        CHECK_FALSE(evaluate_breakers(in, limits));
    }
    SECTION("consecutive rejections") {
        in.consecutive_rejections = 2;
        CHECK_FALSE(evaluate_breakers(in, limits));
        in.consecutive_rejections = 3;
        const auto t = evaluate_breakers(in, limits);
        REQUIRE(t);
        CHECK(t->rule == "consecutive_rejections");
        CHECK(t->reason == "3 consecutive order rejections reached the limit of 3");
    }
    SECTION("the daily loss is reported first, and breakers that are off never trip") {
        in.equity = d("50000");
        in.consecutive_rejections = 10;
        CHECK(evaluate_breakers(in, limits)->rule == "daily_loss");
        CHECK_FALSE(evaluate_breakers(in, BreakerLimits{}));
    }
}

TEST_CASE("max_gross_exposure on random books: every verdict agrees with a sum over every position",
          "[core][risk]") {
    // The risk stage keeps the gross exposure incrementally. Check it against the naive
    // definition, the sum of |qty x price| over every held symbol recomputed from scratch,
    // on random accounts (some symbols without a price) and random plans: an order that
    // raises the gross is approved exactly when the recomputed gross after it (with the
    // orders approved before it applied) is within the limit, and denied for a missing
    // price exactly when some non-zero holding has none.
    std::uint64_t seed = 12345;
    const auto next = [&](std::uint64_t n) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        return (seed >> 33) % n;
    };
    const std::vector<Symbol> universe{"A", "B", "C", "D", "E", "F"};
    int checked_raise = 0, checked_missing = 0;
    for (int round = 0; round < 3000; ++round) {
        AccountState account;
        account.cash = Decimal::from_int(static_cast<std::int64_t>(next(5000)));
        Prices prices;
        for (const auto& s : universe) {
            if (next(3) > 0) account.positions.emplace_back(s, Decimal::from_int(static_cast<std::int64_t>(next(40))));
            if (next(8) > 0) prices[s] = Decimal::from_int(static_cast<std::int64_t>(1 + next(200)));
        }
        Plan plan;
        plan.equity = Decimal::from_int(static_cast<std::int64_t>(1000 + next(20000)));
        for (int i = 0, n = static_cast<int>(1 + next(6)); i < n; ++i) {
            const auto& s = universe[next(universe.size())];
            const Decimal price = Decimal::from_int(static_cast<std::int64_t>(1 + next(200)));
            const Decimal qty = Decimal::from_int(static_cast<std::int64_t>(1 + next(30)));
            plan.orders.push_back({s, next(2) ? Side::buy : Side::sell, qty, price, qty * price, ""});
        }
        auto limits = loose();
        limits.max_gross_exposure = Decimal::from_int(static_cast<std::int64_t>(20 + next(120))) / Decimal::from_int(100);
        const auto report = evaluate_risk(plan, account, prices, limits);
        REQUIRE(report.verdicts.size() == plan.orders.size());

        // Replay with the naive book.
        Prices valuation = prices;
        for (const auto& o : plan.orders) valuation.emplace(o.symbol, o.price);
        std::map<Symbol, Decimal> held;
        for (const auto& p : account.positions) held[p.symbol] += p.qty;
        const auto gross = [&](const std::map<Symbol, Decimal>& book) -> std::optional<Decimal> {
            Decimal sum;
            for (const auto& [s, q] : book) {
                if (q.is_zero()) continue;
                const auto it = valuation.find(s);
                if (it == valuation.end()) return std::nullopt;
                sum += (q * it->second).abs();
            }
            return sum;
        };
        for (std::size_t i = 0; i < plan.orders.size(); ++i) {
            const auto& o = plan.orders[i];
            const auto& v = report.verdicts[i];
            auto after = held;
            after[o.symbol] += o.side == Side::buy ? o.qty : -o.qty;
            const bool may_raise = o.side == Side::buy || after[o.symbol].is_negative();
            INFO("round " << round << " order " << i << " " << o.symbol << " " << v.rule << ": " << v.detail);
            if (v.rule == "max_gross_exposure") {
                const auto before_gross = gross(held), after_gross = gross(after);
                if (!before_gross || !after_gross) {
                    ++checked_missing;
                    CHECK(v.detail.find("no price for held") == 0);
                } else {
                    ++checked_raise;
                    CHECK(*after_gross > *before_gross);
                    CHECK(*after_gross / plan.equity > limits.max_gross_exposure);
                }
            } else if (v.approved && may_raise) {
                const auto before_gross = gross(held), after_gross = gross(after);
                REQUIRE(before_gross);
                REQUIRE(after_gross);
                if (*after_gross > *before_gross) CHECK(*after_gross / plan.equity <= limits.max_gross_exposure);
            }
            if (v.approved) held = after;
        }
    }
    CHECK(checked_raise > 100);
    CHECK(checked_missing > 100);
}
