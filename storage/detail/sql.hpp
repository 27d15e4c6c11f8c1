#pragma once
// Helpers shared by journal.cpp and repositories.cpp: SQLite error mapping, nesting
// write scopes and strict readers for the text columns.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/calendar.hpp"
#include "core/decimal.hpp"
#include "storage/detail/pending_orders.hpp"
#include "storage/journal.hpp"

namespace ballast::storage::detail {

// constraint for SQLITE_CONSTRAINT, corrupt for SQLITE_CORRUPT / SQLITE_NOTADB, io otherwise.
JournalError::Kind kind_of(const SQLite::Exception& e);
// "journal <path>: <what>: <sqlite message>".
JournalError wrap(const std::filesystem::path& path, const std::string& what, const SQLite::Exception& e);

// Writes the order rows a Transaction kept back (PendingOrders) and forgets them; a
// failure abandons the Transaction. Defined with the other repositories.
void write_pending_orders(Journal& j);
// Before anything else uses the journal, the rows kept back are written.
inline void settle(Journal& j) {
    if (!j.memory() && !j.pending_orders().empty()) write_pending_orders(j);
}

// Whether a repository call writes the rows kept back first (all but the calls that may
// keep rows back themselves: OrderRepository::record_intent and append_events).
enum class Settle { first, no };

// Runs `body`, turning SQLite::Exception into JournalError naming the journal and `what`.
// Refused once a write inside the open Transaction failed (see Transaction).
template <class F>
auto guarded(Journal& j, const char* what, F&& body, Settle settle_first = Settle::first) -> decltype(body()) {
    if (j.failed_write()) throw j.refused(what);
    if (settle_first == Settle::first) settle(j);
    try {
        return body();
    } catch (const SQLite::Exception& e) {
        throw wrap(j.path(), what, e);
    }
}

// Throws when a write must not run: a write inside the open Transaction failed, or SQLite
// rolled that transaction back on its own (an I/O error, a full disk), which would leave
// the write to commit by itself (the transaction is then abandoned).
void check_writable(Journal& j, const char* what);

// Runs `body`; whatever it throws is first passed to `failed` as a JournalError (anything
// else named with the journal and `what`), then propagates unchanged.
template <class F, class Failed>
auto on_failure(Journal& j, const char* what, F&& body, Failed&& failed) -> decltype(body()) {
    try {
        return body();
    } catch (const JournalError& e) {
        failed(e);
        throw;
    } catch (const std::exception& e) {
        failed(JournalError(JournalError::Kind::io, "journal " + j.path().string() + ": " + what + ": " + e.what()));
        throw;
    } catch (...) {
        failed(JournalError(JournalError::Kind::io, "journal " + j.path().string() + ": " + what));
        throw;
    }
}

// guarded() for one repository write. Inside a Transaction, a write that throws anything
// abandons it (Journal::abandon_transaction): it took no savepoint, so part of it may have
// been done; see Transaction for the rule.
template <class F>
auto guarded_write(Journal& j, const char* what, F&& body, Settle settle_first = Settle::first) -> decltype(body()) {
    check_writable(j, what);
    if (!j.in_transaction()) return guarded(j, what, body, settle_first);
    return on_failure(j, what, [&] { return guarded(j, what, body, settle_first); },
                      [&](const JournalError& e) { j.abandon_transaction(e); });
}

// Prepared statements of one connection, kept for reuse: preparing costs more than
// running most of our statements. A statement is lent out by CachedStatement and comes
// back reset, its bindings cleared; one lent out and asked for again (a nested use of the
// same SQL) gets a fresh one, so uses never share a cursor.
class StatementCache {
public:
    // The idle statements of one SQL text; a slot stays where it is for the cache's life.
    struct Slot {
        std::string sql;
        std::vector<std::unique_ptr<SQLite::Statement>> idle;
    };
    explicit StatementCache(SQLite::Database& db) : db_(db) {}
    Slot& slot(std::string_view sql);
    std::unique_ptr<SQLite::Statement> take(Slot& slot);
    void give_back(Slot& slot, std::unique_ptr<SQLite::Statement> st) noexcept;
    // Runs a statement with no parameters and no rows (BEGIN, SAVEPOINT, ...).
    void run(std::string_view sql);

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    SQLite::Database& db_;
    std::unordered_map<std::string, Slot, Hash, std::equal_to<>> slots_;
};

// A statement from the journal's cache for the life of the scope; used like
// SQLite::Statement (bind, exec, executeStep, getColumn) and passed where one is expected.
class CachedStatement {
public:
    CachedStatement(Journal& journal, std::string_view sql)
        : cache_(journal.statements()), slot_(cache_.slot(sql)), st_(cache_.take(slot_)) {}
    ~CachedStatement() { cache_.give_back(slot_, std::move(st_)); }
    CachedStatement(const CachedStatement&) = delete;
    CachedStatement& operator=(const CachedStatement&) = delete;

