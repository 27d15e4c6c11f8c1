// `ballast backtest` through the real binary: JSON metrics, parity with `ballast run
// --replay`, sweeps, option errors, the HTML report.
#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "../support/process.hpp"

using namespace ballast::test;
namespace fs = std::filesystem;

namespace {

// Runs `ballast ARGS` with stdout alone captured (stderr to a file).
ProcessResult run_stdout(const std::string& args, const fs::path& stderr_file) {
    return ballast::test::run_ballast(args, "", stderr_file.string());
}

// Parses exactly one JSON document (trailing whitespace allowed); throws otherwise.
nlohmann::json one_document(const std::string& text) { return nlohmann::json::parse(text); }

const std::vector<std::string> kMetricKeys{"start_value", "final_value", "cagr", "volatility", "sharpe", "sortino",
                                           "max_drawdown", "max_drawdown_start", "max_drawdown_end", "calmar",
                                           "turnover", "trades", "costs"};

using OrderTuple = std::tuple<std::string, std::string, std::string, std::string, std::string, std::string, std::string>;

std::vector<OrderTuple> orders_of(const fs::path& journal) {
    SQLite::Database db(journal.string(), SQLite::OPEN_READONLY);
    SQLite::Statement q(db,
                        "SELECT symbol, side, qty, session_date, status, filled_qty, COALESCE(filled_avg_price, '')"
                        " FROM orders ORDER BY session_date, leg");
    std::vector<OrderTuple> out;
    while (q.executeStep())
        out.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                         q.getColumn(3).getString(), q.getColumn(4).getString(), q.getColumn(5).getString(),
                         q.getColumn(6).getString());
    return out;
}

double max_drawdown_of(const fs::path& journal) {
    SQLite::Database db(journal.string(), SQLite::OPEN_READONLY);
    SQLite::Statement q(db, "SELECT equity FROM v_equity ORDER BY session_date");
    double peak = 0, worst = 0;
    while (q.executeStep()) {
        const double e = q.getColumn(0).getDouble();
        peak = std::max(peak, e);
        worst = std::max(worst, 1.0 - e / peak);
    }
    return worst;
}

}  // namespace

TEST_CASE("backtest of All Weather with annual rebalancing prints one JSON object with every metric",
          "[integration][backtest]") {
    TempDir dir;
    write_file(dir / "config.toml", sim_config(dir / "unused.db"));
    const auto r = run_stdout("backtest --config " + shell_quote((dir / "config.toml").string()) +
                                  " --prices-dir " + shell_quote(BALLAST_DATA_DIR) +
                                  " --weights VTI=0.4,TLT=0.3,GLD=0.2,DBC=0.1 --rebalance annual"
                                  " --price-field adj_close --json",
                              dir / "stderr.txt");
    INFO(read_bytes(dir / "stderr.txt"));
    REQUIRE(r.exit_code == 0);
    nlohmann::json j;
    REQUIRE_NOTHROW(j = one_document(r.output));  // nothing but one document on stdout
    REQUIRE(j.is_object());
    for (const auto& k : kMetricKeys) {
        INFO(k);
        CHECK(j.contains(k));
    }
    CHECK(j["final_value"].get<double>() > j["start_value"].get<double>());
    CHECK(j["max_drawdown"].get<double>() > 0);
    CHECK(j["max_drawdown"].get<double>() < 1);
    CHECK(j["trades"].get<int>() > 0);
    CHECK(j["cagr"].is_number());
    CHECK(j["max_drawdown_start"].get<std::string>() < j["max_drawdown_end"].get<std::string>());
    CHECK_FALSE(fs::exists(dir / "unused.db"));  // the configured journal is never written
}

