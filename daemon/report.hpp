#pragma once
// What a backtest produced, measured: the metrics (core::compute_report over the
// journal's equity series and filled orders), as JSON, as a text summary and as a
// self-contained HTML page (metrics table + inline SVG equity and drawdown curves; no
// script, no external resource).
//
// Units: rates and drawdowns are fractions (0.05 = 5%), money is dollars, dates are
// "YYYY-MM-DD". A metric that is undefined for the run is JSON null and "n/a" in text.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/metrics.hpp"
#include "daemon/jobs.hpp"

namespace ballast::storage {
class Journal;
}

namespace ballast::daemon {

struct BacktestSummary {
    std::string strategy;             // "<name> (<kind>)"
    core::Date first_session, last_session;
    std::size_t sessions = 0;         // sessions replayed
    int failed_sessions = 0;          // sessions whose chain failed or was skipped
    std::string first_failure;        // "YYYY-MM-DD: why"
    double initial_cash = 0;
    std::vector<core::EquityPoint> series;  // the journal's equity snapshots
    core::PerformanceReport perf;     // compute_report(series, trades)
    double commissions = 0;           // of perf.costs
    double slippage = 0;              // of perf.costs
    JobStats stats;
    std::map<std::string, double> params;  // a sweep point's values (empty otherwise)
};

// The filled orders of a journal: notional = filled_qty x filled_avg_price, commission =
// the order's latest journaled (cumulative) commission, slippage = what the sim's
// `slippage_bps` added to (buys) or took from (sells) the fill price, x filled qty.
// Throws storage::JournalError when the journal cannot be read.
std::vector<core::TradeRecord> journal_trades(storage::Journal& journal, double slippage_bps);

// Series and trades from the journal, then the metrics. `summary` carries the rest.
void measure(storage::Journal& journal, double slippage_bps, BacktestSummary& summary);

// The metric keys of metrics_json(), in order; every one is a number or null.
const std::vector<std::string>& metric_keys();
// Metrics where lower is better (ranked ascending): max_drawdown, volatility, turnover, costs, ...
bool lower_is_better(const std::string& metric);

// {"start_date", "end_date", "sessions", "failed_sessions", "start_value", "final_value",
//  "total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown",
//  "max_drawdown_start", "max_drawdown_end", "calmar", "turnover", "trades", "costs",
//  "commissions", "slippage", "rebalances", "orders", "denied", "rejected"} (+ "params"
// when the summary has some). start_value/final_value are the first and last journaled
// equity (initial cash when nothing was journaled).
nlohmann::json metrics_json(const BacktestSummary& summary);

// Human text, several lines, ending in a newline.
std::string render_text_summary(const BacktestSummary& summary);

// The HTML page. `title` is escaped.
std::string render_html_report(const BacktestSummary& summary, const std::string& title);

// Percent text of a fraction ("12.34%"), "n/a" for nullopt.
std::string percent_text(std::optional<double> fraction);

}  // namespace ballast::daemon
