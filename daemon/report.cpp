#include "daemon/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>


#include "storage/journal.hpp"

namespace ballast::daemon {
namespace {

std::string money(double v) {
    const auto d = core::Decimal::from_double(v, 2);
    return d ? core::format_money(*d) : "n/a";
}

std::string fixed(std::optional<double> v, int digits) {
    if (!v) return "n/a";
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.*f", digits, *v);
    return buf;
}

nlohmann::json number_or_null(std::optional<double> v) {
    return v && std::isfinite(*v) ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

// One row of the metrics table: label, value, and what it means.
struct Row {
    std::string label, value, note;
};

std::vector<Row> rows_of(const BacktestSummary& s) {
    const auto& p = s.perf;
    const bool dd = p.drawdown.max > 0;
    std::vector<Row> rows{
        {"Period", s.first_session.to_string() + " .. " + s.last_session.to_string(),
         std::to_string(s.sessions) + " sessions replayed"},
        {"Start value", money(p.points ? p.start_equity : s.initial_cash), "first journaled equity"},
        {"Final value", money(p.points ? p.end_equity : s.initial_cash), "last journaled equity"},
        {"Total return", percent_text(p.total_return), ""},
        {"CAGR", percent_text(p.cagr), "compound annual growth rate"},
        {"Volatility", percent_text(p.volatility), "annualised, daily returns x sqrt(252)"},
        {"Sharpe", fixed(p.sharpe, 2), "risk-free rate 0"},
        {"Sortino", fixed(p.sortino, 2), "risk-free rate 0"},
        {"Max drawdown", percent_text(p.drawdown.max),
         dd ? "peak " + p.drawdown.peak.to_string() + ", trough " + p.drawdown.trough.to_string() : "none"},
        {"Calmar", fixed(p.calmar, 2), "CAGR / max drawdown"},
        {"Turnover", percent_text(p.turnover), "traded value / mean equity, per year"},
        {"Trades", std::to_string(p.trades), "filled orders"},
        {"Costs", money(p.costs), "commissions " + money(s.commissions) + ", slippage " + money(s.slippage)},
        {"Rebalances", std::to_string(s.stats.rebalances), ""},
        {"Orders", std::to_string(s.stats.orders),
         std::to_string(s.stats.denied) + " denied by risk limits, " + std::to_string(s.stats.rejected) + " rejected" +
             (s.stats.stop_exits > 0 ? ", " + std::to_string(s.stats.stop_exits) + " stop-loss exit(s)" : "")},
    };
    if (s.failed_sessions > 0)
        rows.push_back({"Failed sessions", std::to_string(s.failed_sessions), "first: " + s.first_failure});
    return rows;
}

// Equity curve and drawdown as two inline SVG charts.
std::string svg_charts(const std::vector<core::EquityPoint>& series) {
    if (series.size() < 2) return "<p>Not enough equity points for a chart.</p>\n";
    constexpr double kWidth = 960, kLeft = 90, kRight = 20, kTop = 16, kBottom = 28;
    const double span = std::max(1, series.back().date - series.front().date);
    const auto x_of = [&](core::Date d) { return kLeft + (d - series.front().date) / span * (kWidth - kLeft - kRight); };
    double lo = series.front().equity, hi = lo;
    for (const auto& p : series) {
        lo = std::min(lo, p.equity);
        hi = std::max(hi, p.equity);
    }
    if (hi <= lo) hi = lo + 1;
    std::vector<double> drawdowns;
    double peak = series.front().equity, worst = 0;
    for (const auto& p : series) {
        peak = std::max(peak, p.equity);
        drawdowns.push_back(peak > 0 ? p.equity / peak - 1 : 0);
        worst = std::min(worst, drawdowns.back());
    }
    if (worst >= 0) worst = -0.01;

    std::ostringstream o;
    char buf[128];
    // Year ticks along an x axis at height `h`, at most ~12 labels.
    const auto year_ticks = [&](double h) {
        const int first = series.front().date.year() + 1, last = series.back().date.year();
        const int every = std::max(1, (last - first + 1) / 12 + 1);
        for (int y = first; y <= last; y += every) {
            const double x = x_of(core::Date::from_ymd(y, 1, 1));
            std::snprintf(buf, sizeof buf, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", x, kTop,
                          x, h - kBottom);
            o << buf;
            std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%d</text>", x,
                          h - kBottom + 16, y);
            o << buf << "\n";
        }
    };

    // Equity.
    constexpr double kHeight = 320;
    const auto y_eq = [&](double v) { return kTop + (hi - v) / (hi - lo) * (kHeight - kTop - kBottom); };
    o << "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 960 320\" role=\"img\" "
         "aria-label=\"Equity curve\">\n";
    year_ticks(kHeight);
    for (int i = 0; i <= 4; ++i) {
        const double v = lo + (hi - lo) * i / 4.0;
        std::snprintf(buf, sizeof buf, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", kLeft,
                      y_eq(v), kWidth - kRight, y_eq(v));
        o << buf;
        std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">", kLeft - 6,
                      y_eq(v) + 4);
        o << buf << html_escape(money(v)) << "</text>\n";
    }
    o << "<polyline class=\"equity\" points=\"";
    for (const auto& p : series) {
        std::snprintf(buf, sizeof buf, "%.1f,%.1f ", x_of(p.date), y_eq(p.equity));
        o << buf;
    }
    o << "\"/>\n</svg>\n";

