#pragma once
// Helpers shared by journal.cpp and repositories.cpp: SQLite error mapping, nesting
// write scopes and strict readers for the text columns.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/calendar.hpp"
#include "core/decimal.hpp"
#include "storage/journal.hpp"

namespace ballast::storage::detail {

// constraint for SQLITE_CONSTRAINT, corrupt for SQLITE_CORRUPT / SQLITE_NOTADB, io otherwise.
JournalError::Kind kind_of(const SQLite::Exception& e);
// "journal <path>: <what>: <sqlite message>".
JournalError wrap(const std::filesystem::path& path, const std::string& what, const SQLite::Exception& e);

// Runs `body`, turning SQLite::Exception into JournalError naming the journal and `what`.
template <class F>
auto guarded(Journal& j, const char* what, F&& body) -> decltype(body()) {
    try {
        return body();
    } catch (const SQLite::Exception& e) {
        throw wrap(j.path(), what, e);
    }
}

// A write scope that nests: BEGIN IMMEDIATE when no transaction is open (so the write
// lock is taken up front and the busy timeout applies), otherwise a SAVEPOINT inside
// the caller's transaction. Rolls back unless commit() was called.
class WriteScope {
public:
    explicit WriteScope(SQLite::Database& db);
    ~WriteScope();
    void commit();
    WriteScope(const WriteScope&) = delete;
    WriteScope& operator=(const WriteScope&) = delete;

private:
    SQLite::Database& db_;
    bool outer_ = false;
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
