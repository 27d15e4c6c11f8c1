#include <cmath>

#include <catch2/catch.hpp>

#include "core/chain.hpp"
#include "core/metrics.hpp"
#include "core/risk.hpp"
#include "core/strategy.hpp"

using namespace ballast::core;

TEST_CASE("the chain runs jobs in order and skips after a failure", "[core][chain]") {
    ChainState s{};
    auto step = next_step(s);
    CHECK(step.action == ChainStep::Action::run);
    CHECK(step.job == Job::data_update);
    s[0] = JobOutcome::succeeded;
    CHECK(next_step(s).job == Job::signals);
    s[1] = JobOutcome::failed;
    step = next_step(s);
    CHECK(step.action == ChainStep::Action::skip);
    CHECK(step.job == Job::rebalance);
    CHECK(step.reason.find("signals failed") != std::string::npos);
    s[2] = JobOutcome::skipped;
    CHECK(next_step(s).action == ChainStep::Action::done);
    // A failed data-update skips both later jobs, one at a time.
    ChainState f{JobOutcome::failed, std::nullopt, std::nullopt};
    CHECK(next_step(f).action == ChainStep::Action::skip);
    f[1] = JobOutcome::skipped;
    step = next_step(f);
    CHECK(step.action == ChainStep::Action::skip);
    CHECK(step.reason.find("was skipped") != std::string::npos);
    CHECK(parse_job("rebalance") == Job::rebalance);
    CHECK_FALSE(parse_job("trade"));
}

TEST_CASE("metrics on a short hand-computed series", "[core][metrics]") {
    const auto day = [](const char* s) { return Date::parse(s).value(); };
    // 100 -> 120 -> 90 -> 110 -> 130: peak 120, trough 90: drawdown 25%.
    const std::vector<EquityPoint> s{{day("2020-01-01"), 100}, {day("2020-06-01"), 120}, {day("2020-09-01"), 90},
                                     {day("2021-01-01"), 110}, {day("2022-01-01"), 130}};
    const auto dd = max_drawdown(s);
    CHECK(dd.max == Approx(0.25));
    CHECK(dd.peak == day("2020-06-01"));
    CHECK(dd.trough == day("2020-09-01"));
    // 731 days = 2.0014 years: (1.3)^(1/2.0014) - 1.
    CHECK(cagr(s).value() == Approx(std::pow(1.3, 365.25 / 731.0) - 1.0));
    CHECK_FALSE(cagr({{day("2020-01-01"), 100}}));
    CHECK(max_drawdown({}).max == 0.0);
}

TEST_CASE("fixed weights need a close for every symbol", "[core][strategy]") {
    const auto d = [](const char* s) { return Decimal::parse(s).value(); };
    FixedWeights s("60/40", {{"SPY", d("0.6")}, {"IEF", d("0.4")}});
    StrategyInput in;
    in.session = Date::parse("2024-01-02").value();
    const std::vector<double> spy{470.0}, ief{95.0};
    in.closes = {{"SPY", spy}, {"IEF", ief}};
    auto out = s.evaluate(in);
    CHECK(out.problem.empty());
    CHECK(out.targets.at("SPY") == d("0.6"));
    CHECK(out.signals.at("IEF") == 1.0);
    in.closes.erase("IEF");
    out = s.evaluate(in);
    CHECK(out.targets.empty());
    CHECK(out.signals.at("IEF") == 0.0);
    CHECK(out.problem.find("IEF") != std::string::npos);
}

TEST_CASE("risk limits deny oversized orders and positions", "[core][risk]") {
    const auto d = [](const char* s) { return Decimal::parse(s).value(); };
    Plan plan;
    plan.equity = d("10000");
    plan.orders = {{"VTI", Side::sell, d("1"), d("100"), d("100"), ""},
                   {"TLT", Side::buy, d("60"), d("100"), d("6000"), ""},
                   {"GLD", Side::buy, d("30"), d("100"), d("3000"), ""}};
    const AccountState acct{d("5000"), {{"GLD", d("40")}, {"VTI", d("10")}}};
    RiskLimits limits;
    limits.max_order_fraction = d("0.5");
    limits.max_position_fraction = d("0.6");
    const auto v = check_risk(plan, acct, {{"VTI", d("100")}, {"TLT", d("100")}, {"GLD", d("100")}}, limits);
    REQUIRE(v.size() == 3);
    CHECK(v[0].approved);
    CHECK_FALSE(v[1].approved);
    CHECK(v[1].rule == "max_order_notional");
    CHECK_FALSE(v[2].approved);  // 40 held + 30 bought = 7000 of 10000 = 70% > 60%
    CHECK(v[2].rule == "max_position_weight");
}
