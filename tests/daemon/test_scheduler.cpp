#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <set>
#include <stdexcept>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "../support/process.hpp"
#include "daemon/scheduler.hpp"
#include "storage/journal.hpp"

#include <sqlite3.h>
#include <SQLiteCpp/SQLiteCpp.h>

using namespace ballast;
using core::Date;
using core::Job;

namespace {

Date day(const char* s) { return Date::parse(s).value(); }

// Records every call; fails or throws for chosen (session, job) pairs.
class ScriptedJobs final : public daemon::JobRunner {
public:
    std::vector<std::pair<Date, Job>> calls;
    std::set<std::pair<Date, Job>> failing, throwing;
    std::map<std::pair<Date, Job>, std::function<void(std::int64_t job_run_id)>> writes;  // journal writes of a job
    daemon::Clock* clock = nullptr;
    std::vector<core::Timestamp> times;

    awaitable<daemon::JobResult> run(Job job, Date session, std::int64_t job_run_id) override {
        calls.emplace_back(session, job);
        if (clock) times.push_back(clock->now());
        if (const auto w = writes.find({session, job}); w != writes.end()) w->second(job_run_id);
        if (throwing.count({session, job})) throw std::runtime_error("boom");
        if (failing.count({session, job})) co_return daemon::JobResult{false, "scripted failure", ""};
        co_return daemon::JobResult{true, "", "ok"};
    }
};

struct Fixture {
    test::TempDir dir;
    std::unique_ptr<storage::Journal> journal = storage::Journal::open(dir / "j.db");
    std::ostringstream log_text;
    std::shared_ptr<spdlog::logger> log =
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_st>(log_text));
    daemon::ReplayClock clock{core::ny_to_utc(day("2024-01-02"), core::TimeOfDay{0})};
    ScriptedJobs jobs;
    std::int64_t run_id = storage::RunRepository(*journal).start_run("test", "sim", "", "2024-01-02T00:00:00Z");
    daemon::Scheduler scheduler{clock, jobs, *journal, daemon::ScheduleConfig{}, run_id, false, log};

    daemon::SessionOutcome run(Date session) {
        daemon::SessionOutcome out;
        net::io_context io;
        net::co_spawn(io, [&]() -> awaitable<void> { out = co_await scheduler.run_session(session, true); },
                      net::detached);
        io.run();
        return out;
    }
    std::string status(Date session, Job job) {
        const auto row = storage::RunRepository(*journal).find_job(session, core::to_string(job));
        return row ? storage::to_string(row->status) : "none";
    }
};

}  // namespace

TEST_CASE("an upstream failure stops only that session's downstream jobs", "[daemon][scheduler]") {
    Fixture f;
    const Date a = day("2024-01-02"), b = day("2024-01-03");
    f.jobs.failing.insert({a, Job::data_update});
    const auto out_a = f.run(a);
    CHECK(out_a.jobs_run == 1);
    CHECK(out_a.failure.find("data-update failed") != std::string::npos);
    CHECK(f.status(a, Job::data_update) == "failed");
    CHECK(f.status(a, Job::signals) == "skipped");
    CHECK(f.status(a, Job::rebalance) == "skipped");
    const auto out_b = f.run(b);
    CHECK(out_b.jobs_run == 3);
    CHECK(out_b.failure.empty());
    for (Job j : core::kJobs) CHECK(f.status(b, j) == "succeeded");
    // The failure is a health event; the skip reason is journaled.
    CHECK(storage::HealthRepository(*f.journal).count("job_failed") == 1);
    const auto skipped = storage::RunRepository(*f.journal).find_job(a, "rebalance");
    CHECK(skipped->error.find("signals was skipped") != std::string::npos);
}

TEST_CASE("a failing middle job skips only the rebalance", "[daemon][scheduler]") {
    Fixture f;
    const Date a = day("2024-01-02");
    f.jobs.failing.insert({a, Job::signals});
    f.run(a);
    CHECK(f.status(a, Job::data_update) == "succeeded");
    CHECK(f.status(a, Job::signals) == "failed");
    CHECK(f.status(a, Job::rebalance) == "skipped");
    CHECK(f.jobs.calls.size() == 2);
}

