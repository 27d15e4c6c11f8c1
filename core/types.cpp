#include "core/types.hpp"

#include <cmath>

namespace ballast::core {

double valuation_open(const Bar& bar, PriceField field) {
    if (field == PriceField::close || bar.close <= 0) return bar.open;
    return bar.open * (bar.adj_close / bar.close);
}


}  // namespace ballast::core
