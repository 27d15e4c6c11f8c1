#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/decimal.hpp"

using ballast::core::Decimal;

TEST_CASE("Decimal parses and prints exactly", "[core][decimal]") {
    CHECK(Decimal::parse("0.1").value() + Decimal::parse("0.2").value() == Decimal::parse("0.3").value());
    CHECK((Decimal::parse("0.1").value() + Decimal::parse("0.2").value()).to_string() == "0.3");
    CHECK(Decimal::parse("0.00001").value().to_string() == "0.00001");
    CHECK(Decimal::parse("-12.50").value().to_string() == "-12.5");
    CHECK(Decimal::parse("+7").value().to_string() == "7");
    CHECK(Decimal::parse(".5").value().to_string() == "0.5");
    CHECK(Decimal::parse("100").value().to_string() == "100");
    CHECK(Decimal::parse("0.000000001").value().raw() == 1);
}

TEST_CASE("Decimal rejects malformed text", "[core][decimal]") {
    for (const char* bad : {"", "-", ".", "1e5", "1.2.3", "abc", "1,000", " 1", "1 ", "0.0000000001",
                            "99999999999999999999"})
        CHECK_FALSE(Decimal::parse(bad).has_value());
    CHECK(Decimal::parse("0.0000000015", true).value().raw() == 2);
    CHECK(Decimal::parse("1.0000000000").value() == Decimal::from_int(1));
}

TEST_CASE("Decimal arithmetic and rounding", "[core][decimal]") {
    const auto d = [](const char* s) { return Decimal::parse(s).value(); };
    CHECK((d("3") * d("0.1")).to_string() == "0.3");
    CHECK((d("10") / d("3")).to_string() == "3.333333333");
    CHECK((d("2") / d("3")).to_string() == "0.666666667");
    CHECK(d("1.235").round_half_away(2).to_string() == "1.24");
    CHECK(d("-1.235").round_half_away(2).to_string() == "-1.24");
    CHECK(d("1.239").round_down(2).to_string() == "1.23");
    CHECK(d("-1.239").round_down(2).to_string() == "-1.23");
    CHECK(d("5").to_string_fixed(2) == "5.00");
    CHECK(d("0.005").to_string_fixed(2) == "0.01");
    CHECK_FALSE(Decimal::checked_div(d("1"), Decimal{}).has_value());
    CHECK_FALSE(Decimal::checked_mul(d("9000000000"), d("9000000000")).has_value());
    CHECK(Decimal::from_double(55.42499923706055, 4).value().to_string() == "55.425");
    CHECK(Decimal::from_double(0.1 + 0.2, 9).value().to_string() == "0.3");
    CHECK_FALSE(Decimal::from_double(std::nan(""), 2).has_value());
    CHECK(ballast::core::format_money(d("1234567.891")) == "$1,234,567.89");
    CHECK(ballast::core::format_money(d("-5")) == "-$5.00");
}

TEST_CASE("Decimal operators throw instead of returning a wrong value", "[core][decimal]") {
    const auto big = Decimal::parse("9000000000").value();
    CHECK_THROWS_AS(big * big, std::overflow_error);
    CHECK_THROWS_AS(big + big, std::overflow_error);
    CHECK_THROWS_AS(-big - big, std::overflow_error);
    CHECK_THROWS_AS(Decimal::from_int(1) / Decimal{}, std::domain_error);
    CHECK_THROWS_AS(-Decimal::from_raw(std::numeric_limits<std::int64_t>::min()), std::overflow_error);
    CHECK((big - big).is_zero());
}

namespace {

// The straightforward 128-bit definitions the fast paths must agree with.
__extension__ typedef __int128 ref_i128;

std::optional<std::int64_t> ref_div_round(ref_i128 num, ref_i128 den) {
    if (den == 0) return std::nullopt;
    const bool neg = (num < 0) != (den < 0);
    const ref_i128 an = num < 0 ? -num : num, ad = den < 0 ? -den : den;
    ref_i128 q = an / ad;
    if ((an % ad) * 2 >= ad) ++q;
    if (neg) q = -q;
    if (q > std::numeric_limits<std::int64_t>::max() || q < std::numeric_limits<std::int64_t>::min()) return std::nullopt;
    return static_cast<std::int64_t>(q);
}

std::string ref_to_string(std::int64_t raw) {
    const ref_i128 v = raw, a = v < 0 ? -v : v;
    std::string out = (v < 0 ? "-" : "") + std::to_string(static_cast<unsigned long long>(a / Decimal::kScale));
    std::string f = std::to_string(static_cast<long long>(a % Decimal::kScale));
    f.insert(0, static_cast<std::size_t>(Decimal::kScaleDigits) - f.size(), '0');
    while (!f.empty() && f.back() == '0') f.pop_back();
    return f.empty() ? out : out + "." + f;
}

}  // namespace

