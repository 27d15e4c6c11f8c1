// Streaming indicators against (1) values derived by hand from the first rows of
// tests/data/ohlc-samples/2006-day-001.txt, (2) brute-force O(n)-per-bar reference
// implementations over whole series, (3) TA-Lib's published regression values for its
// 252-bar reference series (ta_regtest test_ma.c, test_rsi.c, test_per_hlc.c (NATR),
// test_bbands.c, test_macd.c; printed to 2-4 decimals), and (4) the edge cases.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/indicators.hpp"

using namespace ballast::core;

namespace {

using Series = std::vector<std::optional<double>>;

struct Row {
    std::string date;
    double high = 0, low = 0, close = 0;
};

// A minimal reader (test_core links only ballast_core): columns by header name.
std::vector<Row> load(const std::string& name) {
    std::ifstream in(std::string(BALLAST_TEST_DATA_DIR) + "/ohlc-samples/" + name);
    REQUIRE(in);
    std::string line;
    std::getline(in, line);
    std::map<std::string, std::size_t> col;
    {
        std::stringstream header(line);
        std::string field;
        for (std::size_t i = 0; std::getline(header, field, ','); ++i) col[field] = i;
    }
    std::vector<Row> rows;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        std::vector<std::string> f;
        std::stringstream ss(line);
        std::string field;
        while (std::getline(ss, field, ',')) f.push_back(field);
        rows.push_back({f.at(col.at("Date")), std::stod(f.at(col.at("High"))), std::stod(f.at(col.at("Low"))),
                        std::stod(f.at(col.at("Close")))});
    }
    return rows;
}

std::vector<double> closes(const std::vector<Row>& rows) {
    std::vector<double> c;
    for (const auto& r : rows) c.push_back(r.close);
    return c;
}

template <class Indicator>
auto run(Indicator ind, const std::vector<double>& xs) {
    std::vector<decltype(ind.update(0.0))> out;
    for (double x : xs) out.push_back(ind.update(x));
    return out;
}

// ---- Brute-force references: every value recomputed from its own window. ----

double mean_of(const std::vector<double>& x, std::size_t first, std::size_t n) {
    double s = 0;
    for (std::size_t j = first; j < first + n; ++j) s += x[j];
    return s / static_cast<double>(n);
}

// Two-pass variance: sum of squared deviations / divisor.
double var_of(const std::vector<double>& x, std::size_t first, std::size_t n, std::size_t divisor) {
    const double m = mean_of(x, first, n);
    double s = 0;
    for (std::size_t j = first; j < first + n; ++j) s += (x[j] - m) * (x[j] - m);
    return s / static_cast<double>(divisor);
}

Series ref_sma(const std::vector<double>& x, std::size_t n) {
    Series out(x.size());
    for (std::size_t i = n - 1; i < x.size(); ++i) out[i] = mean_of(x, i + 1 - n, n);
    return out;
}

// EMA whose seed is the mean of x[start .. start+n-1]; nullopt before the seed.
Series ref_ema(const std::vector<double>& x, std::size_t n, std::size_t start = 0) {
    Series out(x.size());
    const double k = 2.0 / (static_cast<double>(n) + 1);
    if (start + n > x.size()) return out;
    double e = mean_of(x, start, n);
    out[start + n - 1] = e;
    for (std::size_t i = start + n; i < x.size(); ++i) out[i] = e = x[i] * k + e * (1 - k);
    return out;
}

// Wilder smoothing of v[1..]: the mean of v[1..n] at index n, then (prev*(n-1)+v)/n.
Series ref_wilder(const std::vector<double>& v, std::size_t n) {
    Series out(v.size());
    if (n + 1 > v.size()) return out;
    double a = mean_of(v, 1, n);
    out[n] = a;
    for (std::size_t i = n + 1; i < v.size(); ++i) out[i] = a = a + (v[i] - a) / static_cast<double>(n);
    return out;
}

