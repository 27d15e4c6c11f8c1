#include "core/metrics.hpp"

#include <algorithm>
#include <cmath>

namespace ballast::core {

std::optional<double> cagr(const std::vector<EquityPoint>& series) {
    if (series.size() < 2) return std::nullopt;
    const auto& first = series.front();
    const auto& last = series.back();
    const double years = static_cast<double>(last.date - first.date) / 365.25;
    if (years <= 0 || first.equity <= 0 || last.equity <= 0) return std::nullopt;
    return std::pow(last.equity / first.equity, 1.0 / years) - 1.0;
}

Drawdown max_drawdown(const std::vector<EquityPoint>& series) {
    Drawdown worst;
    if (series.empty()) return worst;
    EquityPoint peak = series.front();
    for (const auto& p : series) {
        if (p.equity > peak.equity) peak = p;
        if (peak.equity > 0) {
            const double dd = (peak.equity - p.equity) / peak.equity;
            if (dd > worst.max) worst = {dd, peak.date, p.date};
        }
    }
    return worst;
}

namespace {

// Below this, a standard deviation is rounding noise (a constant-growth series).
constexpr double kNoiseDeviation = 1e-12;

std::optional<double> finite(double v) {
    if (!std::isfinite(v)) return std::nullopt;
    return v;
}

}  // namespace

PerformanceReport compute_report(const std::vector<EquityPoint>& series, const std::vector<TradeRecord>& trades,
                                 double risk_free) {
    PerformanceReport r;
    r.points = series.size();
    r.trades = trades.size();
    for (const auto& t : trades) r.costs += t.commission + t.slippage;
    if (!std::isfinite(r.costs)) r.costs = 0;
    if (series.empty()) return r;

    r.start = series.front().date;
    r.end = series.back().date;
    r.start_equity = series.front().equity;
    r.end_equity = series.back().equity;
    if (r.start_equity > 0) r.total_return = finite(r.end_equity / r.start_equity - 1.0);
    r.cagr = cagr(series);
    if (r.cagr) r.cagr = finite(*r.cagr);
    r.drawdown = max_drawdown(series);
    if (r.cagr && r.drawdown.max > 0) r.calmar = finite(*r.cagr / r.drawdown.max);

    // Turnover over calendar years and the mean equity.
    const double years = static_cast<double>(r.end - r.start) / 365.25;
    double mean_equity = 0;
    for (const auto& p : series) mean_equity += p.equity;
    mean_equity /= static_cast<double>(series.size());
    if (years > 0 && mean_equity > 0 && std::isfinite(mean_equity)) {
        double traded = 0;
        for (const auto& t : trades) traded += std::fabs(t.notional);
        r.turnover = finite(traded / mean_equity / years);
    }

    // Daily returns; none when any equity is unusable.
    std::vector<double> returns;
    for (std::size_t i = 1; i < series.size(); ++i) {
        const double prev = series[i - 1].equity, cur = series[i].equity;
        if (!(prev > 0) || !(cur > 0) || !std::isfinite(prev) || !std::isfinite(cur)) {
            returns.clear();
            break;
        }
        returns.push_back(cur / prev - 1.0);
    }
    if (returns.size() < 2) return r;

    const double n = static_cast<double>(returns.size());
    double mean = 0;
    for (const double x : returns) mean += x;
    mean /= n;
    double sq = 0;
    for (const double x : returns) sq += (x - mean) * (x - mean);
    const double vol = std::sqrt(sq / (n - 1.0)) * std::sqrt(kSessionsPerYear);
    r.volatility = finite(vol < kNoiseDeviation ? 0.0 : vol);
    const double excess = mean * kSessionsPerYear - risk_free;
    if (r.volatility && *r.volatility > 0) r.sharpe = finite(excess / vol);

    const double daily_rf = risk_free / kSessionsPerYear;
    double down = 0;
    for (const double x : returns) {
        const double d = std::min(x - daily_rf, 0.0);
        down += d * d;
    }
    const double downside = std::sqrt(down / n) * std::sqrt(kSessionsPerYear);
    if (downside >= kNoiseDeviation) r.sortino = finite(excess / downside);
    return r;
}

}  // namespace ballast::core