    // Drawdown (0 at the top, the worst at the bottom).
    constexpr double kDdHeight = 180;
    const auto y_dd = [&](double v) { return kTop + v / worst * (kDdHeight - kTop - kBottom); };
    o << "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 960 180\" role=\"img\" "
         "aria-label=\"Drawdown\">\n";
    year_ticks(kDdHeight);
    for (int i = 0; i <= 2; ++i) {
        const double v = worst * i / 2.0;
        std::snprintf(buf, sizeof buf, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", kLeft,
                      y_dd(v), kWidth - kRight, y_dd(v));
        o << buf;
        std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%.1f%%</text>\n",
                      kLeft - 6, y_dd(v) + 4, v * 100.0);
        o << buf;
    }
    std::snprintf(buf, sizeof buf, "<polygon class=\"drawdown\" points=\"%.1f,%.1f ", x_of(series.front().date), y_dd(0));
    o << buf;
    for (std::size_t i = 0; i < series.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%.1f,%.1f ", x_of(series[i].date), y_dd(drawdowns[i]));
        o << buf;
    }
    std::snprintf(buf, sizeof buf, "%.1f,%.1f\"/>\n</svg>\n", x_of(series.back().date), y_dd(0));
    o << buf;
    return o.str();
}

}  // namespace

std::string percent_text(std::optional<double> fraction) {
    if (!fraction) return "n/a";
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.2f%%", *fraction * 100.0);
    return buf;
}

std::vector<core::TradeRecord> journal_trades(storage::Journal& journal, double slippage_bps) {
    std::vector<core::TradeRecord> out;
    const double s = slippage_bps / 10000.0;
    for (const auto& f : storage::OrderRepository(journal).fills()) {
        core::TradeRecord t;
        t.date = f.session;
        t.notional = (f.qty * f.avg_price).to_double();
        t.commission = f.commission.value_or(core::Decimal{}).to_double();
        // The sim moved the price by `slippage_bps` against the order: undo it for the cost.
        const double price = f.avg_price.to_double();
        const double base = f.side == core::Side::buy ? price / (1 + s) : price / (1 - s);
        t.slippage = std::abs(price - base) * f.qty.to_double();
        out.push_back(t);
    }
    return out;
}

void measure(storage::Journal& journal, double slippage_bps, BacktestSummary& summary) {
    summary.series.clear();
    for (const auto& [d, v] : storage::EquityRepository(journal).equity_series())
        summary.series.push_back({d, v.to_double()});
    const auto trades = journal_trades(journal, slippage_bps);
    summary.commissions = summary.slippage = 0;
    for (const auto& t : trades) {
        summary.commissions += t.commission;
        summary.slippage += t.slippage;
    }
    summary.perf = core::compute_report(summary.series, trades);
}

const std::vector<std::string>& metric_keys() {
    static const std::vector<std::string> keys{
        "sessions", "failed_sessions", "start_value", "final_value", "total_return", "cagr",   "volatility",
        "sharpe",   "sortino",         "max_drawdown", "calmar",     "turnover",     "trades", "costs",
        "commissions", "slippage",     "rebalances",  "orders",      "denied",       "rejected",
        "stop_exits"};
    return keys;
}

