#include "storage/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Transaction.h>

#include <sqlite3.h>

#include <system_error>
#include <utility>

#include "storage/detail/memory_store.hpp"
#include "storage/detail/pending_orders.hpp"
#include "storage/detail/sql.hpp"
#include "storage/detail/writer.hpp"

namespace ballast::storage {

namespace fs = std::filesystem;
using detail::wrap;

namespace {

constexpr int kBusyTimeoutMs = 5000;

JournalError newer_version_error(const fs::path& path, int version) {
    return JournalError(JournalError::Kind::newer_version,
                        "journal " + path.string() + " has schema version " + std::to_string(version) +
                            ", newer than this ballast supports (" + std::to_string(Journal::latest_version()) +
                            "); refusing to open it (upgrade ballast or restore a backup)");
}

int read_user_version(SQLite::Database& db) {
    return db.execAndGet("PRAGMA user_version").getInt();
}

}  // namespace

Journal::Journal(fs::path path, std::unique_ptr<SQLite::Database> db)
    : path_(std::move(path)), db_(std::move(db)),
      statements_(db_ ? std::make_unique<detail::StatementCache>(*db_) : nullptr),
      pending_orders_(db_ ? std::make_unique<detail::PendingOrders>() : nullptr) {}

Journal::~Journal() = default;

std::unique_ptr<Journal> Journal::transient() {
    std::unique_ptr<Journal> journal(new Journal(":transient:", nullptr));
    journal->memory_ = std::make_unique<detail::MemoryStore>();
    return journal;
}

std::unique_ptr<Journal> Journal::open_write_behind(const fs::path& path) {
    // Memory starts empty, so the file must too for its reads to be the same.
    std::error_code ec;
    if (fs::exists(path, ec) || ec)
        throw JournalError(JournalError::Kind::constraint,
                           "journal " + path.string() + " already exists; a journal written behind must be new");
    auto file = open(path);
    std::unique_ptr<Journal> journal(new Journal(path, nullptr));
    journal->memory_ = std::make_unique<detail::MemoryStore>();
    try {
        journal->writer_ = std::make_unique<detail::Writer>(std::move(file));
    } catch (const std::system_error& e) {
        throw JournalError(JournalError::Kind::io,
                           "journal " + path.string() + ": cannot start its writer thread: " + e.what());
    }
    return journal;
}

namespace {

// What a write-behind journal throws once its file refused a write.
JournalError writer_refused(const fs::path& path, const std::string& what, const JournalError& failure) {
    return JournalError(failure.kind(), "journal " + path.string() + ": " + what +
                                            ": refused: the journal file refused an earlier write (" + failure.what() +
                                            ")");
}

}  // namespace

void Journal::sync() {
    if (!writer_) return;
    writer_->wait_idle();
    if (auto failure = writer_->failure()) throw *failure;
    if (behind_failure_) throw behind_refused("cannot complete the journal file");
}

void Journal::write_behind(std::function<void(Journal&)> write) {
    try {
        if (behind_depth_ > 0) {
            held_.push_back(std::move(write));
            return;
        }
        if (auto failure = writer_->failure()) throw writer_refused(path_, "cannot write", *failure);
        std::vector<std::function<void(Journal&)>> unit;
        unit.push_back(std::move(write));
        writer_->submit(std::move(unit));
    } catch (const JournalError& e) {
        part(e);  // memory has the write and the file will not
        throw;
    } catch (const std::exception& e) {
        part(JournalError(JournalError::Kind::io,
                          "journal " + path_.string() + ": cannot hand a write to the writer: " + e.what()));
        throw *behind_failure_;
    }
}

void Journal::part(const JournalError& why) {
    if (!behind_failure_) behind_failure_ = why;
    held_.clear();  // nothing held reaches the file any more
}

void Journal::check_behind(const char* what) const {
    if (behind_failure_) throw behind_refused(what);
}

void Journal::fail_behind(const JournalError& failure) {
    if (behind_depth_ > 0) part(failure);  // the Transaction is abandoned; outside one: refused alone
}

JournalError Journal::behind_refused(const std::string& what) const {
    return JournalError(behind_failure_ ? behind_failure_->kind() : JournalError::Kind::io,
                        "journal " + path_.string() + ": " + what +
                            ": refused: an earlier write failed or was undone after it was applied in memory, so "
                            "memory and the file differ (" +
                            (behind_failure_ ? behind_failure_->what() : "?") + ")");
}

std::unique_ptr<Journal> Journal::open(const fs::path& path, const OpenOptions& options) {
    // Once per process, before SQLite initializes: no memory-usage statistics, which would
    // take a process-wide mutex on every allocation SQLite makes (a backtest's writer
    // thread makes millions: ~4% of the journal-on benchmark). Refused, harmlessly, if
    // SQLite was initialized earlier.
    static const bool no_memory_statistics = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
    (void)no_memory_statistics;
    std::error_code ec;
    if (!fs::exists(path, ec) && (!options.create || options.read_only)) {
        throw JournalError(JournalError::Kind::io, "journal " + path.string() + " does not exist");
    }

    const int flags = options.read_only ? SQLite::OPEN_READONLY
                                        : SQLite::OPEN_READWRITE | (options.create ? SQLite::OPEN_CREATE : 0);
    std::unique_ptr<SQLite::Database> db;
    try {
        db = std::make_unique<SQLite::Database>(path, flags, kBusyTimeoutMs);
    } catch (const SQLite::Exception& e) {
        throw wrap(path, "cannot open", e);
    }

    // The version is read before anything that could write (journal_mode=WAL rewrites the
    // header): a journal from a newer ballast must stay byte-for-byte untouched.
    // A read-write connection checkpoints the WAL into the main file when it closes, so
    // that is off until the version is accepted.
    int version = 0;
    try {
        sqlite3_db_config(db->getHandle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
        version = read_user_version(*db);
    } catch (const SQLite::Exception& e) {
        throw wrap(path, "cannot read the schema version (is it a ballast journal?)", e);
    }
    if (version > latest_version()) throw newer_version_error(path, version);

    try {
        if (!options.read_only) {
            // A new journal gets 16 KiB pages (SQLite's default is 4 KiB): writing a
            // backtest's 634,000 rows takes SQLite 17% less time (tests/bench/journal_bound.sh).
            // It applies to an empty database only; an existing journal keeps its pages.
            // (The setting stays on the connection: a VACUUM INTO made through it would
            // write 16 KiB pages too. Nothing here makes one.)
            db->exec("PRAGMA page_size = " + std::to_string(kPageSize));
            const std::string mode = db->execAndGet("PRAGMA journal_mode = WAL").getString();
            // An in-memory journal (":memory:", for backtests without a journal file) has no WAL.
            if (mode != "wal" && !(path == ":memory:" && mode == "memory")) {
                throw JournalError(JournalError::Kind::io,
                                   "journal " + path.string() + ": cannot switch to WAL mode (got '" + mode + "')");
            }
            db->exec("PRAGMA synchronous = NORMAL");
        }
        db->exec("PRAGMA foreign_keys = ON");
        // Up to 32 MiB of page cache (SQLite's default is 2 MiB): a replay's batched
        // transaction then stays in memory until it commits instead of spilling pages.
        db->exec("PRAGMA cache_size = -32768");
        // Savepoint (statement) journals and temporary tables in memory, not in temp files.
        db->exec("PRAGMA temp_store = MEMORY");
        sqlite3_db_config(db->getHandle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, nullptr);
    } catch (const SQLite::Exception& e) {
        throw wrap(path, "cannot configure the connection", e);
    }

    std::unique_ptr<Journal> journal(new Journal(path, std::move(db)));
    if (options.migrate && !options.read_only) journal->migrate(options.migrate_to);
    return journal;
}

int Journal::schema_version() const {
    if (memory_) return latest_version();
    try {
        return read_user_version(*db_);
    } catch (const SQLite::Exception& e) {
        throw wrap(path_, "cannot read the schema version", e);
    }
}

int Journal::latest_version() {
    const auto& all = embedded_migrations();
    return all.empty() ? 0 : all.back().version;
}

int Journal::migrate(std::optional<int> target) {
    if (memory_) return 0;
    const int newest = latest_version();
    const int goal = target.value_or(newest);
    if (goal < 0 || goal > newest) {
        throw JournalError(JournalError::Kind::newer_version,
                           "journal " + path_.string() + ": cannot migrate to schema version " + std::to_string(goal) +
                               "; this ballast knows versions 0.." + std::to_string(newest));
    }
    const int current = schema_version();
    if (current > newest) throw newer_version_error(path_, current);

    int ran = 0;
    for (const Migration& m : embedded_migrations()) {
        if (m.version <= current || m.version > goal) continue;
        try {
            SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
            // Re-read under the write lock: another process may have migrated meanwhile.
            if (read_user_version(*db_) >= m.version) continue;
            db_->exec(m.sql);
            // PRAGMA takes no bound parameters; the version is our own integer.
            db_->exec("PRAGMA user_version = " + std::to_string(m.version));
            tx.commit();
        } catch (const SQLite::Exception& e) {
            throw JournalError(detail::kind_of(e),
                               "journal " + path_.string() + ": migration " + m.name + " failed: " + e.what() +
                                   "; the journal stays at schema version " + std::to_string(m.version - 1));
        }
        ++ran;
    }
    return ran;
}

std::string Journal::integrity_check() {
    if (memory_) return "ok";
    detail::settle(*this);
    try {
        return db_->execAndGet("PRAGMA integrity_check").getString();
    } catch (const SQLite::Exception& e) {
        throw wrap(path_, "integrity check failed", e);
    }
}

void Journal::abandon_transaction(const JournalError& failure) {
    if (transactions_ == 0 || failed_write_) return;
    failed_write_ = failure;
    pending_orders_->clear();
    try {
        statements().run("ROLLBACK");
    } catch (const SQLite::Exception&) {
        // SQLite rolled it back itself (e.g. after an I/O error); nothing left to undo.
    }
}

JournalError Journal::refused(const std::string& what) const {
    return JournalError(failed_write_ ? failed_write_->kind() : JournalError::Kind::io,
                        "journal " + path_.string() + ": " + what +
                            ": refused: an earlier write in this transaction failed and rolled it back (" +
                            (failed_write_ ? failed_write_->what() : "?") + ")");
}

Transaction::Transaction(Journal& journal) : journal_(journal) {
    if (journal_.writer_) {
        // The memory side has no transactions; the outermost one collects the writes.
        journal_.check_behind("cannot begin a transaction");
        behind_ = true;
        held_mark_ = journal_.held_.size();
        outer_ = journal_.behind_depth_++ == 0;
        return;
    }
    if (journal_.memory()) {
        done_ = true;  // nothing to commit or roll back
        return;
    }
    if (journal_.failed_write_) throw journal_.refused("cannot begin a transaction");
    // Orders kept back by the enclosing transaction belong to it, not to this savepoint.
    detail::settle(journal_);
    try {
        // Inside an enclosing transaction (a replay's batch), a savepoint.
        outer_ = sqlite3_get_autocommit(journal_.db().getHandle()) != 0;
        journal_.statements().run(outer_ ? "BEGIN IMMEDIATE" : "SAVEPOINT ballast_tx");
    } catch (const SQLite::Exception& e) {
        throw wrap(journal_.path(), "cannot begin a transaction", e);
    }
    ++journal_.transactions_;
}

Transaction::~Transaction() {
    if (behind_) {
        if (done_) return;
        // Undone: none of its writes reaches the file, but memory keeps them.
        if (journal_.held_.size() > held_mark_)
            journal_.part(JournalError(JournalError::Kind::io,
                                       "journal " + journal_.path().string() +
                                           ": a transaction was undone after its writes were applied in memory"));
        --journal_.behind_depth_;
        return;
    }
    if (journal_.memory() || done_) return;
    // An abandoned transaction was rolled back when its write failed.
    if (!journal_.failed_write_) {
        journal_.pending_orders_->clear();  // kept back since this transaction began: undone with it
        try {
            if (outer_) {
                journal_.statements().run("ROLLBACK");
            } else {
                journal_.statements().run("ROLLBACK TO ballast_tx");
                journal_.statements().run("RELEASE ballast_tx");
            }
        } catch (const SQLite::Exception&) {
            // Already rolled back by SQLite (e.g. after an I/O error); nothing left to undo.
        }
    }
    end();
}

void Transaction::commit() {
    if (behind_) {
        if (done_) return;
        journal_.check_behind("cannot commit");
        if (outer_) {
            if (auto failure = journal_.writer_->failure())
                throw writer_refused(journal_.path(), "cannot commit", *failure);
            try {
                journal_.writer_->submit(std::move(journal_.held_));
            } catch (const std::exception& e) {
                // Memory has the writes and the file will not: they part here.
                journal_.part(JournalError(JournalError::Kind::io, "journal " + journal_.path().string() +
                                                                       ": cannot hand a transaction to the writer: " +
                                                                       e.what()));
                throw *journal_.behind_failure_;
            }
            journal_.held_.clear();
        }
        --journal_.behind_depth_;
        done_ = true;
        return;
    }
    if (journal_.memory()) return;
    if (journal_.failed_write_) throw journal_.refused("cannot commit");
    detail::settle(journal_);  // abandons the transaction if it fails
    try {
        journal_.statements().run(outer_ ? "COMMIT" : "RELEASE ballast_tx");
    } catch (const SQLite::Exception& e) {
        throw wrap(journal_.path(), "cannot commit", e);
    }
    done_ = true;
    end();
}

void Transaction::end() {
    if (--journal_.transactions_ > 0) return;
    journal_.failed_write_.reset();
    journal_.pending_orders_->clear();
}

std::unique_ptr<JournalLock> JournalLock::acquire(const std::filesystem::path& journal) {
    const std::string path = journal.string() + ".lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        throw JournalError(JournalError::Kind::io, "journal lock " + path + ": cannot open: " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(fd);
        if (err == EWOULDBLOCK)
            throw JournalError(JournalError::Kind::busy,
                               "journal " + journal.string() + " is in use by another ballast process (lock " + path +
                                   "); refusing to trade alongside it");
        throw JournalError(JournalError::Kind::io, "journal lock " + path + ": " + std::strerror(err));
    }
    return std::unique_ptr<JournalLock>(new JournalLock(fd));
}

JournalLock::~JournalLock() { ::close(fd_); }

}  // namespace ballast::storage
