#pragma once
// The job chain of one trading session as an I/O-free state machine:
// data-update -> signals -> rebalance. A job runs only when its upstream job
// succeeded for the same session; once any job failed or was skipped, every later job
// of that session is skipped. A job already recorded for the session (in any state)
// is never run again.
#include <array>
#include <optional>
#include <string>

namespace ballast::core {

enum class Job { data_update = 0, signals = 1, rebalance = 2 };
inline constexpr std::array<Job, 3> kJobs{Job::data_update, Job::signals, Job::rebalance};
const char* to_string(Job job);  // "data-update", "signals", "rebalance"
std::optional<Job> parse_job(std::string_view name);

enum class JobOutcome { succeeded, failed, skipped };

// What is known of each job of a session (nullopt: not yet recorded).
using ChainState = std::array<std::optional<JobOutcome>, 3>;

struct ChainStep {
    enum class Action { run, skip, done } action = Action::done;
    Job job = Job::data_update;
    std::string reason;  // for skip: which upstream job did not succeed
};

ChainStep next_step(const ChainState& state);

}  // namespace ballast::core
