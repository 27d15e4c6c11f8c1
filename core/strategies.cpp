#include "core/strategies.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>
#include <span>

#include "core/indicators.hpp"

namespace ballast::core {
namespace {

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

// The newest `need` closes of `symbol` into `out`; a problem when the session has no
// close for it, the history is shorter than `need`, or a needed close is not a price.
// `from`, when given, is where to start looking (the caller walks the symbols in order; it
// is left at the symbol's place).
std::string take_closes(const StrategyInput& in, const Symbol& symbol, std::size_t need, std::span<const double>& out,
                        StrategyInput::Closes::const_iterator* from = nullptr) {
    auto it = in.closes.end();
    if (from) {
        while (*from != in.closes.end() && symbol_less((*from)->first, symbol)) ++*from;
        if (*from != in.closes.end() && same_symbol((*from)->first, symbol)) it = *from;
    } else {
        it = in.closes.find(symbol);
    }
    if (it == in.closes.end() || it->second.empty()) return "no close for " + symbol + " on " + in.session.to_string();
    const auto& all = it->second;
    if (all.size() < need)
        return "not enough history for " + symbol + ": " + std::to_string(all.size()) + " closes through " +
               in.session.to_string() + ", need " + std::to_string(need);
    out = all.last(need);  // a view: the input outlives the evaluation
    // One branch-free pass over the window, four closes a step; the first offender is
    // looked for only on failure.
    bool v0 = true, v1 = true, v2 = true, v3 = true;
    std::size_t i = 0;
    for (; i + 4 <= out.size(); i += 4) {
        v0 &= valid_price(out[i]);
        v1 &= valid_price(out[i + 1]);
        v2 &= valid_price(out[i + 2]);
        v3 &= valid_price(out[i + 3]);
    }
    for (; i < out.size(); ++i) v0 &= valid_price(out[i]);
    if (v0 && v1 && v2 && v3) return "";
    for (i = 0; i < out.size(); ++i) {
        if (!valid_price(out[i]))
            return "invalid close " + num(out[i]) + " for " + symbol + " (" + std::to_string(out.size() - 1 - i) +
                   " sessions before " + in.session.to_string() + ")";
    }
    return "";
}

// The indexes of `symbols` in symbol order, so that maps by symbol are filled at their end
// (a configured universe keeps the user's order). The symbols are unique (the config
// refuses repeats); a repeat would keep its first place.
std::vector<std::size_t> by_symbol(const std::vector<Symbol>& symbols) {
    std::vector<std::size_t> order(symbols.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return symbol_less(symbols[a], symbols[b]); });
    return order;
}

Decimal sum_of(const Weights& w) {
    Decimal s;
    for (const auto& [sym, x] : w) s += x;
    return s;
}

// Guarantees sum <= 1 whatever the floating-point noise: trims the largest weight.
void cap_at_one(Weights& w) {
    const auto one = Decimal::from_int(1);
    const auto total = sum_of(w);
    if (total <= one || w.empty()) return;
    auto largest = std::max_element(w.begin(), w.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    const auto excess = total - one;
    largest->second = largest->second > excess ? largest->second - excess : Decimal{};
}

double clip(double v) { return std::clamp(v, -1.0, 1.0); }

}  // namespace

Decimal weight_down(double fraction) {
    if (!std::isfinite(fraction) || fraction <= 0) return Decimal{};
    if (fraction >= 1) return Decimal::from_int(1);
    constexpr std::int64_t kUnits = 1'000'000;  // 10^kWeightDigits
    static_assert(kWeightDigits == 6);
    const auto units = static_cast<std::int64_t>(std::floor(fraction * static_cast<double>(kUnits)));
    return Decimal::from_raw(units * (Decimal::kScale / kUnits));
}

// ---------------------------------------------------------------------------------
// TrendFollowing

TrendFollowing::TrendFollowing(std::string name, Weights base_weights, TrendParams params)
    : name_(std::move(name)), weights_(std::move(base_weights)), params_(std::move(params)) {}

std::vector<Symbol> TrendFollowing::universe() const {
    std::set<Symbol> s;
    for (const auto& [sym, w] : weights_) s.insert(sym);
    if (params_.safe_asset) s.insert(*params_.safe_asset);
    return {s.begin(), s.end()};
}

StrategyOutput TrendFollowing::evaluate(const StrategyInput& input) const {
    StrategyOutput out;
    if (params_.sma_days == 0) {
        out.problem = "invalid parameters: sma_days must be at least 1";
        return out;
    }
    const auto& safe = params_.safe_asset;
    // A safe asset without a base weight only needs today's close.
    std::span<const double> closes;
    if (safe && !weights_.count(*safe)) {
        if (auto p = take_closes(input, *safe, 1, closes); !p.empty()) {
            out.problem = p;
            return out;
        }
    }
    // Every map here is ascending by symbol: built at its end, read by walking.
    Weights targets;
    Decimal moved;
    auto walk = input.closes.begin();
    for (const auto& [sym, w] : weights_) {
        if (auto p = take_closes(input, sym, params_.sma_days, closes, &walk); !p.empty()) {
            out.signals.clear();
            out.problem = p;
            return out;
        }
        // The SMA of the window: summed in long double, in order, exact for a flat window of
        // up to 2^11 closes (a flat history is exactly at its average). The order is part of
        // the result: partial sums would round differently on a wide-ranging window and can
        // flip a close that sits on its average.
        long double sum = 0;
        for (const double c : closes) sum += c;
        const std::optional<double> mean = static_cast<double>(sum / static_cast<long double>(closes.size()));
        if (!std::isfinite(*mean)) {
            out.signals.clear();
            out.problem = "no SMA(" + std::to_string(params_.sma_days) + ") for " + sym;
            return out;
        }
        const bool above = closes.back() >= *mean;
        out.signals.emplace_hint(out.signals.end(), sym, above ? 1.0 : -1.0);
        const bool keep = above || (safe && sym == *safe);
        targets.emplace_hint(targets.end(), sym, keep ? w : Decimal{});
        if (!keep) moved += w;
    }
    if (safe) targets[*safe] += moved;  // held or not, the safe asset is in the targets
    out.targets = std::move(targets);
    return out;
}

// ---------------------------------------------------------------------------------
// DualMomentum

DualMomentum::DualMomentum(std::string name, DualMomentumParams params)
    : name_(std::move(name)), params_(std::move(params)) {}

std::vector<Symbol> DualMomentum::universe() const {
    std::set<Symbol> s(params_.candidates.begin(), params_.candidates.end());
    if (params_.safe_asset) s.insert(*params_.safe_asset);
    if (params_.cash_proxy) s.insert(*params_.cash_proxy);
    return {s.begin(), s.end()};
}

StrategyOutput DualMomentum::evaluate(const StrategyInput& input) const {
    StrategyOutput out;
    const auto& p = params_;
    if (p.lookback_days == 0 || p.top_n == 0 || p.candidates.empty() || p.top_n > p.candidates.size() ||
        !std::isfinite(p.absolute_threshold)) {
        out.problem = "invalid parameters: need lookback_days >= 1 and 1 <= top_n <= " +
                      std::to_string(p.candidates.size()) + " candidates";
        return out;
    }
    const std::size_t need = p.lookback_days + 1;
    std::span<const double> closes;
    const auto window_return = [&](const Symbol& sym, double& ret) {
        auto problem = take_closes(input, sym, need, closes);
        if (problem.empty()) ret = closes.back() / closes.front() - 1.0;
        return problem;
    };

    // Returns of every candidate, then the hurdle.
    std::vector<std::pair<Symbol, double>> ranked;
    for (const auto& sym : p.candidates) {
        double r = 0;
        if (auto problem = window_return(sym, r); !problem.empty()) {
            out.problem = problem;
            return out;
        }
        ranked.emplace_back(sym, r);
    }
    double hurdle = p.absolute_threshold;
    if (p.cash_proxy) {
        if (auto problem = window_return(*p.cash_proxy, hurdle); !problem.empty()) {
            out.problem = problem;
            return out;
        }
    }
    if (p.safe_asset && std::find(p.candidates.begin(), p.candidates.end(), *p.safe_asset) == p.candidates.end()) {
        if (auto problem = take_closes(input, *p.safe_asset, 1, closes); !problem.empty()) {
            out.problem = problem;
            return out;
        }
    }

    // Every candidate's signal, in symbol order (each goes in at the end of the map).
    for (const std::size_t i : by_symbol(p.candidates))
        out.signals.emplace_hint(out.signals.end(), ranked[i].first, clip(ranked[i].second));
    // Rank (highest return first, ties by symbol), pick, filter.
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    const Decimal share = (Decimal::from_int(1) / Decimal::from_int(static_cast<std::int64_t>(p.top_n)))
                              .round_down(kWeightDigits);
    Weights targets;
    for (const auto& sym : universe()) targets[sym] = Decimal{};
    for (std::size_t i = 0; i < ranked.size(); ++i) {
        const auto& [sym, r] = ranked[i];
        if (i >= p.top_n) continue;
        if (r >= hurdle) targets[sym] += share;
        else if (p.safe_asset) targets[*p.safe_asset] += share;
    }
    cap_at_one(targets);
    out.targets = std::move(targets);
    return out;
}

// ---------------------------------------------------------------------------------
// RiskParity

RiskParity::RiskParity(std::string name, RiskParityParams params) : name_(std::move(name)), params_(std::move(params)) {}

StrategyOutput RiskParity::evaluate(const StrategyInput& input) const {
    StrategyOutput out;
    const auto& p = params_;
    if (p.lookback_days < 2 || p.universe.empty() || (p.vol_target && !(std::isfinite(*p.vol_target) && *p.vol_target > 0))) {
        out.problem = "invalid parameters: need lookback_days >= 2, a non-empty universe and vol_target > 0";
        return out;
    }
    // Annualised volatility of each symbol.
    std::span<const double> closes;
    std::vector<double> vols;
    for (const auto& sym : p.universe) {
        if (auto problem = take_closes(input, sym, p.lookback_days + 1, closes); !problem.empty()) {
            out.problem = problem;
            return out;
        }
        Volatility vol(p.lookback_days);
        std::optional<double> v;
        for (const double c : closes) v = vol.update(c);
        if (!v || !std::isfinite(*v)) {
            out.problem = "no volatility for " + sym + " over " + std::to_string(p.lookback_days) + " returns";
            return out;
        }
        if (*v <= 0) {
            out.problem = "zero volatility for " + sym + " over the last " + std::to_string(p.lookback_days) +
                          " returns (flat prices: stale data?); holding";
            return out;
        }
        vols.push_back(*v);
    }
    // Inverse-volatility weights, then the exposure factor from the target.
    double inverse_sum = 0;
    for (const double v : vols) inverse_sum += 1.0 / v;
    std::vector<double> w;
    double estimate = 0;
    for (const double v : vols) {
        w.push_back((1.0 / v) / inverse_sum);
        estimate += w.back() * v;
    }
    double exposure = 1.0;
    if (p.vol_target && estimate > 0) exposure = std::min(1.0, *p.vol_target / estimate);
    if (!std::isfinite(exposure) || !std::isfinite(inverse_sum)) {
        out.problem = "volatilities out of range (" + num(inverse_sum) + ")";
        return out;
    }
    // In symbol order (the universe is as configured): each entry goes in at the end.
    for (const std::size_t i : by_symbol(p.universe)) {
        out.targets.emplace_hint(out.targets.end(), p.universe[i], weight_down(w[i] * exposure));
        out.signals.emplace_hint(out.signals.end(), p.universe[i], exposure);
    }
    cap_at_one(out.targets);
    return out;
}

}  // namespace ballast::core