bool lower_is_better(const std::string& metric) {
    static const std::vector<std::string> lower{"failed_sessions", "volatility", "max_drawdown", "turnover", "trades",
                                                "costs",           "commissions", "slippage",     "denied",   "rejected"};
    return std::find(lower.begin(), lower.end(), metric) != lower.end();
}

nlohmann::json metrics_json(const BacktestSummary& s) {
    const auto& p = s.perf;
    const bool dd = p.drawdown.max > 0;
    nlohmann::json j;
    if (!s.params.empty()) j["params"] = s.params;
    j["strategy"] = s.strategy;
    j["start_date"] = s.first_session.to_string();
    j["end_date"] = s.last_session.to_string();
    j["sessions"] = s.sessions;
    j["failed_sessions"] = s.failed_sessions;
    j["start_value"] = p.points ? p.start_equity : s.initial_cash;
    j["final_value"] = p.points ? p.end_equity : s.initial_cash;
    j["total_return"] = number_or_null(p.total_return);
    j["cagr"] = number_or_null(p.cagr);
    j["volatility"] = number_or_null(p.volatility);
    j["sharpe"] = number_or_null(p.sharpe);
    j["sortino"] = number_or_null(p.sortino);
    j["max_drawdown"] = p.drawdown.max;
    j["max_drawdown_start"] = dd ? nlohmann::json(p.drawdown.peak.to_string()) : nlohmann::json(nullptr);
    j["max_drawdown_end"] = dd ? nlohmann::json(p.drawdown.trough.to_string()) : nlohmann::json(nullptr);
    j["calmar"] = number_or_null(p.calmar);
    j["turnover"] = number_or_null(p.turnover);
    j["trades"] = p.trades;
    j["costs"] = p.costs;
    j["commissions"] = s.commissions;
    j["slippage"] = s.slippage;
    j["rebalances"] = s.stats.rebalances;
    j["orders"] = s.stats.orders;
    j["denied"] = s.stats.denied;
    j["rejected"] = s.stats.rejected;
    j["stop_exits"] = s.stats.stop_exits;
    return j;
}

std::string render_text_summary(const BacktestSummary& s) {
    std::ostringstream o;
    o << "backtest " << s.strategy << "\n";
    for (const auto& r : rows_of(s)) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "  %-16s ", r.label.c_str());
        o << buf << r.value << (r.note.empty() ? "" : "  (" + r.note + ")") << "\n";
    }
    return o.str();
}

std::string render_html_report(const BacktestSummary& s, const std::string& title) {
    std::ostringstream o;
    o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << html_escape(title)
      << "</title>\n<style>\n"
         "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;margin:2em auto;"
         "padding:0 1em;color:#222}\n"
         "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}\n"
         "table{border-collapse:collapse}td,th{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:left}\n"
         "td.v{text-align:right;font-variant-numeric:tabular-nums}td.n{color:#666;font-size:.9em}\n"
         "svg{width:100%;height:auto;display:block}\n"
         ".grid{stroke:#e4e4e4;stroke-width:1}.tick{font-size:11px;fill:#666}\n"
         ".equity{fill:none;stroke:#1f5fa8;stroke-width:1.5}.drawdown{fill:#d9534f;fill-opacity:.35;stroke:#b52b27;"
         "stroke-width:.8}\n"
         "</style>\n</head>\n<body>\n<h1>"
      << html_escape(title) << "</h1>\n<p>" << html_escape(s.strategy) << ", " << s.first_session.to_string() << " .. "
      << s.last_session.to_string() << "</p>\n";
    o << "<h2>Metrics</h2>\n<table>\n";
    for (const auto& r : rows_of(s))
        o << "<tr><th>" << html_escape(r.label) << "</th><td class=\"v\">" << html_escape(r.value)
          << "</td><td class=\"n\">" << html_escape(r.note) << "</td></tr>\n";
    o << "</table>\n<h2>Equity</h2>\n" << svg_charts(s.series);
    o << "<p class=\"n\">Equity from the journal's daily snapshots; the lower chart is the fall from the running "
         "peak.</p>\n</body>\n</html>\n";
    return o.str();
}

}  // namespace ballast::daemon
