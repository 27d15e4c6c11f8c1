#pragma once
// The SQLite journal: opening, migrations, and one repository per aggregate.
//
// Open: WAL mode, busy_timeout 5 s, foreign_keys ON, synchronous NORMAL. Migrations
// are the files migrations/NNNN_name.sql embedded at build time; each is applied in
// its own transaction and PRAGMA user_version is set to its number inside that same
// transaction. A journal whose user_version is above the newest embedded migration was
// written by a newer ballast: it is refused (JournalError, kind newer_version) and not
// modified in any way.
//
// Errors: every failure surfaces as JournalError (SQLite::Exception never escapes this
// folder) with a message naming the journal path and what went wrong.
// Threading: one Journal per thread; no internal locking.
// Timestamps are ISO-8601 UTC text ("2025-03-06T21:30:00Z"); dates are "YYYY-MM-DD";
// quantities, cash and notionals are exact decimal text (core::Decimal::to_string()).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace SQLite {
class Database;
}

namespace ballast::storage {
namespace detail {
class StatementCache;
struct MemoryStore;
struct PendingOrders;
class Writer;
}

class JournalError : public std::runtime_error {
public:
    enum class Kind { io, newer_version, corrupt, constraint, busy };
    JournalError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    Kind kind() const { return kind_; }

private:
    Kind kind_;
};

struct Migration {
    int version;       // NNNN from the file name
    std::string name;  // the file name, e.g. "0001_init.sql"
    std::string sql;
};
// The embedded migrations, ascending by version, numbered 1..N without gaps.
const std::vector<Migration>& embedded_migrations();

struct OpenOptions {
    bool create = true;          // create the file if missing
    bool migrate = true;         // apply pending migrations on open
    bool read_only = false;      // open read-only (no migrations; for `status`-like readers)
    std::optional<int> migrate_to;  // tests: stop at this version instead of the newest
};

class Journal {
public:
    // Throws JournalError. The path ":memory:" opens a private in-memory journal (no WAL;
    // gone when closed), for backtests that keep no journal file.
    static std::unique_ptr<Journal> open(const std::filesystem::path& path, const OpenOptions& options = {});
    // A journal that writes nothing anywhere (`ballast backtest --no-journal`, sweep
    // points): it keeps in memory only what the jobs and the scheduler read back (job
    // runs, orders and their fills, targets, rebalance decisions, equity, the halt) and
    // answers those reads as a journal holding the same writes would. Bars, signals,
    // position snapshots and health event details are not kept. path() is ":transient:".
    static std::unique_ptr<Journal> transient();
    // A journal file written behind the process (`ballast backtest`'s journal): reads are
    // answered from memory as by a transient journal, and every write is also handed, in
    // order, to a writer thread that applies it to the file `path` (opened and migrated as
    // by open()). A Transaction's writes reach the file as one transaction when the
    // outermost commits, and not at all when it is destroyed without a commit. So the
    // process and the file's SQLite work run on two cores, and the file ends up holding
    // what the same writes would have left through open() (tests/storage compares the two).
    // `path` must not exist yet (memory starts empty, so the file must too): otherwise
    // JournalError{constraint}, and the file is not touched.
    // Failures, so that a run stops with the journal's error as on a journal file:
    //  - A write the file refuses stops the writer; commit() of the next Transaction, sync()
    //    and any write outside a Transaction then throw that JournalError (detail::Writer).
    //  - A write that fails in memory inside a Transaction (e.g. a duplicate
    //    client_order_id) abandons it: its writes never reach the file.
    //  - Memory cannot roll back, so once a Transaction's writes are dropped that way (or a
    //    Transaction with writes is destroyed without commit(), or a write could not be
    //    handed to the writer) memory and file differ: from then on every write, every
    //    Transaction and sync() throw JournalError naming the first such failure. Reads still
    //    answer from memory. A write refused outside a Transaction changes nothing anywhere
    //    and is refused alone, as on a journal file.
    // Destroying the journal waits for the writer to apply what was handed over; call
    // sync() first to learn whether all of it reached the file.
    static std::unique_ptr<Journal> open_write_behind(const std::filesystem::path& path);
    ~Journal();
    Journal(const Journal&) = delete;
    Journal& operator=(const Journal&) = delete;

