#pragma once
// The scheduler: runs the dependent job chain of each trading session on a Clock.
//
// For one session it asks core::next_step() what to do, given what the journal already
// holds for that session: run a job (after waiting for its New York time when `wait`),
// record a skip (upstream did not succeed), or stop. Every job is recorded as running
// before it starts and as succeeded/failed after, so a job never runs twice for one
// session, even across restarts. A job found still 'running' (the process died in it)
// is resumed under the same job run: jobs are written to be resumed safely. A job that throws is recorded as failed with the
// exception's message; the chain of that session stops there, later sessions go on.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "broker/asio.hpp"
#include "core/chain.hpp"
#include "daemon/clock.hpp"
#include "daemon/config.hpp"

namespace spdlog {
class logger;
}
namespace ballast::storage {
class Journal;
class Transaction;
}

namespace ballast::daemon {

struct JobResult {
    bool ok = false;
    std::string error;   // why it failed (journaled)
    std::string detail;  // one-line summary of what it did (journaled)
};

class JobRunner {
public:
    virtual ~JobRunner() = default;
    virtual awaitable<JobResult> run(core::Job job, core::Date session, std::int64_t job_run_id) = 0;
};

struct SessionOutcome {
    core::ChainState state;
    int jobs_run = 0;  // jobs started by this call (0 when the session was already done)
    std::string failure;  // first failure or skip reason, if any
};

class Scheduler {
public:
    Scheduler(Clock& clock, JobRunner& jobs, storage::Journal& journal, ScheduleConfig schedule, std::int64_t run_id,
              bool dry_run, std::shared_ptr<spdlog::logger> log);
    ~Scheduler();

    awaitable<SessionOutcome> run_session(core::Date session, bool wait);
    // Replay only (refused on the wall clock): the journal writes of `sessions`
    // consecutive sessions share one transaction. No other process acts on a replay's
    // journal mid-run, and a commit per job costs more than the job. Call flush() after
    // the last session; 1 (the default) commits as the daemon does.
    void set_batch(std::size_t sessions);
    void flush();
    // Stops before the next job when set (checked between jobs).
    void request_stop() { stop_ = true; }
    bool stop_requested() const { return stop_; }
    // When a job of `session` is scheduled (New York wall time -> UTC).
    core::Timestamp job_time(core::Date session, core::Job job) const;

private:
    Clock& clock_;
    JobRunner& jobs_;
    storage::Journal& journal_;
    ScheduleConfig schedule_;
    std::int64_t run_id_;
    bool dry_run_;
    std::shared_ptr<spdlog::logger> log_;
    bool stop_ = false;
    std::size_t batch_ = 1;
    std::size_t in_batch_ = 0;
    std::unique_ptr<storage::Transaction> tx_;
};

}  // namespace ballast::daemon