    template <class... A>
    void bind(A&&... args) {
        st_->bind(std::forward<A>(args)...);
    }
    template <class... A>
    void bindNoCopy(A&&... args) {
        st_->bindNoCopy(std::forward<A>(args)...);
    }
    void reset() { st_->reset(); }
    int exec() { return st_->exec(); }
    bool executeStep() { return st_->executeStep(); }
    SQLite::Column getColumn(int index) { return st_->getColumn(index); }
    bool isColumnNull(int index) const { return st_->isColumnNull(index); }
    operator SQLite::Statement&() { return *st_; }

private:
    StatementCache& cache_;
    StatementCache::Slot& slot_;
    std::unique_ptr<SQLite::Statement> st_;
};

// A multi-row INSERT: `head`, then `rows` copies of the row tuple separated by commas, then
// `tail` (e.g. an ON CONFLICT clause), so that the rows of one repository call go to SQLite
// in a few statements instead of one each. In the row tuple, ?1..?K are parameters shared
// by every row (bound once per statement) and each '#' becomes a parameter of its own row.
// The text for each size 1..kMaxRows is built once; the statements come from the journal's
// StatementCache, one prepared statement per size used (insert_rows uses powers of two).
// 64 rows keep every statement far below SQLite's 32766 bound parameters and its
// statement length limit.
class RowsInsert {
public:
    static constexpr std::size_t kMaxRows = 64;
    RowsInsert(std::string_view head, std::string_view row, std::string_view tail);
    const std::string& sql(std::size_t rows) const { return sql_[rows - 1]; }
    // The index of the first own parameter of row `row` (0-based) of a statement.
    int first_index(std::size_t row) const { return shared_ + static_cast<int>(row) * per_row_ + 1; }

private:
    int shared_ = 0;   // K
    int per_row_ = 0;  // '#' in the row tuple
    std::vector<std::string> sql_;
};

// Text made for one statement (decimals, dates) and bound without a copy: kept until the
// statement has run. References stay valid as more is kept.
class KeptText {
public:
    const std::string& operator()(std::string text) { return kept_.emplace_back(std::move(text)); }

private:
    std::deque<std::string> kept_;
};

// Inserts every element of `rows` with `insert`, up to kMaxRows to a statement (the rest in
// statements of 32, 16, ... rows), in order: new rows take the rowids one INSERT per
// element would give them, and an upsert over a row written earlier in the same call
// behaves as it would there. `bind_shared(statement)` binds ?1..?K;
// `bind_row(statement, first_index, element, keep)` binds one row's own parameters, text
// it makes through `keep` (a KeptText) so that it can be bound uncopied.
template <class Range, class BindShared, class BindRow>
void insert_rows(Journal& journal, const RowsInsert& insert, const Range& rows, BindShared&& bind_shared,
                 BindRow&& bind_row) {
    auto it = std::begin(rows);
    for (std::size_t left = std::size(rows); left > 0;) {
        // Sizes of powers of two only: at most 7 statements of each kind are prepared.
        const std::size_t n = std::bit_floor(std::min(left, RowsInsert::kMaxRows));
        KeptText keep;  // outlives the statement's bindings (destroyed after it)
        CachedStatement st(journal, insert.sql(n));
        bind_shared(st);
        for (std::size_t r = 0; r < n; ++r, ++it) bind_row(st, insert.first_index(r), *it, keep);
        st.exec();
        left -= n;
    }
}

// Binds a decimal as its exact text, or NULL.
template <class Statement>
void bind_decimal(Statement& st, int index, const std::optional<core::Decimal>& value, KeptText& keep) {
    if (value) st.bindNoCopy(index, keep(value->to_string()));
    else st.bind(index);
}

// The scope of a write of several statements, all or nothing: BEGIN IMMEDIATE when no
// transaction is open (so the write lock is taken up front and the busy timeout applies);
// nothing inside a storage::Transaction, where a failed write abandons the whole
// transaction instead (guarded_write); a SAVEPOINT inside a transaction opened otherwise.
// Rolls back unless commit() was called.
class WriteScope {
public:
    explicit WriteScope(Journal& journal);
    ~WriteScope();
    void commit();
    WriteScope(const WriteScope&) = delete;
    WriteScope& operator=(const WriteScope&) = delete;

private:
    enum class Kind { none, transaction, savepoint };
    Journal& journal_;
    Kind kind_ = Kind::none;
    bool done_ = false;
};

// Column readers that refuse malformed stored values with JournalError{corrupt}
// naming table, column, row id and value.
struct RowRef {
    const Journal& journal;
    const char* table;
    std::string row;  // row id or key, for the message
};
core::Decimal decimal_at(const RowRef& at, SQLite::Statement& st, int index, const char* column);
std::optional<core::Decimal> optional_decimal_at(const RowRef& at, SQLite::Statement& st, int index,
                                                 const char* column);
core::Date date_at(const RowRef& at, SQLite::Statement& st, int index, const char* column);
// NULL reads as "".
std::string text_at(SQLite::Statement& st, int index);

}  // namespace ballast::storage::detail
