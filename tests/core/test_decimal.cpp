#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>

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
