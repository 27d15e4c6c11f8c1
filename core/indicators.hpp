#pragma once
// Streaming technical indicators over daily bars. Each indicator is a small value type fed
// one bar at a time with `update`, O(1) time per update and O(period) memory; it returns
// nullopt until its first valid value ("warm-up"), then a value for every later bar.
// Indicators are per bar: calendar gaps between bars do not matter.
//
// Conventions (they match TA-Lib's defaults except where noted):
//   Sma(n)        mean of the last n inputs; first value at input n.
//   Ema(n)        seeded with the SMA of its first n inputs (first value at input n), then
//                 ema = prev + (x - prev) * 2 / (n + 1).
//   Rsi(n)        Wilder: the first n close-to-close changes are averaged simply (gains and
//                 losses separately), then avg = (avg * (n - 1) + change) / n;
//                 rsi = 100 * avg_gain / (avg_gain + avg_loss). Needs n + 1 closes.
//                 No gains and no losses (a flat series) gives 50, the neutral value
//                 (TA-Lib gives 0 there, which would read as "maximally oversold").
//   Atr(n)        Wilder smoothing of the true range TR = max(high - low, |high - prev close|,
//                 |low - prev close|). As in TA-Lib, the first bar has no previous close and
//                 its TR is not used: the first ATR comes at the (n + 1)-th bar (index n) as
//                 the mean of TR[1..n], then atr = (atr * (n - 1) + TR) / n.
//   Bollinger(n, k) mid = SMA(n), top/bottom = mid +/- k * the population standard deviation
//                 of the same n closes (as TA-Lib's BBANDS).
//   Macd(f, s, g) the fast and slow EMAs both start at the first bar (each seeded by the SMA
//                 of its own first N closes); macd = fast - slow from bar max(f, s); signal =
//                 Ema(g) of the macd series; histogram = macd - signal. TA-Lib instead starts
//                 the fast EMA late so that both seeds end on the same bar; its early values
//                 differ slightly from ours and converge.
//   Momentum(n)   close - close n bars ago. Needs n + 1 closes.
//   Roc(n)        (close - close[n]) / close[n], a fraction (0.05 = +5%; TA-Lib's ROCP).
//   Volatility(n) sample standard deviation (divisor n - 1) of the last n daily log returns
//                 ln(close / previous close), annualised by sqrt(252). Needs n + 1 closes, n >= 2.
//
// Numerics: rolling means and variances use a sliding Welford update in long double (no
// sum-of-squares cancellation); a window whose n values are all equal gives exactly that value
// as mean and exactly 0 as deviation, so constant prices give ROC/momentum/volatility 0 and
// Bollinger bands equal to the mid.
//
// Bad input, never NaN: prices must be finite and > 0 (Atr also needs low <= high); Sma and
// Ema accept any finite value (Macd feeds its signal line, a signed series, through Ema).
// A rejected input leaves the indicator's state unchanged and `update` returns nullopt; to
// tell a rejection from warm-up, check `valid_price` (or `valid_hlc`) first. An indicator
// built with an invalid parameter (a period of 0, Volatility(1), a negative or non-finite
// Bollinger k) is inert: `ok()` is false and `update` always returns nullopt. A result that
// would not be finite (prices near the double limit) also comes back as nullopt.
//
// Not thread-safe (plain values; one owner).
#include <cstddef>
#include <limits>
#include <optional>
#include <vector>

#include "core/types.hpp"