    const std::filesystem::path& path() const { return path_; }
    int schema_version() const;  // PRAGMA user_version
    static int latest_version(); // newest embedded migration
    // The page size of a journal file this version creates (an existing one keeps its own).
    static constexpr int kPageSize = 16384;
    // Applies pending migrations up to `target` (default newest); returns how many ran.
    int migrate(std::optional<int> target = std::nullopt);
    // Runs `PRAGMA integrity_check` and returns its first line ("ok" when sound).
    std::string integrity_check();

    SQLite::Database& db() { return *db_; }  // for the repositories in this folder (not transient)
    detail::MemoryStore* memory() { return memory_.get(); }  // non-null for transient and write-behind journals
    // Write-behind journals: waits until the writer has applied every write handed over and
    // throws the JournalError of the first write the file refused, if any. A no-op for others.
    void sync();
    // For the repositories in this folder: whether writes are also handed to a writer
    // thread (open_write_behind), and hand one over (held until the outermost Transaction
    // commits, when one is open). Throws the writer's failure outside a Transaction.
    bool writes_behind() const { return writer_ != nullptr; }
    void write_behind(std::function<void(Journal&)> write);
    // The write-behind rules for the repositories' memory writes (see open_write_behind):
    // check_behind throws once memory and file have parted; fail_behind records a write
    // that failed (inside a Transaction: it abandons the Transaction, and they part).
    void check_behind(const char* what) const;
    void fail_behind(const JournalError& failure);
    // Prepared statements kept for reuse (see detail::CachedStatement).
    detail::StatementCache& statements() { return *statements_; }

