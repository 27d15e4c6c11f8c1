#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

#include <sqlite3.h>

#include <algorithm>

#include "storage/detail/memory_store.hpp"
#include "storage/detail/sql.hpp"
#include "storage/journal.hpp"

namespace ballast::storage {

using detail::guarded;
using detail::guarded_write;
using detail::RowRef;
using detail::WriteScope;

namespace {

bool is_unique_violation(const SQLite::Exception& e) {
    return e.getExtendedErrorCode() == SQLITE_CONSTRAINT_UNIQUE ||
           e.getExtendedErrorCode() == SQLITE_CONSTRAINT_PRIMARYKEY;
}

JournalError constraint_error(const Journal& j, const std::string& what) {
    return JournalError(JournalError::Kind::constraint, "journal " + j.path().string() + ": " + what);
}

void expect_one_change(const Journal& j, int changed, const char* table, std::int64_t id) {
    if (changed != 1) throw constraint_error(j, std::string("no row with id ") + std::to_string(id) + " in " + table);
}

// On a write-behind journal (Journal::open_write_behind), a write done to memory is handed
// to the writer thread as the same call on the file. A call that returns an id must
// return the one memory gave, or the file is out of step with what the process read.
// `make` returns that call, holding copies of its arguments; it is called only on a
// write-behind journal, so a transient one copies nothing.
template <class Make>
void behind(Journal& j, Make&& make) {
    if (j.writes_behind()) j.write_behind(make());
}

void same_id(const Journal& file, const char* table, std::int64_t expected, std::int64_t got) {
    if (got != expected)
        throw JournalError(JournalError::Kind::constraint,
                           "journal " + file.path().string() + ": a row of " + table + " took id " + std::to_string(got) +
                               " where the process gave it " + std::to_string(expected));
}

// A write to memory (transient and write-behind journals). A write-behind journal refuses
// writes once its memory and its file have parted, and a write that fails inside one of
// its Transactions abandons that Transaction, as on a journal file (see
// Journal::open_write_behind). A transient journal has no such rule.
template <class F>
auto memory_write(Journal& j, const char* what, F&& body) -> decltype(body()) {
    if (!j.writes_behind()) return body();
    j.check_behind(what);
    return detail::on_failure(j, what, body, [&](const JournalError& e) { j.fail_behind(e); });
}

// The statuses OrderRepository::non_terminal() leaves out.
bool is_terminal_order_status(const std::string& s) {
    return s == "filled" || s == "canceled" || s == "expired" || s == "rejected" || s == "replaced" || s == "denied" ||
           s == "dry_run";
}

}  // namespace

// ---- bars -------------------------------------------------------------------------

void BarRepository::upsert(const std::vector<core::Bar>& bars, const std::string& source) {
    if (j_.memory())
        return memory_write(j_, "cannot store bars", [&] {  // a transient journal keeps no bars
            behind(j_, [&] { return [=](Journal& f) { BarRepository(f).upsert(bars, source); }; });
            return;
        });
    guarded_write(j_, "cannot store bars", [&] {
        WriteScope scope(j_);
        static constexpr std::string_view kUpsert =
            " ON CONFLICT (symbol, date) DO UPDATE SET open = excluded.open,"
            " high = excluded.high, low = excluded.low, close = excluded.close,"
            " adj_close = excluded.adj_close, volume = excluded.volume, source = excluded.source";
        static const detail::RowsInsert insert(
            "INSERT INTO bars (symbol, date, open, high, low, close, adj_close, volume, source) VALUES ",
            "(#, #, #, #, #, #, #, #, ?1)", kUpsert);
        // A bar's eight values from parameter `at` on.
        const auto bind_bar = [](auto& st, int at, const core::Bar& b, detail::KeptText& keep) {
            st.bindNoCopy(at, b.symbol);
            st.bindNoCopy(at + 1, keep(b.date.to_string()));
            st.bind(at + 2, b.open);
            st.bind(at + 3, b.high);
            st.bind(at + 4, b.low);
            st.bind(at + 5, b.close);
            st.bind(at + 6, b.adj_close);
            st.bind(at + 7, b.volume);
        };
        try {
            // 64 rows to a statement; a later row of the same symbol and date wins, as one by one.
            detail::insert_rows(j_, insert, bars, [&](auto& st) { st.bindNoCopy(1, source); }, bind_bar);
        } catch (const SQLite::Exception& e) {
            // A bar the schema refuses (its statement undone, the transaction intact): the
            // bars again one by one (the ones stored already are stored the same again), so
            // that the error names the bar.
            if (e.getErrorCode() != SQLITE_CONSTRAINT) throw;
            detail::CachedStatement st(j_, "INSERT INTO bars (symbol, date, open, high, low, close, adj_close, volume,"
                                           " source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)" + std::string(kUpsert));
            st.bindNoCopy(9, source);  // sqlite3_reset keeps bindings: bound once
            detail::KeptText keep;
            for (const core::Bar& b : bars) {
                try {
                    bind_bar(st, 1, b, keep);
                    st.exec();
                    st.reset();
                } catch (const SQLite::Exception& refused) {
                    throw detail::wrap(j_.path(), "cannot store the bar " + b.symbol + " " + b.date.to_string(), refused);
                }
            }
            throw;  // refused as a batch but not one by one: should not happen; report it as it came
        }
        scope.commit();
    });
}

std::optional<core::Date> BarRepository::last_date(const core::Symbol& symbol) {
    if (j_.memory()) return std::nullopt;
    return guarded(j_, "cannot read bars", [&]() -> std::optional<core::Date> {
        detail::CachedStatement st(j_, "SELECT MAX(date) FROM bars WHERE symbol = ?");
        st.bind(1, symbol);
        if (!st.executeStep() || st.getColumn(0).isNull()) return std::nullopt;
        return detail::date_at(RowRef{j_, "bars", symbol}, st, 0, "date");
    });
}

namespace {

core::Bar read_bar(const Journal& j, SQLite::Statement& st, const core::Symbol& symbol) {
    // Columns: date, open, high, low, close, adj_close, volume.
    core::Bar b;
    b.symbol = symbol;
    b.date = detail::date_at(RowRef{j, "bars", symbol + " " + st.getColumn(0).getString()}, st, 0, "date");
    b.open = st.getColumn(1).getDouble();
    b.high = st.getColumn(2).getDouble();
    b.low = st.getColumn(3).getDouble();
    b.close = st.getColumn(4).getDouble();
    b.adj_close = st.getColumn(5).getDouble();
    b.volume = st.getColumn(6).getDouble();
    return b;
}

}  // namespace

std::vector<core::Bar> BarRepository::range(const core::Symbol& symbol, core::Date from, core::Date to) {
    if (j_.memory()) return {};
    return guarded(j_, "cannot read bars", [&] {
        detail::CachedStatement st(j_,
                             "SELECT date, open, high, low, close, adj_close, volume FROM bars"
                             " WHERE symbol = ? AND date BETWEEN ? AND ? ORDER BY date");
        st.bind(1, symbol);
        st.bind(2, from.to_string());
        st.bind(3, to.to_string());
        std::vector<core::Bar> out;
        while (st.executeStep()) out.push_back(read_bar(j_, st, symbol));
        return out;
    });
}

std::map<core::Symbol, core::Bar> BarRepository::on_date(const std::vector<core::Symbol>& symbols, core::Date date) {
    if (j_.memory()) return {};
    return guarded(j_, "cannot read bars", [&] {
        detail::CachedStatement st(j_,
                             "SELECT date, open, high, low, close, adj_close, volume FROM bars"
                             " WHERE symbol = ? AND date = ?");
        st.bind(2, date.to_string());
        std::map<core::Symbol, core::Bar> out;
        for (const core::Symbol& symbol : symbols) {
            st.bind(1, symbol);
            if (st.executeStep()) out.emplace(symbol, read_bar(j_, st, symbol));
            st.reset();
        }
        return out;
    });
}

std::int64_t BarRepository::count() {
    if (j_.memory()) return 0;
    return guarded(j_, "cannot count bars", [&] {
        return j_.db().execAndGet("SELECT COUNT(*) FROM bars").getInt64();
    });
}

// ---- runs and job runs ------------------------------------------------------------

const char* to_string(JobStatus s) {
    switch (s) {
    case JobStatus::running: return "running";
    case JobStatus::succeeded: return "succeeded";
    case JobStatus::failed: return "failed";
    case JobStatus::skipped: return "skipped";
    }
    return "?";
}

namespace {

std::optional<JobStatus> parse_job_status(const std::string& text) {
    for (JobStatus s : {JobStatus::running, JobStatus::succeeded, JobStatus::failed, JobStatus::skipped}) {
        if (text == to_string(s)) return s;
    }
    return std::nullopt;
}

JournalError duplicate_job(const Journal& j, core::Date session, const std::string& job) {
    return constraint_error(j, "job '" + job + "' for session " + session.to_string() +
                                   " is already recorded (a job never runs twice for one session)");
}

// A job run in a transient journal, under the same uniqueness rule as job_runs_once.
std::int64_t memory_job(Journal& j, std::int64_t run_id, core::Date session, const std::string& job,
                        JobStatus status, const std::string& started_at, const std::string& finished_at,
                        const std::string& error, bool dry_run) {
    auto& m = *j.memory();
    auto& index = dry_run ? m.dry_job_index : m.job_index;
    // One look-up: a dry run's entry is its session's latest; a real job's must be new.
    const auto [entry, added] = index.try_emplace({session, job}, m.job_runs.size());
    if (!added) {
        if (!dry_run) throw duplicate_job(j, session, job);
        entry->second = m.job_runs.size();
    }
    JobRun r;
    r.id = static_cast<std::int64_t>(m.job_runs.size()) + 1;
    r.run_id = run_id;
    r.session = session;
    r.job = job;
    r.status = status;
    r.started_at = started_at;
    r.finished_at = finished_at;
    r.error = error;
    m.job_runs.push_back(std::move(r));
    return m.job_runs.back().id;
}

}  // namespace

std::int64_t RunRepository::start_run(const std::string& command, const std::string& mode,
                                      const std::string& config_path, const std::string& started_at) {
    if (auto* m = j_.memory())
        return memory_write(j_, "cannot record the run", [&] {
            const auto id = ++m->runs;
            behind(j_, [&] { return [=](Journal& f) {
                same_id(f, "runs", id, RunRepository(f).start_run(command, mode, config_path, started_at));
            }; });
            return id;
        });
    return guarded_write(j_, "cannot record the run", [&] {
        detail::CachedStatement st(j_,
                             "INSERT INTO runs (command, mode, config_path, started_at, status)"
                             " VALUES (?, ?, ?, ?, 'running')");
        st.bind(1, command);
        st.bind(2, mode);
        st.bind(3, config_path);
        st.bind(4, started_at);
        st.exec();
        return j_.db().getLastInsertRowid();
    });
}

void RunRepository::finish_run(std::int64_t run_id, const std::string& status, const std::string& finished_at) {
    if (auto* m = j_.memory())
        return memory_write(j_, "cannot finish the run", [&] {
            if (run_id < 1 || run_id > m->runs) expect_one_change(j_, 0, "runs", run_id);
            behind(j_, [&] { return [=](Journal& f) { RunRepository(f).finish_run(run_id, status, finished_at); }; });
            return;
        });
    guarded_write(j_, "cannot finish the run", [&] {
        detail::CachedStatement st(j_, "UPDATE runs SET status = ?, finished_at = ? WHERE id = ?");
        st.bind(1, status);
        st.bind(2, finished_at);
        st.bind(3, run_id);
        expect_one_change(j_, st.exec(), "runs", run_id);
    });
}

std::optional<JobRun> RunRepository::find_job(core::Date session, const std::string& job, bool dry_run) {
    if (auto* m = j_.memory()) {
        const auto& index = dry_run ? m->dry_job_index : m->job_index;
        const auto it = index.find({session, job});
        if (it == index.end()) return std::nullopt;
        return m->job_runs[it->second];
    }
    return guarded(j_, "cannot read job runs", [&]() -> std::optional<JobRun> {
        // dry_run as a literal: a bound value would make SQLite re-plan the statement on
        // every run to see whether the partial index (WHERE dry_run = 0) applies.
        detail::CachedStatement st(j_, dry_run ? "SELECT id, run_id, session_date, job, status, started_at, finished_at,"
                                                 " error, detail FROM job_runs WHERE session_date = ? AND job = ?"
                                                 " AND dry_run = 1 ORDER BY id DESC LIMIT 1"
                                               : "SELECT id, run_id, session_date, job, status, started_at, finished_at,"
                                                 " error, detail FROM job_runs WHERE session_date = ? AND job = ?"
                                                 " AND dry_run = 0 ORDER BY id DESC LIMIT 1");
        st.bind(1, session.to_string());
        st.bind(2, job);
        if (!st.executeStep()) return std::nullopt;
        JobRun r;
        r.id = st.getColumn(0).getInt64();
        const RowRef at{j_, "job_runs", std::to_string(r.id)};
        r.run_id = st.getColumn(1).getInt64();
        r.session = detail::date_at(at, st, 2, "session_date");
        r.job = detail::text_at(st, 3);
        const std::string status = detail::text_at(st, 4);
        const auto parsed = parse_job_status(status);
        if (!parsed) {
            throw JournalError(JournalError::Kind::corrupt, "journal " + j_.path().string() +
                                                                ": job_runs.status of row " + at.row + " holds '" +
                                                                status + "', which is not a job status");
        }
        r.status = *parsed;
        r.started_at = detail::text_at(st, 5);
        r.finished_at = detail::text_at(st, 6);
        r.error = detail::text_at(st, 7);
        r.detail = detail::text_at(st, 8);
        return r;
    });
}

std::int64_t RunRepository::start_job(std::int64_t run_id, core::Date session, const std::string& job,
                                      const std::string& started_at, bool dry_run) {
    if (j_.memory())
        return memory_write(j_, "cannot record the job run", [&] {
            const auto id = memory_job(j_, run_id, session, job, JobStatus::running, started_at, "", "", dry_run);
            behind(j_, [&] { return [=](Journal& f) {
                same_id(f, "job_runs", id, RunRepository(f).start_job(run_id, session, job, started_at, dry_run));
            }; });
            return id;
        });
    return guarded_write(j_, "cannot record the job run", [&] {
        detail::CachedStatement st(j_,
                             "INSERT INTO job_runs (run_id, session_date, job, status, started_at, dry_run)"
                             " VALUES (?, ?, ?, 'running', ?, ?)");
        st.bind(1, run_id);
        st.bind(2, session.to_string());
        st.bind(3, job);
        st.bind(4, started_at);
        st.bind(5, dry_run ? 1 : 0);
        try {
            st.exec();
        } catch (const SQLite::Exception& e) {
            if (is_unique_violation(e)) throw duplicate_job(j_, session, job);
            throw;
        }
        return j_.db().getLastInsertRowid();
    });
}

void RunRepository::finish_job(std::int64_t job_run_id, JobStatus status, const std::string& finished_at,
                               const std::string& error, const std::string& detail) {
    if (auto* m = j_.memory())
        return memory_write(j_, "cannot finish the job run", [&] {
            if (job_run_id < 1 || job_run_id > static_cast<std::int64_t>(m->job_runs.size()))
                expect_one_change(j_, 0, "job_runs", job_run_id);
            auto& r = m->job_runs[static_cast<std::size_t>(job_run_id - 1)];
            r.status = status;
            r.finished_at = finished_at;
            r.error = error;
            r.detail = detail;
            behind(j_, [&] { return [=](Journal& f) { RunRepository(f).finish_job(job_run_id, status, finished_at, error, detail); }; });
            return;
        });
    guarded_write(j_, "cannot finish the job run", [&] {
        detail::CachedStatement st(j_,
                             "UPDATE job_runs SET status = ?, finished_at = ?, error = NULLIF(?, ''),"
                             " detail = NULLIF(?, '') WHERE id = ?");
        st.bind(1, to_string(status));
        st.bind(2, finished_at);
        st.bind(3, error);
        st.bind(4, detail);
        st.bind(5, job_run_id);
        expect_one_change(j_, st.exec(), "job_runs", job_run_id);
    });
}

std::int64_t RunRepository::record_skipped(std::int64_t run_id, core::Date session, const std::string& job,
                                           const std::string& at, const std::string& reason, bool dry_run) {
    if (j_.memory())
        return memory_write(j_, "cannot record the skipped job", [&] {
            const auto id = memory_job(j_, run_id, session, job, JobStatus::skipped, at, at, reason, dry_run);
            behind(j_, [&] { return [=](Journal& f) {
                same_id(f, "job_runs", id, RunRepository(f).record_skipped(run_id, session, job, at, reason, dry_run));
            }; });
            return id;
        });
    return guarded_write(j_, "cannot record the skipped job", [&] {
        detail::CachedStatement st(j_,
                             "INSERT INTO job_runs (run_id, session_date, job, status, started_at, finished_at, error, dry_run)"
                             " VALUES (?1, ?2, ?3, 'skipped', ?4, ?4, NULLIF(?5, ''), ?6)");
        st.bind(6, dry_run ? 1 : 0);
        st.bind(1, run_id);
        st.bind(2, session.to_string());
        st.bind(3, job);
        st.bind(4, at);
        st.bind(5, reason);
        try {
            st.exec();
        } catch (const SQLite::Exception& e) {
            if (is_unique_violation(e)) throw duplicate_job(j_, session, job);
            throw;
        }
        return j_.db().getLastInsertRowid();
    });
}

int RunRepository::fail_orphans(const std::string& at, const std::string& reason, std::optional<core::Date> before) {
    if (auto* m = j_.memory())
        return memory_write(j_, "cannot fail orphaned job runs", [&] {
            int n = 0;
            for (auto& r : m->job_runs)
                if (r.status == JobStatus::running && (!before || r.session < *before)) {
                    r.status = JobStatus::failed;
                    r.finished_at = at;
                    r.error = reason;
                    ++n;
                }
            behind(j_, [&] { return [=](Journal& f) { RunRepository(f).fail_orphans(at, reason, before); }; });
            return n;
        });
    return guarded_write(j_, "cannot fail orphaned job runs", [&] {
        detail::CachedStatement st(j_,
                             "UPDATE job_runs SET status = 'failed', finished_at = ?, error = NULLIF(?, '')"
                             " WHERE status = 'running' AND (? IS NULL OR session_date < ?)");
        st.bind(1, at);
        st.bind(2, reason);
        if (before) {
            st.bind(3, before->to_string());
            st.bind(4, before->to_string());
        }
        return st.exec();
    });
}

std::vector<Fill> OrderRepository::fills() {
    if (auto* m = j_.memory()) {
        std::vector<Fill> out;
        for (std::size_t i = 0; i < m->orders.size(); ++i) {
            const auto& o = m->orders[i];
            if (!o.filled_avg_price || !o.filled_qty.is_positive()) continue;
            out.push_back({o.session, o.side, o.filled_qty, *o.filled_avg_price, m->order_commission[i]});
        }
        return out;
    }
    return guarded(j_, "cannot read the filled orders", [&] {
        detail::CachedStatement st(j_,
                             "SELECT o.id, o.session_date, o.side, o.filled_qty, o.filled_avg_price,"
                             " (SELECT e.commission FROM order_events e WHERE e.order_id = o.id"
                             "  AND e.commission IS NOT NULL ORDER BY e.id DESC LIMIT 1)"
                             " FROM orders o WHERE o.filled_avg_price IS NOT NULL AND CAST(o.filled_qty AS REAL) > 0"
                             " ORDER BY o.id");
        std::vector<Fill> out;
        while (st.executeStep()) {
            const RowRef at{j_, "orders", std::to_string(st.getColumn(0).getInt64())};
            Fill f;
            f.session = detail::date_at(at, st, 1, "session_date");
            f.side = detail::text_at(st, 2) == "sell" ? core::Side::sell : core::Side::buy;
            f.qty = detail::decimal_at(at, st, 3, "filled_qty");
            f.avg_price = detail::decimal_at(at, st, 4, "filled_avg_price");
            f.commission = detail::optional_decimal_at(at, st, 5, "commission");
            out.push_back(f);
        }
        return out;
    });
}

int OrderRepository::trailing_rejections() {
    if (auto* m = j_.memory()) {
        int n = 0, seen = 0;
        for (auto o = m->orders.rbegin(); o != m->orders.rend() && seen < 1000; ++o) {
            if (o->status == "denied" || o->status == "dry_run" || o->status == "intent") continue;
            ++seen;
            if (o->status != "rejected") break;
            ++n;
        }
        return n;
    }
    return guarded(j_, "cannot read orders", [&] {
        detail::CachedStatement st(j_,
                             "SELECT status FROM orders WHERE status NOT IN ('denied', 'dry_run', 'intent')"
                             " ORDER BY id DESC LIMIT 1000");
        int n = 0;
        while (st.executeStep() && st.getColumn(0).getString() == "rejected") ++n;
        return n;
    });
}

std::optional<core::Decimal> EquityRepository::peak() {
    if (auto* m = j_.memory()) {
        std::optional<core::Decimal> best;
        for (const auto& [d, e] : m->equity)
            if (!best || e > *best) best = e;
        return best;
    }
    return guarded(j_, "cannot read equity", [&]() -> std::optional<core::Decimal> {
        detail::CachedStatement st(j_,
                             "SELECT id, equity FROM equity_snapshots ORDER BY CAST(equity AS REAL) DESC LIMIT 1");
        if (!st.executeStep()) return std::nullopt;
        return detail::decimal_at(RowRef{j_, "equity_snapshots", std::to_string(st.getColumn(0).getInt64())}, st, 1,
                                  "equity");
    });
}

std::optional<core::Decimal> EquityRepository::before(core::Date session) {
    if (auto* m = j_.memory()) {
        const auto it = m->equity.lower_bound(session);
        if (it == m->equity.begin()) return std::nullopt;
        return std::prev(it)->second;
    }
    return guarded(j_, "cannot read equity", [&]() -> std::optional<core::Decimal> {
        detail::CachedStatement st(j_,
                             "SELECT id, equity FROM equity_snapshots WHERE session_date < ?"
                             " ORDER BY session_date DESC LIMIT 1");
        st.bind(1, session.to_string());
        if (!st.executeStep()) return std::nullopt;
        return detail::decimal_at(RowRef{j_, "equity_snapshots", std::to_string(st.getColumn(0).getInt64())}, st, 1,
                                  "equity");
    });
}

int OrderRepository::count_for_job_run(std::int64_t job_run_id) {
    if (auto* m = j_.memory()) {
        const auto it = m->orders_per_job_run.find(job_run_id);
        return it == m->orders_per_job_run.end() ? 0 : it->second;
    }
    return guarded(j_, "cannot count orders", [&] {
        detail::CachedStatement st(j_, "SELECT count(*) FROM orders WHERE job_run_id = ?");
        st.bind(1, job_run_id);
        st.executeStep();
        return st.getColumn(0).getInt();
    });
}

std::optional<core::Date> RunRepository::latest_session() {
    if (auto* m = j_.memory()) {
        if (m->job_index.empty()) return std::nullopt;
        return m->job_index.rbegin()->first.first;
    }
    return guarded(j_, "cannot read job runs", [&]() -> std::optional<core::Date> {
        detail::CachedStatement st(j_, "SELECT MAX(session_date) FROM job_runs WHERE dry_run = 0");
        if (!st.executeStep() || st.getColumn(0).isNull()) return std::nullopt;
        return detail::date_at(RowRef{j_, "job_runs", "of the latest session"}, st, 0, "session_date");
    });
}

// ---- signals, targets and rebalance decisions -------------------------------------

void SignalRepository::save_signals(std::int64_t job_run_id, core::Date session, const std::string& strategy,
                                    const core::SymbolMap<double>& signals) {
    if (j_.memory())
        return memory_write(j_, "cannot store signals", [&] {  // not kept
            behind(j_, [&] { return [=](Journal& f) { SignalRepository(f).save_signals(job_run_id, session, strategy, signals); }; });
            return;
        });
    guarded_write(j_, "cannot store signals", [&] {
        static const detail::RowsInsert insert("INSERT INTO signals (job_run_id, session_date, strategy, symbol, value)"
                                               " VALUES ",
                                               "(?1, ?2, ?3, #, #)",
                                               // A job resumed after a crash writes its rows again.
                                               " ON CONFLICT (session_date, strategy, symbol) DO UPDATE SET"
                                               " job_run_id = excluded.job_run_id, value = excluded.value");
        WriteScope scope(j_);
        const std::string date = session.to_string();
        detail::insert_rows(
            j_, insert, signals,
            [&](auto& st) {
                st.bind(1, job_run_id);
                st.bindNoCopy(2, date);
                st.bindNoCopy(3, strategy);
            },
            [](auto& st, int at, const auto& signal, auto&) {
                st.bindNoCopy(at, signal.first);
                st.bind(at + 1, signal.second);
            });
        scope.commit();
    });
}

void SignalRepository::save_targets(std::int64_t job_run_id, core::Date session, const std::string& strategy,
                                    const core::Weights& targets) {
    if (auto* m = j_.memory())
        return memory_write(j_, "cannot store targets", [&] {
            auto& saved = m->targets[session];  // an upsert per symbol, as the SQL
            if (saved.empty()) saved = targets;
            else for (const auto& [symbol, weight] : targets) saved[symbol] = weight;
            behind(j_, [&] { return [=](Journal& f) { SignalRepository(f).save_targets(job_run_id, session, strategy, targets); }; });
            return;
        });
    guarded_write(j_, "cannot store targets", [&] {
        static const detail::RowsInsert insert("INSERT INTO targets (job_run_id, session_date, strategy, symbol, weight)"
                                               " VALUES ",
                                               "(?1, ?2, ?3, #, #)",
                                               // A job resumed after a crash writes its rows again (the key
                                               // is the only unique constraint: no row can be refused as a
                                               // duplicate).
                                               " ON CONFLICT (session_date, symbol) DO UPDATE SET"
                                               " job_run_id = excluded.job_run_id, strategy = excluded.strategy,"
                                               " weight = excluded.weight");
        WriteScope scope(j_);
        const std::string date = session.to_string();
        detail::insert_rows(
            j_, insert, targets,
            [&](auto& st) {
                st.bind(1, job_run_id);
                st.bindNoCopy(2, date);
                st.bindNoCopy(3, strategy);
            },
            [](auto& st, int at, const auto& target, auto& keep) {
                st.bindNoCopy(at, target.first);
                st.bindNoCopy(at + 1, keep(target.second.to_string()));
            });
        scope.commit();
    });
}

core::Weights SignalRepository::targets_for(core::Date session) {
    if (auto* m = j_.memory()) {
        const auto it = m->targets.find(session);
        return it == m->targets.end() ? core::Weights{} : it->second;
    }
    return guarded(j_, "cannot read targets", [&] {
        detail::CachedStatement st(j_, "SELECT rowid, symbol, weight FROM targets WHERE session_date = ? ORDER BY symbol");
        st.bind(1, session.to_string());
        core::Weights out;
        while (st.executeStep()) {
            const RowRef at{j_, "targets", std::to_string(st.getColumn(0).getInt64())};
            out.emplace_hint(out.end(), detail::text_at(st, 1), detail::decimal_at(at, st, 2, "weight"));
        }
        return out;
    });
}

void SignalRepository::save_decision(std::int64_t job_run_id, const RebalanceDecisionRow& row) {
    if (auto* m = j_.memory())
        return memory_write(j_, "cannot store the rebalance decision", [&] {
            if (row.rebalance) m->rebalance_decisions.insert(row.session);
            else m->rebalance_decisions.erase(row.session);  // an upsert may turn it around
            behind(j_, [&] { return [=](Journal& f) { SignalRepository(f).save_decision(job_run_id, row); }; });
            return;
        });
    guarded_write(j_, "cannot store the rebalance decision", [&] {
        detail::CachedStatement st(j_,
                             "INSERT INTO rebalance_decisions"
                             " (job_run_id, session_date, rebalance, reason, max_drift, drift_symbol)"
                             " VALUES (?, ?, ?, ?, ?, NULLIF(?, ''))"
                             // A job resumed after a crash decides again.
                             " ON CONFLICT (session_date) DO UPDATE SET job_run_id = excluded.job_run_id,"
                             " rebalance = excluded.rebalance, reason = excluded.reason,"
                             " max_drift = excluded.max_drift, drift_symbol = excluded.drift_symbol");
        st.bind(1, job_run_id);
        st.bind(2, row.session.to_string());
        st.bind(3, row.rebalance ? 1 : 0);
        st.bind(4, row.reason);
        st.bind(5, row.max_drift);
        st.bind(6, row.drift_symbol);
        try {
            st.exec();
        } catch (const SQLite::Exception& e) {
            if (is_unique_violation(e)) {
                throw constraint_error(j_, "a rebalance decision for session " + row.session.to_string() +
                                               " is already recorded");
            }
            throw;
        }
    });
}

std::optional<core::Date> SignalRepository::last_rebalance() {
    if (auto* m = j_.memory()) {
        // As the SQL: the latest decision to rebalance with an order of its session that
        // reached the broker (not denied, dry run, rejected, canceled or expired) or filled.
        for (auto d = m->rebalance_decisions.rbegin(); d != m->rebalance_decisions.rend(); ++d) {
            const auto orders = m->orders_by_session.find(*d);
            if (orders == m->orders_by_session.end()) continue;
            for (const std::size_t i : orders->second) {
                const auto& o = m->orders[i];
                const bool unsent = o.status == "denied" || o.status == "dry_run" || o.status == "rejected" ||
                                    o.status == "canceled" || o.status == "expired";
                if (!unsent || o.filled_qty.is_positive()) return *d;
            }
        }
        return std::nullopt;
    }
    return guarded(j_, "cannot read rebalance decisions", [&]() -> std::optional<core::Date> {
        detail::CachedStatement st(j_,
                             "SELECT MAX(d.session_date) FROM rebalance_decisions d"
                             " WHERE d.rebalance = 1 AND EXISTS (SELECT 1 FROM orders o"
                             " WHERE o.session_date = d.session_date AND (o.status NOT IN ('denied', 'dry_run', 'rejected', 'canceled', 'expired') OR CAST(o.filled_qty AS REAL) > 0))");
        if (!st.executeStep() || st.getColumn(0).isNull()) return std::nullopt;
        return detail::date_at(RowRef{j_, "rebalance_decisions", "of the latest rebalance"}, st, 0, "session_date");
    });
}

// ---- orders and their append-only events ------------------------------------------

namespace {

constexpr const char* kOrderColumns =
    "SELECT id, client_order_id, broker_order_id, session_date, leg, symbol, side, qty, filled_qty,"
    " filled_avg_price, status, job_run_id FROM orders ";

OrderRow read_order(const Journal& j, SQLite::Statement& st) {
    OrderRow o;
    o.id = st.getColumn(0).getInt64();
    const RowRef at{j, "orders", std::to_string(o.id)};
    o.client_order_id = detail::text_at(st, 1);
    o.broker_order_id = detail::text_at(st, 2);
    o.session = detail::date_at(at, st, 3, "session_date");
    o.leg = st.getColumn(4).getInt();
    o.symbol = detail::text_at(st, 5);
    o.side = detail::text_at(st, 6) == "sell" ? core::Side::sell : core::Side::buy;
    o.qty = detail::decimal_at(at, st, 7, "qty");
    o.filled_qty = detail::decimal_at(at, st, 8, "filled_qty");
    o.filled_avg_price = detail::optional_decimal_at(at, st, 9, "filled_avg_price");
    o.status = detail::text_at(st, 10);
    o.job_run_id = st.getColumn(11).getInt64();
    return o;
}

std::vector<OrderRow> read_orders(const Journal& j, SQLite::Statement& st) {
    std::vector<OrderRow> out;
    while (st.executeStep()) out.push_back(read_order(j, st));
    return out;
}

JournalError duplicate_order(const Journal& j, const std::string& client_order_id) {
    return constraint_error(j, "an order with client_order_id '" + client_order_id + "' is already recorded");
}

void bind_optional_decimal(SQLite::Statement& st, int index, const std::optional<core::Decimal>& value) {
    if (value) {
        st.bind(index, value->to_string());
    } else {
        st.bind(index);
    }
}

}  // namespace

std::int64_t OrderRepository::record_intent(const OrderIntent& intent) {
    if (auto* m = j_.memory())
        return memory_write(j_, "cannot record the order intent", [&] {
            const std::size_t index = m->orders.size();
            if (m->find_order(intent.client_order_id)) throw duplicate_order(j_, intent.client_order_id);
            OrderRow o;
            o.id = static_cast<std::int64_t>(index) + 1;
            o.job_run_id = intent.job_run_id;
            o.client_order_id = intent.client_order_id;
            o.session = intent.session;
            o.leg = intent.leg;
            o.symbol = intent.symbol;
            o.side = intent.side;
            o.qty = intent.qty;
            o.status = "intent";
            m->open.insert(m->open.end(), index);
            m->orders_by_session[o.session].push_back(index);
            ++m->orders_per_job_run[o.job_run_id];
            m->orders.push_back(std::move(o));
            m->order_by_client_id.insert(m->orders.back().client_order_id, index);
            m->order_commission.emplace_back();
            const auto id = m->orders.back().id;
            behind(j_, [&] { return [=](Journal& f) { same_id(f, "orders", id, OrderRepository(f).record_intent(intent)); }; });
            return id;
        });
    if (j_.in_transaction()) {
        // Kept back (see the header): written with its answers before anything else uses the journal.
        return guarded_write(
            j_, "cannot record the order intent",
            [&] {
                auto& pending = j_.pending_orders();
                detail::CachedStatement known(j_, "SELECT 1 FROM orders WHERE client_order_id = ?");
                known.bindNoCopy(1, intent.client_order_id);
                if (pending.client_order_ids.count(intent.client_order_id) || known.executeStep())
                    throw duplicate_order(j_, intent.client_order_id);
                std::int64_t id = 0;
                if (pending.empty()) {
                    // The id the row would take now: one more than the largest (orders are never deleted).
                    detail::CachedStatement last(j_, "SELECT COALESCE(MAX(id), 0) FROM orders");
                    last.executeStep();
                    id = last.getColumn(0).getInt64() + 1;
                } else {
                    id = pending.orders.back().id + 1;
                }
                detail::PendingOrders::Order order;
                order.id = id;
                order.intent = intent;
                order.updated_at = intent.at;
                pending.orders.push_back(std::move(order));
                pending.events.push_back({id, {"intent_recorded", intent.at, {}, {}, {}, intent.risk}});
                pending.client_order_ids.insert(intent.client_order_id);
                return id;
            },
            detail::Settle::no);
    }
    return guarded_write(j_, "cannot record the order intent", [&] {
        WriteScope scope(j_);
        detail::CachedStatement order(j_,
                                "INSERT INTO orders (client_order_id, job_run_id, session_date, leg, symbol, side,"
                                " qty, ref_price, notional, reason, status, filled_qty, created_at, updated_at)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'intent', '0', ?11, ?11)");
        order.bind(1, intent.client_order_id);
        order.bind(2, intent.job_run_id);
        order.bind(3, intent.session.to_string());
        order.bind(4, intent.leg);
        order.bind(5, intent.symbol);
        order.bind(6, core::to_string(intent.side));
        order.bind(7, intent.qty.to_string());
        order.bind(8, intent.ref_price.to_string());
        order.bind(9, intent.notional.to_string());
        order.bind(10, intent.reason);
        order.bind(11, intent.at);
        try {
            order.exec();
        } catch (const SQLite::Exception& e) {
            if (is_unique_violation(e)) throw duplicate_order(j_, intent.client_order_id);
            throw;
        }
        const std::int64_t id = j_.db().getLastInsertRowid();

        detail::CachedStatement event(j_,
                                "INSERT INTO order_events (order_id, at, event, detail)"
                                " VALUES (?, ?, 'intent_recorded', NULLIF(?, ''))");
        event.bind(1, id);
        event.bind(2, intent.at);
        event.bind(3, intent.risk);
        event.exec();
        scope.commit();
        return id;
    });
}

void OrderRepository::append_event(std::int64_t order_id, const OrderEvent& event, const std::string& new_status,
                                   const std::string& broker_order_id) {
    append_events(order_id, {{event, new_status}}, broker_order_id);
}

void OrderRepository::append_events(std::int64_t order_id, const std::vector<StatusEvent>& events,
                                    const std::string& broker_order_id) {
    if (events.empty()) return;
    const auto missing = [&] {
        return constraint_error(j_, "no order with id " + std::to_string(order_id) + " for event '" +
                                        events.front().event.event + "'");
    };
    if (auto* m = j_.memory())
        return memory_write(j_, "cannot record the order event", [&] {
            if (order_id < 1 || order_id > static_cast<std::int64_t>(m->orders.size())) throw missing();
            const auto index = static_cast<std::size_t>(order_id - 1);
            auto& o = m->orders[index];
            // All or nothing, as the SQL's transaction.
            core::Decimal filled = o.filled_qty;
            std::optional<core::Decimal> avg = o.filled_avg_price;
            std::optional<core::Decimal> commission = m->order_commission[index];
            for (const auto& [event, status] : events) {
                if (const auto overflow = detail::add_fill(filled, avg, event); !overflow.empty())
                    throw constraint_error(j_, overflow + " of order " + std::to_string(order_id) + " overflows");
                if (event.commission) commission = event.commission;
            }
            o.filled_qty = filled;
            o.filled_avg_price = avg;
            m->order_commission[index] = commission;
            o.status = events.back().new_status;
            if (is_terminal_order_status(o.status)) m->open.erase(index);
            else m->open.insert(index);
            if (!broker_order_id.empty()) o.broker_order_id = broker_order_id;
            behind(j_, [&] { return [=](Journal& f) { OrderRepository(f).append_events(order_id, events, broker_order_id); }; });
            return;
        });
    if (j_.in_transaction() && j_.pending_orders().find(order_id)) {
        // An order kept back: its row is written once, with the state this answer leaves.
        guarded_write(
            j_, "cannot record the order event",
            [&] {
                auto& pending = j_.pending_orders();
                auto& order = *pending.find(order_id);
                core::Decimal filled = order.filled;
                std::optional<core::Decimal> avg = order.avg;
                for (const auto& [event, status] : events)
                    if (const auto overflow = detail::add_fill(filled, avg, event); !overflow.empty())
                        throw constraint_error(j_, overflow + " of order " + std::to_string(order_id) + " overflows");
                for (const auto& e : events) pending.events.push_back({order_id, e.event});
                order.status = events.back().new_status;
                order.updated_at = events.back().event.at;
                if (!broker_order_id.empty()) order.broker_order_id = broker_order_id;
                order.answered = true;
                order.filled = filled;
                order.avg = avg;
            },
            detail::Settle::no);
        return;
    }
    guarded_write(j_, "cannot record the order event", [&] {
        WriteScope scope(j_);

        // Current fill totals.
        detail::CachedStatement current(j_, "SELECT filled_qty, filled_avg_price FROM orders WHERE id = ?");
        current.bind(1, order_id);
        if (!current.executeStep()) throw missing();
        const RowRef at{j_, "orders", std::to_string(order_id)};
        core::Decimal filled = detail::decimal_at(at, current, 0, "filled_qty");
        std::optional<core::Decimal> avg = detail::optional_decimal_at(at, current, 1, "filled_avg_price");
        current.reset();

        for (const auto& [event, status] : events)
            if (const auto overflow = detail::add_fill(filled, avg, event); !overflow.empty())
                throw constraint_error(j_, overflow + " of order " + at.row + " overflows");

        static const detail::RowsInsert insert(
            "INSERT INTO order_events (order_id, at, event, qty, price, commission, detail) VALUES ",
            "(?1, #, #, #, #, #, NULLIF(#, ''))", "");
        detail::insert_rows(
            j_, insert, events, [&](auto& st) { st.bind(1, order_id); },
            [](auto& st, int index, const StatusEvent& e, auto& keep) {
                st.bindNoCopy(index, e.event.at);
                st.bindNoCopy(index + 1, e.event.event);
                detail::bind_decimal(st, index + 2, e.event.qty, keep);
                detail::bind_decimal(st, index + 3, e.event.price, keep);
                detail::bind_decimal(st, index + 4, e.event.commission, keep);
                st.bindNoCopy(index + 5, e.event.detail);
            });

        detail::CachedStatement update(j_,
                                 "UPDATE orders SET status = ?, updated_at = ?,"
                                 " broker_order_id = COALESCE(NULLIF(?, ''), broker_order_id),"
                                 " filled_qty = ?, filled_avg_price = ? WHERE id = ?");
        update.bind(1, events.back().new_status);
        update.bind(2, events.back().event.at);
        update.bind(3, broker_order_id);
        update.bind(4, filled.to_string());
        bind_optional_decimal(update, 5, avg);
        update.bind(6, order_id);
        update.exec();
        scope.commit();
    });
}

std::optional<OrderRow> OrderRepository::by_client_order_id(const std::string& client_order_id) {
    if (auto* m = j_.memory()) {
        const auto found = m->find_order(client_order_id);
        if (!found) return std::nullopt;
        return m->orders[*found];
    }
    return guarded(j_, "cannot read orders", [&]() -> std::optional<OrderRow> {
        detail::CachedStatement st(j_, std::string(kOrderColumns) + "WHERE client_order_id = ?");
        st.bind(1, client_order_id);
        if (!st.executeStep()) return std::nullopt;
        return read_order(j_, st);
    });
}

std::vector<OrderRow> OrderRepository::non_terminal() {
    if (auto* m = j_.memory()) {
        std::vector<OrderRow> out;
        for (const std::size_t i : m->open) out.push_back(m->orders[i]);
        return out;
    }
    return guarded(j_, "cannot read orders", [&] {
        detail::CachedStatement st(j_, std::string(kOrderColumns) +
                                          // The non-terminal statuses of the CHECK constraint, listed so
                                          // that the status index answers (NOT IN would scan every order).
                                          "WHERE status IN ('intent', 'submitted', 'new', 'accepted', 'pending_new',"
                                          " 'accepted_for_bidding', 'partially_filled', 'done_for_day', 'pending_cancel',"
                                          " 'pending_replace', 'stopped', 'suspended', 'calculated', 'held')"
                                          " ORDER BY id");
        return read_orders(j_, st);
    });
}

std::vector<OrderRow> OrderRepository::for_session(core::Date session) {
    if (auto* m = j_.memory()) {
        std::vector<OrderRow> out;
        if (const auto it = m->orders_by_session.find(session); it != m->orders_by_session.end())
            for (const std::size_t i : it->second) out.push_back(m->orders[i]);
        std::stable_sort(out.begin(), out.end(), [](const OrderRow& a, const OrderRow& b) {
            return a.leg != b.leg ? a.leg < b.leg : a.id < b.id;
        });
        return out;
    }
    return guarded(j_, "cannot read orders", [&] {
        detail::CachedStatement st(j_, std::string(kOrderColumns) + "WHERE session_date = ? ORDER BY leg, id");
        st.bind(1, session.to_string());
        return read_orders(j_, st);
    });
}

std::int64_t OrderRepository::count() {
    if (auto* m = j_.memory()) return static_cast<std::int64_t>(m->orders.size());
    return guarded(j_, "cannot count orders", [&] {
        return j_.db().execAndGet("SELECT COUNT(*) FROM orders").getInt64();
    });
}

// ---- equity and position snapshots ------------------------------------------------

void EquityRepository::save(const EquitySnapshot& snapshot) {
    if (auto* m = j_.memory())
        return memory_write(j_, "cannot store the equity snapshot", [&] {
            m->equity[snapshot.session] = snapshot.equity;
            if (!m->latest_snapshot || m->latest_snapshot->session <= snapshot.session) m->latest_snapshot = snapshot;
            behind(j_, [&] { return [=](Journal& f) { EquityRepository(f).save(snapshot); }; });
            return;
        });
    guarded_write(j_, "cannot store the equity snapshot", [&] {
        WriteScope scope(j_);
        // One snapshot per session: drop the previous one (its positions cascade).
        detail::CachedStatement drop(j_, "DELETE FROM equity_snapshots WHERE session_date = ?");
        drop.bind(1, snapshot.session.to_string());
        drop.exec();

        detail::CachedStatement insert(j_,
                                 "INSERT INTO equity_snapshots (job_run_id, session_date, at, cash, equity)"
                                 " VALUES (NULLIF(?, 0), ?, ?, ?, ?)");
        insert.bind(1, snapshot.job_run_id);
        insert.bind(2, snapshot.session.to_string());
        insert.bind(3, snapshot.at);
        insert.bind(4, snapshot.cash.to_string());
        insert.bind(5, snapshot.equity.to_string());
        insert.exec();
        const std::int64_t id = j_.db().getLastInsertRowid();

        static const detail::RowsInsert positions(
            "INSERT INTO position_snapshots (snapshot_id, symbol, qty, price, market_value, weight) VALUES ",
            "(?1, #, #, #, #, #)", "");
        detail::insert_rows(
            j_, positions, snapshot.positions, [&](auto& st) { st.bind(1, id); },
            [](auto& st, int at, const PositionValue& p, auto& keep) {
                st.bindNoCopy(at, p.symbol);
                st.bindNoCopy(at + 1, keep(p.qty.to_string()));
                st.bindNoCopy(at + 2, keep(p.price.to_string()));
                st.bindNoCopy(at + 3, keep(p.market_value.to_string()));
                st.bind(at + 4, p.weight);
            });
        scope.commit();
    });
}

std::vector<std::pair<core::Date, core::Decimal>> EquityRepository::equity_series() {
    if (auto* m = j_.memory()) return std::vector<std::pair<core::Date, core::Decimal>>(m->equity.begin(), m->equity.end());
    return guarded(j_, "cannot read equity snapshots", [&] {
        detail::CachedStatement st(j_, "SELECT id, session_date, equity FROM equity_snapshots ORDER BY session_date");
        std::vector<std::pair<core::Date, core::Decimal>> out;
        while (st.executeStep()) {
            const RowRef at{j_, "equity_snapshots", std::to_string(st.getColumn(0).getInt64())};
            out.emplace_back(detail::date_at(at, st, 1, "session_date"), detail::decimal_at(at, st, 2, "equity"));
        }
        return out;
    });
}

std::optional<EquitySnapshot> EquityRepository::latest() {
    if (auto* m = j_.memory()) return m->latest_snapshot;
    return guarded(j_, "cannot read equity snapshots", [&]() -> std::optional<EquitySnapshot> {
        detail::CachedStatement st(j_,
                             "SELECT id, job_run_id, session_date, at, cash, equity FROM equity_snapshots"
                             " ORDER BY session_date DESC LIMIT 1");
        if (!st.executeStep()) return std::nullopt;
        const std::int64_t id = st.getColumn(0).getInt64();
        const RowRef at{j_, "equity_snapshots", std::to_string(id)};
        EquitySnapshot s;
        s.job_run_id = st.getColumn(1).getInt64();  // NULL reads as 0
        s.session = detail::date_at(at, st, 2, "session_date");
        s.at = detail::text_at(st, 3);
        s.cash = detail::decimal_at(at, st, 4, "cash");
        s.equity = detail::decimal_at(at, st, 5, "equity");

        detail::CachedStatement pos(j_,
                              "SELECT rowid, symbol, qty, price, market_value, weight FROM position_snapshots"
                              " WHERE snapshot_id = ? ORDER BY symbol");
        pos.bind(1, id);
        while (pos.executeStep()) {
            const RowRef pat{j_, "position_snapshots", std::to_string(pos.getColumn(0).getInt64())};
            PositionValue p;
            p.symbol = detail::text_at(pos, 1);
            p.qty = detail::decimal_at(pat, pos, 2, "qty");
            p.price = detail::decimal_at(pat, pos, 3, "price");
            p.market_value = detail::decimal_at(pat, pos, 4, "market_value");
            p.weight = pos.getColumn(5).getDouble();
            s.positions.push_back(std::move(p));
        }
        return s;
    });
}

// ---- health events ----------------------------------------------------------------

void HealthRepository::record(const std::string& at, const std::string& component, const std::string& kind,
                              const std::string& detail) {
    if (auto* m = j_.memory())
        return memory_write(j_, "cannot record the health event", [&] {
            ++m->health_counts[kind];
            behind(j_, [&] { return [=](Journal& f) { HealthRepository(f).record(at, component, kind, detail); }; });
            return;
        });
    guarded_write(j_, "cannot record the health event", [&] {
        detail::CachedStatement st(j_,
                             "INSERT INTO health_events (at, component, kind, detail) VALUES (?, ?, ?, NULLIF(?, ''))");
        st.bind(1, at);
        st.bind(2, component);
        st.bind(3, kind);
        st.bind(4, detail);
        st.exec();
    });
}

std::int64_t HealthRepository::count(const std::string& kind) {
    if (auto* m = j_.memory()) {
        const auto it = m->health_counts.find(kind);
        return it == m->health_counts.end() ? 0 : it->second;
    }
    return guarded(j_, "cannot count health events", [&] {
        detail::CachedStatement st(j_, "SELECT COUNT(*) FROM health_events WHERE kind = ?");
        st.bind(1, kind);
        st.executeStep();
        return st.getColumn(0).getInt64();
    });
}

// ---- control flags (halt) ---------------------------------------------------------

void ControlRepository::set_halt(const std::string& reason, const std::string& at, const std::string& by) {
    if (auto* m = j_.memory())
        return memory_write(j_, "cannot set the halt", [&] {
            m->halt = Halt{reason, at, by};
            behind(j_, [&] { return [=](Journal& f) { ControlRepository(f).set_halt(reason, at, by); }; });
            return;
        });
    guarded_write(j_, "cannot set the halt", [&] {
        WriteScope scope(j_);
        detail::CachedStatement flag(j_,
                               "INSERT INTO control_flags (name, value, reason, set_at, set_by)"
                               " VALUES ('halt', '1', ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                               " value = excluded.value, reason = excluded.reason, set_at = excluded.set_at,"
                               " set_by = excluded.set_by");
        flag.bind(1, reason);
        flag.bind(2, at);
        flag.bind(3, by);
        flag.exec();
        detail::CachedStatement history(j_,
                                  "INSERT INTO control_events (at, action, reason, actor) VALUES (?, 'halt', ?, ?)");
        history.bind(1, at);
        history.bind(2, reason);
        history.bind(3, by);
        history.exec();
        scope.commit();
    });
}

void ControlRepository::clear_halt(const std::string& at, const std::string& by) {
    if (auto* m = j_.memory())
        return memory_write(j_, "cannot clear the halt", [&] {
            m->halt.reset();
            behind(j_, [&] { return [=](Journal& f) { ControlRepository(f).clear_halt(at, by); }; });
            return;
        });
    guarded_write(j_, "cannot clear the halt", [&] {
        WriteScope scope(j_);
        j_.db().exec("DELETE FROM control_flags WHERE name = 'halt'");
        detail::CachedStatement history(j_,
                                  "INSERT INTO control_events (at, action, reason, actor) VALUES (?, 'resume', NULL, ?)");
        history.bind(1, at);
        history.bind(2, by);
        history.exec();
        scope.commit();
    });
}

std::optional<Halt> ControlRepository::halt() {
    if (auto* m = j_.memory()) return m->halt;
    return guarded(j_, "cannot read the halt", [&]() -> std::optional<Halt> {
        detail::CachedStatement st(j_, "SELECT reason, set_at, set_by FROM control_flags WHERE name = 'halt'");
        if (!st.executeStep()) return std::nullopt;
        return Halt{detail::text_at(st, 0), detail::text_at(st, 1), detail::text_at(st, 2)};
    });
}

namespace detail {

void write_pending_orders(Journal& j) {
    // Taken out first: written now, or gone with the transaction if this fails.
    PendingOrders pending = std::move(j.pending_orders());
    j.pending_orders().clear();
    guarded_write(
        j, "cannot record the orders kept back in this transaction",
        [&] {
            // The rows the intents and answers would have left, ids as handed out.
            static const RowsInsert orders(
                "INSERT INTO orders (id, client_order_id, broker_order_id, job_run_id, session_date, leg, symbol, side,"
                " qty, ref_price, notional, reason, status, filled_qty, filled_avg_price, created_at, updated_at) VALUES ",
                "(#, #, NULLIF(#, ''), #, #, #, #, #, #, #, #, #, #, #, #, #, #)", "");
            insert_rows(j, orders, pending.orders, [](auto&) {},
                        [](auto& st, int at, const PendingOrders::Order& o, KeptText& keep) {
                            st.bind(at, o.id);
                            st.bindNoCopy(at + 1, o.intent.client_order_id);
                            st.bindNoCopy(at + 2, o.broker_order_id);
                            st.bind(at + 3, o.intent.job_run_id);
                            st.bindNoCopy(at + 4, keep(o.intent.session.to_string()));
                            st.bind(at + 5, o.intent.leg);
                            st.bindNoCopy(at + 6, o.intent.symbol);
                            st.bindNoCopy(at + 7, core::to_string(o.intent.side));
                            st.bindNoCopy(at + 8, keep(o.intent.qty.to_string()));
                            st.bindNoCopy(at + 9, keep(o.intent.ref_price.to_string()));
                            st.bindNoCopy(at + 10, keep(o.intent.notional.to_string()));
                            st.bindNoCopy(at + 11, o.intent.reason);
                            st.bindNoCopy(at + 12, o.status);
                            st.bindNoCopy(at + 13, o.answered ? keep(o.filled.to_string()).c_str() : "0");
                            bind_decimal(st, at + 14, o.answered ? o.avg : std::nullopt, keep);
                            st.bindNoCopy(at + 15, o.intent.at);
                            st.bindNoCopy(at + 16, o.updated_at);
                        });
            // Their events, in the order they were recorded.
            static const RowsInsert events(
                "INSERT INTO order_events (order_id, at, event, qty, price, commission, detail) VALUES ",
                "(#, #, #, #, #, #, NULLIF(#, ''))", "");
            insert_rows(j, events, pending.events, [](auto&) {},
                        [](auto& st, int at, const PendingOrders::Event& e, KeptText& keep) {
                            st.bind(at, e.order_id);
                            st.bindNoCopy(at + 1, e.event.at);
                            st.bindNoCopy(at + 2, e.event.event);
                            bind_decimal(st, at + 3, e.event.qty, keep);
                            bind_decimal(st, at + 4, e.event.price, keep);
                            bind_decimal(st, at + 5, e.event.commission, keep);
                            st.bindNoCopy(at + 6, e.event.detail);
                        });
        },
        Settle::no);
}

std::string add_fill(core::Decimal& filled, std::optional<core::Decimal>& avg, const OrderEvent& event) {
    // A fill event adds its quantity; the average price is volume-weighted.
    const bool is_fill = event.event == "filled" || event.event == "partially_filled";
    if (!is_fill || !event.qty) return "";
    const auto new_filled = core::Decimal::checked_add(filled, *event.qty);
    if (!new_filled) return "filled quantity";
    if (event.price && !new_filled->is_zero()) {
        const auto old_value = core::Decimal::checked_mul(avg.value_or(core::Decimal{}), filled);
        const auto add_value = core::Decimal::checked_mul(*event.price, *event.qty);
        const auto total = old_value && add_value ? core::Decimal::checked_add(*old_value, *add_value) : std::nullopt;
        const auto new_avg = total ? core::Decimal::checked_div(*total, *new_filled) : std::nullopt;
        if (!new_avg) return "average fill price";
        avg = new_avg;
    }
    filled = *new_filled;
    return "";
}

}  // namespace detail

}  // namespace ballast::storage
