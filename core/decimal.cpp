#include "core/decimal.hpp"

#include <cassert>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace ballast::core {
namespace {

__extension__ typedef __int128 i128;  // g++ extension: exact 128-bit intermediates

std::optional<std::int64_t> narrow(i128 v) {
    if (v > std::numeric_limits<std::int64_t>::max() || v < std::numeric_limits<std::int64_t>::min())
        return std::nullopt;
    return static_cast<std::int64_t>(v);
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
    i128 raw = whole * kScale + frac * detail::kPow10[kScaleDigits - used];
    if (round_up) ++raw;
    if (neg) raw = -raw;
    auto n = narrow(raw);
    if (!n) return std::nullopt;
    return from_raw(*n);
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
        std::uint64_t frac = a % static_cast<std::uint64_t>(kScale) / static_cast<std::uint64_t>(detail::kPow10[kScaleDigits - digits]);
        for (int i = 0; i < digits; ++i, frac /= 10) *--p = static_cast<char>('0' + frac % 10);
        *--p = '.';
    }
    p = write_digits(p, a / static_cast<std::uint64_t>(kScale));
    if (r.raw_ < 0) *--p = '-';
    return std::string(p, end);
}

void detail::throw_rounding(Decimal a) { throw std::overflow_error("Decimal overflow rounding " + a.to_string()); }

void detail::throw_arithmetic(const char* op, Decimal a, Decimal b) {
    const std::string what = a.to_string() + " " + op + " " + b.to_string();
    if (op[0] == '/') throw std::domain_error("Decimal division by zero or overflow: " + what);
    throw std::overflow_error("Decimal overflow: " + what);
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