TEST_CASE("backtest takes its heap memory in huge-page mappings, as its -v log says", "[integration][backtest]") {
    TempDir dir;
    write_file(dir / "config.toml", sim_config(dir / "unused.db"));
    const auto r = run_stdout("backtest -v --no-journal --json --config " + shell_quote((dir / "config.toml").string()) +
                                  " --prices-dir " + shell_quote(BALLAST_DATA_DIR) +
                                  " --weights VTI=0.6,TLT=0.4 --rebalance quarterly --from 2020-01-02 --to 2020-12-31",
                              dir / "stderr.txt");
    const std::string log = read_bytes(dir / "stderr.txt");
    INFO(log);
    REQUIRE(r.exit_code == 0);
    CHECK(one_document(r.output)["trades"].get<int>() > 0);
    if (std::string(BALLAST_MALLOC_NAME) == "tcmalloc")  // (a kernel without huge pages refuses the advice)
        CHECK((log.find("memory: new heap memory in mappings advised for transparent huge pages") != std::string::npos ||
               log.find("memory: no mapping advised for huge pages (") != std::string::npos));
    else
        CHECK(log.find("memory: the system allocator (BALLAST_MALLOC=system) keeps its own pages") != std::string::npos);
}

TEST_CASE("backtest and run --replay over the same window place identical orders", "[integration][backtest]") {
    TempDir dir;
    const auto daemon_journal = dir / "daemon.db";
    const auto backtest_journal = dir / "backtest.db";
    write_file(dir / "config.toml", sim_config(daemon_journal, "start = \"2019-01-02\"\nend = \"2020-12-31\"\n"));
    const auto config = shell_quote((dir / "config.toml").string());

    const auto daemon = run_ballast("run --replay --config " + config);
    INFO(daemon.output);
    REQUIRE(daemon.exit_code == 0);
    const auto bt = run_stdout("backtest --config " + config + " --json --journal " +
                                   shell_quote(backtest_journal.string()),
                               dir / "stderr.txt");
    INFO(read_bytes(dir / "stderr.txt"));
    REQUIRE(bt.exit_code == 0);

    const auto a = orders_of(daemon_journal);
    const auto b = orders_of(backtest_journal);
    REQUIRE(a.size() > 4);  // 2020 moved the weights past the 5pp threshold
    CHECK(a == b);

    // The JSON's drawdown is the one of the journal's equity curve.
    const auto j = one_document(bt.output);
    CHECK(j["max_drawdown"].get<double>() == Approx(max_drawdown_of(backtest_journal)).margin(1e-9));
    CHECK(j["max_drawdown"].get<double>() > 0.05);  // March 2020
    CHECK(j["start_date"] == "2019-01-02");
    CHECK(j["end_date"] == "2020-12-31");
}

TEST_CASE("a sweep of drift_threshold returns one ranked object per grid point", "[integration][backtest]") {
    TempDir dir;
    write_file(dir / "config.toml", sim_config(dir / "unused.db"));
    const auto r = run_stdout("backtest --config " + shell_quote((dir / "config.toml").string()) +
                                  " --from 2016-01-04 --to 2020-12-31 --sweep drift_threshold=2:10:4 --json",
                              dir / "stderr.txt");
    INFO(read_bytes(dir / "stderr.txt"));
    REQUIRE(r.exit_code == 0);
    const auto j = one_document(r.output);
    REQUIRE(j.is_array());
    REQUIRE(j.size() == 3);
    std::vector<double> thresholds;
    for (const auto& row : j) {
        thresholds.push_back(row["params"]["drift_threshold"].get<double>());
        for (const auto& k : kMetricKeys) CHECK(row.contains(k));
    }
    std::sort(thresholds.begin(), thresholds.end());
    CHECK(thresholds == std::vector<double>{2, 6, 10});
    for (std::size_t i = 1; i < j.size(); ++i)  // ranked by Sharpe, best first
        CHECK(j[i - 1]["sharpe"].get<double>() >= j[i]["sharpe"].get<double>());
    // Different thresholds trade differently.
    CHECK(j[0]["trades"] != j[1]["trades"]);
}

