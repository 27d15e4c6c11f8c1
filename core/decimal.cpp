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

// Divides rounding half away from zero.
i128 div_round(i128 num, i128 den) {
    const bool neg = (num < 0) != (den < 0);
    const i128 an = num < 0 ? -num : num;
    const i128 ad = den < 0 ? -den : den;
    i128 q = an / ad;
    if ((an % ad) * 2 >= ad) ++q;
    return neg ? -q : q;
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

std::string Decimal::to_string() const {
    const i128 v = raw_;
    const i128 a = v < 0 ? -v : v;
    const auto whole = static_cast<unsigned long long>(a / kScale);
    auto frac = static_cast<long long>(a % kScale);
    std::string out = v < 0 ? "-" : "";
    out += std::to_string(whole);
    if (frac != 0) {
        std::string f = std::to_string(frac);
        f.insert(0, static_cast<std::size_t>(kScaleDigits) - f.size(), '0');
        while (!f.empty() && f.back() == '0') f.pop_back();
        out += '.';
        out += f;
    }
    return out;
}

std::string Decimal::to_string_fixed(int digits) const {
    assert(digits >= 0 && digits <= kScaleDigits);
    const Decimal r = round_half_away(digits);
    const i128 v = r.raw_;
    const i128 a = v < 0 ? -v : v;
    std::string out = v < 0 ? "-" : "";
    out += std::to_string(static_cast<unsigned long long>(a / kScale));
    if (digits > 0) {
        std::string f = std::to_string(static_cast<long long>(a % kScale));
        f.insert(0, static_cast<std::size_t>(kScaleDigits) - f.size(), '0');
        out += '.';
        out += f.substr(0, static_cast<std::size_t>(digits));
    }
    return out;
}

Decimal Decimal::round_down(int digits) const {
    assert(digits >= 0 && digits <= kScaleDigits);
    const std::int64_t unit = pow10(kScaleDigits - digits);
    return from_raw(raw_ / unit * unit);
}

Decimal Decimal::round_half_away(int digits) const {
    assert(digits >= 0 && digits <= kScaleDigits);
    const std::int64_t unit = pow10(kScaleDigits - digits);
    auto n = narrow(div_round(raw_, unit) * unit);
    if (!n) throw std::overflow_error("Decimal overflow rounding " + to_string());
    return from_raw(*n);
}

std::optional<Decimal> Decimal::checked_add(Decimal a, Decimal b) {
    auto n = narrow(static_cast<i128>(a.raw_) + b.raw_);
    if (!n) return std::nullopt;
    return from_raw(*n);
}

std::optional<Decimal> Decimal::checked_mul(Decimal a, Decimal b) {
    auto n = narrow(div_round(static_cast<i128>(a.raw_) * b.raw_, kScale));
    if (!n) return std::nullopt;
    return from_raw(*n);
}

std::optional<Decimal> Decimal::checked_div(Decimal a, Decimal b) {
    if (b.raw_ == 0) return std::nullopt;
    auto n = narrow(div_round(static_cast<i128>(a.raw_) * kScale, b.raw_));
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
