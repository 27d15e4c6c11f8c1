#include "core/decimal.hpp"

#include <cassert>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace ballast::core {
namespace {

__extension__ typedef __int128 i128;  // g++ extension: exact 128-bit intermediates

constexpr std::int64_t pow10(int n) {
    std::int64_t p = 1;
    for (int i = 0; i < n; ++i) p *= 10;
    return p;
}

std::optional<std::int64_t> narrow(i128 v) {
    if (v > std::numeric_limits<std::int64_t>::max() || v < std::numeric_limits<std::int64_t>::min())
        return std::nullopt;
    return static_cast<std::int64_t>(v);
}

__extension__ typedef unsigned __int128 u128;

// num / den for a 64-bit quotient (the caller checks num < den * 2^64): one hardware
// divide on x86-64 instead of libgcc's 128-bit division.
inline std::uint64_t div_128_by_64(u128 num, std::uint64_t den, std::uint64_t& rem) {
#if defined(__x86_64__)
    std::uint64_t q;
    __asm__("divq %4" : "=a"(q), "=d"(rem) : "a"(static_cast<std::uint64_t>(num)),
            "d"(static_cast<std::uint64_t>(num >> 64)), "rm"(den));
    return q;
#else
    rem = static_cast<std::uint64_t>(num % den);
    return static_cast<std::uint64_t>(num / den);
#endif
}

// num / den rounded half away from zero, when the result fits an int64; else nullopt.
std::optional<std::int64_t> div_round_64(i128 num, std::int64_t den) {
    if (den == 0) return std::nullopt;
    const bool neg = (num < 0) != (den < 0);
    const u128 an = num < 0 ? -static_cast<u128>(num) : static_cast<u128>(num);
    const std::uint64_t ad = den < 0 ? -static_cast<std::uint64_t>(den) : static_cast<std::uint64_t>(den);
    if (static_cast<std::uint64_t>(an >> 64) >= ad) return std::nullopt;  // the quotient needs more than 64 bits
    std::uint64_t rem = 0;
    std::uint64_t q = div_128_by_64(an, ad, rem);
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (q > kMax + 1) return std::nullopt;  // (so that rounding up cannot wrap)
    if (rem >= ad - rem) ++q;  // rem * 2 >= ad, without overflow
    if (q > kMax + (neg ? 1 : 0)) return std::nullopt;
    return neg ? static_cast<std::int64_t>(-q) : static_cast<std::int64_t>(q);
}

}  // namespace

std::optional<Decimal> Decimal::parse(std::string_view text, bool round_excess) {
    if (text.empty()) return std::nullopt;
    std::size_t i = 0;
    bool neg = false;
    if (text[0] == '-' || text[0] == '+') {
        neg = text[0] == '-';
        i = 1;
    }
    i128 whole = 0;
    int whole_digits = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        whole = whole * 10 + (text[i] - '0');
        if (whole > std::numeric_limits<std::int64_t>::max()) return std::nullopt;
        ++whole_digits;
    }
    i128 frac = 0;
    int frac_digits = 0;
    bool round_up = false;
    if (i < text.size() && text[i] == '.') {
        ++i;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
            if (frac_digits < kScaleDigits) {
                frac = frac * 10 + (text[i] - '0');
                ++frac_digits;
            } else {
                if (!round_excess && text[i] != '0') return std::nullopt;
                if (frac_digits == kScaleDigits && round_excess) round_up = text[i] >= '5';
                ++frac_digits;
            }
        }
        if (frac_digits == 0 && whole_digits == 0) return std::nullopt;
    }
    if (i != text.size() || (whole_digits == 0 && frac_digits == 0)) return std::nullopt;
    const int used = frac_digits < kScaleDigits ? frac_digits : kScaleDigits;
    i128 raw = whole * kScale + frac * pow10(kScaleDigits - used);
    if (round_up) ++raw;
    if (neg) raw = -raw;
    auto n = narrow(raw);
    if (!n) return std::nullopt;
    return from_raw(*n);
}

std::optional<Decimal> Decimal::from_double(double value, int digits) {
    assert(digits >= 0 && digits <= kScaleDigits);
    if (!std::isfinite(value)) return std::nullopt;
    const double scaled = value * static_cast<double>(pow10(digits));
    if (std::fabs(scaled) > 9.0e18 / static_cast<double>(pow10(kScaleDigits - digits))) return std::nullopt;
    const double rounded = std::round(scaled);  // half away from zero
    const auto units = static_cast<std::int64_t>(rounded);
    return from_raw(units * pow10(kScaleDigits - digits));
}

namespace {

// Writes `v`'s decimal digits backwards, ending at `p`; returns the first one written.
char* write_digits(char* p, std::uint64_t v) {
    do {
        *--p = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return p;
}

// The magnitude of an int64 (INT64_MIN included).
std::uint64_t magnitude(std::int64_t v) { return v < 0 ? -static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v); }

}  // namespace