Series ref_rsi(const std::vector<double>& c, std::size_t n) {
    std::vector<double> up(c.size()), down(c.size());
    for (std::size_t i = 1; i < c.size(); ++i) {
        up[i] = std::max(c[i] - c[i - 1], 0.0);
        down[i] = std::max(c[i - 1] - c[i], 0.0);
    }
    const auto g = ref_wilder(up, n), l = ref_wilder(down, n);
    Series out(c.size());
    for (std::size_t i = 0; i < c.size(); ++i)
        if (g[i]) out[i] = *l[i] == 0 ? (*g[i] == 0 ? 50.0 : 100.0) : 100.0 - 100.0 / (1.0 + *g[i] / *l[i]);
    return out;
}

Series ref_atr(const std::vector<Row>& r, std::size_t n) {
    std::vector<double> tr(r.size());
    for (std::size_t i = 1; i < r.size(); ++i)
        tr[i] = std::max({r[i].high - r[i].low, std::fabs(r[i].high - r[i - 1].close),
                          std::fabs(r[i].low - r[i - 1].close)});
    return ref_wilder(tr, n);
}

struct Bands {
    Series mid, top, bottom;
};
Bands ref_bollinger(const std::vector<double>& c, std::size_t n, double k) {
    Bands b{Series(c.size()), Series(c.size()), Series(c.size())};
    for (std::size_t i = n - 1; i < c.size(); ++i) {
        const double m = mean_of(c, i + 1 - n, n), sd = std::sqrt(var_of(c, i + 1 - n, n, n));
        b.mid[i] = m;
        b.top[i] = m + k * sd;
        b.bottom[i] = m - k * sd;
    }
    return b;
}

Series ref_momentum(const std::vector<double>& c, std::size_t n, bool as_fraction) {
    Series out(c.size());
    for (std::size_t i = n; i < c.size(); ++i) out[i] = as_fraction ? (c[i] - c[i - n]) / c[i - n] : c[i] - c[i - n];
    return out;
}

Series ref_volatility(const std::vector<double>& c, std::size_t n) {
    std::vector<double> r(c.size());
    for (std::size_t i = 1; i < c.size(); ++i) r[i] = std::log(c[i] / c[i - 1]);
    Series out(c.size());
    for (std::size_t i = n; i < c.size(); ++i) out[i] = std::sqrt(var_of(r, i + 1 - n, n, n - 1)) * std::sqrt(252.0);
    return out;
}

struct MacdSeries {
    Series macd, signal;
};
// fast_start: the bar where the fast EMA's seed window begins (0 for ballast; slow - fast
// for TA-Lib, whose fast seed ends on the same bar as the slow seed).
MacdSeries ref_macd(const std::vector<double>& c, std::size_t f, std::size_t s, std::size_t g, std::size_t fast_start) {
    const auto fast = ref_ema(c, f, fast_start), slow = ref_ema(c, s);
    MacdSeries out{Series(c.size()), Series(c.size())};
    std::vector<double> m;
    for (std::size_t i = 0; i < c.size(); ++i)
        if (fast[i] && slow[i]) {
            out.macd[i] = *fast[i] - *slow[i];
            m.push_back(*out.macd[i]);
        }
    const auto sig = ref_ema(m, g);
    for (std::size_t j = 0; j < m.size(); ++j) out.signal[c.size() - m.size() + j] = sig[j];
    return out;
}

// Same warm-up (nullopt at the same bars) and values within 1e-9 relative.
void check_same(const Series& got, const Series& want, const std::string& what) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO(what << " at bar " << i);
        REQUIRE(got[i].has_value() == want[i].has_value());
        if (want[i]) CHECK(*got[i] == Approx(*want[i]).epsilon(1e-9).margin(1e-9));
    }
}

template <class T>
std::size_t first_value(const std::vector<std::optional<T>>& s) {
    for (std::size_t i = 0; i < s.size(); ++i)
        if (s[i]) return i;
    return s.size();
}

}  // namespace

