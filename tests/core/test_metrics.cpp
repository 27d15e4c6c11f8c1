#include <cmath>

#include <catch2/catch.hpp>

#include "core/metrics.hpp"

using namespace ballast::core;

namespace {

Date day(const char* s) { return Date::parse(s).value(); }

}  // namespace

TEST_CASE("the performance report on a hand-computed five-point series", "[core][metrics]") {
    // Returns +10%, -20%, +5%, +10%: 100 -> 110 -> 88 -> 92.4 -> 101.64, over the sessions
    // 2024-01-02 .. 2024-01-08 (6 calendar days).
    const std::vector<EquityPoint> s{{day("2024-01-02"), 100},  {day("2024-01-03"), 110}, {day("2024-01-04"), 88},
                                     {day("2024-01-05"), 92.4}, {day("2024-01-08"), 101.64}};
    const std::vector<TradeRecord> trades{{day("2024-01-03"), 50, 1.0, 0.25}, {day("2024-01-05"), -30, 0.5, 0}};
    const auto r = compute_report(s, trades);

    CHECK(r.points == 5);
    CHECK(r.start == day("2024-01-02"));
    CHECK(r.end == day("2024-01-08"));
    CHECK(r.total_return.value() == Approx(0.0164));
    // mean = (0.1 - 0.2 + 0.05 + 0.1) / 4 = 0.0125
    // deviations 0.0875, -0.2125, 0.0375, 0.0875; squares sum to
    //   0.00765625 + 0.04515625 + 0.00140625 + 0.00765625 = 0.061875
    // sample variance 0.061875 / 3 = 0.020625; volatility sqrt(0.020625) x sqrt(252) = 2.27980
    const double vol = std::sqrt(0.020625) * std::sqrt(252.0);
    CHECK(r.volatility.value() == Approx(vol));
    CHECK(r.volatility.value() == Approx(2.27980).epsilon(1e-5));
    // Sharpe: 0.0125 x 252 = 3.15 annual; 3.15 / 2.27980 = 1.38170
    CHECK(r.sharpe.value() == Approx(3.15 / vol));
    CHECK(r.sharpe.value() == Approx(1.38170).epsilon(1e-5));
    // Sortino: only -0.2 is negative: sqrt(0.04 / 4) = 0.1 daily, x sqrt(252) = 1.58745;
    // 3.15 / 1.58745 = 1.98431
    CHECK(r.sortino.value() == Approx(3.15 / (0.1 * std::sqrt(252.0))));
    CHECK(r.sortino.value() == Approx(1.98431).epsilon(1e-5));
    // Drawdown: peak 110 (01-03), trough 88 (01-04): 22 / 110 = 20%.
    CHECK(r.drawdown.max == Approx(0.2));
    CHECK(r.drawdown.peak == day("2024-01-03"));
    CHECK(r.drawdown.trough == day("2024-01-04"));
    // CAGR over 6 / 365.25 years: 1.0164^(365.25 / 6) - 1; Calmar = CAGR / 0.2.
    const double growth = std::pow(1.0164, 365.25 / 6.0) - 1.0;
    CHECK(r.cagr.value() == Approx(growth));
    CHECK(r.calmar.value() == Approx(growth / 0.2));
    // Turnover: |50| + |-30| = 80 traded; mean equity 492.04 / 5 = 98.408;
    // 80 / 98.408 / (6 / 365.25) = 49.488
    CHECK(r.turnover.value() == Approx(80.0 / 98.408 / (6.0 / 365.25)));
    CHECK(r.turnover.value() == Approx(49.488).epsilon(1e-4));
    CHECK(r.trades == 2);
    CHECK(r.costs == Approx(1.75));  // 1.0 + 0.25 + 0.5

    // A risk-free rate of 2.52% a year is 0.0001 a session:
    // Sharpe (3.15 - 0.0252) / vol; Sortino's downside uses min(r - 0.0001, 0): only -0.2001.
    const auto rf = compute_report(s, trades, 0.0252);
    CHECK(rf.sharpe.value() == Approx((3.15 - 0.0252) / vol));
    CHECK(rf.sortino.value() == Approx((3.15 - 0.0252) / (std::sqrt(0.2001 * 0.2001 / 4) * std::sqrt(252.0))));
}

TEST_CASE("undefined ratios are nullopt and never NaN", "[core][metrics]") {
    // Flat: zero volatility, no downside, no drawdown.
    const std::vector<EquityPoint> flat{{day("2024-01-02"), 100}, {day("2024-01-03"), 100}, {day("2024-01-04"), 100}};
    auto r = compute_report(flat);
    CHECK(r.volatility.value() == 0.0);
    CHECK_FALSE(r.sharpe);
    CHECK_FALSE(r.sortino);
    CHECK_FALSE(r.calmar);
    CHECK(r.turnover.value() == 0.0);
    CHECK(r.cagr.value() == 0.0);

    // Steady 1% a day: the deviation is rounding noise, reported as 0.
    const std::vector<EquityPoint> steady{{day("2024-01-02"), 100}, {day("2024-01-03"), 101}, {day("2024-01-04"), 102.01}};
    r = compute_report(steady);
    CHECK(r.volatility.value() == 0.0);
    CHECK_FALSE(r.sharpe);
    CHECK_FALSE(r.sortino);

    // Too short for returns.
    r = compute_report({{day("2024-01-02"), 100}, {day("2024-01-03"), 90}});
    CHECK_FALSE(r.volatility);
    CHECK_FALSE(r.sharpe);
    CHECK(r.drawdown.max == Approx(0.1));
    r = compute_report({{day("2024-01-02"), 100}});
    CHECK_FALSE(r.cagr);
    CHECK_FALSE(r.turnover);  // zero days
    r = compute_report({});
    CHECK(r.points == 0);
    CHECK_FALSE(r.total_return);

    // A non-positive equity: no returns, no CAGR.
    r = compute_report({{day("2024-01-02"), 100}, {day("2024-01-03"), 0}, {day("2024-01-04"), 10}});
    CHECK_FALSE(r.volatility);
    CHECK_FALSE(r.sharpe);
    CHECK(r.drawdown.max == Approx(1.0));
}