TEST_CASE("backtest option errors exit 64 with a precise message", "[integration][backtest]") {
    TempDir dir;
    write_file(dir / "config.toml", sim_config(dir / "unused.db"));
    const auto config = "backtest --config " + shell_quote((dir / "config.toml").string());

    const auto sum = run_ballast(config + " --weights VTI=0.4,TLT=0.3,GLD=0.1,DBC=0.1");
    CHECK(sum.exit_code == 64);
    CHECK(sum.output.find("sum to 0.9") != std::string::npos);

    for (const char* spec : {"drift_threshold=2:10", "drift_threshold=10:2:1", "drift_threshold=2:10:0",
                             "sma_days=2:10:4", "drift_threshold=a:b:c"}) {
        INFO(spec);
        const auto bad = run_ballast(config + " --sweep " + spec);
        CHECK(bad.exit_code == 64);
        CHECK(bad.output.find("--sweep") != std::string::npos);
    }

    const auto param = run_ballast(config + " --strategy trend --param sma_days=1");
    CHECK(param.exit_code == 64);
    CHECK(param.output.find("strategy.params.sma_days") != std::string::npos);

    const auto rank = run_ballast(config + " --sweep drift_threshold=2:4:2 --rank-by luck");
    CHECK(rank.exit_code == 64);
    CHECK(rank.output.find("--rank-by 'luck'") != std::string::npos);
}

TEST_CASE("backtest writes a self-contained HTML report with the equity curve", "[integration][backtest]") {
    TempDir dir;
    write_file(dir / "config.toml", sim_config(dir / "unused.db"));
    const auto report = dir / "report.html";
    const auto r = run_ballast("backtest -q --config " + shell_quote((dir / "config.toml").string()) +
                               " --from 2018-01-02 --to 2020-12-31 --report " + shell_quote(report.string()));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(r.output.find("CAGR") != std::string::npos);
    REQUIRE(fs::exists(report));
    const auto html = read_bytes(report);
    CHECK(html.find("<svg") != std::string::npos);
    CHECK(html.find("<polyline") != std::string::npos);
    CHECK(html.find("CAGR") != std::string::npos);
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find(" src=") == std::string::npos);
    CHECK(html.find(" href=") == std::string::npos);
}

TEST_CASE("backtest --no-journal writes nothing and gives the metrics of a run with a journal", "[integration][backtest]") {
    // The transient journal (no SQLite at all) must answer the jobs' reads as the real one:
    // the same metrics, whatever the strategy, the calendar and the fill model (next_open
    // keeps orders open from one session to the next).
    TempDir dir;
    const auto tmp = dir / "tmp";
    fs::create_directories(tmp);
    write_file(dir / "config.toml", sim_config(dir / "unused.db", "start = \"2012-01-03\"\nend = \"2016-12-30\"\n"));
    const auto config = shell_quote((dir / "config.toml").string());
    const std::vector<std::string> variants{
        "",                                                             // drift rebalancing, next_open fills
        " --rebalance monthly --fill close",                           // calendar: strategy evaluated on due days only
        " --strategy trend --param sma_days=100 --rebalance quarterly", // warm-up failures, moves to cash
        " --strategy dual_momentum --param universe=VTI,TLT,GLD,DBC --param lookback_days=126 --param top_n=2 --rebalance monthly",
    };
    for (const auto& extra : variants) {
        INFO("options:" << extra);
        const auto with = run_stdout("backtest --config " + config + extra + " --json -q --journal " +
                                         shell_quote((dir / "with.db").string()),
                                     dir / "stderr.txt");
        INFO(read_bytes(dir / "stderr.txt"));
        REQUIRE(with.exit_code == 0);
        const auto without = run_ballast("backtest --config " + config + extra + " --json -q --no-journal",
                                         "TMPDIR=" + shell_quote(tmp.string()), (dir / "stderr.txt").string());
        INFO(read_bytes(dir / "stderr.txt"));
        REQUIRE(without.exit_code == 0);
        auto a = one_document(with.output);
        auto b = one_document(without.output);
        CHECK(a["journal"].is_string());
        CHECK(b["journal"].is_null());
        a.erase("journal");
        b.erase("journal");
        CHECK(a.dump() == b.dump());
        CHECK(a["trades"].get<int>() > 0);
        CHECK(fs::is_empty(tmp));  // nothing written, not even a scratch file
    }
}

