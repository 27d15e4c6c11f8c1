#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/sorted.hpp"

using namespace ballast::core;

namespace {
Decimal d(int v) { return Decimal::from_int(v); }
}  // namespace

// Over a node-based map, a SymbolMap (a sorted vector underneath) and a plain vector of
// (symbol, value) pairs sorted by symbol, as the sim market keeps its series.
TEMPLATE_TEST_CASE("Walk answers like find, whatever the order of the keys asked", "[core][sorted]",
                   (std::map<Symbol, int>), SymbolMap<int>, (std::vector<std::pair<Symbol, int>>)) {
    std::map<Symbol, int> m;
    for (int i = 0; i < 200; i += 2) m["S" + std::to_string(1000 + i)] = i;  // even ones only
    std::vector<Symbol> asked;
    for (int i = -3; i < 205; ++i) asked.push_back("S" + std::to_string(1000 + i));
    asked.push_back("");
    asked.push_back("T");
    // Ascending (the fast case), descending, repeated and shuffled.
    std::vector<std::vector<Symbol>> orders{asked, asked, asked, asked};
    std::reverse(orders[1].begin(), orders[1].end());
    for (const auto& s : asked) orders[2].push_back(s);  // each key twice, the second pass from the start
    std::mt19937 rng(7);
    std::shuffle(orders[3].begin(), orders[3].end(), rng);
    const TestType walked(m.begin(), m.end());
    for (const auto& keys : orders) {
        Walk walk(walked);
        for (const auto& k : keys) {
            INFO(k);
            const int* found = walk.find(k);
            const auto it = m.find(k);
            REQUIRE((found != nullptr) == (it != m.end()));
            if (found) CHECK(*found == it->second);
        }
    }
    // The same key asked twice in a row is found both times.
    Walk walk(walked);
    CHECK(walk.find("S1010") != nullptr);
    CHECK(walk.find("S1010") != nullptr);
    const TestType empty;
    CHECK(Walk(empty).find("A") == nullptr);
}

TEST_CASE("holdings adds up positions by symbol, sorted or not", "[core][sorted]") {
    AccountState sorted;
    sorted.positions = {{"AAA", d(1)}, {"BBB", d(2)}, {"CCC", d(3)}};
    CHECK(holdings(sorted) == SymbolMap<Decimal>{{"AAA", d(1)}, {"BBB", d(2)}, {"CCC", d(3)}});
    AccountState messy;
    messy.positions = {{"CCC", d(3)}, {"AAA", d(1)}, {"CCC", d(4)}, {"BBB", d(2)}, {"AAA", d(-1)}};
    CHECK(holdings(messy) == SymbolMap<Decimal>{{"AAA", d(0)}, {"BBB", d(2)}, {"CCC", d(7)}});
    AccountState repeated;  // sorted, a symbol listed twice in a row
    repeated.positions = {{"AAA", d(1)}, {"AAA", d(2)}, {"BBB", d(3)}};
    CHECK(holdings(repeated) == SymbolMap<Decimal>{{"AAA", d(3)}, {"BBB", d(3)}});
    CHECK(holdings(AccountState{}).empty());
}

TEST_CASE("union_of_keys keeps each kept key once, ascending", "[core][sorted]") {
    const std::map<Symbol, Decimal> a{{"A", d(1)}, {"B", d(0)}, {"D", d(2)}, {"F", d(0)}};
    const std::map<Symbol, Decimal> b{{"B", d(5)}, {"C", d(0)}, {"D", d(0)}, {"E", d(1)}, {"G", d(3)}};
    const auto positive = [](Decimal x) { return x.is_positive(); };
    const auto any = [](Decimal) { return true; };
    const auto names = [](const std::vector<const Symbol*>& v) {
        std::string out;
        for (const auto* s : v) out += *s;
        return out;
    };
    CHECK(names(union_of_keys(a, positive, b, positive)) == "ABDEG");  // B kept by b, D by a
    CHECK(names(union_of_keys(a, any, b, positive)) == "ABDEFG");
    CHECK(names(union_of_keys(a, positive, b, any)) == "ABCDEG");
    CHECK(names(union_of_keys(a, any, std::map<Symbol, Decimal>{}, any)) == "ABDF");
    CHECK(union_of_keys(std::map<Symbol, Decimal>{}, any, std::map<Symbol, Decimal>{}, any).empty());
}

TEST_CASE("same_symbol and symbol_less answer as == and < on the strings", "[core][sorted]") {
    // Every length from 0 to 20 (short ones compared as two words, past 15 by memcmp), the
    // characters including NUL and 0xFF, pairs that differ in one place (each place), one
    // the other's beginning, and short strings held in a heap buffer whose bytes past the
    // end are left over from a longer value.
    std::mt19937 rng(7);
    const std::string alphabet("AB\0\xff", 4);
    const auto random_symbol = [&](std::size_t n) {
        std::string s;
        for (std::size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
        return s;
    };
    std::vector<std::string> symbols;
    for (std::size_t n = 0; n <= 20; ++n) {
        for (int k = 0; k < 6; ++k) symbols.push_back(random_symbol(n));
        const std::string base = random_symbol(n);
        symbols.push_back(base);
        for (std::size_t i = 0; i < n; ++i) {
            std::string changed = base;
            changed[i] = changed[i] == 'A' ? 'B' : 'A';
            symbols.push_back(changed);
        }
        // Shortened in place (in the vector: a copy would be a fresh string): the heap
        // buffer keeps a longer value's bytes past the end.
        symbols.emplace_back(40, 'Z');
        symbols.back().assign(base);
        REQUIRE(symbols.back().capacity() >= 40);
    }
    symbols.shrink_to_fit();  // (moves the strings: each keeps its buffer)
    int compared = 0;
    for (const auto& a : symbols)
        for (const auto& b : symbols) {
            INFO("'" << a << "' (" << a.size() << ") vs '" << b << "' (" << b.size() << ")");
            REQUIRE(same_symbol(a, b) == (a == b));
            REQUIRE(symbol_less(a, b) == (a < b));
            ++compared;
        }
    CHECK(compared > 40'000);
}

TEST_CASE("format_fixed writes what printf's %.*f writes", "[core][format]") {
    const auto printf_fixed = [](double v, int digits) {
        std::string out(static_cast<std::size_t>(std::snprintf(nullptr, 0, "%.*f", digits, v)), '\0');
        std::snprintf(out.data(), out.size() + 1, "%.*f", digits, v);
        return out;
    };
    // Ties in binary (0.125, 2.675 is not one), signs, zero and negative zero, tiny and
    // huge values (past the fast path's buffer), NaN and the infinities, then random ones.
    std::vector<double> values{0.0,    -0.0,   0.125,  0.375,  2.675,  1.005,   -1.005, 0.005, 0.015, 99.995,
                               1e-300, 1e22,   1e23,   -1e60,  1e300,  1.7976931348623157e308,
                               std::numeric_limits<double>::denorm_min(), std::nan(""),
                               std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> small(-200.0, 200.0);
    std::uniform_int_distribution<int> exponent(-30, 30);
    for (int i = 0; i < 20'000; ++i) values.push_back(small(rng));
    for (int i = 0; i < 5'000; ++i) values.push_back(small(rng) * std::pow(10.0, exponent(rng)));
    for (int cents = 0; cents < 10'000; ++cents) values.push_back(cents / 1000.0);  // x.xx5 ties and near-ties
    for (const double v : values)
        for (const int digits : {0, 2, 6}) {
            INFO(printf_fixed(v, 17) << " with " << digits << " digits");
            REQUIRE(format_fixed(v, digits) == printf_fixed(v, digits));
        }
}