TEST_CASE("indicators match values derived by hand from the first 2006 bars", "[core][indicators]") {
    const auto rows = load("2006-day-001.txt");
    const auto c = closes(rows);
    // The first six bars of 2006-day-001.txt:
    //   close  3604.33  3614.34  3652.46  3650.24  3666.99  3671.78
    //   high   3605.95  3638.42  3652.46  3661.65  3666.99
    //   low    3578.73  3601.84  3615.23  3643.17  3647.66
    REQUIRE(c[0] == 3604.33);
    REQUIRE(c[5] == 3671.78);

    SECTION("sma(3)") {
        const auto s = run(Sma(3), c);
        CHECK_FALSE(s[0]);
        CHECK_FALSE(s[1]);
        CHECK(*s[2] == Approx((3604.33 + 3614.34 + 3652.46) / 3));  // 3623.71
        CHECK(*s[3] == Approx((3614.34 + 3652.46 + 3650.24) / 3));  // 3639.013333
        CHECK(*s[2] == Approx(3623.71).margin(1e-9));
    }
    SECTION("ema(3): seeded by the sma of the first 3, then alpha = 2/(3+1) = 0.5") {
        const auto s = run(Ema(3), c);
        CHECK_FALSE(s[1]);
        CHECK(*s[2] == Approx(3623.71).margin(1e-9));
        CHECK(*s[3] == Approx(3623.71 + (3650.24 - 3623.71) * 0.5).margin(1e-9));  // 3636.975
        CHECK(*s[4] == Approx(3636.975 + (3666.99 - 3636.975) * 0.5).margin(1e-9));  // 3651.9825
    }
    SECTION("rsi(3): changes +10.01 +38.12 -2.22 +16.75") {
        const auto s = run(Rsi(3), c);
        CHECK_FALSE(s[2]);  // 3 closes give only 2 changes
        // Seed: avg gain = (10.01 + 38.12) / 3, avg loss = 2.22 / 3.
        const double g3 = (10.01 + 38.12) / 3, l3 = 2.22 / 3;
        CHECK(*s[3] == Approx(100 * g3 / (g3 + l3)).epsilon(1e-9));  // 95.5909
        // Wilder: avg = (avg * 2 + change) / 3.
        const double g4 = (g3 * 2 + 16.75) / 3, l4 = (l3 * 2 + 0) / 3;
        CHECK(*s[4] == Approx(100 * g4 / (g4 + l4)).epsilon(1e-9));  // 97.0588
    }
    SECTION("atr(3): bar 0's range is skipped (TA-Lib); TR1..TR3 = 36.58, 38.12, 18.48") {
        Atr atr(3);
        Series s;
        for (const auto& r : rows) s.push_back(atr.update(r.high, r.low, r.close));
        // TR1 = max(3638.42-3601.84, |3638.42-3604.33|, |3601.84-3604.33|) = max(36.58, 34.09, 2.49)
        // TR2 = max(3652.46-3615.23, |3652.46-3614.34|, |3615.23-3614.34|) = max(37.23, 38.12, 0.89)
        // TR3 = max(3661.65-3643.17, |3661.65-3652.46|, |3643.17-3652.46|) = max(18.48, 9.19, 9.29)
        CHECK_FALSE(s[2]);
        CHECK(*s[3] == Approx((36.58 + 38.12 + 18.48) / 3).epsilon(1e-9));  // 31.06
        // TR4 = max(3666.99-3647.66, |3666.99-3650.24|, |3647.66-3650.24|) = 19.33
        CHECK(*s[4] == Approx((31.06 * 2 + 19.33) / 3).epsilon(1e-9));  // 27.15
    }
    SECTION("bollinger(3, 2): population deviation of 3604.33 3614.34 3652.46") {
        const auto s = run(Bollinger(3, 2), c);
        CHECK_FALSE(s[1]);
        // mid 3623.71; deviations -19.38, -9.37, +28.75; squares 375.5844 + 87.7969 + 826.5625
        const double sd = std::sqrt((375.5844 + 87.7969 + 826.5625) / 3);  // 20.73605
        CHECK(s[2]->mid == Approx(3623.71).margin(1e-9));
        CHECK(s[2]->top == Approx(3623.71 + 2 * sd).margin(1e-8));
        CHECK(s[2]->bottom == Approx(3623.71 - 2 * sd).margin(1e-8));
    }
    SECTION("momentum(2) and roc(2)") {
        const auto m = run(Momentum(2), c);
        const auto r = run(Roc(2), c);
        CHECK_FALSE(m[1]);
        CHECK_FALSE(r[1]);
        CHECK(*m[2] == Approx(3652.46 - 3604.33).margin(1e-9));  // 48.13
        CHECK(*r[2] == Approx(48.13 / 3604.33).epsilon(1e-9));   // 0.0133534
        CHECK(*m[3] == Approx(3650.24 - 3614.34).margin(1e-9));
    }
    SECTION("volatility(3): sample deviation of 3 log returns times sqrt(252)") {
        const auto s = run(Volatility(3), c);
        CHECK_FALSE(s[2]);
        const double r1 = std::log(3614.34 / 3604.33), r2 = std::log(3652.46 / 3614.34), r3 = std::log(3650.24 / 3652.46);
        const double m = (r1 + r2 + r3) / 3;
        const double var = ((r1 - m) * (r1 - m) + (r2 - m) * (r2 - m) + (r3 - m) * (r3 - m)) / 2;
        CHECK(*s[3] == Approx(std::sqrt(var) * std::sqrt(252.0)).epsilon(1e-9));
    }
    SECTION("macd(2, 3, 2): both EMAs start at bar 0") {
        Macd macd(2, 3, 2);
        std::vector<std::optional<MacdValue>> s;
        for (double x : c) s.push_back(macd.update(x));
        CHECK_FALSE(s[1]);  // the slow EMA(3) has no value yet
        const double f1 = (3604.33 + 3614.34) / 2;               // fast seed
        const double f2 = f1 + (3652.46 - f1) * 2.0 / 3;          // fast alpha 2/3
        const double f3 = f2 + (3650.24 - f2) * 2.0 / 3;
        const double s2 = (3604.33 + 3614.34 + 3652.46) / 3;      // slow seed
        const double s3 = s2 + (3650.24 - s2) * 0.5;              // slow alpha 1/2
        REQUIRE(s[2]);
        CHECK(s[2]->macd == Approx(f2 - s2).epsilon(1e-9));
        CHECK_FALSE(s[2]->signal);
        REQUIRE(s[3]);
        CHECK(s[3]->macd == Approx(f3 - s3).epsilon(1e-9));
        const double sig3 = ((f2 - s2) + (f3 - s3)) / 2;  // signal seed: mean of 2 macd values
        REQUIRE(s[3]->signal);
        CHECK(*s[3]->signal == Approx(sig3).epsilon(1e-9));
        CHECK(*s[3]->histogram == Approx((f3 - s3) - sig3).epsilon(1e-9).margin(1e-12));
    }
}