std::string Decimal::to_string() const {
    const std::uint64_t a = magnitude(raw_);
    char buf[32];
    char* const end = buf + sizeof buf;
    char* p = end;
    std::uint64_t frac = a % static_cast<std::uint64_t>(kScale);
    if (frac != 0) {
        int digits = kScaleDigits;
        for (; frac % 10 == 0; --digits) frac /= 10;  // no trailing zeros
        for (int i = 0; i < digits; ++i, frac /= 10) *--p = static_cast<char>('0' + frac % 10);
        *--p = '.';
    }
    p = write_digits(p, a / static_cast<std::uint64_t>(kScale));
    if (raw_ < 0) *--p = '-';
    return std::string(p, end);
}

std::string Decimal::to_string_fixed(int digits) const {
    assert(digits >= 0 && digits <= kScaleDigits);
    const Decimal r = round_half_away(digits);
    const std::uint64_t a = magnitude(r.raw_);
    char buf[32];
    char* const end = buf + sizeof buf;
    char* p = end;
    if (digits > 0) {
        std::uint64_t frac = a % static_cast<std::uint64_t>(kScale) / static_cast<std::uint64_t>(pow10(kScaleDigits - digits));
        for (int i = 0; i < digits; ++i, frac /= 10) *--p = static_cast<char>('0' + frac % 10);
        *--p = '.';
    }
    p = write_digits(p, a / static_cast<std::uint64_t>(kScale));
    if (r.raw_ < 0) *--p = '-';
    return std::string(p, end);
}

Decimal Decimal::round_down(int digits) const {
    assert(digits >= 0 && digits <= kScaleDigits);
    const std::int64_t unit = pow10(kScaleDigits - digits);
    return from_raw(raw_ / unit * unit);
}

Decimal Decimal::round_half_away(int digits) const {
    assert(digits >= 0 && digits <= kScaleDigits);
    const std::int64_t unit = pow10(kScaleDigits - digits);
    std::int64_t q = raw_ / unit;  // toward zero
    const std::uint64_t rest = magnitude(raw_ % unit);
    if (rest >= static_cast<std::uint64_t>(unit) - rest) q += raw_ < 0 ? -1 : 1;  // rest * 2 >= unit
    std::int64_t out = 0;
    if (__builtin_mul_overflow(q, unit, &out)) throw std::overflow_error("Decimal overflow rounding " + to_string());
    return from_raw(out);
}

std::optional<Decimal> Decimal::checked_add(Decimal a, Decimal b) {
    auto n = narrow(static_cast<i128>(a.raw_) + b.raw_);
    if (!n) return std::nullopt;
    return from_raw(*n);
}

std::optional<Decimal> Decimal::checked_mul(Decimal a, Decimal b) {
    auto n = div_round_64(static_cast<i128>(a.raw_) * b.raw_, kScale);
    if (!n) return std::nullopt;
    return from_raw(*n);
}

std::optional<Decimal> Decimal::checked_div(Decimal a, Decimal b) {
    auto n = div_round_64(static_cast<i128>(a.raw_) * kScale, b.raw_);
    if (!n) return std::nullopt;
    return from_raw(*n);
}

// The operators throw rather than return a wrong number: a caller that cannot size an
// order exactly must not size it at all (the scheduler turns this into a failed job).
Decimal operator+(Decimal a, Decimal b) {
    auto r = Decimal::checked_add(a, b);
    if (!r) throw std::overflow_error("Decimal overflow: " + a.to_string() + " + " + b.to_string());
    return *r;
}

Decimal operator-(Decimal a, Decimal b) {
    auto n = narrow(static_cast<i128>(a.raw()) - b.raw());
    if (!n) throw std::overflow_error("Decimal overflow: " + a.to_string() + " - " + b.to_string());
    return Decimal::from_raw(*n);
}

Decimal operator*(Decimal a, Decimal b) {
    auto r = Decimal::checked_mul(a, b);
    if (!r) throw std::overflow_error("Decimal overflow: " + a.to_string() + " * " + b.to_string());
    return *r;
}

Decimal operator/(Decimal a, Decimal b) {
    auto r = Decimal::checked_div(a, b);
    if (!r) throw std::domain_error("Decimal division by zero or overflow: " + a.to_string() + " / " + b.to_string());
    return *r;
}

std::string format_money(Decimal amount) {
    std::string digits = amount.abs().to_string_fixed(2);
    const auto dot = digits.find('.');
    std::string whole = digits.substr(0, dot);
    std::string grouped;
    for (std::size_t i = 0; i < whole.size(); ++i) {
        if (i > 0 && (whole.size() - i) % 3 == 0) grouped += ',';
        grouped += whole[i];
    }
    return (amount.is_negative() ? "-$" : "$") + grouped + digits.substr(dot);
}

}  // namespace ballast::core
