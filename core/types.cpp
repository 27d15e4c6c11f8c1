#include "core/types.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace ballast::core {

std::string format_fixed(double value, int digits) {
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, digits);
    if (ec == std::errc{}) return std::string(buf, end);
    // Longer than the buffer (a value past ~1e60): printf writes it, whole.
    std::string out(static_cast<std::size_t>(std::snprintf(nullptr, 0, "%.*f", digits, value)), '\0');
    std::snprintf(out.data(), out.size() + 1, "%.*f", digits, value);
    return out;
}

}  // namespace ballast::core
