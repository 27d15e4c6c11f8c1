#include <catch2/catch.hpp>

#include "core/planner.hpp"

using namespace ballast::core;

namespace {

Decimal d(const char* s) { return Decimal::parse(s).value(); }

Weights all_weather() { return {{"VTI", d("0.4")}, {"TLT", d("0.3")}, {"GLD", d("0.2")}, {"DBC", d("0.1")}}; }
Prices prices4() { return {{"VTI", d("250")}, {"TLT", d("90")}, {"GLD", d("180")}, {"DBC", d("22.5")}}; }

PlannerConfig whole(Decimal reserve = Decimal{}) {
    PlannerConfig c;
    c.fractional = false;
    c.min_order_notional = d("10");
    c.cash_reserve = reserve;
    return c;
}

Decimal buy_total(const Plan& p) {
    Decimal t;
    for (const auto& o : p.orders)
        if (o.side == Side::buy) t += o.qty * o.price;
    return t;
}

void check_sells_first(const Plan& p) {
    bool seen_buy = false;
    for (const auto& o : p.orders) {
        if (o.side == Side::buy) seen_buy = true;
        else CHECK_FALSE(seen_buy);
        CHECK(o.qty.is_positive());
    }
}

}  // namespace

TEST_CASE("all cash buys every target in whole shares within the cash", "[core][planner]") {
    const AccountState acct{d("100000"), {}};
    const auto plan = plan_orders(acct, all_weather(), prices4(), whole());
    REQUIRE(plan.hold_reason.empty());
    REQUIRE(plan.orders.size() == 4);
    check_sells_first(plan);
    CHECK(plan.equity == d("100000"));
    std::map<Symbol, Decimal> qty;
    for (const auto& o : plan.orders) qty[o.symbol] = o.qty;
    CHECK(qty["VTI"] == d("160"));    // 40000 / 250
    CHECK(qty["TLT"] == d("333"));    // 30000 / 90 = 333.33 -> 333
    CHECK(qty["GLD"] == d("111"));    // 20000 / 180 = 111.1 -> 111
    CHECK(qty["DBC"] == d("444"));    // 10000 / 22.5 = 444.4 -> 444
    CHECK(buy_total(plan) <= d("100000"));
    CHECK(plan.cash_after >= Decimal{});
}

TEST_CASE("fractional shares give exact decimal quantities", "[core][planner]") {
    const AccountState acct{d("1000"), {}};
    PlannerConfig c = whole();
    c.fractional = true;
    c.qty_decimals = 6;
    const auto plan = plan_orders(acct, {{"TLT", d("1")}}, {{"TLT", d("90")}}, c);
    REQUIRE(plan.orders.size() == 1);
    CHECK(plan.orders[0].qty.to_string() == "11.111111");  // 1000/90 rounded down to 6 places
    CHECK(plan.orders[0].notional.to_string() == "1000");   // 999.99999 -> 1000.00 (cents)
    CHECK(plan.orders[0].qty * plan.orders[0].price <= d("1000"));
}

TEST_CASE("empty portfolio with no cash plans nothing", "[core][planner]") {
    const auto plan = plan_orders(AccountState{}, all_weather(), prices4(), whole());
    CHECK(plan.orders.empty());
    CHECK_FALSE(plan.hold_reason.empty());
}

TEST_CASE("a symbol without a price holds the whole plan", "[core][planner]") {
    auto prices = prices4();
    prices.erase("GLD");
    const AccountState acct{d("100000"), {{"VTI", d("10")}}};
    const auto plan = plan_orders(acct, all_weather(), prices, whole());
    CHECK(plan.orders.empty());
    CHECK(plan.hold_reason.find("GLD") != std::string::npos);
    prices["GLD"] = Decimal{};  // a zero price is no price either
    CHECK(plan_orders(acct, all_weather(), prices, whole()).orders.empty());
}

TEST_CASE("the cash reserve stays uninvested", "[core][planner]") {
    const AccountState acct{d("100000"), {}};
    const auto plan = plan_orders(acct, {{"VTI", d("1")}}, {{"VTI", d("100")}}, whole(d("0.02")));
    REQUIRE(plan.orders.size() == 1);
    CHECK(plan.orders[0].qty == d("980"));
    CHECK(plan.cash_after == d("2000"));
}

