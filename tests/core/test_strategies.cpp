#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "core/strategies.hpp"

using namespace ballast::core;

namespace {

Decimal d(const char* s) { return Decimal::parse(s).value(); }
Date day(const char* s) { return Date::parse(s).value(); }

// A strategy input over closes it owns (StrategyInput only views them).
struct Input {
    explicit Input(std::map<Symbol, std::vector<double>> c) : closes(std::move(c)) {
        view.session = day("2024-06-03");
        for (const auto& [s, v] : closes) view.closes.emplace(s, v);
    }
    Input(const Input&) = delete;  // the views point into this object's vectors
    operator const StrategyInput&() const { return view; }
    std::map<Symbol, std::vector<double>> closes;
    StrategyInput view;
};
Input input(std::map<Symbol, std::vector<double>> closes) { return Input(std::move(closes)); }

Decimal sum_of(const Weights& w) {
    Decimal s;
    for (const auto& [sym, x] : w) s += x;
    return s;
}

// Every weight in [0, 1] with at most kWeightDigits digits, summing to at most 1.
void check_well_formed(const Weights& w) {
    for (const auto& [sym, x] : w) {
        INFO(sym << " = " << x.to_string());
        CHECK_FALSE(x.is_negative());
        CHECK(x.raw() % 1000 == 0);
    }
    CHECK(sum_of(w) <= Decimal::from_int(1));
}

// Three closes whose two log returns are +r and -r (sample stdev r * sqrt(2)).
std::vector<double> zigzag(double r) { return {100.0, 100.0 * std::exp(r), 100.0}; }

}  // namespace

TEST_CASE("weight_down rounds toward zero to 6 digits and clamps", "[core][strategies]") {
    CHECK(weight_down(0.5) == d("0.5"));
    CHECK(weight_down(1.0 / 3.0) == d("0.333333"));
    CHECK(weight_down(2.0 / 3.0) == d("0.666666"));
    CHECK(weight_down(0.9999999) == d("0.999999"));
    CHECK(weight_down(1.0) == d("1"));
    CHECK(weight_down(7.0) == d("1"));
    CHECK(weight_down(-0.2) == Decimal{});
    CHECK(weight_down(std::numeric_limits<double>::quiet_NaN()) == Decimal{});
    CHECK(weight_down(std::numeric_limits<double>::infinity()) == Decimal{});
}

TEST_CASE("trend: above the SMA holds, below moves to the safe asset", "[core][strategies][trend]") {
    const TrendFollowing s("trend", {{"SPY", d("0.6")}, {"TLT", d("0.4")}}, {3, "IEF"});
    CHECK(s.lookback() == 3);
    CHECK(s.universe() == std::vector<Symbol>{"IEF", "SPY", "TLT"});
    // SPY: last 3 closes 10 11 12, SMA 11, close 12 >= 11: held (the older 100 is outside
    //      the window; with it, SMA(4) = 33.25 would put SPY below).
    // TLT: 12 11 10, SMA 11, close 10 < 11: its 0.4 moves to IEF.
    // IEF: only today's close is needed.
    const auto out = s.evaluate(input({{"SPY", {100, 10, 11, 12}}, {"TLT", {12, 11, 10}}, {"IEF", {50}}}));
    INFO(out.problem);
    REQUIRE(out.problem.empty());
    CHECK(out.targets == Weights{{"SPY", d("0.6")}, {"TLT", d("0")}, {"IEF", d("0.4")}});
    CHECK(out.signals == SymbolMap<double>{{"SPY", 1.0}, {"TLT", -1.0}});
    check_well_formed(out.targets);
}

TEST_CASE("trend: without a safe asset the weight goes to cash", "[core][strategies][trend]") {
    const TrendFollowing s("trend", {{"SPY", d("0.6")}, {"TLT", d("0.4")}}, {3, std::nullopt});
    CHECK(s.universe() == std::vector<Symbol>{"SPY", "TLT"});
    // SPY 12 11 10 is below its SMA 11; TLT 10 11 12 is above.
    const auto out = s.evaluate(input({{"SPY", {12, 11, 10}}, {"TLT", {10, 11, 12}}}));
    REQUIRE(out.problem.empty());
    CHECK(out.targets == Weights{{"SPY", d("0")}, {"TLT", d("0.4")}});
    CHECK(sum_of(out.targets) == d("0.4"));  // 60% in cash
}

