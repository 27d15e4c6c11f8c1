#pragma once
// ballast's configuration: typed, validated, with secrets kept apart.
//
// load_config() parses a TOML file with toml++ and validates every key. On any error
// it returns a ConfigError whose message names file:line:column, the key, the value
// found and what was expected (e.g.
//   config.toml:12:9: strategy.weights: weights sum to 95.00%, expected 100% (±0.01%)).
// Relative paths in the file (journal, env_file, sim.data_dir, sim.state_file) are resolved
// against the directory of the config file.
//
// Secrets never come from the TOML file: they come from the process environment or
// from the env file named by the top-level `env_file` key (KEY=VALUE lines; the environment
// wins). A key that looks like a secret in the TOML (api_key, secret, token, password,
// webhook_url, healthcheck_url, ...) is rejected with a message that says where
// secrets belong.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/calendar.hpp"
#include "core/planner.hpp"
#include "core/rebalance.hpp"
#include "core/risk.hpp"
#include "core/strategies.hpp"

namespace ballast::daemon {

inline constexpr int kExitConfig = 78;  // EX_CONFIG

enum class Mode { sim, paper, live };
const char* to_string(Mode m);

using PriceField = core::PriceField;
using FillModel = core::FillModel;

// [strategy] and [strategy.params]. Only the params of `kind` are read (and rendered);
// the others keep their defaults.
//   fixed_weights: weights.
//   trend:         weights (base weights) + trend (sma_days, safe_asset).
//   dual_momentum: dual_momentum (universe = candidates, lookback_days, top_n,
//                  absolute_threshold (percent in the file, a fraction here), cash_proxy,
//                  safe_asset); no weights.
//   risk_parity:   risk_parity (universe, lookback_days, vol_target (percent in the file,
//                  a fraction here)); no weights.
struct StrategyConfig {
    std::string name = "all-weather";     // free text, journaled with every signal
    std::string kind = "fixed_weights";   // fixed_weights | trend | dual_momentum | risk_parity
    core::Weights weights;                // fractions summing to 1 (config gives percent)
    core::TrendParams trend;
    core::DualMomentumParams dual_momentum;
    core::RiskParityParams risk_parity;
};

struct OrdersConfig {
    core::PlannerConfig planner;          // fractional, qty_decimals, min_order_notional, cash_reserve
};

struct SimConfig {
    std::filesystem::path data_dir;       // Yahoo-format CSV files named SYMBOL.csv
    PriceField price_field = PriceField::adj_close;
    FillModel fill = FillModel::next_open;
    double slippage_bps = 5.0;            // adverse price move applied to each fill
    core::Decimal commission_per_order;   // fixed amount per filled order
    double commission_bps = 0.0;          // proportional commission on notional
    core::Decimal initial_cash = core::Decimal::from_int(100000);
    std::optional<core::Date> start;      // replay window (demo); nullopt = data's first common date
    std::optional<core::Date> end;        // nullopt = data's last date
    std::filesystem::path state_file;     // sim account state for once/run (default: <journal>.sim.json)
};

struct ScheduleConfig {
    std::string timezone = "America/New_York";  // the only zone supported
    core::TimeOfDay data_update{16 * 60 + 30};
    core::TimeOfDay signals{16 * 60 + 40};
    core::TimeOfDay rebalance{16 * 60 + 50};
};

// Alpaca endpoints and client behaviour (paper/live modes).
struct AlpacaConfig {
    std::string trading_url;                       // default by mode: paper or live API host
    std::string data_url = "https://data.alpaca.markets";
    std::optional<std::filesystem::path> ca_file;  // trust anchors; default: the system store
    std::string feed = "iex";                      // iex | sip
    std::string adjustment = "all";                // raw | split | dividend | all
    int rate_limit_per_minute = 190;               // client-side cap, under Alpaca's 200
    int connect_timeout_ms = 5000;
    int request_timeout_ms = 15000;
    int max_attempts = 5;                          // per call, transient failures only
    int breaker_cooldown_ms = 30000;               // open circuit breaker: fail fast this long, then probe
    int fill_timeout_seconds = 120;                // how long sells are polled before buys
    int job_deadline_seconds = 600;                // overall deadline of one job
};
inline constexpr const char* kAlpacaPaperUrl = "https://paper-api.alpaca.markets";
inline constexpr const char* kAlpacaLiveUrl = "https://api.alpaca.markets";

struct Secrets {
    std::optional<std::string> alpaca_key_id;      // APCA_API_KEY_ID
    std::optional<std::string> alpaca_secret_key;  // APCA_API_SECRET_KEY
    std::optional<std::string> healthcheck_url;    // BALLAST_HEALTHCHECK_URL
    std::optional<std::string> webhook_url;        // BALLAST_WEBHOOK_URL
};

struct Config {
    std::filesystem::path source;         // the file this came from
    Mode mode = Mode::sim;
    std::filesystem::path journal;        // SQLite journal
    std::optional<std::filesystem::path> env_file;
    StrategyConfig strategy;
    core::RebalanceRules rebalance;
    OrdersConfig orders;
    core::RiskLimits risk;                // [risk]; risk.cash_reserve is orders.cash_reserve
    core::BreakerLimits breakers;         // [risk] max_daily_loss_pct, max_drawdown_pct, max_consecutive_rejections
    SimConfig sim;
    ScheduleConfig schedule;
    AlpacaConfig alpaca;
    Secrets secrets;
};

struct ConfigError {
    std::string message;  // complete, printable, never contains a secret value
};

// Loads and validates. `env` is the environment to read secrets from (tests pass a
// map; main passes the process environment).
struct LoadResult {
    std::optional<Config> config;
    std::vector<ConfigError> errors;  // every problem found, in file order
};
LoadResult load_config(const std::filesystem::path& file, const std::map<std::string, std::string>& env);
LoadResult load_config_string(std::string_view toml_text, const std::filesystem::path& source_name,
                              const std::map<std::string, std::string>& env);

// The process environment as a map.
std::map<std::string, std::string> process_environment();

// The effective configuration as TOML, secrets shown as "<set, redacted>" / "<not set>".
std::string render_effective_config(const Config& config);

}  // namespace ballast::daemon
