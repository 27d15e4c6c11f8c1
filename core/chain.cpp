#include "core/chain.hpp"

namespace ballast::core {

const char* to_string(Job job) {
    switch (job) {
        case Job::data_update: return "data-update";
        case Job::signals: return "signals";
        case Job::rebalance: return "rebalance";
    }
    return "?";
}

std::optional<Job> parse_job(std::string_view name) {
    for (Job j : kJobs)
        if (name == to_string(j)) return j;
    return std::nullopt;
}

ChainStep next_step(const ChainState& state) {
    for (std::size_t i = 0; i < state.size(); ++i) {
        if (state[i]) continue;
        const Job job = kJobs[i];
        if (i == 0) return {ChainStep::Action::run, job, ""};
        const auto& upstream = state[i - 1];
        if (*upstream == JobOutcome::succeeded) return {ChainStep::Action::run, job, ""};
        return {ChainStep::Action::skip, job,
                std::string("upstream job ") + to_string(kJobs[i - 1]) +
                    (*upstream == JobOutcome::failed ? " failed" : " was skipped")};
    }
    return {ChainStep::Action::done, Job::rebalance, ""};
}

}  // namespace ballast::core