TEST_CASE("a backtest whose last rebalance comes to nothing at the next open rebalances as the daemon does",
          "[integration][backtest]") {
    // $100, whole shares, fills at the next open: 2024-01-02 buys one AAA at the close of 90;
    // AAA opens at 150 on 01-03, the sim rejects the buy (no cash for it). On 01-03 the
    // backtest's signals job still sees 01-02 as a rebalance (the order is only accepted)
    // and skips the strategy; the reconciliation in the rebalance job then finds the
    // rejection, so the rules no longer hold: the rebalance must evaluate the strategy
    // itself, decide as the daemon does, and not fail the session.
    TempDir dir;
    std::filesystem::create_directories(dir / "prices");
    std::string csv = "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,90,91,89,90,90,1000\n";
    for (const char* d : {"2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"})
        csv += std::string(d) + ",150,151,149,150,150,1000\n";
    write_file(dir / "prices" / "AAA.csv", csv);
    write_file(dir / "config.toml",
               "mode = \"sim\"\njournal = \"" + (dir / "daemon.db").string() +
                   "\"\n[strategy]\nname = \"one\"\n[strategy.weights]\nAAA = 100\n"
                   "[rebalance]\ndrift_threshold = 5.0\nmin_interval_days = 30\n"
                   "[risk]\nmax_position_pct = 100\nmax_order_pct = 100\n"
                   "[sim]\ndata_dir = \"" + (dir / "prices").string() +
                   "\"\nfill = \"next_open\"\nslippage_bps = 0\nprice_field = \"close\"\ninitial_cash = 100\n"
                   "start = \"2024-01-02\"\nend = \"2024-01-09\"\n");
    const auto config = shell_quote((dir / "config.toml").string());
    const auto bt = run_stdout("backtest -q --json --config " + config + " --journal " +
                                   shell_quote((dir / "backtest.db").string()),
                               dir / "stderr.txt");
    INFO(read_bytes(dir / "stderr.txt"));
    REQUIRE(bt.exit_code == 0);
    const auto j = one_document(bt.output);
    CHECK(j["failed_sessions"] == 0);
    const auto daemon = run_ballast("run --replay --config " + config);
    INFO(daemon.output);
    REQUIRE(daemon.exit_code == 0);
    const auto a = orders_of(dir / "daemon.db");
    const auto b = orders_of(dir / "backtest.db");
    REQUIRE(a.size() == 1);
    CHECK(std::get<4>(a[0]) == "rejected");
    CHECK(a == b);
    // The 01-03 decision was taken with the strategy evaluated in the rebalance job.
    SQLite::Database db((dir / "backtest.db").string(), SQLite::OPEN_READONLY);
    CHECK(db.execAndGet("SELECT COUNT(*) FROM targets WHERE session_date = '2024-01-03'").getInt() == 1);
    CHECK(db.execAndGet("SELECT reason FROM rebalance_decisions WHERE session_date = '2024-01-03'").getString().find(
              "minimum interval") == std::string::npos);
}

TEST_CASE("a backtest whose journal cannot be written any more stops with the journal's error (exit 74)",
          "[integration][backtest][failure]") {
    // A file-size limit (4 MiB: the schema alone, in 16 KiB pages, takes a good part of
    // one) stands for a full disk: the journal outgrows it in a later batch.
    TempDir dir;
    write_file(dir / "config.toml", sim_config(dir / "unused.db"));
    const auto journal = dir / "bt.db";
    const auto r = run_ballast("backtest -q --json --config " + shell_quote((dir / "config.toml").string()) +
                                   " --journal " + shell_quote(journal.string()),
                               "trap '' XFSZ; ulimit -f 4096;");
    INFO(r.output);
    CHECK(r.exit_code == 74);
    CHECK(r.output.find("ballast: journal ") != std::string::npos);
    CHECK(r.output.find("\"cagr\"") == std::string::npos);  // no metrics from a journal cut short
    SQLite::Database db(journal.string(), SQLite::OPEN_READONLY);
    CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
    CHECK(db.execAndGet("SELECT count(*) FROM orders WHERE status = 'intent'").getInt() == 0);
    // Whole batches of 64 sessions were committed before the one that failed; none of it.
    const int sessions = db.execAndGet("SELECT count(DISTINCT session_date) FROM job_runs").getInt();
    CHECK(sessions > 0);
    CHECK(sessions % 64 == 0);
}
