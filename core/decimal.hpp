#pragma once
// Exact fixed-point decimal for quantities, cash and notionals.
//
// A Decimal is an integer count of 1e-9 units (nano-units) held in an int64, so it
// represents every value with at most 9 fractional digits exactly, up to about
// ±9.2 billion. Arithmetic that would overflow, and division by zero, return nullopt
// from the checked_* functions; the operators throw std::overflow_error /
// std::domain_error instead of ever producing a wrong value.
#include <cassert>
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

    friend inline Decimal operator+(Decimal a, Decimal b);
    friend inline Decimal operator-(Decimal a, Decimal b);
    friend Decimal operator-(Decimal a) { return Decimal{} - a; }
    // Product and quotient are rounded half away from zero to 9 fractional digits.
    friend inline Decimal operator*(Decimal a, Decimal b);
    friend inline Decimal operator/(Decimal a, Decimal b);
    Decimal& operator+=(Decimal o) { *this = *this + o; return *this; }
    Decimal& operator-=(Decimal o) { *this = *this - o; return *this; }

    static std::optional<Decimal> checked_add(Decimal a, Decimal b);
    static std::optional<Decimal> checked_mul(Decimal a, Decimal b);
    static std::optional<Decimal> checked_div(Decimal a, Decimal b);

private:
    std::int64_t raw_ = 0;
};

// The arithmetic is inline: valuing hundreds of positions every session is mostly this.
namespace detail {

__extension__ typedef __int128 DecimalWide;
__extension__ typedef unsigned __int128 DecimalUWide;

// num / den rounded half away from zero when the result fits an int64, else nullopt. On
// x86-64 one 128/64-bit hardware divide.
inline std::optional<std::int64_t> div_round_64(DecimalWide num, std::int64_t den) {
    if (den == 0) return std::nullopt;
    const bool neg = (num < 0) != (den < 0);
    const DecimalUWide an = num < 0 ? -static_cast<DecimalUWide>(num) : static_cast<DecimalUWide>(num);
    const std::uint64_t ad = den < 0 ? -static_cast<std::uint64_t>(den) : static_cast<std::uint64_t>(den);
    if (static_cast<std::uint64_t>(an >> 64) >= ad) return std::nullopt;  // the quotient needs more than 64 bits
    std::uint64_t q = 0, rem = 0;
#if defined(__x86_64__)
    __asm__("divq %4" : "=a"(q), "=d"(rem) : "a"(static_cast<std::uint64_t>(an)),
            "d"(static_cast<std::uint64_t>(an >> 64)), "rm"(ad));
#else
    q = static_cast<std::uint64_t>(an / ad);
    rem = static_cast<std::uint64_t>(an % ad);
#endif
    constexpr auto kMax = static_cast<std::uint64_t>(INT64_MAX);
    if (q > kMax + 1) return std::nullopt;  // (so that rounding up cannot wrap)
    if (rem >= ad - rem) ++q;  // rem * 2 >= ad, without overflow
    if (q > kMax + (neg ? 1 : 0)) return std::nullopt;
    return neg ? static_cast<std::int64_t>(-q) : static_cast<std::int64_t>(q);
}

[[noreturn]] void throw_arithmetic(const char* op, Decimal a, Decimal b);
[[noreturn]] void throw_rounding(Decimal a);

inline constexpr std::int64_t kPow10[] = {1,          10,          100,          1'000,         10'000,
                                          100'000,    1'000'000,   10'000'000,   100'000'000,   1'000'000'000};

}  // namespace detail

inline std::optional<Decimal> Decimal::from_double(double value, int digits) {
    assert(digits >= 0 && digits <= kScaleDigits);
    if (!(value - value == 0)) return std::nullopt;  // NaN or an infinity
    const double scaled = value * static_cast<double>(detail::kPow10[digits]);
    if (!(scaled <= 9.0e18 / static_cast<double>(detail::kPow10[kScaleDigits - digits])) ||
        !(scaled >= -9.0e18 / static_cast<double>(detail::kPow10[kScaleDigits - digits])))
        return std::nullopt;
    // Rounded half away from zero: the fraction left by truncating is exact in a double.
    auto units = static_cast<std::int64_t>(scaled);
    const double fraction = scaled - static_cast<double>(units);
    if (fraction >= 0.5) ++units;
    else if (fraction <= -0.5) --units;
    return from_raw(units * detail::kPow10[kScaleDigits - digits]);
}

inline Decimal Decimal::round_down(int digits) const {
    assert(digits >= 0 && digits <= kScaleDigits);
    const std::int64_t unit = detail::kPow10[kScaleDigits - digits];
    return from_raw(raw_ / unit * unit);
}

inline Decimal Decimal::round_half_away(int digits) const {
    assert(digits >= 0 && digits <= kScaleDigits);
    const std::int64_t unit = detail::kPow10[kScaleDigits - digits];
    std::int64_t q = raw_ / unit;  // toward zero
    const std::int64_t rest = raw_ % unit;
    const std::uint64_t abs_rest = rest < 0 ? -static_cast<std::uint64_t>(rest) : static_cast<std::uint64_t>(rest);
    if (abs_rest >= static_cast<std::uint64_t>(unit) - abs_rest) q += raw_ < 0 ? -1 : 1;  // rest * 2 >= unit
    std::int64_t out = 0;
    if (__builtin_mul_overflow(q, unit, &out)) detail::throw_rounding(*this);
    return from_raw(out);
}

inline std::optional<Decimal> Decimal::checked_add(Decimal a, Decimal b) {
    std::int64_t r = 0;
    if (__builtin_add_overflow(a.raw_, b.raw_, &r)) return std::nullopt;
    return from_raw(r);
}

inline std::optional<Decimal> Decimal::checked_mul(Decimal a, Decimal b) {
    const auto n = detail::div_round_64(static_cast<detail::DecimalWide>(a.raw_) * b.raw_, kScale);
    if (!n) return std::nullopt;
    return from_raw(*n);
}

inline std::optional<Decimal> Decimal::checked_div(Decimal a, Decimal b) {
    const auto n = detail::div_round_64(static_cast<detail::DecimalWide>(a.raw_) * kScale, b.raw_);
    if (!n) return std::nullopt;
    return from_raw(*n);
}

// The operators throw rather than return a wrong number: a caller that cannot size an
// order exactly must not size it at all (the scheduler turns this into a failed job).
inline Decimal operator+(Decimal a, Decimal b) {
    std::int64_t r = 0;
    if (__builtin_add_overflow(a.raw(), b.raw(), &r)) detail::throw_arithmetic("+", a, b);
    return Decimal::from_raw(r);
}

inline Decimal operator-(Decimal a, Decimal b) {
    std::int64_t r = 0;
    if (__builtin_sub_overflow(a.raw(), b.raw(), &r)) detail::throw_arithmetic("-", a, b);
    return Decimal::from_raw(r);
}

inline Decimal operator*(Decimal a, Decimal b) {
    const auto r = Decimal::checked_mul(a, b);
    if (!r) detail::throw_arithmetic("*", a, b);
    return *r;
}

inline Decimal operator/(Decimal a, Decimal b) {
    const auto r = Decimal::checked_div(a, b);
    if (!r) detail::throw_arithmetic("/", a, b);
    return *r;
}

std::string format_money(Decimal amount);  // "$1,234.56" (rounded to cents)

}  // namespace ballast::core
