// The rules-based strategies through the real binary: a trend-following replay of the
// bundled history, checked against a 200-day SMA computed here from the journal's bars.
#include <catch2/catch.hpp>

#include <cmath>
#include <deque>
#include <map>
#include <string>

#include <SQLiteCpp/SQLiteCpp.h>

#include "../support/process.hpp"

using ballast::test::run_ballast;
using ballast::test::shell_quote;
using ballast::test::TempDir;

namespace {

std::string trend_config(const std::filesystem::path& journal) {
    return "mode = \"sim\"\njournal = \"" + journal.string() +
           "\"\n[strategy]\nname = \"trend-60-40\"\nkind = \"trend\"\n"
           "[strategy.weights]\nSPY = 60\nTLT = 40\n"
           "[strategy.params]\nsma_days = 200\nsafe_asset = \"IEF\"\n"
           "[rebalance]\ndrift_threshold = 5.0\nmin_interval_days = 0\n"
           "[risk]\nmax_position_pct = 100\nmax_order_pct = 100\n"
           "[sim]\ndata_dir = \"" + std::string(BALLAST_DATA_DIR) + "\"\n"
           "start = \"2004-01-02\"\nend = \"2010-12-31\"\n";
}

}  // namespace

TEST_CASE("trend demo: SPY's weight moves to IEF below its 200-day SMA and back", "[integration][strategies]") {
    TempDir dir;
    const auto journal = dir / "journal.db";
    const auto config = dir / "config.toml";
    ballast::test::write_file(config, trend_config(journal));
    const auto r = run_ballast("demo --quiet --config " + shell_quote(config.string()) + " --journal " +
                               shell_quote(journal.string()));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);

    SQLite::Database db(journal.string(), SQLite::OPEN_READONLY);
    // Targets per session and symbol.
    std::map<std::string, std::map<std::string, double>> targets;
    {
        SQLite::Statement st(db, "SELECT session_date, symbol, CAST(weight AS REAL) FROM targets"
                                 " WHERE strategy = 'trend-60-40'");
        while (st.executeStep()) targets[st.getColumn(0).getString()][st.getColumn(1).getString()] = st.getColumn(2).getDouble();
    }
    REQUIRE(targets.size() > 1700);  // 2004..2010, every session

    // SPY's 200-session SMA from the journaled bars, independently of the strategy code.
    std::map<std::string, double> spy_ratio;  // close / SMA - 1
    {
        SQLite::Statement st(db, "SELECT date, adj_close FROM bars WHERE symbol = 'SPY' ORDER BY date");
        std::deque<double> window;
        double sum = 0;
        while (st.executeStep()) {
            const double c = st.getColumn(1).getDouble();
            window.push_back(c);
            sum += c;
            if (window.size() > 200) {
                sum -= window.front();
                window.pop_front();
            }
            if (window.size() == 200) spy_ratio[st.getColumn(0).getString()] = c / (sum / 200.0) - 1.0;
        }
    }

    int below = 0, above = 0;
    for (const auto& [session, w] : targets) {
        INFO("session " << session);
        REQUIRE(w.count("SPY"));
        REQUIRE(w.count("TLT"));
        REQUIRE(w.count("IEF"));
        double sum = 0;
        for (const auto& [sym, x] : w) sum += x;
        CHECK(sum == Approx(1.0));  // the weights are moved, never dropped, with a safe asset
        CHECK((w.at("TLT") == 0.0 || w.at("TLT") == Approx(0.4)));
        REQUIRE(spy_ratio.count(session));
        const double ratio = spy_ratio.at(session);
        if (std::fabs(ratio) < 1e-4) continue;  // on the line: rounding decides
        if (ratio > 0) {
            CHECK(w.at("SPY") == Approx(0.6));
            ++above;
        } else {
            CHECK(w.at("SPY") == 0.0);
            CHECK(w.at("IEF") >= Approx(0.6));
            ++below;
        }
    }
    CHECK(below > 200);
    CHECK(above > 1000);

    // Late 2008: out of SPY and into IEF, in the targets and in the account; back in 2009-10.
    for (const char* session : {"2008-10-15", "2008-11-20", "2008-12-31"}) {
        INFO(session);
        REQUIRE(targets.count(session));
        CHECK(targets[session]["SPY"] == 0.0);
        CHECK(targets[session]["IEF"] >= Approx(0.6));
    }
    CHECK(targets["2009-10-15"]["SPY"] == Approx(0.6));
    const auto held = [&](const std::string& session, const std::string& symbol) {
        SQLite::Statement st(db, "SELECT COALESCE(SUM(CAST(p.qty AS REAL)), 0) FROM equity_snapshots s"
                                 " JOIN position_snapshots p ON p.snapshot_id = s.id"
                                 " WHERE s.session_date = ? AND p.symbol = ?");
        st.bind(1, session);
        st.bind(2, symbol);
        REQUIRE(st.executeStep());
        return st.getColumn(0).getDouble();
    };
    CHECK(held("2008-11-20", "SPY") == 0.0);
    CHECK(held("2008-11-20", "IEF") > 0.0);
    CHECK(held("2009-10-15", "SPY") > 0.0);
}

TEST_CASE("check-config rejects a bad strategy parameter with exit 78", "[integration][strategies][config]") {
    TempDir dir;
    const auto config = dir / "config.toml";
    ballast::test::write_file(config, "[strategy]\nkind = \"dual_momentum\"\n[strategy.params]\n"
                                      "universe = [\"SPY\", \"EFA\"]\ntop_n = 2\nlookback_day = 100\n");
    const auto r = run_ballast("check-config --config " + shell_quote(config.string()));
    INFO(r.output);
    CHECK(r.exit_code == 78);
    CHECK(r.output.find(config.string() + ":6:1: strategy.params.lookback_day: unknown parameter; kind "
                        "\"dual_momentum\" takes universe, lookback_days, top_n, absolute_threshold, cash_proxy, "
                        "safe_asset; did you mean 'lookback_days'?") != std::string::npos);
}
