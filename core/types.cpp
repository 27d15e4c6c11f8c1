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


}  // namespace ballast::core