TEST_CASE("indicators match brute-force references on every bar of three series", "[core][indicators]") {
    for (const std::string file : {"2006-day-001.txt", "talib-252-day.csv", "orcl-1995-2014.txt"}) {
        const auto rows = load(file);
        const auto c = closes(rows);
        INFO(file << ", " << rows.size() << " bars");
        REQUIRE(rows.size() > 200);
        for (std::size_t n : {1u, 2u, 5u, 14u, 20u, 50u}) {
            INFO("period " << n);
            check_same(run(Sma(n), c), ref_sma(c, n), "sma");
            check_same(run(Ema(n), c), ref_ema(c, n), "ema");
            check_same(run(Rsi(n), c), ref_rsi(c, n), "rsi");
            check_same(run(Momentum(n), c), ref_momentum(c, n, false), "momentum");
            check_same(run(Roc(n), c), ref_momentum(c, n, true), "roc");
            {
                Atr atr(n);
                Series got;
                for (const auto& r : rows) got.push_back(atr.update(r.high, r.low, r.close));
                check_same(got, ref_atr(rows, n), "atr");
            }
            {
                Bollinger bb(n, 2.5);
                Series mid, top, bottom;
                for (double x : c) {
                    const auto v = bb.update(x);
                    mid.push_back(v ? std::optional(v->mid) : std::nullopt);
                    top.push_back(v ? std::optional(v->top) : std::nullopt);
                    bottom.push_back(v ? std::optional(v->bottom) : std::nullopt);
                }
                const auto want = ref_bollinger(c, n, 2.5);
                check_same(mid, want.mid, "bollinger mid");
                check_same(top, want.top, "bollinger top");
                check_same(bottom, want.bottom, "bollinger bottom");
            }
            if (n >= 2) check_same(run(Volatility(n), c), ref_volatility(c, n), "volatility");
        }
        for (auto [f, s, g] : {std::tuple{12u, 26u, 9u}, {3u, 10u, 4u}, {5u, 35u, 5u}}) {
            INFO("macd " << f << "/" << s << "/" << g);
            Macd macd(f, s, g);
            Series m, sig, hist;
            for (double x : c) {
                const auto v = macd.update(x);
                m.push_back(v ? std::optional(v->macd) : std::nullopt);
                sig.push_back(v ? v->signal : std::nullopt);
                hist.push_back(v ? v->histogram : std::nullopt);
            }
            const auto want = ref_macd(c, f, s, g, 0);
            check_same(m, want.macd, "macd");
            // The signal's scale is the macd's (near 0): compare with an absolute margin.
            REQUIRE(first_value(sig) == first_value(want.signal));
            CHECK(first_value(sig) == s + g - 2);
            for (std::size_t i = 0; i < c.size(); ++i) {
                INFO("bar " << i);
                REQUIRE(sig[i].has_value() == want.signal[i].has_value());
                if (!sig[i]) continue;
                CHECK(*sig[i] == Approx(*want.signal[i]).margin(1e-9));
                CHECK(*hist[i] == Approx(*m[i] - *sig[i]).margin(1e-12));
            }
        }
    }
}

