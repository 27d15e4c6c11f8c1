#pragma once
// `ballast indicator NAME --csv FILE [...]`: a research command that runs one streaming
// indicator (core/indicators.hpp) over a Yahoo-style CSV and prints CSV to stdout:
//   date,<columns>
//   one row per input bar; value cells stay empty until the indicator's first value.
// Columns: bollinger -> mid,top,bottom; macd -> macd,signal,histogram; the others one
// column named like the indicator. Values print with "%.6f" (price-scale indicators and
// rsi) or "%.10f" (roc and volatility, which are fractions).
// Exit codes (daemon/app.hpp): 0; 64 bad NAME or option (an option that does not apply
// to NAME, a period out of 1..100000, volatility period < 2, macd fast >= slow, negative or
// non-finite --devs); 65 the CSV is missing or malformed (file:line: column: value).
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

namespace ballast::daemon {

struct IndicatorOptions {
    std::string name;                   // sma ema rsi atr bollinger macd momentum roc volatility
    std::filesystem::path csv;          // --csv
    std::optional<long long> period;    // --period; default 14 rsi/atr, 20 sma/ema/bollinger/volatility, 10 momentum/roc
    std::optional<long long> fast;      // --fast (macd, default 12)
    std::optional<long long> slow;      // --slow (macd, default 26)
    std::optional<long long> signal;    // --signal (macd, default 9)
    std::optional<double> devs;         // --devs (bollinger, default 2)
};

// Writes the table to `out` and any error (one line, prefixed "ballast indicator: ") to `err`.
int run_indicator(const IndicatorOptions& options, std::ostream& out, std::ostream& err);
// run_indicator on stdout/stderr.
int cmd_indicator(const IndicatorOptions& options);

}  // namespace ballast::daemon
