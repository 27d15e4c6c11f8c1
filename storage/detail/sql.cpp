#include "storage/detail/sql.hpp"

#include <sqlite3.h>

namespace ballast::storage::detail {

JournalError::Kind kind_of(const SQLite::Exception& e) {
    switch (e.getErrorCode()) {
    case SQLITE_CONSTRAINT:
        return JournalError::Kind::constraint;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return JournalError::Kind::corrupt;
    default:
        return JournalError::Kind::io;
    }
}

JournalError wrap(const std::filesystem::path& path, const std::string& what, const SQLite::Exception& e) {
    return JournalError(kind_of(e), "journal " + path.string() + ": " + what + ": " + e.what());
}

WriteScope::WriteScope(SQLite::Database& db) : db_(db) {
    outer_ = sqlite3_get_autocommit(db_.getHandle()) != 0;
    db_.exec(outer_ ? "BEGIN IMMEDIATE" : "SAVEPOINT ballast_write");
}

WriteScope::~WriteScope() {
    if (done_) return;
    // Best effort: SQLite may already have rolled the transaction back on its own.
    try {
        db_.exec(outer_ ? "ROLLBACK" : "ROLLBACK TO ballast_write; RELEASE ballast_write");
    } catch (const SQLite::Exception&) {
    }
}

void WriteScope::commit() {
    db_.exec(outer_ ? "COMMIT" : "RELEASE ballast_write");
    done_ = true;
}

namespace {

[[noreturn]] void bad_value(const RowRef& at, const char* column, const std::string& value, const char* expected) {
    throw JournalError(JournalError::Kind::corrupt,
                       "journal " + at.journal.path().string() + ": " + at.table + "." + column + " of row " + at.row +
                           " holds '" + value + "', which is not " + expected);
}

}  // namespace

core::Decimal decimal_at(const RowRef& at, SQLite::Statement& st, int index, const char* column) {
    const std::string text = st.getColumn(index).getString();
    const auto value = core::Decimal::parse(text);
    if (!value) bad_value(at, column, text, "an exact decimal");
    return *value;
}

std::optional<core::Decimal> optional_decimal_at(const RowRef& at, SQLite::Statement& st, int index,
                                                 const char* column) {
    if (st.getColumn(index).isNull()) return std::nullopt;
    return decimal_at(at, st, index, column);
}

core::Date date_at(const RowRef& at, SQLite::Statement& st, int index, const char* column) {
    const std::string text = st.getColumn(index).getString();
    const auto value = core::Date::parse(text);
    if (!value) bad_value(at, column, text, "a YYYY-MM-DD date");
    return *value;
}

std::string text_at(SQLite::Statement& st, int index) {
    return st.getColumn(index).getString();
}

}  // namespace ballast::storage::detail
