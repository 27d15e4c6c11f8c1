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

StatementCache::Slot& StatementCache::slot(std::string_view sql) {
    if (const auto it = slots_.find(sql); it != slots_.end()) return it->second;
    std::string key(sql);
    return slots_.emplace(key, Slot{key, {}}).first->second;
}

std::unique_ptr<SQLite::Statement> StatementCache::take(Slot& slot) {
    if (!slot.idle.empty()) {
        auto st = std::move(slot.idle.back());
        slot.idle.pop_back();
        return st;
    }
    return std::make_unique<SQLite::Statement>(db_, slot.sql);
}

void StatementCache::give_back(Slot& slot, std::unique_ptr<SQLite::Statement> st) noexcept {
    if (!st) return;
    try {
        st->reset();
        st->clearBindings();
        slot.idle.push_back(std::move(st));
    } catch (...) {
        // A statement that cannot be reset (or no memory to keep it) is finalized instead.
    }
}

void StatementCache::run(std::string_view sql) {
    Slot& s = slot(sql);
    auto st = take(s);
    try {
        st->exec();
    } catch (...) {
        give_back(s, std::move(st));
        throw;
    }
    give_back(s, std::move(st));
}

RowsInsert::RowsInsert(std::string_view head, std::string_view row, std::string_view tail) {
    // The shared parameters are the highest ?N of the tuple; every '#' is a row's own.
    for (std::size_t i = 0; i < row.size(); ++i) {
        if (row[i] == '#') ++per_row_;
        if (row[i] != '?') continue;
        int n = 0;
        while (i + 1 < row.size() && row[i + 1] >= '0' && row[i + 1] <= '9') n = n * 10 + (row[++i] - '0');
        shared_ = std::max(shared_, n);
    }
    std::string sql(head);
    for (std::size_t rows = 1; rows <= kMaxRows; ++rows) {
        if (rows > 1) sql += ", ";
        int next = first_index(rows - 1);
        for (const char c : row) {
            if (c == '#') sql += "?" + std::to_string(next++);
            else sql += c;
        }
        sql_.push_back(sql + std::string(tail));
    }
}

void check_writable(Journal& j, const char* what) {
    if (!j.failed_write() && j.in_transaction() && sqlite3_get_autocommit(j.db().getHandle()) != 0)
        j.abandon_transaction(JournalError(JournalError::Kind::io, "journal " + j.path().string() +
                                                                       ": the transaction was rolled back by SQLite"));
    if (j.failed_write()) throw j.refused(what);
}

WriteScope::WriteScope(Journal& journal) : journal_(journal) {
    if (journal_.in_transaction()) return;  // Kind::none
    kind_ = sqlite3_get_autocommit(journal_.db().getHandle()) != 0 ? Kind::transaction : Kind::savepoint;
    journal_.statements().run(kind_ == Kind::transaction ? "BEGIN IMMEDIATE" : "SAVEPOINT ballast_write");
}

WriteScope::~WriteScope() {
    if (done_ || kind_ == Kind::none) return;
    // Best effort: SQLite may already have rolled the transaction back on its own.
    try {
        if (kind_ == Kind::transaction) {
            journal_.statements().run("ROLLBACK");
        } else {
            journal_.statements().run("ROLLBACK TO ballast_write");
            journal_.statements().run("RELEASE ballast_write");
        }
    } catch (const SQLite::Exception&) {
    }
}

void WriteScope::commit() {
    if (kind_ != Kind::none) journal_.statements().run(kind_ == Kind::transaction ? "COMMIT" : "RELEASE ballast_write");
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