TEST_CASE("indicators reproduce TA-Lib regression values on its 252-bar series", "[core][indicators][talib]") {
    const auto rows = load("talib-252-day.csv");
    const auto c = closes(rows);
    REQUIRE(rows.size() == 252);
    REQUIRE(c[0] == 91.5);
    REQUIRE(c[251] == 107.87);
    // TA-Lib prints 2 decimals (4 for NATR, BBANDS, MACD); its own checks allow 0.01.
    SECTION("SMA(30): first at bar 29") {
        const auto s = run(Sma(30), c);
        CHECK(first_value(s) == 29);
        CHECK(*s[29] == Approx(90.42).margin(0.01));
        CHECK(*s[30] == Approx(90.21).margin(0.01));
        CHECK(*s[31] == Approx(89.96).margin(0.01));
        CHECK(*s[58] == Approx(87.12).margin(0.01));
        CHECK(*s[250] == Approx(107.95).margin(0.01));
        CHECK(*s[251] == Approx(108.42).margin(0.01));
    }
    SECTION("EMA(10): first at bar 9") {
        const auto s = run(Ema(10), c);
        CHECK(first_value(s) == 9);
        CHECK(*s[9] == Approx(93.22).margin(0.01));
        CHECK(*s[10] == Approx(93.75).margin(0.01));
        CHECK(*s[29] == Approx(86.46).margin(0.01));
        CHECK(*s[251] == Approx(108.97).margin(0.01));
    }
    SECTION("RSI(14): first at bar 14") {
        const auto s = run(Rsi(14), c);
        CHECK(first_value(s) == 14);
        CHECK(*s[14] == Approx(49.14).margin(0.01));
        CHECK(*s[15] == Approx(52.32).margin(0.01));
        CHECK(*s[16] == Approx(46.07).margin(0.01));
        CHECK(*s[251] == Approx(49.63).margin(0.01));
    }
    SECTION("ATR(14) through NATR = 100 * ATR / close: first at bar 14") {
        Atr atr(14);
        Series s;
        for (const auto& r : rows) s.push_back(atr.update(r.high, r.low, r.close));
        CHECK(first_value(s) == 14);
        CHECK(100 * *s[14] / c[14] == Approx(3.9321).margin(0.0001));
        CHECK(100 * *s[15] / c[15] == Approx(3.7576).margin(0.0001));
        CHECK(100 * *s[251] / c[251] == Approx(3.0229).margin(0.0001));
    }
    SECTION("BBANDS(20, 2, 2, SMA): first at bar 19") {
        const auto s = run(Bollinger(20, 2), c);
        CHECK(first_value(s) == 19);
        CHECK(s[19]->top == Approx(98.0734).margin(0.0001));
        CHECK(s[19]->mid == Approx(92.8910).margin(0.0001));
        CHECK(s[19]->bottom == Approx(87.7086).margin(0.0001));
    }
    SECTION("MACD(12, 26, 9): TA-Lib seeds the fast EMA late; ours converges to it") {
        // The reference with TA-Lib's seeding (fast seed window = bars 14..25) reproduces
        // TA-Lib's first values, which validates the reference itself.
        const auto talib = ref_macd(c, 12, 26, 9, 26 - 12);
        CHECK(first_value(talib.signal) == 33);
        CHECK(*talib.macd[33] == Approx(-1.9738).margin(0.0001));
        CHECK(*talib.signal[33] == Approx(-2.7071).margin(0.0001));
        // Ours: the macd exists from bar 25, the signal from bar 33; both EMAs forget their
        // seeds geometrically, so by the last bar the two conventions agree closely.
        Macd macd;
        std::vector<std::optional<MacdValue>> s;
        for (double x : c) s.push_back(macd.update(x));
        CHECK_FALSE(s[24]);
        REQUIRE(s[25]);
        CHECK_FALSE(s[25]->signal);
        CHECK_FALSE(s[32]->signal);
        REQUIRE(s[33]->signal);
        // At bar 33 the seeds still show: ours (fast seed = mean of bars 0..11) is -2.1835,
        // TA-Lib's (fast seed = mean of bars 14..25) -1.9738; the gap shrinks by 11/13 a bar.
        CHECK(s[33]->macd == Approx(-2.1835).margin(0.0001));
        CHECK(std::abs(s[33]->macd - *talib.macd[33]) > 0.1);
        CHECK(s[251]->macd == Approx(*talib.macd[251]).margin(1e-6));
        CHECK(*s[251]->signal == Approx(*talib.signal[251]).margin(1e-6));
    }
}