TEST_CASE("trend: a weighted safe asset keeps its weight and collects the rest", "[core][strategies][trend]") {
    const TrendFollowing s("trend", {{"SPY", d("0.6")}, {"TLT", d("0.4")}}, {3, "TLT"});
    // Both below their SMA: SPY's 0.6 moves to TLT, and TLT's own 0.4 stays with it.
    const auto out = s.evaluate(input({{"SPY", {12, 11, 10}}, {"TLT", {12, 11, 10}}}));
    REQUIRE(out.problem.empty());
    CHECK(out.targets == Weights{{"SPY", d("0")}, {"TLT", d("1")}});
    CHECK(out.signals.at("TLT") == -1.0);
}

TEST_CASE("trend: flat prices sit on the SMA and are held", "[core][strategies][trend]") {
    const TrendFollowing s("trend", {{"SPY", d("1")}}, {5, "IEF"});
    const auto out = s.evaluate(input({{"SPY", std::vector<double>(5, 100.0)}, {"IEF", {90}}}));
    REQUIRE(out.problem.empty());
    CHECK(out.targets == Weights{{"SPY", d("1")}, {"IEF", d("0")}});
    CHECK(out.signals.at("SPY") == 1.0);
}

TEST_CASE("trend: short, missing or invalid history gives a problem and no targets", "[core][strategies][trend]") {
    const TrendFollowing s("trend", {{"SPY", d("0.6")}, {"TLT", d("0.4")}}, {3, "IEF"});
    auto out = s.evaluate(input({{"SPY", {10, 11}}, {"TLT", {12, 11, 10}}, {"IEF", {50}}}));
    CHECK(out.problem == "not enough history for SPY: 2 closes through 2024-06-03, need 3");
    CHECK(out.targets.empty());
    out = s.evaluate(input({{"SPY", {10, 11, 12}}, {"TLT", {12, 11, 10}}}));
    CHECK(out.problem == "no close for IEF on 2024-06-03");
    CHECK(out.targets.empty());
    out = s.evaluate(input({{"SPY", {10, std::nan(""), 12}}, {"TLT", {12, 11, 10}}, {"IEF", {50}}}));
    CHECK(out.problem.find("invalid close nan for SPY (1 sessions before 2024-06-03)") != std::string::npos);
    CHECK(out.targets.empty());
    out = s.evaluate(input({{"SPY", {10, 11, 12}}, {"TLT", {12, 0, 10}}, {"IEF", {50}}}));
    CHECK(out.problem.find("invalid close 0 for TLT") != std::string::npos);
    const TrendFollowing bad("trend", {{"SPY", d("1")}}, {0, std::nullopt});
    CHECK_FALSE(bad.evaluate(input({{"SPY", {10}}})).problem.empty());
}

