#pragma once
// Performance metrics over a daily equity series. Pure; every result is finite (a metric
// that is undefined for the input is nullopt, never NaN or infinity).
//
// Conventions:
// - The series is one point per trading session, in date order. Daily returns are simple
//   returns between consecutive points: r_i = equity_i / equity_{i-1} - 1 (no adjustment
//   for gaps between dates).
// - Return-based metrics are annualised with 252 sessions a year; CAGR and turnover use
//   calendar time, (last date - first date) in days / 365.25.
#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

#include "core/calendar.hpp"

namespace ballast::core {

struct EquityPoint {
    Date date;
    double equity = 0;
};

struct Drawdown {
    double max = 0;  // as a positive fraction: 0.25 is a 25% fall from the peak
    Date peak;       // when the peak before the trough was set
    Date trough;
};

// One filled order, for turnover and costs.
struct TradeRecord {
    Date date;
    double notional = 0;    // traded value in dollars (sign ignored)
    double commission = 0;  // dollars charged
    double slippage = 0;    // dollars lost to slippage, if known (e.g. |fill - reference| x qty)
};

inline constexpr double kSessionsPerYear = 252.0;

// Compound annual growth rate between the first and last points, with the period
// measured in calendar days / 365.25. nullopt for fewer than two points, a period of
// zero days or a non-positive start or end.
std::optional<double> cagr(const std::vector<EquityPoint>& series);
// Largest peak-to-trough fall. Zero (and default dates) for an empty or rising series.
Drawdown max_drawdown(const std::vector<EquityPoint>& series);

struct PerformanceReport {
    std::size_t points = 0;          // equity points in the series
    Date start, end;                 // first and last dates (default when empty)
    double start_equity = 0, end_equity = 0;
    std::optional<double> total_return;  // end / start - 1; nullopt when start <= 0
    std::optional<double> cagr;          // as cagr() above
    // Sample standard deviation (n - 1) of the daily returns x sqrt(252). nullopt with
    // fewer than two returns; below 1e-12 (rounding noise) it is reported as 0.
    std::optional<double> volatility;
    // (mean daily return x 252 - risk_free) / volatility. nullopt when volatility is
    // nullopt or zero (a flat series has no defined Sharpe ratio).
    std::optional<double> sharpe;
    // (mean daily return x 252 - risk_free) / downside deviation, where the downside
    // deviation is sqrt(mean over ALL n returns of min(r - risk_free / 252, 0)^2) x sqrt(252).
    // nullopt with fewer than two returns or no return below risk_free / 252 (a downside
    // deviation below 1e-12 counts as none).
    std::optional<double> sortino;
    Drawdown drawdown;                // as max_drawdown() above
    // cagr / drawdown.max; nullopt when either is missing or the drawdown is zero.
    std::optional<double> calmar;
    // Sum of |notional| over the trades (buys and sells both count) / mean equity of the
    // series / years. 2.0 means trades worth the whole portfolio sold and bought back once
    // a year. nullopt for a period of zero days or a non-positive mean equity.
    std::optional<double> turnover;
    std::size_t trades = 0;           // number of trade records
    double costs = 0;                 // sum of commission + slippage over the trades
};

// The report for a series and the trades made over it (the caller passes the trades of
// the series' period). `risk_free` is an annual rate (0.02 = 2%). Return-based metrics
// (volatility, Sharpe, Sortino) are nullopt when any equity is non-positive or non-finite.
PerformanceReport compute_report(const std::vector<EquityPoint>& series, const std::vector<TradeRecord>& trades = {},
                                 double risk_free = 0.0);

}  // namespace ballast::core