TEST_CASE("constant prices give exact neutral values", "[core][indicators][edge]") {
    const std::vector<double> flat(60, 3604.33);
    for (const auto& v : run(Sma(20), flat))
        if (v) CHECK(*v == 3604.33);
    for (const auto& v : run(Ema(20), flat))
        if (v) CHECK(*v == 3604.33);
    for (const auto& v : run(Rsi(14), flat))
        if (v) CHECK(*v == 50.0);  // no gains, no losses: neutral (TA-Lib gives 0)
    for (const auto& v : run(Momentum(10), flat))
        if (v) CHECK(*v == 0.0);
    for (const auto& v : run(Roc(10), flat))
        if (v) CHECK(*v == 0.0);
    const auto vol = run(Volatility(20), flat);
    CHECK(first_value(vol) == 20);
    for (const auto& v : vol)
        if (v) CHECK(*v == 0.0);  // exactly 0, not sqrt of a tiny negative
    const auto bb = run(Bollinger(20, 2), flat);
    CHECK(first_value(bb) == 19);
    for (const auto& v : bb)
        if (v) {
            CHECK(v->mid == 3604.33);
            CHECK(v->top == 3604.33);
            CHECK(v->bottom == 3604.33);
        }
    Atr atr(14);
    for (int i = 0; i < 40; ++i)
        if (auto v = atr.update(101.25, 100.5, 100.75)) CHECK(*v == Approx(0.75).epsilon(1e-15));
    Macd macd;
    for (double x : flat)
        if (auto v = macd.update(x)) {
            CHECK(v->macd == 0.0);
            if (v->signal) CHECK(*v->histogram == 0.0);
        }
}

