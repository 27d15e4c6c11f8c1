#pragma once
// Performance metrics over an equity series. Pure.
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

// Compound annual growth rate between the first and last points, with the period
// measured in calendar days / 365.25. nullopt for fewer than two points, a period of
// zero days or a non-positive start or end.
std::optional<double> cagr(const std::vector<EquityPoint>& series);
// Largest peak-to-trough fall. Zero (and default dates) for an empty or rising series.
Drawdown max_drawdown(const std::vector<EquityPoint>& series);

}  // namespace ballast::core
