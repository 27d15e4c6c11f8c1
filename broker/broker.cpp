#include "broker/broker.hpp"

namespace ballast::broker {

const char* to_string(BrokerError::Kind kind) {
    switch (kind) {
        case BrokerError::Kind::timeout: return "timeout";
        case BrokerError::Kind::network: return "network";
        case BrokerError::Kind::tls: return "tls";
        case BrokerError::Kind::http_status: return "http_status";
        case BrokerError::Kind::rate_limited: return "rate_limited";
        case BrokerError::Kind::circuit_open: return "circuit_open";
        case BrokerError::Kind::bad_payload: return "bad_payload";
        case BrokerError::Kind::unauthorized: return "unauthorized";
        case BrokerError::Kind::not_found: return "not_found";
        case BrokerError::Kind::rejected: return "rejected";
        case BrokerError::Kind::bad_data: return "bad_data";
    }
    return "?";
}

bool same_order(const OrderUpdate& u, const OrderRequest& r) {
    return u.symbol == r.symbol && u.side == core::to_string(r.side) && u.qty && *u.qty == r.qty;
}

bool is_terminal_status(std::string_view s) {
    return s == "filled" || s == "canceled" || s == "expired" || s == "rejected" || s == "replaced";
}

}  // namespace ballast::broker
