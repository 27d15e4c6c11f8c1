#pragma once
// Journal reads as text, for tests that compare two journals read for read.
#include <optional>
#include <sstream>
#include <string>

#include "storage/journal.hpp"

namespace ballast::test {

template <class T>
std::string text(const std::optional<T>& v) {
    return v ? v->to_string() : "none";
}

// Every field of an order row, '/'-separated.
inline std::string render(const storage::OrderRow& o) {
    std::ostringstream out;
    out << o.id << "/" << o.client_order_id << "/" << o.broker_order_id << "/" << o.session.to_string() << "/" << o.leg
        << "/" << o.symbol << "/" << core::to_string(o.side) << "/" << o.qty.to_string() << "/"
        << o.filled_qty.to_string() << "/" << text(o.filled_avg_price) << "/" << o.status << "/" << o.job_run_id;
    return out.str();
}

}  // namespace ballast::test
