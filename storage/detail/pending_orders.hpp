#pragma once
// Orders whose rows a batch has not written yet (see OrderRepository::record_intent):
// inside a storage::Transaction an intent and the answers that follow it are kept here,
// with the order's latest state, and written together, each order row once, before
// anything else uses the journal. What is kept is exactly what the row-by-row writes
// would have left: the ids the rows will take are handed out in advance (one more than
// the largest, as SQLite would), and the events keep the order they were recorded in.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/decimal.hpp"
#include "storage/journal.hpp"

namespace ballast::storage::detail {

struct PendingOrders {
    struct Order {
        std::int64_t id = 0;
        OrderIntent intent;
        std::string status = "intent";
        std::string broker_order_id;  // "" until an answer names one (NULL)
        std::string updated_at;
        bool answered = false;  // filled_qty / filled_avg_price as an answer left them (else '0' / NULL)
        core::Decimal filled;
        std::optional<core::Decimal> avg;
    };
    struct Event {
        std::int64_t order_id = 0;
        OrderEvent event;
    };
    std::vector<Order> orders;  // ids ascending by one
    std::vector<Event> events;  // every event of those orders, intent_recorded first, as recorded
    std::unordered_set<std::string> client_order_ids;

    bool empty() const { return orders.empty(); }
    Order* find(std::int64_t id) {
        if (orders.empty() || id < orders.front().id || id > orders.back().id) return nullptr;
        return &orders[static_cast<std::size_t>(id - orders.front().id)];
    }
    void clear() {
        orders.clear();
        events.clear();
        client_order_ids.clear();
    }
};

}  // namespace ballast::storage::detail
