#include "core/types.hpp"

#include <cmath>

namespace ballast::core {

double valuation_close(const Bar& bar, PriceField field) {
    return field == PriceField::adj_close ? bar.adj_close : bar.close;
}

double valuation_open(const Bar& bar, PriceField field) {
    if (field == PriceField::close || bar.close <= 0) return bar.open;
    return bar.open * (bar.adj_close / bar.close);
}

std::optional<Decimal> to_price(double value) {
    if (!std::isfinite(value) || value <= 0) return std::nullopt;
    auto d = Decimal::from_double(value, kPriceDigits);
    if (!d || !d->is_positive()) return std::nullopt;
    return d;
}

}  // namespace ballast::core