TEST_CASE("insufficient cash scales every buy down, never over the cash", "[core][planner]") {
    // Held VTI is at target; TLT and GLD need more than the cash there is after no sells.
    const AccountState acct{d("1000"), {{"VTI", d("100")}}};  // VTI worth 25000
    const Weights targets{{"VTI", d("0.2")}, {"TLT", d("0.4")}, {"GLD", d("0.4")}};
    const auto plan = plan_orders(acct, targets, prices4(), whole());
    check_sells_first(plan);
    // VTI is over target: sold first; the buys use the proceeds plus cash, no more.
    Decimal sells;
    for (const auto& o : plan.orders)
        if (o.side == Side::sell) sells += o.notional;
    CHECK(buy_total(plan) <= d("1000") + sells);
    CHECK(plan.cash_after >= Decimal{});
}

TEST_CASE("buys never exceed the cash when the wanted buys outgrow it", "[core][planner]") {
    // Positions valued at prices where nothing can be sold, and little cash.
    const AccountState acct{d("500"), {{"VTI", d("40")}}};  // 10000 in VTI
    const Weights targets{{"VTI", d("0.95")}, {"DBC", d("0.05")}};  // VTI under target a bit, DBC wants 525
    PlannerConfig c = whole();
    const auto plan = plan_orders(acct, targets, prices4(), c);
    CHECK(buy_total(plan) <= d("500"));
    CHECK_FALSE(plan.notes.empty());
}

TEST_CASE("a held symbol that left the targets is sold in full", "[core][planner]") {
    const AccountState acct{d("0"), {{"SPY", d("7.5")}, {"VTI", d("10")}}};
    const auto plan = plan_orders(acct, {{"VTI", d("1")}}, {{"SPY", d("400")}, {"VTI", d("250")}}, whole());
    REQUIRE_FALSE(plan.orders.empty());
    CHECK(plan.orders[0].symbol == "SPY");
    CHECK(plan.orders[0].side == Side::sell);
    CHECK(plan.orders[0].qty == d("7.5"));  // the whole fractional position, not rounded
    check_sells_first(plan);
}

TEST_CASE("orders below the minimum notional are skipped", "[core][planner]") {
    // 40/60 portfolio off by 5 dollars.
    const AccountState acct{d("5"), {{"VTI", d("16")}, {"TLT", d("66.666")}}};
    PlannerConfig c = whole();
    c.fractional = true;
    const auto plan = plan_orders(acct, {{"VTI", d("0.4")}, {"TLT", d("0.6")}}, {{"VTI", d("250")}, {"TLT", d("90")}}, c);
    CHECK(plan.orders.empty());
    CHECK_FALSE(plan.notes.empty());
}

TEST_CASE("sells come before buys and no quantity is non-positive", "[core][planner]") {
    const AccountState acct{d("100"), {{"VTI", d("300")}, {"TLT", d("10")}}};  // VTI way over
    const auto plan = plan_orders(acct, all_weather(), prices4(), whole());
    REQUIRE(plan.orders.size() >= 2);
    CHECK(plan.orders.front().side == Side::sell);
    check_sells_first(plan);
}

TEST_CASE("a short position refuses to plan", "[core][planner]") {
    const AccountState acct{d("1000"), {{"VTI", d("-5")}}};
    const auto plan = plan_orders(acct, all_weather(), prices4(), whole());
    CHECK(plan.orders.empty());
    CHECK(plan.hold_reason.find("short") != std::string::npos);
}

TEST_CASE("buys-only planning never counts on sell proceeds", "[core][planner]") {
    // Half in TLT (no longer targeted), the rest cash: with plan_sells = false the VTI buy
    // uses the cash alone.
    const AccountState acct{d("20000"), {{"TLT", d("200")}}};  // TLT worth 18000
    PlannerConfig c = whole();
    c.plan_sells = false;
    const auto plan = plan_orders(acct, {{"VTI", d("1")}}, {{"VTI", d("250")}, {"TLT", d("90")}}, c);
    REQUIRE(plan.orders.size() == 1);
    CHECK(plan.orders[0].side == Side::buy);
    // 20000 / 250 = 80 (79 when the scale factor rounds just below), never (20000 + 18000) / 250.
    CHECK(plan.orders[0].qty <= d("80"));
    CHECK(plan.orders[0].qty >= d("79"));
    CHECK(plan.cash_after >= Decimal{});
}
