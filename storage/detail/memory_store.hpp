#pragma once
// The state of a transient journal (Journal::transient()): what the jobs and the scheduler
// read back, kept in memory, nothing written anywhere. Each repository method answers as
// its SQL does on a journal holding the same writes (tests/storage compares the two on one
// sequence of writes). Bars are not kept (range() and last_date() find none), nor signals,
// positions, health event details or run rows. Unlike SQLite it does not roll back: a
// Transaction is a no-op (each repository write is still all or nothing), and the schema's
// CHECK and foreign-key constraints are not enforced (the jobs never write such values;
// the uniqueness rules the jobs rely on, one job per session and unique client_order_ids,
// are).
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/container/flat_set.hpp>

#include "core/key_index.hpp"
#include "storage/journal.hpp"

namespace ballast::storage::detail {

// A fill event applied to an order's totals: filled += qty; the average price is
// volume-weighted. Shared by the SQLite and the memory journals. Returns "" or what
// overflowed ("filled quantity" / "average fill price").
std::string add_fill(core::Decimal& filled, std::optional<core::Decimal>& avg, const OrderEvent& event);

struct MemoryStore {
    std::int64_t runs = 0;

    // job runs, by id (1-based index) and by (session, job) for the non-dry ones
    std::vector<JobRun> job_runs;
    std::map<std::pair<core::Date, std::string>, std::size_t> job_index;       // non-dry
    std::map<std::pair<core::Date, std::string>, std::size_t> dry_job_index;   // the latest dry run

    // orders, by id (1-based index)
    std::deque<OrderRow> orders;  // a deque: no moving every order as it grows
    // indexes of the orders not terminal, ascending (= by id): a few at a time, each new
    // order at the end
    boost::container::flat_set<std::size_t> open;
    std::vector<std::optional<core::Decimal>> order_commission;  // latest event commission
    core::KeyIndex order_by_client_id;  // into orders, by client_order_id
    std::optional<std::size_t> find_order(std::string_view client_order_id) const {
        return order_by_client_id.find(client_order_id,
                                       [this](std::size_t i) -> const std::string& { return orders[i].client_order_id; });
    }
    std::map<core::Date, std::vector<std::size_t>> orders_by_session;
    std::unordered_map<std::int64_t, int> orders_per_job_run;

    std::map<core::Date, core::Weights> targets;
    // The sessions whose (latest) decision was to rebalance: last_rebalance() looks back
    // through these alone, not through every session that held.
    std::set<core::Date> rebalance_decisions;

    std::map<core::Date, core::Decimal> equity;  // one per session
    std::optional<EquitySnapshot> latest_snapshot;

    std::unordered_map<std::string, std::int64_t> health_counts;
    std::optional<Halt> halt;
};

}  // namespace ballast::storage::detail