TEST_CASE("Decimal fast arithmetic agrees with 128-bit arithmetic everywhere", "[core][decimal]") {
    constexpr auto kMin = std::numeric_limits<std::int64_t>::min(), kMax = std::numeric_limits<std::int64_t>::max();
    std::vector<std::int64_t> values = {0, 1, -1, 2, -2, 5, -5, 499'999'999, 500'000'000, -500'000'000,
                                        Decimal::kScale, -Decimal::kScale, 3'037'000'499, 3'037'000'500, kMax, kMin,
                                        kMax - 1, kMin + 1, kMax / 2, kMin / 2};
    std::uint64_t x = 0x9E3779B97F4A7C15ull;  // xorshift: prices, quantities and cash of every size
    for (int i = 0; i < 4000; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const int bits = static_cast<int>(x % 63) + 1;
        auto v = static_cast<std::int64_t>(x >> (64 - bits));
        values.push_back((x & 1) ? -v : v);
    }
    for (std::size_t i = 0; i < values.size(); ++i) {
        const auto a = Decimal::from_raw(values[i]);
        const auto b = Decimal::from_raw(values[(i * 7 + 3) % values.size()]);
        INFO(a.raw() << " and " << b.raw());
        const auto mul = Decimal::checked_mul(a, b);
        const auto ref_mul = ref_div_round(static_cast<ref_i128>(a.raw()) * b.raw(), Decimal::kScale);
        REQUIRE(mul.has_value() == ref_mul.has_value());
        if (mul) CHECK(mul->raw() == *ref_mul);
        const auto div = Decimal::checked_div(a, b);
        const auto ref_div = ref_div_round(static_cast<ref_i128>(a.raw()) * Decimal::kScale, b.raw());
        REQUIRE(div.has_value() == ref_div.has_value());
        if (div) CHECK(div->raw() == *ref_div);
        CHECK(a.to_string() == ref_to_string(a.raw()));
        CHECK(Decimal::parse(a.to_string()).value() == a);
        for (int digits : {0, 2, 4, 9}) {
            const std::int64_t unit = static_cast<std::int64_t>(std::pow(10, 9 - digits) + 0.5);
            const auto ref = ref_div_round(a.raw(), unit);
            const bool fits = ref && static_cast<ref_i128>(*ref) * unit <= kMax && static_cast<ref_i128>(*ref) * unit >= kMin;
            if (!fits) {
                CHECK_THROWS_AS(a.round_half_away(digits), std::overflow_error);
                continue;
            }
            CHECK(a.round_half_away(digits).raw() == *ref * unit);
            const auto fixed = a.to_string_fixed(digits);
            CHECK(Decimal::parse(fixed).value() == a.round_half_away(digits));
            const auto dot = fixed.find('.');
            CHECK((digits == 0 ? dot == std::string::npos : fixed.size() - dot - 1 == static_cast<std::size_t>(digits)));
        }
    }
    CHECK(Decimal::from_raw(kMin).to_string() == "-9223372036.854775808");
    CHECK(Decimal::from_raw(-4).to_string_fixed(9) == "-0.000000004");
    CHECK(Decimal::from_raw(-4).to_string_fixed(2) == "0.00");
}

TEST_CASE("Decimal::from_double rounds half away from zero like std::round, at every precision", "[core][decimal]") {
    std::uint64_t x = 0x2545F4914F6CDD1Dull;
    std::vector<double> values = {0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 0.49999999999999994, 55.42499923706055,
                                  123.45675, 1e-12, -1e-12, 9.2e9, -9.2e9, 4503599627370495.5};
    for (int i = 0; i < 20000; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const double unit = static_cast<double>(x >> 11) / 9007199254740992.0;  // [0, 1)
        const double scale = std::pow(10.0, static_cast<int>(x % 16) - 6);
        values.push_back(((x >> 3) & 1 ? -1 : 1) * unit * scale);
        values.push_back(std::round(unit * 1e6) / 1e4 + 0.00005);  // exact ties at 4 digits
    }
    for (const double v : values) {
        for (int digits = 0; digits <= Decimal::kScaleDigits; ++digits) {
            INFO(v << " to " << digits << " digits");
            const double scaled = v * std::pow(10.0, digits);
            const auto got = Decimal::from_double(v, digits);
            const double limit = 9.0e18 / std::pow(10.0, Decimal::kScaleDigits - digits);
            if (std::fabs(scaled) > limit) {
                CHECK_FALSE(got.has_value());
                continue;
            }
            REQUIRE(got.has_value());
            const auto units = static_cast<std::int64_t>(std::round(scaled));
            CHECK(got->raw() == units * static_cast<std::int64_t>(std::pow(10.0, Decimal::kScaleDigits - digits) + 0.5));
        }
    }
    CHECK_FALSE(Decimal::from_double(std::numeric_limits<double>::infinity(), 2).has_value());
    CHECK_FALSE(Decimal::from_double(-std::numeric_limits<double>::infinity(), 2).has_value());
    CHECK_FALSE(Decimal::from_double(1e300, 0).has_value());
}