TEST_CASE("a flat stretch after moves collapses deviation-based indicators to exactly 0", "[core][indicators][edge]") {
    // Moves first, so the rolling state carries rounding history; then 25 equal closes.
    auto c = closes(load("2006-day-001.txt"));
    c.resize(100);
    c.insert(c.end(), 25, 3700.5);
    const auto bb = run(Bollinger(20, 2), c);
    CHECK(bb.back()->top == 3700.5);
    CHECK(bb.back()->bottom == 3700.5);
    CHECK(bb.back()->mid == 3700.5);
    CHECK(*run(Sma(20), c).back() == 3700.5);
    CHECK(*run(Volatility(20), c).back() == 0.0);  // the last 24 returns are 0
}

TEST_CASE("rolling deviation stays accurate at a high price level with small moves", "[core][indicators][edge]") {
    // Sum-of-squares would lose every digit here (x^2 ~ 1e12, variance ~ 1e-4).
    std::vector<double> c;
    for (int i = 0; i < 5000; ++i) c.push_back(1e6 + 0.01 * ((i * 7) % 11));
    CHECK(run(Bollinger(20, 2), c).back()->top == Approx(*ref_bollinger(c, 20, 2).top.back()).epsilon(1e-12));
    Bollinger bb(20, 1);
    std::optional<BollingerValue> last;
    for (double x : c) last = bb.update(x);
    const double want_sd = std::sqrt(var_of(c, c.size() - 20, 20, 20));
    CHECK((last->top - last->mid) == Approx(want_sd).epsilon(1e-6));
}

TEST_CASE("fewer bars than the period never give a value", "[core][indicators][edge]") {
    const auto c = closes(load("2006-day-001.txt"));
    const std::vector<double> few(c.begin(), c.begin() + 14);
    CHECK(first_value(run(Sma(15), few)) == few.size());
    CHECK(first_value(run(Ema(15), few)) == few.size());
    CHECK(first_value(run(Rsi(14), few)) == few.size());  // needs 15 closes
    CHECK(first_value(run(Momentum(14), few)) == few.size());
    CHECK(first_value(run(Roc(14), few)) == few.size());
    CHECK(first_value(run(Volatility(14), few)) == few.size());
    CHECK(first_value(run(Bollinger(15, 2), few)) == few.size());
    CHECK(first_value(run(Macd(), std::vector<double>(c.begin(), c.begin() + 25))) == 25);
    Atr atr(14);
    for (std::size_t i = 0; i < few.size(); ++i) CHECK_FALSE(atr.update(few[i] + 1, few[i] - 1, few[i]));
    // ... and with one more bar each of them starts.
    const std::vector<double> enough(c.begin(), c.begin() + 15);
    CHECK(first_value(run(Rsi(14), enough)) == 14);
    CHECK(first_value(run(Volatility(14), enough)) == 14);
    CHECK(first_value(run(Sma(15), enough)) == 14);
}