    // For the repositories in this folder, the rule of Transaction: whether one is open,
    // and the write that failed inside it (which rolled it back).
    bool in_transaction() const { return transactions_ > 0; }
    const std::optional<JournalError>& failed_write() const { return failed_write_; }
    // Records `failure` as the write that failed inside the open Transaction and rolls
    // the transaction back; a no-op outside a Transaction or after a first failure.
    void abandon_transaction(const JournalError& failure);
    // What any use of the journal throws after that: names `what` and the first failure.
    JournalError refused(const std::string& what) const;
    // Order rows a Transaction keeps back (see OrderRepository::record_intent); SQLite journals only.
    detail::PendingOrders& pending_orders() { return *pending_orders_; }

private:
    friend class Transaction;
    Journal(std::filesystem::path path, std::unique_ptr<SQLite::Database> db);
    std::filesystem::path path_;
    std::unique_ptr<SQLite::Database> db_;
    std::unique_ptr<detail::StatementCache> statements_;  // after db_: finalized before it closes
    std::unique_ptr<detail::MemoryStore> memory_;
    int transactions_ = 0;  // open Transactions (1 + savepoints inside it)
    std::optional<JournalError> failed_write_;
    std::unique_ptr<detail::PendingOrders> pending_orders_;
    // Write-behind: the writer thread, the writes of the open Transaction, its depth.
    std::vector<std::function<void(Journal&)>> held_;
    int behind_depth_ = 0;
    std::optional<JournalError> behind_failure_;  // memory and file have parted: why
    JournalError behind_refused(const std::string& what) const;
    void part(const JournalError& why);  // memory and file part (the first `why` is kept); held writes dropped
    std::unique_ptr<detail::Writer> writer_;  // last: its thread stops before the rest goes
};

// An exclusive, advisory lock on a journal for the life of a process that trades from it
// (flock on "<journal>.lock"), so two ballast processes never run a session's jobs side
// by side. The kernel releases it when the process dies, so a crash leaves no stale lock.
class JournalLock {
public:
    // Throws JournalError{busy} when another process holds it, {io} when the lock file
    // cannot be opened.
    static std::unique_ptr<JournalLock> acquire(const std::filesystem::path& journal);
    ~JournalLock();
    JournalLock(const JournalLock&) = delete;
    JournalLock& operator=(const JournalLock&) = delete;

private:
    explicit JournalLock(int fd) : fd_(fd) {}
    int fd_;
};

// RAII transaction: commits on commit(), rolls back if destroyed without it. Inside an
// enclosing transaction it is a savepoint (committing it keeps its writes in the outer
// transaction; destroying it undoes only them).
//
// Repository writes inside a Transaction (a replay's batch: Scheduler::set_batch) take no
// savepoint of their own, so a write that fails may have done part of its work. Instead
// the first write that fails abandons the whole transaction, savepoints and all:
//   - it is rolled back at once (the write lock is released, nothing of it is committed);
//   - the failing write throws its own JournalError, as outside a Transaction;
//   - from then on every use of the journal (writes, reads, a nested Transaction) and
//     commit() throw JournalError{kind of the first failure, "journal <path>: <what>:
//     refused: ... (<first failure>)"} until the outermost Transaction is destroyed; the
//     journal is then usable again and holds exactly what was committed before.
// A write "fails" when it throws anything, whether SQLite refused a statement or the
// repository refused the write (e.g. an event for an unknown order). So a replay stops
// with the first failure and nothing of that batch reaches the file. A Transaction
// destroyed without commit() and without a failed write rolls back as described above.
// Inside a Transaction order rows are also kept back and written together (see
// OrderRepository::record_intent); a failure to write them counts as a failed write.
// Outside a Transaction (the daemon, `once`, `run`) each write is its own transaction and
// a failed one is undone alone. A transient journal has no transactions: this is a no-op
// there, and each of its writes is all or nothing. On a write-behind journal the memory
// side is as transient; the writes of the outermost Transaction are handed to the file as
// one unit when it commits (dropped if it does not), and commit() first throws the
// writer's failure, if the file refused an earlier write.
class Transaction {
public:
    explicit Transaction(Journal& journal);
    ~Transaction();
    void commit();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

private:
    void end();  // this transaction (or savepoint) is over
    Journal& journal_;
    bool outer_ = true;
    bool done_ = false;
    bool behind_ = false;  // on a write-behind journal
    std::size_t held_mark_ = 0;  // write-behind: the held writes when this one began
};

// ---- bars -------------------------------------------------------------------------
class BarRepository {
public:
    explicit BarRepository(Journal& j) : j_(j) {}
    // Inserts or replaces by (symbol, date), all in one transaction. `source` is e.g. "sim-csv".
    void upsert(const std::vector<core::Bar>& bars, const std::string& source);
    std::optional<core::Date> last_date(const core::Symbol& symbol);
    // Bars of `symbol` with from <= date <= to, ascending.
    std::vector<core::Bar> range(const core::Symbol& symbol, core::Date from, core::Date to);
    // The bar of each symbol on exactly `date` (symbols without one are absent).
    std::map<core::Symbol, core::Bar> on_date(const std::vector<core::Symbol>& symbols, core::Date date);
    std::int64_t count();

private:
    Journal& j_;
};

// ---- runs and job runs ------------------------------------------------------------
enum class JobStatus { running, succeeded, failed, skipped };
const char* to_string(JobStatus s);

struct JobRun {
    std::int64_t id = 0;
    std::int64_t run_id = 0;
    core::Date session;
    std::string job;  // "data-update" | "signals" | "rebalance"
    JobStatus status = JobStatus::running;
    std::string started_at, finished_at;
    std::string error;   // why it failed or was skipped
    std::string detail;  // one-line summary of what it did
};

class RunRepository {
public:
    explicit RunRepository(Journal& j) : j_(j) {}
    // A process invocation (command line verb, mode, config file).
    std::int64_t start_run(const std::string& command, const std::string& mode, const std::string& config_path,
                           const std::string& started_at);
    void finish_run(std::int64_t run_id, const std::string& status, const std::string& finished_at);
    // The job run recorded for (session, job), whatever its status (with dry_run: the
    // latest dry run).
    std::optional<JobRun> find_job(core::Date session, const std::string& job, bool dry_run = false);
    // Records a job as running. Throws JournalError{constraint} if (session, job) exists:
    // a job never runs twice for one session. Dry runs (no orders) are exempt.
    std::int64_t start_job(std::int64_t run_id, core::Date session, const std::string& job,
                           const std::string& started_at, bool dry_run = false);
    void finish_job(std::int64_t job_run_id, JobStatus status, const std::string& finished_at,
                    const std::string& error, const std::string& detail);
    // Records a job that did not run because its upstream job did not succeed.
    std::int64_t record_skipped(std::int64_t run_id, core::Date session, const std::string& job,
                                const std::string& at, const std::string& reason, bool dry_run = false);
    // Job runs still 'running' (left by a crash), of sessions before `before` (all when
    // nullopt); marks them failed with `reason`. The scheduler resumes the others.
    int fail_orphans(const std::string& at, const std::string& reason,
                     std::optional<core::Date> before = std::nullopt);
    // The latest session with a (non-dry-run) job run, if any.
    std::optional<core::Date> latest_session();

private:
    Journal& j_;
};

// ---- signals, targets and rebalance decisions -------------------------------------
struct RebalanceDecisionRow {
    core::Date session;
    bool rebalance = false;
    std::string reason;
    double max_drift = 0;
    std::string drift_symbol;
};

class SignalRepository {
public:
    explicit SignalRepository(Journal& j) : j_(j) {}
    // Saving again for the same session (a job resumed after a crash) replaces the rows.
    void save_signals(std::int64_t job_run_id, core::Date session, const std::string& strategy,
                      const core::SymbolMap<double>& signals);
    void save_targets(std::int64_t job_run_id, core::Date session, const std::string& strategy,
                      const core::Weights& targets);
    // Targets saved for `session` (empty map if none).
    core::Weights targets_for(core::Date session);
    void save_decision(std::int64_t job_run_id, const RebalanceDecisionRow& row);
    // Session of the latest decision with rebalance = 1 whose orders were placed
    // (at least one order row for that session); nullopt if none.
    std::optional<core::Date> last_rebalance();

private:
    Journal& j_;
};

// ---- orders and their append-only events ------------------------------------------
struct OrderIntent {
    std::string client_order_id;  // deterministic, <= 48 chars
    std::int64_t job_run_id = 0;
    core::Date session;
    int leg = 0;                  // position in the plan (sells first)
    core::Symbol symbol;
    core::Side side = core::Side::buy;
    core::Decimal qty;
    core::Decimal ref_price;
    core::Decimal notional;
    std::string reason;
    std::string at;
    // The risk stage's verdict, journaled as the detail of the intent_recorded event:
    // "risk ok: within limits", or "risk denied: <rule>: <why>" (a denied event follows).
    std::string risk;
};

// Event names, past tense: "intent_recorded", "submitted", "accepted", "partially_filled",
// "filled", "canceled", "expired", "rejected" (by the broker), "denied" (by our risk stage).
struct OrderEvent {
    std::string event;
    std::string at;
    std::optional<core::Decimal> qty;    // filled quantity of this event
    std::optional<core::Decimal> price;  // fill price
    std::optional<core::Decimal> commission;
    std::string detail;                  // broker reason, rule, ...
};

struct OrderRow {
    std::int64_t id = 0;
    std::int64_t job_run_id = 0;  // the rebalance job run that planned it
    std::string client_order_id;
    std::string broker_order_id;
    core::Date session;
    int leg = 0;
    core::Symbol symbol;
    core::Side side = core::Side::buy;
    core::Decimal qty;
    core::Decimal filled_qty;
    std::optional<core::Decimal> filled_avg_price;
    std::string status;  // "intent", "submitted", "accepted", "partially_filled", "filled", "canceled",
                         // "expired", "rejected", "denied" (risk limits), "dry_run" (never sent)
};

// One order's fills in total: what was traded, at what average price, for what commission.
struct Fill {
    core::Date session;
    core::Side side = core::Side::buy;
    core::Decimal qty;
    core::Decimal avg_price;
    std::optional<core::Decimal> commission;  // the broker's total for the order, if it said
};

class OrderRepository {
public:
    explicit OrderRepository(Journal& j) : j_(j) {}
    // Writes the order row (status "intent") and its "intent_recorded" event. Returns the row id.
    // Inside a Transaction (a replay's batch, not durable before its commit anyway) the row is
    // kept back with the answers that follow, so that it is written once with its latest
    // state, together with the rows of the orders around it, before anything else uses the
    // journal (a read, another write, a nested Transaction, the commit). Nothing of that
    // shows in what is read or written; a duplicate client_order_id is still refused here,
    // but a value the schema refuses (e.g. an unknown job run) is reported by the use of
    // the journal that writes the row, which abandons the Transaction as any failed write.
    std::int64_t record_intent(const OrderIntent& intent);
    // Appends an event and updates the order's status (and broker id / fill totals) in one
    // transaction. `new_status` is the order status after the event.
    void append_event(std::int64_t order_id, const OrderEvent& event, const std::string& new_status,
                      const std::string& broker_order_id = "");
    // Several events of one broker answer (e.g. submitted, then filled), in order, in one
    // transaction: the same rows as append_event for each, the order updated once.
    struct StatusEvent {
        OrderEvent event;
        std::string new_status;
    };
    void append_events(std::int64_t order_id, const std::vector<StatusEvent>& events,
                       const std::string& broker_order_id = "");
    std::optional<OrderRow> by_client_order_id(const std::string& client_order_id);
    // Orders whose status is not terminal (filled, canceled, expired, rejected, denied, dry_run).
    std::vector<OrderRow> non_terminal();
    std::vector<OrderRow> for_session(core::Date session);
    // Broker rejections in a row among the latest orders that reached the broker (denied
    // and dry-run orders are skipped), across sessions.
    int trailing_rejections();
    // Every order with a fill (filled or partly filled, then maybe canceled), oldest first.
    std::vector<Fill> fills();
    // How many orders (any status) a job run recorded: the next leg number.
    int count_for_job_run(std::int64_t job_run_id);
    std::int64_t count();

private:
    Journal& j_;
};

// ---- equity and position snapshots ------------------------------------------------
struct PositionValue {
    core::Symbol symbol;
    core::Decimal qty;
    core::Decimal price;
    core::Decimal market_value;
    double weight = 0;  // of equity
};

struct EquitySnapshot {
    std::int64_t job_run_id = 0;
    core::Date session;
    std::string at;
    core::Decimal cash;
    core::Decimal equity;
    std::vector<PositionValue> positions;
};

class EquityRepository {
public:
    explicit EquityRepository(Journal& j) : j_(j) {}
    // Snapshot and its positions in one transaction; one snapshot per session (a later
    // one for the same session replaces it).
    void save(const EquitySnapshot& snapshot);
    // (session, equity) ascending.
    std::vector<std::pair<core::Date, core::Decimal>> equity_series();
    std::optional<EquitySnapshot> latest();
    // The highest equity ever recorded, and the latest recorded before `session`.
    std::optional<core::Decimal> peak();
    std::optional<core::Decimal> before(core::Date session);

private:
    Journal& j_;
};

// ---- health events ----------------------------------------------------------------
class HealthRepository {
public:
    explicit HealthRepository(Journal& j) : j_(j) {}
    void record(const std::string& at, const std::string& component, const std::string& kind,
                const std::string& detail);
    std::int64_t count(const std::string& kind);

private:
    Journal& j_;
};

// ---- control flags (halt) ---------------------------------------------------------
struct Halt {
    std::string reason;
    std::string set_at;
    std::string set_by;
};

class ControlRepository {
public:
    explicit ControlRepository(Journal& j) : j_(j) {}
    void set_halt(const std::string& reason, const std::string& at, const std::string& by);
    void clear_halt(const std::string& at, const std::string& by);  // also records who resumed
    std::optional<Halt> halt();

private:
    Journal& j_;
};

}  // namespace ballast::storage