TEST_CASE("trend: an invalid close anywhere in the window is found and named", "[core][strategies][trend]") {
    // A window of 11 closes is checked four at a time plus a tail of three: each place, and
    // each kind of invalid value, must be caught (and the valid window must pass).
    const TrendFollowing s("trend", {{"SPY", d("1")}}, {11, std::nullopt});
    const std::vector<double> valid{10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    REQUIRE(s.evaluate(input({{"SPY", valid}})).problem.empty());
    for (const double bad : {std::nan(""), 0.0, -1.0, std::numeric_limits<double>::infinity()})
        for (std::size_t at = 0; at < valid.size(); ++at) {
            auto closes = valid;
            closes[at] = bad;
            const auto out = s.evaluate(input({{"SPY", closes}}));
            INFO("value " << bad << " at " << at << ": " << out.problem);
            CHECK(out.problem.find("invalid close ") == 0);
            CHECK(out.problem.find("for SPY (" + std::to_string(valid.size() - 1 - at) + " sessions before") !=
                  std::string::npos);
            CHECK(out.targets.empty());
        }
}

TEST_CASE("dual momentum: ranks by return, equal weight among the top N", "[core][strategies][momentum]") {
    DualMomentumParams p;
    p.candidates = {"SPY", "EFA", "AGG"};
    p.lookback_days = 2;
    p.top_n = 2;
    const DualMomentum s("gem", p);
    CHECK(s.lookback() == 3);
    // Returns over 2 sessions: SPY 110/100-1 = +10%, EFA 120/100-1 = +20%, AGG +2%.
    // Top 2: EFA and SPY, 0.5 each; AGG 0. Signals are the returns.
    const auto in = input({{"SPY", {100, 105, 110}}, {"EFA", {100, 95, 120}}, {"AGG", {100, 101, 102}}});
    auto out = s.evaluate(in);
    REQUIRE(out.problem.empty());
    CHECK(out.targets == Weights{{"SPY", d("0.5")}, {"EFA", d("0.5")}, {"AGG", d("0")}});
    CHECK(out.signals.at("SPY") == Approx(0.10));
    CHECK(out.signals.at("EFA") == Approx(0.20));
    CHECK(out.signals.at("AGG") == Approx(0.02));
    // Top 3: each gets round_down(1/3) = 0.333333, 0.000001 stays in cash.
    p.top_n = 3;
    out = DualMomentum("gem", p).evaluate(in);
    CHECK(out.targets == Weights{{"SPY", d("0.333333")}, {"EFA", d("0.333333")}, {"AGG", d("0.333333")}});
    CHECK(sum_of(out.targets) == d("0.999999"));
    // Top 1: EFA alone.
    p.top_n = 1;
    out = DualMomentum("gem", p).evaluate(in);
    CHECK(out.targets == Weights{{"SPY", d("0")}, {"EFA", d("1")}, {"AGG", d("0")}});
}

TEST_CASE("dual momentum: picks below the hurdle go to the safe asset or cash", "[core][strategies][momentum]") {
    DualMomentumParams p;
    p.candidates = {"SPY", "EFA", "AGG"};
    p.lookback_days = 2;
    p.top_n = 2;
    p.safe_asset = "SHY";
    // All negative: SPY -10%, EFA -5%, AGG -1%. Picks AGG and EFA, both below 0: 2 x 0.5 to SHY.
    const auto in = input({{"SPY", {100, 95, 90}}, {"EFA", {100, 97, 95}}, {"AGG", {100, 100, 99}}, {"SHY", {80}}});
    auto out = DualMomentum("gem", p).evaluate(in);
    REQUIRE(out.problem.empty());
    CHECK(out.targets == Weights{{"SPY", d("0")}, {"EFA", d("0")}, {"AGG", d("0")}, {"SHY", d("1")}});
    CHECK(out.signals.at("SPY") == Approx(-0.10));
    // Without a safe asset: all cash.
    p.safe_asset.reset();
    out = DualMomentum("gem", p).evaluate(in);
    REQUIRE(out.problem.empty());
    CHECK(sum_of(out.targets) == Decimal{});
    CHECK(out.targets.size() == 3);
    // A threshold of -3%: AGG (-1%) passes, EFA (-5%) does not.
    p.absolute_threshold = -0.03;
    p.safe_asset = "SHY";
    out = DualMomentum("gem", p).evaluate(in);
    CHECK(out.targets == Weights{{"SPY", d("0")}, {"EFA", d("0")}, {"AGG", d("0.5")}, {"SHY", d("0.5")}});
}

TEST_CASE("dual momentum: a cash proxy sets the hurdle; equal returns pass", "[core][strategies][momentum]") {
    DualMomentumParams p;
    p.candidates = {"SPY", "AGG"};
    p.lookback_days = 2;
    p.top_n = 2;
    p.cash_proxy = "BIL";
    p.safe_asset = "AGG";
    // BIL +1% is the hurdle: SPY +4% passes, AGG +0.5% fails and its share goes to the
    // safe asset, which is AGG itself: AGG keeps 0.5.
    auto out = DualMomentum("gem", p).evaluate(
        input({{"SPY", {100, 102, 104}}, {"AGG", {200, 200, 201}}, {"BIL", {100, 100.5, 101}}}));
    REQUIRE(out.problem.empty());
    CHECK(out.targets == Weights{{"SPY", d("0.5")}, {"AGG", d("0.5")}, {"BIL", d("0")}});
    CHECK_FALSE(out.signals.count("BIL"));
    // Flat prices: every return is 0, equal to the default hurdle 0: held; ties by symbol.
    DualMomentumParams flat;
    flat.candidates = {"SPY", "EFA"};
    flat.lookback_days = 4;
    flat.top_n = 1;
    out = DualMomentum("flat", flat).evaluate(input({{"SPY", std::vector<double>(5, 50)}, {"EFA", std::vector<double>(5, 70)}}));
    REQUIRE(out.problem.empty());
    CHECK(out.targets == Weights{{"EFA", d("1")}, {"SPY", d("0")}});
    // A +150% return signals 1.
    out = DualMomentum("flat", flat).evaluate(input({{"SPY", {10, 10, 10, 10, 25}}, {"EFA", {1, 1, 1, 1, 1}}}));
    CHECK(out.signals.at("SPY") == 1.0);
    CHECK(out.targets.at("SPY") == d("1"));
}

TEST_CASE("dual momentum: short history, a missing cash proxy or safe asset, bad parameters",
          "[core][strategies][momentum]") {
    DualMomentumParams p;
    p.candidates = {"SPY", "EFA"};
    p.lookback_days = 2;
    p.cash_proxy = "BIL";
    p.safe_asset = "SHY";
    const DualMomentum s("gem", p);
    CHECK(s.universe() == std::vector<Symbol>{"BIL", "EFA", "SHY", "SPY"});
    auto out = s.evaluate(input({{"SPY", {1, 2}}, {"EFA", {1, 2, 3}}, {"BIL", {1, 1, 1}}, {"SHY", {1}}}));
    CHECK(out.problem == "not enough history for SPY: 2 closes through 2024-06-03, need 3");
    CHECK(out.targets.empty());
    out = s.evaluate(input({{"SPY", {1, 2, 3}}, {"EFA", {1, 2, 3}}, {"BIL", {1, 1}}, {"SHY", {1}}}));
    CHECK(out.problem.find("not enough history for BIL") == 0);
    out = s.evaluate(input({{"SPY", {1, 2, 3}}, {"EFA", {1, 2, 3}}, {"BIL", {1, 1, 1}}}));
    CHECK(out.problem == "no close for SHY on 2024-06-03");
    p.top_n = 3;  // more picks than candidates
    CHECK_FALSE(DualMomentum("gem", p).evaluate(input({})).problem.empty());
    p.top_n = 0;
    CHECK_FALSE(DualMomentum("gem", p).evaluate(input({})).problem.empty());
}

TEST_CASE("risk parity: inverse-volatility weights rounded down", "[core][strategies][risk_parity]") {
    RiskParityParams p;
    p.universe = {"VTI", "TLT"};
    p.lookback_days = 2;
    const RiskParity s("rp", p);
    CHECK(s.lookback() == 3);
    // VTI log returns +1%, -1%; TLT +2%, -2%: TLT's volatility is twice VTI's, so VTI gets
    // (1/v) / (1/v + 1/2v) = 2/3 and TLT 1/3, rounded down: 0.666666 and 0.333333.
    const auto in = input({{"VTI", zigzag(0.01)}, {"TLT", zigzag(0.02)}});
    auto out = s.evaluate(in);
    INFO(out.problem);
    REQUIRE(out.problem.empty());
    CHECK(out.targets == Weights{{"VTI", d("0.666666")}, {"TLT", d("0.333333")}});
    CHECK(out.signals == SymbolMap<double>{{"VTI", 1.0}, {"TLT", 1.0}});
    check_well_formed(out.targets);

    // Volatility target 10%: VTI's annual vol is 0.01 * sqrt(2) * sqrt(252) = 0.2245, TLT's
    // twice that; the estimate 2/3 * 0.2245 + 1/3 * 0.4490 = 0.2993 gives an exposure of
    // 0.1 / 0.2993 = 0.3341: VTI 0.2227, TLT 0.1114, the rest cash.
    p.vol_target = 0.10;
    out = RiskParity("rp", p).evaluate(in);
    REQUIRE(out.problem.empty());
    const double vti_vol = 0.01 * std::sqrt(2.0) * std::sqrt(252.0);
    const double exposure = 0.10 / (4.0 / 3.0 * vti_vol);
    CHECK(exposure == Approx(0.33408).epsilon(1e-4));
    CHECK(out.targets.at("VTI").to_double() == Approx(2.0 / 3.0 * exposure).margin(1.01e-6));
    CHECK(out.targets.at("TLT").to_double() == Approx(1.0 / 3.0 * exposure).margin(1.01e-6));
    CHECK(out.signals.at("VTI") == Approx(exposure));
    check_well_formed(out.targets);
    // A target above the estimate leaves the weights fully invested.
    p.vol_target = 0.50;
    out = RiskParity("rp", p).evaluate(in);
    CHECK(out.targets == Weights{{"VTI", d("0.666666")}, {"TLT", d("0.333333")}});
}

TEST_CASE("risk parity: equal volatilities split equally; many symbols stay under 1", "[core][strategies][risk_parity]") {
    RiskParityParams p;
    p.universe = {"A", "B", "C"};
    p.lookback_days = 2;
    const auto out = RiskParity("rp", p).evaluate(input({{"A", zigzag(0.01)}, {"B", zigzag(-0.01)}, {"C", zigzag(0.01)}}));
    REQUIRE(out.problem.empty());
    CHECK(out.targets == Weights{{"A", d("0.333333")}, {"B", d("0.333333")}, {"C", d("0.333333")}});
}

TEST_CASE("risk parity: zero volatility and short history hold", "[core][strategies][risk_parity]") {
    RiskParityParams p;
    p.universe = {"VTI", "TLT"};
    p.lookback_days = 3;
    const RiskParity s("rp", p);
    auto out = s.evaluate(input({{"VTI", {100, 101, 100, 101}}, {"TLT", {90, 90, 90, 90}}}));
    CHECK(out.problem.find("zero volatility for TLT over the last 3 returns") == 0);
    CHECK(out.targets.empty());
    out = s.evaluate(input({{"VTI", {100, 101, 100, 101}}, {"TLT", {90, 91, 90}}}));
    CHECK(out.problem == "not enough history for TLT: 3 closes through 2024-06-03, need 4");
    out = s.evaluate(input({{"VTI", {100, 101, 100, 101}}}));
    CHECK(out.problem == "no close for TLT on 2024-06-03");
    p.lookback_days = 1;  // a standard deviation needs two returns
    CHECK_FALSE(RiskParity("rp", p).evaluate(input({{"VTI", {1, 2}}, {"TLT", {1, 2}}})).problem.empty());
    p.lookback_days = 3;
    p.vol_target = 0.0;
    CHECK_FALSE(RiskParity("rp", p).evaluate(input({{"VTI", {100, 101, 100, 101}}, {"TLT", {90, 91, 90, 91}}})).problem.empty());
}

TEST_CASE("history_start covers the sessions a lookback needs, across holidays", "[core][strategies]") {
    // 3 sessions through Monday 2024-04-01: Thursday 03-28 (Good Friday closed), Monday;
    // so 03-27, 03-28, 04-01 and the margin before.
    CHECK(history_start(day("2024-04-01"), 3, 0) == day("2024-03-27"));
    CHECK(history_start(day("2024-04-01"), 3) == day("2024-03-17"));
    CHECK(history_start(day("2024-04-01"), 1, 0) == day("2024-04-01"));
    CHECK(history_start(day("2024-03-30"), 1, 0) == day("2024-03-28"));  // a Saturday: the last session before
    // Every window of n sessions ending 2001..2013 (the 2001, 2004, 2007 and 2012 special
    // closures included): exactly n trading days from history_start(.., 0), while
    // lookback * 7 / 5 + 10 is sometimes not enough.
    for (const std::size_t n : {2u, 200u}) {
        bool ratio_short = false;
        for (Date s = day("2001-01-02"); s <= day("2013-12-31"); s = next_trading_day(s)) {
            const auto from = history_start(s, n, 0);
            if (trading_days(from, s).size() != n) {
                FAIL("history_start(" << s.to_string() << ", " << n << ") = " << from.to_string());
            }
            const auto ratio_from = s.plus_days(-static_cast<int>(n * 7 / 5 + 10));
            if (trading_days(ratio_from, s).size() < n) ratio_short = true;
        }
        if (n == 200) CHECK(ratio_short);
    }
}

// The per-symbol maps are sorted vectors: the strategies fill them in symbol order,
// whatever order the configured universe lists its symbols in, and the output does not
// depend on that order.
TEST_CASE("risk parity and dual momentum: the universe's order changes nothing", "[core][strategies]") {
    std::vector<Symbol> symbols;
    std::map<Symbol, std::vector<double>> closes;
    for (int i = 0; i < 300; ++i) {
        const Symbol s = "S" + std::to_string(1000 + (i * 7919) % 300);  // a scrambled order
        symbols.push_back(s);
        std::vector<double> v;
        for (int k = 0; k < 6; ++k) v.push_back(100.0 + (k % 2 == 0 ? 1 : -1) * (1 + (i % 13)) + 0.5 * k * (i % 5));
        closes[s] = v;
    }
    REQUIRE(!std::is_sorted(symbols.begin(), symbols.end()));
    std::vector<Symbol> sorted = symbols;
    std::sort(sorted.begin(), sorted.end());
    const auto in = input(closes);
    // The strategy made with the scrambled universe, then with the sorted one.
    const auto same_either_way = [&](const auto& make) {
        const auto scrambled = make(symbols).evaluate(in);
        const auto ordered = make(sorted).evaluate(in);
        REQUIRE(scrambled.problem.empty());
        CHECK(scrambled.targets.size() == 300);
        CHECK(scrambled.signals.size() == 300);
        CHECK(scrambled.targets == ordered.targets);
        CHECK(scrambled.signals == ordered.signals);
        check_well_formed(scrambled.targets);
    };
    same_either_way([](const std::vector<Symbol>& universe) {
        RiskParityParams rp;
        rp.lookback_days = 5;
        rp.universe = universe;
        return RiskParity("rp", rp);
    });
    same_either_way([](const std::vector<Symbol>& universe) {
        DualMomentumParams dm;
        dm.lookback_days = 5;
        dm.top_n = 10;
        dm.candidates = universe;
        return DualMomentum("dm", dm);
    });
}
