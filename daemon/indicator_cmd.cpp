#include "daemon/indicator_cmd.hpp"

#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <vector>

#include "broker/csv_bars.hpp"
#include "core/indicators.hpp"
#include "daemon/app.hpp"

namespace ballast::daemon {
namespace {

namespace fs = std::filesystem;
using Cells = std::vector<std::optional<double>>;

constexpr long long kMaxPeriod = 100000;
constexpr const char* kNames = "sma, ema, rsi, atr, bollinger, macd, momentum, roc, volatility";

struct Runner {
    std::string header;                               // after "date,"
    int digits = 6;                                   // after the decimal point
    std::function<Cells(const core::Bar&)> update;
};

// One indicator per NAME; `period` and the macd/bollinger parameters are already validated.
template <class Indicator>
std::function<Cells(const core::Bar&)> single(Indicator ind) {
    return [ind](const core::Bar& b) mutable { return Cells{ind.update(b.close)}; };
}

std::optional<Runner> make_runner(const std::string& name, std::size_t period, std::size_t fast, std::size_t slow,
                                  std::size_t signal, double devs) {
    if (name == "sma") return Runner{"sma", 6, single(core::Sma(period))};
    if (name == "ema") return Runner{"ema", 6, single(core::Ema(period))};
    if (name == "rsi") return Runner{"rsi", 6, single(core::Rsi(period))};
    if (name == "momentum") return Runner{"momentum", 6, single(core::Momentum(period))};
    if (name == "roc") return Runner{"roc", 10, single(core::Roc(period))};
    if (name == "volatility") return Runner{"volatility", 10, single(core::Volatility(period))};
    if (name == "atr")
        return Runner{"atr", 6, [ind = core::Atr(period)](const core::Bar& b) mutable { return Cells{ind.update(b)}; }};
    if (name == "bollinger")
        return Runner{"mid,top,bottom", 6, [ind = core::Bollinger(period, devs)](const core::Bar& b) mutable {
                          const auto v = ind.update(b.close);
                          if (!v) return Cells(3);
                          return Cells{v->mid, v->top, v->bottom};
                      }};
    if (name == "macd")
        return Runner{"macd,signal,histogram", 6, [ind = core::Macd(fast, slow, signal)](const core::Bar& b) mutable {
                          const auto v = ind.update(b.close);
                          if (!v) return Cells(3);
                          return Cells{v->macd, v->signal, v->histogram};
                      }};
    return std::nullopt;
}

std::size_t default_period(const std::string& name) {
    if (name == "rsi" || name == "atr") return 14;
    if (name == "momentum" || name == "roc") return 10;
    return 20;  // sma, ema, bollinger, volatility
}

}  // namespace

int run_indicator(const IndicatorOptions& o, std::ostream& out, std::ostream& err) {
    auto usage = [&](const std::string& what) {
        err << "ballast indicator: " << what << "\n";
        return kExitUsage;
    };
    const std::string& name = o.name;
    if (!make_runner(name, 1, 1, 2, 1, 0)) return usage("unknown indicator '" + name + "' (expected one of " + kNames + ")");

    // Options that do not apply to NAME are refused rather than silently ignored.
    const bool is_macd = name == "macd";
    if (is_macd && o.period) return usage("--period does not apply to macd (use --fast, --slow, --signal)");
    if (!is_macd && (o.fast || o.slow || o.signal)) return usage("--fast/--slow/--signal apply only to macd, not " + name);
    if (name != "bollinger" && o.devs) return usage("--devs applies only to bollinger, not " + name);

    auto check_period = [&](const char* flag, const std::optional<long long>& v, long long min) -> std::optional<int> {
        if (v && (*v < min || *v > kMaxPeriod))
            return usage(std::string(flag) + ": " + std::to_string(*v) + " is out of range (expected an integer in " +
                         std::to_string(min) + ".." + std::to_string(kMaxPeriod) + (name == "volatility" ? ": volatility needs 2 returns or more" : "") + ")");
        return std::nullopt;
    };
    if (auto e = check_period("--period", o.period, name == "volatility" ? 2 : 1)) return *e;
    if (auto e = check_period("--fast", o.fast, 1)) return *e;
    if (auto e = check_period("--slow", o.slow, 1)) return *e;
    if (auto e = check_period("--signal", o.signal, 1)) return *e;
    const auto period = o.period ? static_cast<std::size_t>(*o.period) : default_period(name);
    const auto fast = static_cast<std::size_t>(o.fast.value_or(12));
    const auto slow = static_cast<std::size_t>(o.slow.value_or(26));
    const auto signal = static_cast<std::size_t>(o.signal.value_or(9));
    if (is_macd && fast >= slow)
        return usage("--fast " + std::to_string(fast) + " must be less than --slow " + std::to_string(slow));
    const double devs = o.devs.value_or(2.0);
    if (!std::isfinite(devs) || devs < 0) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%g", devs);
        return usage(std::string("--devs: ") + buf + " is not a finite number >= 0");
    }

    // Read and validate the whole file before printing anything.
    if (o.csv.empty()) return usage("--csv FILE is required");
    std::error_code ec;
    if (!fs::is_regular_file(o.csv, ec)) {
        err << "ballast indicator: " << o.csv.string() << ": no such price file (--csv)\n";
        return kExitData;
    }
    const auto bars = broker::read_yahoo_csv(o.csv, o.csv.stem().string());
    if (!bars) {
        err << "ballast indicator: " << bars.error().message << "\n";
        return kExitData;
    }

    auto runner = *make_runner(name, period, fast, slow, signal, devs);
    std::string text = "date," + runner.header + "\n";
    char cell[512];  // room for any finite double in %f
    for (const auto& bar : bars.value()) {
        text += bar.date.to_string();
        for (const auto& v : runner.update(bar)) {
            text += ',';
            if (v) {
                std::snprintf(cell, sizeof cell, "%.*f", runner.digits, *v);
                text += cell;
            }
        }
        text += '\n';
    }
    out << text;
    out.flush();
    return out ? kExitOk : kExitInternal;
}

int cmd_indicator(const IndicatorOptions& options) { return run_indicator(options, std::cout, std::cerr); }

}  // namespace ballast::daemon
