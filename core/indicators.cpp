#include "core/indicators.hpp"

#include <algorithm>
#include <cmath>

namespace ballast::core {
namespace {

// The last line of defence against NaN/inf leaking out (e.g. prices near DBL_MAX).
std::optional<double> finite_or_null(double x) { return std::isfinite(x) ? std::optional<double>(x) : std::nullopt; }

}  // namespace

bool valid_hlc(double high, double low, double close) {
    return valid_price(high) && valid_price(low) && valid_price(close) && low <= high;
}

RollingStats::RollingStats(std::size_t period) : period_(period), ring_(period) {}

void RollingStats::push(double x) {
    if (period_ == 0) return;
    run_ = (count_ > 0 && x == last_) ? run_ + 1 : 1;
    last_ = x;
    const long double lx = x;
    if (count_ < period_) {
        // Growing window: plain Welford.
        ring_[head_] = x;
        head_ = (head_ + 1) % period_;
        ++count_;
        const long double delta = lx - mean_;
        mean_ += delta / static_cast<long double>(count_);
        m2_ += delta * (lx - mean_);
    } else {
        // Full window: replace the oldest value (sliding Welford).
        const long double old = ring_[head_];
        ring_[head_] = x;
        head_ = (head_ + 1) % period_;
        const long double new_mean = mean_ + (lx - old) / static_cast<long double>(period_);
        m2_ += (lx - old) * (lx - new_mean + old - mean_);
        mean_ = new_mean;
    }
    // A window of equal values: resynchronise to the exact state (no rounding residue).
    if (run_ >= count_) {
        mean_ = lx;
        m2_ = 0;
    }
    if (m2_ < 0) m2_ = 0;
}

double RollingStats::population_stddev() const {
    if (count_ == 0) return 0;
    return static_cast<double>(std::sqrt(m2_ / static_cast<long double>(count_)));
}

double RollingStats::sample_stddev() const {
    if (count_ < 2) return 0;
    return static_cast<double>(std::sqrt(m2_ / static_cast<long double>(count_ - 1)));
}

Sma::Sma(std::size_t period) : stats_(period) {}

std::optional<double> Sma::update(double x) {
    if (!ok() || !std::isfinite(x)) return std::nullopt;
    stats_.push(x);
    if (!stats_.full()) return std::nullopt;
    return finite_or_null(stats_.mean());
}

Ema::Ema(std::size_t period) : period_(period), alpha_(2.0 / (static_cast<double>(period) + 1.0)) {}

std::optional<double> Ema::update(double x) {
    if (!ok() || !std::isfinite(x)) return std::nullopt;
    if (!ready_) {
        // Seed: the SMA of the first `period` inputs.
        seed_sum_ += x;
        if (++count_ < period_) return std::nullopt;
        const double seed = static_cast<double>(seed_sum_ / static_cast<long double>(period_));
        if (!std::isfinite(seed)) return std::nullopt;
        ema_ = seed;
        ready_ = true;
        return ema_;
    }
    const double next = ema_ + (x - ema_) * alpha_;
    if (!std::isfinite(next)) return std::nullopt;
    ema_ = next;
    return ema_;
}

Rsi::Rsi(std::size_t period) : period_(period) {}

std::optional<double> Rsi::update(double close) {
    if (!ok() || !valid_price(close)) return std::nullopt;
    if (!prev_close_) {
        prev_close_ = close;
        return std::nullopt;
    }
    const double change = close - *prev_close_;
    prev_close_ = close;
    const double gain = change > 0 ? change : 0;
    const double loss = change < 0 ? -change : 0;
    const auto n = static_cast<double>(period_);
    if (changes_ < period_) {
        // Seed: simple averages of the first `period` changes.
        avg_gain_ += gain;
        avg_loss_ += loss;
        if (++changes_ < period_) return std::nullopt;
        avg_gain_ /= n;
        avg_loss_ /= n;
    } else {
        avg_gain_ = (avg_gain_ * (n - 1) + gain) / n;
        avg_loss_ = (avg_loss_ * (n - 1) + loss) / n;
    }
    const double total = avg_gain_ + avg_loss_;
    if (total == 0) return 50.0;  // flat: neutral
    return finite_or_null(100.0 * avg_gain_ / total);
}

Atr::Atr(std::size_t period) : period_(period) {}

std::optional<double> Atr::update(double high, double low, double close) {
    if (!ok() || !valid_hlc(high, low, close)) return std::nullopt;
    if (!prev_close_) {
        // First bar: no previous close, its range is not used (TA-Lib).
        prev_close_ = close;
        return std::nullopt;
    }
    const double tr = std::max({high - low, std::abs(high - *prev_close_), std::abs(low - *prev_close_)});
    prev_close_ = close;
    const auto n = static_cast<double>(period_);
    if (ranges_ < period_) {
        atr_ += tr;
        if (++ranges_ < period_) return std::nullopt;
        atr_ /= n;
    } else {
        atr_ = (atr_ * (n - 1) + tr) / n;
    }
    return finite_or_null(atr_);
}

Bollinger::Bollinger(std::size_t period, double devs) : stats_(period), devs_(devs) {}

bool Bollinger::ok() const { return stats_.period() > 0 && std::isfinite(devs_) && devs_ >= 0; }

std::optional<BollingerValue> Bollinger::update(double close) {
    if (!ok() || !valid_price(close)) return std::nullopt;
    stats_.push(close);
    if (!stats_.full()) return std::nullopt;
    const double mid = stats_.mean();
    const double width = devs_ * stats_.population_stddev();
    BollingerValue v{mid, mid + width, mid - width};
    if (!std::isfinite(v.top) || !std::isfinite(v.bottom)) return std::nullopt;
    return v;
}

Macd::Macd(std::size_t fast, std::size_t slow, std::size_t signal) : fast_(fast), slow_(slow), signal_(signal) {}

std::optional<MacdValue> Macd::update(double close) {
    if (!ok() || !valid_price(close)) return std::nullopt;
    const auto fast = fast_.update(close);
    const auto slow = slow_.update(close);
    if (!fast || !slow) return std::nullopt;
    MacdValue v;
    v.macd = *fast - *slow;
    if (!std::isfinite(v.macd)) return std::nullopt;
    v.signal = signal_.update(v.macd);
    if (v.signal) v.histogram = v.macd - *v.signal;
    return v;
}

Lag::Lag(std::size_t period) : ring_(period + 1) {}

std::optional<double> Lag::push(double x) {
    if (ring_.size() < 2) return std::nullopt;
    ring_[head_] = x;
    head_ = (head_ + 1) % ring_.size();
    if (count_ < ring_.size()) ++count_;
    if (count_ < ring_.size()) return std::nullopt;
    return ring_[head_];  // the oldest of period + 1 values
}

std::optional<double> Momentum::update(double close) {
    if (!ok() || !valid_price(close)) return std::nullopt;
    const auto then = lag_.push(close);
    if (!then) return std::nullopt;
    return finite_or_null(close - *then);
}

std::optional<double> Roc::update(double close) {
    if (!ok() || !valid_price(close)) return std::nullopt;
    const auto then = lag_.push(close);
    if (!then) return std::nullopt;
    return finite_or_null((close - *then) / *then);
}

Volatility::Volatility(std::size_t period) : stats_(period) {}

std::optional<double> Volatility::update(double close) {
    if (!ok() || !valid_price(close)) return std::nullopt;
    const auto prev = prev_close_;
    prev_close_ = close;
    if (!prev) return std::nullopt;
    stats_.push(std::log(close / *prev));
    if (!stats_.full()) return std::nullopt;
    return finite_or_null(stats_.sample_stddev() * std::sqrt(kTradingDaysPerYear));
}

}  // namespace ballast::core