TEST_CASE("invalid inputs are rejected without touching the state", "[core][indicators][edge]") {
    const auto c = closes(load("2006-day-001.txt"));
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    CHECK_FALSE(valid_price(nan));
    CHECK_FALSE(valid_price(inf));
    CHECK_FALSE(valid_price(0.0));
    CHECK_FALSE(valid_price(-1.0));
    CHECK(valid_price(0.01));
    CHECK_FALSE(valid_hlc(99, 100, 99.5));  // low above high
    CHECK(valid_hlc(100, 99, 99.5));

    // Feeding bad values between the good ones changes no later value.
    auto with_noise = [&](auto ind, const std::vector<double>& bad) {
        Series out;
        for (std::size_t i = 0; i < 80; ++i) {
            for (double b : bad) CHECK_FALSE(ind.update(b));
            out.push_back(ind.update(c[i]));
        }
        return out;
    };
    const std::vector<double> prices_bad{nan, inf, -inf, 0.0, -3.0};
    const std::vector<double> any_bad{nan, inf, -inf};
    const std::vector<double> head(c.begin(), c.begin() + 80);
    check_same(with_noise(Rsi(14), prices_bad), run(Rsi(14), head), "rsi");
    check_same(with_noise(Momentum(10), prices_bad), run(Momentum(10), head), "momentum");
    check_same(with_noise(Roc(10), prices_bad), run(Roc(10), head), "roc");
    check_same(with_noise(Volatility(20), prices_bad), run(Volatility(20), head), "volatility");
    check_same(with_noise(Sma(20), any_bad), run(Sma(20), head), "sma");
    check_same(with_noise(Ema(20), any_bad), run(Ema(20), head), "ema");
    // Sma and Ema are general averages (Macd's signal averages a signed series).
    CHECK(*Sma(1).update(-2.5) == -2.5);
    CHECK(*Ema(1).update(-2.5) == -2.5);

    Bollinger bb(5, 2);
    for (double b : prices_bad) CHECK_FALSE(bb.update(b));
    Macd macd(2, 3, 2);
    for (double b : prices_bad) CHECK_FALSE(macd.update(b));

    Atr atr(3), clean(3);
    for (std::size_t i = 0; i < 10; ++i) {
        CHECK_FALSE(atr.update(c[i] - 1, c[i] + 1, c[i]));  // low > high
        CHECK_FALSE(atr.update(nan, c[i] - 1, c[i]));
        CHECK_FALSE(atr.update(c[i] + 1, c[i] - 1, 0.0));
        const auto a = atr.update(c[i] + 1, c[i] - 1, c[i]);
        const auto b = clean.update(c[i] + 1, c[i] - 1, c[i]);
        CHECK(a == b);
    }
}

TEST_CASE("invalid parameters make an inert indicator", "[core][indicators][edge]") {
    CHECK_FALSE(Sma(0).ok());
    CHECK_FALSE(Ema(0).ok());
    CHECK_FALSE(Rsi(0).ok());
    CHECK_FALSE(Atr(0).ok());
    CHECK_FALSE(Momentum(0).ok());
    CHECK_FALSE(Roc(0).ok());
    CHECK_FALSE(Volatility(1).ok());
    CHECK(Volatility(2).ok());
    CHECK_FALSE(Bollinger(20, -1).ok());
    CHECK_FALSE(Bollinger(20, std::numeric_limits<double>::quiet_NaN()).ok());
    CHECK_FALSE(Bollinger(0, 2).ok());
    CHECK(Bollinger(20, 0).ok());
    CHECK_FALSE(Macd(0, 26, 9).ok());
    CHECK_FALSE(Macd(12, 26, 0).ok());
    const std::vector<double> xs(50, 100.0);
    CHECK(first_value(run(Sma(0), xs)) == xs.size());
    CHECK(first_value(run(Ema(0), xs)) == xs.size());
    CHECK(first_value(run(Rsi(0), xs)) == xs.size());
    CHECK(first_value(run(Momentum(0), xs)) == xs.size());
    CHECK(first_value(run(Volatility(1), xs)) == xs.size());
    CHECK(first_value(run(Bollinger(5, -1), xs)) == xs.size());
    CHECK(first_value(run(Macd(12, 26, 0), xs)) == xs.size());
}