TEST_CASE("a job never runs twice for one session, even in a new scheduler", "[daemon][scheduler]") {
    Fixture f;
    const Date a = day("2024-01-02");
    f.run(a);
    REQUIRE(f.jobs.calls.size() == 3);
    CHECK(f.run(a).jobs_run == 0);
    CHECK(f.jobs.calls.size() == 3);
    // A second scheduler over the same journal (a restart) does not rerun them either.
    daemon::Scheduler again{f.clock, f.jobs, *f.journal, daemon::ScheduleConfig{}, f.run_id, false, f.log};
    net::io_context io;
    daemon::SessionOutcome out;
    net::co_spawn(io, [&]() -> awaitable<void> { out = co_await again.run_session(a, true); }, net::detached);
    io.run();
    CHECK(out.jobs_run == 0);
    CHECK(f.jobs.calls.size() == 3);
    // And the journal refuses a duplicate outright.
    CHECK_THROWS_AS(storage::RunRepository(*f.journal).start_job(f.run_id, a, "signals", "x"), storage::JournalError);
}

TEST_CASE("a job that throws is journaled as failed and the next session still runs", "[daemon][scheduler]") {
    Fixture f;
    const Date a = day("2024-01-02"), b = day("2024-01-03");
    f.jobs.throwing.insert({a, Job::rebalance});
    const auto out = f.run(a);
    CHECK(out.failure.find("internal error: boom") != std::string::npos);
    CHECK(f.status(a, Job::rebalance) == "failed");
    CHECK(f.run(b).jobs_run == 3);
}

TEST_CASE("jobs run at their New York times on the replay clock", "[daemon][scheduler]") {
    Fixture f;
    f.jobs.clock = &f.clock;
    const Date a = day("2024-07-01");  // EDT: UTC-4
    f.run(a);
    REQUIRE(f.jobs.times.size() == 3);
    CHECK(core::format_utc(f.jobs.times[0]) == "2024-07-01T20:30:00Z");
    CHECK(core::format_utc(f.jobs.times[1]) == "2024-07-01T20:40:00Z");
    CHECK(core::format_utc(f.jobs.times[2]) == "2024-07-01T20:50:00Z");
}

TEST_CASE("a stop request ends the session before the next job", "[daemon][scheduler]") {
    Fixture f;
    f.scheduler.request_stop();
    CHECK(f.run(day("2024-01-02")).jobs_run == 0);
    CHECK(f.jobs.calls.empty());
}

TEST_CASE("a replay may batch its journal writes; nothing is lost at flush", "[daemon][scheduler]") {
    Fixture f;
    f.scheduler.set_batch(3);
    for (const char* d : {"2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"}) f.run(day(d));
    // Three sessions were committed as one batch; the fourth is still in the open one.
    f.scheduler.flush();
    for (const char* d : {"2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"})
        CHECK(f.status(day(d), Job::rebalance) == "succeeded");
    CHECK(f.journal->db().execAndGet("SELECT count(*) FROM job_runs").getInt() == 12);
    CHECK(sqlite3_get_autocommit(f.journal->db().getHandle()) != 0);  // no transaction left open
}

TEST_CASE("a journal write that fails inside a replay's batch stops the replay; nothing of the batch lands",
          "[daemon][scheduler]") {
    Fixture f;
    f.scheduler.set_batch(2);
    const Date a = day("2024-01-02"), b = day("2024-01-03"), c = day("2024-01-04");
    f.jobs.writes[{c, Job::signals}] = [&](std::int64_t job_run_id) {
        // 2.0 breaks the signals CHECK: the job throws, as a job whose write fails does.
        storage::SignalRepository(*f.journal).save_signals(job_run_id, c, "s", {{"A", 0.5}, {"B", 2.0}});
    };
    f.run(a);
    f.run(b);  // the first batch, committed
    std::exception_ptr failure;
    net::io_context io;
    net::co_spawn(io, f.scheduler.run_session(c, true),
                  [&](std::exception_ptr e, daemon::SessionOutcome) { failure = e; });
    io.run();
    // The scheduler's record of the failed job is refused: the replay stops with the first failure.
    REQUIRE(failure);
    CHECK_THROWS_WITH(std::rethrow_exception(failure),
                      Catch::Contains("cannot finish the job run: refused") && Catch::Contains("cannot store signals") &&
                          Catch::Contains("CHECK constraint failed"));
    CHECK_THROWS_AS(f.scheduler.flush(), storage::JournalError);
    CHECK(f.jobs.calls.size() == 8);  // the rebalance of c never ran
    SQLite::Database other((f.dir / "j.db").string(), SQLite::OPEN_READONLY);
    CHECK(other.execAndGet("SELECT COUNT(*) FROM job_runs WHERE session_date < '2024-01-04'").getInt() == 6);
    CHECK(other.execAndGet("SELECT COUNT(*) FROM job_runs WHERE session_date = '2024-01-04'").getInt() == 0);
    CHECK(other.execAndGet("SELECT COUNT(*) FROM signals").getInt() == 0);
}
