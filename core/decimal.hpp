#pragma once
// Exact fixed-point decimal for quantities, cash and notionals.
//
// A Decimal is an integer count of 1e-9 units (nano-units) held in an int64, so it
// represents every value with at most 9 fractional digits exactly, up to about
// ±9.2 billion. Arithmetic that would overflow, and division by zero, return nullopt
// from the checked_* functions; the operators throw std::overflow_error /
// std::domain_error instead of ever producing a wrong value.
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ballast::core {

class Decimal {
public:
    static constexpr int kScaleDigits = 9;
    static constexpr std::int64_t kScale = 1'000'000'000;

    constexpr Decimal() = default;
    // Whole units (e.g. Decimal::from_int(100) is 100).
    static constexpr Decimal from_int(std::int64_t units) { return from_raw(units * kScale); }
    // Raw nano-units.
    static constexpr Decimal from_raw(std::int64_t nanos) { Decimal d; d.raw_ = nanos; return d; }

    // Parses "123", "-0.5", "+1.25", "1e3" is rejected. At most 9 fractional digits
    // unless `round_excess` is true (then rounds half away from zero). Returns nullopt
    // on anything else (empty, stray characters, overflow).
    static std::optional<Decimal> parse(std::string_view text, bool round_excess = false);
    // Converts a double, rounded half away from zero to `digits` fractional digits
    // (0..9). nullopt for NaN, infinities and values out of range.
    static std::optional<Decimal> from_double(double value, int digits);

    constexpr std::int64_t raw() const { return raw_; }
    double to_double() const { return static_cast<double>(raw_) / static_cast<double>(kScale); }
    // Shortest exact text: "12.5", "100", "-0.000001". Never exponent form.
    std::string to_string() const;
    // Fixed number of fractional digits (rounded half away from zero): "12.50".
    std::string to_string_fixed(int digits) const;

    constexpr bool is_zero() const { return raw_ == 0; }
    constexpr bool is_negative() const { return raw_ < 0; }
    constexpr bool is_positive() const { return raw_ > 0; }
    Decimal abs() const { return raw_ < 0 ? -*this : *this; }

    // Rounding to `digits` fractional digits (0..9).
    Decimal round_down(int digits) const;     // toward zero
    Decimal round_half_away(int digits) const;

    friend constexpr auto operator<=>(Decimal, Decimal) = default;
    friend constexpr bool operator==(Decimal, Decimal) = default;

    friend Decimal operator+(Decimal a, Decimal b);
    friend Decimal operator-(Decimal a, Decimal b);
    friend Decimal operator-(Decimal a) { return Decimal{} - a; }
    // Product and quotient are rounded half away from zero to 9 fractional digits.
    friend Decimal operator*(Decimal a, Decimal b);
    friend Decimal operator/(Decimal a, Decimal b);
    Decimal& operator+=(Decimal o) { *this = *this + o; return *this; }
    Decimal& operator-=(Decimal o) { *this = *this - o; return *this; }

    static std::optional<Decimal> checked_add(Decimal a, Decimal b);
    static std::optional<Decimal> checked_mul(Decimal a, Decimal b);
    static std::optional<Decimal> checked_div(Decimal a, Decimal b);

private:
    std::int64_t raw_ = 0;
};

std::string format_money(Decimal amount);  // "$1,234.56" (rounded to cents)

}  // namespace ballast::core
