#include "core/metrics.hpp"

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

}  // namespace ballast::core