namespace ballast::core {

// Finite and > 0 (inline: strategies check every close of their windows).
inline bool valid_price(double x) { return x > 0 && x <= std::numeric_limits<double>::max(); }
// Finite positive prices with low <= high.
bool valid_hlc(double high, double low, double close);

// Rolling mean and variance of the last `period` values (sliding Welford, long double).
class RollingStats {
public:
    explicit RollingStats(std::size_t period);
    void push(double x);
    std::size_t period() const { return period_; }
    bool full() const { return count_ == period_ && period_ > 0; }
    double mean() const { return static_cast<double>(mean_); }
    // Sum of squared deviations from the mean over the window; >= 0.
    long double m2() const { return m2_; }
    double population_stddev() const;
    // Divisor count - 1; 0 for fewer than 2 values.
    double sample_stddev() const;

private:
    std::size_t period_;
    std::vector<double> ring_;
    std::size_t head_ = 0;   // next slot to overwrite (the oldest value once full)
    std::size_t count_ = 0;  // values in the window
    long double mean_ = 0, m2_ = 0;
    double last_ = 0;
    std::size_t run_ = 0;  // consecutive equal values ending at the newest
};

class Sma {
public:
    explicit Sma(std::size_t period);
    bool ok() const { return stats_.period() > 0; }
    std::optional<double> update(double x);

private:
    RollingStats stats_;
};

class Ema {
public:
    explicit Ema(std::size_t period);
    bool ok() const { return period_ > 0; }
    std::optional<double> update(double x);
    std::optional<double> value() const { return ready_ ? std::optional<double>(ema_) : std::nullopt; }

private:
    std::size_t period_;
    std::size_t count_ = 0;
    long double seed_sum_ = 0;
    double ema_ = 0;
    double alpha_;
    bool ready_ = false;
};

class Rsi {
public:
    explicit Rsi(std::size_t period);
    bool ok() const { return period_ > 0; }
    std::optional<double> update(double close);

private:
    std::size_t period_;
    std::optional<double> prev_close_;
    std::size_t changes_ = 0;
    double avg_gain_ = 0, avg_loss_ = 0;  // sums during the seed, then Wilder averages
};

class Atr {
public:
    explicit Atr(std::size_t period);
    bool ok() const { return period_ > 0; }
    std::optional<double> update(double high, double low, double close);
    std::optional<double> update(const Bar& bar) { return update(bar.high, bar.low, bar.close); }

private:
    std::size_t period_;
    std::optional<double> prev_close_;
    std::size_t ranges_ = 0;
    double atr_ = 0;  // sum during the seed, then the Wilder average
};

struct BollingerValue {
    double mid = 0, top = 0, bottom = 0;
};

class Bollinger {
public:
    Bollinger(std::size_t period, double devs);
    bool ok() const;
    std::optional<BollingerValue> update(double close);

private:
    RollingStats stats_;
    double devs_;
};

struct MacdValue {
    double macd = 0;
    std::optional<double> signal;     // once `signal_period` macd values exist
    std::optional<double> histogram;  // macd - signal, with the signal
};

class Macd {
public:
    Macd(std::size_t fast = 12, std::size_t slow = 26, std::size_t signal = 9);
    bool ok() const { return fast_.ok() && slow_.ok() && signal_.ok(); }
    std::optional<MacdValue> update(double close);

private:
    Ema fast_, slow_, signal_;
};

// The input `period` updates ago (a ring buffer of period + 1 values).
class Lag {
public:
    explicit Lag(std::size_t period);
    std::size_t period() const { return ring_.size() - 1; }
    // Pushes x; returns the value pushed `period` calls before, once there is one.
    std::optional<double> push(double x);

private:
    std::vector<double> ring_;
    std::size_t head_ = 0, count_ = 0;
};

class Momentum {
public:
    explicit Momentum(std::size_t period) : lag_(period) {}
    bool ok() const { return lag_.period() > 0; }
    std::optional<double> update(double close);

private:
    Lag lag_;
};

class Roc {
public:
    explicit Roc(std::size_t period) : lag_(period) {}
    bool ok() const { return lag_.period() > 0; }
    std::optional<double> update(double close);

private:
    Lag lag_;
};

inline constexpr double kTradingDaysPerYear = 252;

class Volatility {
public:
    explicit Volatility(std::size_t period);
    bool ok() const { return stats_.period() >= 2; }
    std::optional<double> update(double close);

private:
    RollingStats stats_;
    std::optional<double> prev_close_;
};

}  // namespace ballast::core
