#include "daemon/scheduler.hpp"

#include <algorithm>
#include <array>
#include <exception>

#include <spdlog/spdlog.h>

#include "storage/journal.hpp"

namespace ballast::daemon {
namespace {

core::JobOutcome outcome_of(storage::JobStatus s) {
    switch (s) {
        case storage::JobStatus::succeeded: return core::JobOutcome::succeeded;
        case storage::JobStatus::skipped: return core::JobOutcome::skipped;
        case storage::JobStatus::failed:
        case storage::JobStatus::running: return core::JobOutcome::failed;  // a crash left it running
    }
    return core::JobOutcome::failed;
}

}  // namespace

Scheduler::Scheduler(Clock& clock, JobRunner& jobs, storage::Journal& journal, ScheduleConfig schedule,
                     std::int64_t run_id, bool dry_run, std::shared_ptr<spdlog::logger> log)
    : clock_(clock), jobs_(jobs), journal_(journal), schedule_(std::move(schedule)), run_id_(run_id),
      dry_run_(dry_run), log_(std::move(log)) {}

core::Timestamp Scheduler::job_time(core::Date session, core::Job job) const {
    switch (job) {
        case core::Job::data_update: return core::ny_to_utc(session, schedule_.data_update);
        case core::Job::signals: return core::ny_to_utc(session, schedule_.signals);
        case core::Job::rebalance: return core::ny_to_utc(session, schedule_.rebalance);
    }
    return {};
}

Scheduler::~Scheduler() = default;

void Scheduler::set_batch(std::size_t sessions) {
    if (!clock_.is_replay()) return;  // a daemon's journal is written as it happens
    batch_ = std::max<std::size_t>(sessions, 1);
}

void Scheduler::flush() {
    if (tx_) tx_->commit();
    tx_.reset();
    in_batch_ = 0;
}

awaitable<SessionOutcome> Scheduler::run_session(core::Date session, bool wait) {
    if (batch_ > 1 && !tx_) tx_ = std::make_unique<storage::Transaction>(journal_);
    storage::RunRepository runs(journal_);
    SessionOutcome out;
    // What the journal already knows of this session (a dry run always starts afresh). A
    // job still 'running' was cut off by a crash: it is resumed under its own job run, and
    // every job is written to be resumed (idempotent writes, orders reconciled first).
    std::array<std::optional<std::int64_t>, 3> resume{};
    if (!dry_run_)
        for (core::Job job : core::kJobs)
            if (auto row = runs.find_job(session, core::to_string(job))) {
                if (row->status == storage::JobStatus::running) resume[static_cast<std::size_t>(job)] = row->id;
                else out.state[static_cast<std::size_t>(job)] = outcome_of(row->status);
            }

    while (!stop_) {
        const core::ChainStep step = core::next_step(out.state);
        if (step.action == core::ChainStep::Action::done) break;
        const auto index = static_cast<std::size_t>(step.job);
        const char* name = core::to_string(step.job);
        if (step.action == core::ChainStep::Action::skip) {
            runs.record_skipped(run_id_, session, name, core::format_utc(clock_.now()), step.reason, dry_run_);
            out.state[index] = core::JobOutcome::skipped;
            if (out.failure.empty()) out.failure = std::string(name) + " skipped: " + step.reason;
            log_->warn("{} {}: skipped ({})", session.to_string(), name, step.reason);
            continue;
        }
        if (wait && !co_await clock_.sleep_until(job_time(session, step.job))) break;  // cancelled
        if (stop_) break;
        std::int64_t job_run_id = 0;
        if (const auto resumed = resume[index]) {
            job_run_id = *resumed;
            log_->warn("{} {}: resuming job run {} left running by an earlier process", session.to_string(), name,
                       job_run_id);
            storage::HealthRepository(journal_).record(core::format_utc(clock_.now()), "scheduler", "job_resumed",
                                                       session.to_string() + " " + name + " (job run " +
                                                           std::to_string(job_run_id) + ")");
        } else {
            job_run_id = runs.start_job(run_id_, session, name, core::format_utc(clock_.now()), dry_run_);
        }
        ++out.jobs_run;
        JobResult result;
        try {
            result = co_await jobs_.run(step.job, session, job_run_id);
        } catch (const std::exception& e) {
            result = {false, std::string("internal error: ") + e.what(), ""};
        }
        runs.finish_job(job_run_id, result.ok ? storage::JobStatus::succeeded : storage::JobStatus::failed,
                        core::format_utc(clock_.now()), result.error, result.detail);
        out.state[index] = result.ok ? core::JobOutcome::succeeded : core::JobOutcome::failed;
        if (result.ok) {
            log_->debug("{} {}: {}", session.to_string(), name, result.detail);
        } else {
            if (out.failure.empty()) out.failure = std::string(name) + " failed: " + result.error;
            log_->error("{} {}: failed: {}", session.to_string(), name, result.error);
            storage::HealthRepository(journal_).record(core::format_utc(clock_.now()), "scheduler", "job_failed",
                                                       session.to_string() + " " + name + ": " + result.error);
        }
    }
    if (tx_ && ++in_batch_ >= batch_) flush();
    co_return out;
}

}  // namespace ballast::daemon
