#include "broker/resilience.hpp"

#include <algorithm>
#include <cassert>
#include <climits>
#include <cmath>

namespace ballast::broker {
namespace {

using std::chrono::milliseconds;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Non-negative decimal integer made of digits only; nullopt on junk or above `limit`.
std::optional<std::int64_t> parse_digits(std::string_view s, std::int64_t limit, bool* overflow) {
    s = trim(s);
    if (s.empty()) return std::nullopt;
    std::int64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        const int d = c - '0';
        if (v > (limit - d) / 10) {
            *overflow = true;
            // Keep scanning: "99999999999x" is junk, not an overflow.
            v = limit;
            continue;
        }
        v = v * 10 + d;
    }
    return v;
}

// "3 s" for whole seconds, else "2500 ms" (and "0 ms").
std::string format_ms(std::int64_t ms) {
    if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
    return std::to_string(ms) + " ms";
}

RetryDecision give_up(std::string reason) { return RetryDecision{false, milliseconds{0}, std::move(reason)}; }

enum class Verdict { not_a_failure, transient, permanent };

Verdict classify(const AttemptOutcome& o) {
    switch (o.transport) {
        case TransportFailure::timeout:
        case TransportFailure::network: return Verdict::transient;
        case TransportFailure::tls: return Verdict::permanent;
        case TransportFailure::none: break;
    }
    const int s = o.http_status;
    if (s >= 200 && s <= 399) return Verdict::not_a_failure;
    if (s == 429 || s == 500 || s == 502 || s == 503 || s == 504) return Verdict::transient;
    return Verdict::permanent;
}

std::string permanent_reason(const AttemptOutcome& o) {
    if (o.transport == TransportFailure::tls) return "TLS failure: not retried";
    const int s = o.http_status;
    if (s == 401 || s == 403) return describe(o) + " (credentials or permission): not retried";
    if (s >= 400 && s <= 499) return describe(o) + " (client error): not retried";
    if (s >= 100 && s <= 599) return describe(o) + ": not a transient status, not retried";
    return describe(o) + ": not a valid HTTP status, not retried";
}

// Backoff ceiling of the retry after `attempt`: min(cap, base * 2^(attempt-1)), no overflow.
std::int64_t backoff_ceiling_ms(const RetryPolicy& p, int attempt) {
    const std::int64_t cap = std::max<std::int64_t>(0, p.max_delay.count());
    std::int64_t ceiling = std::min(cap, std::max<std::int64_t>(0, p.base_delay.count()));
    for (int i = 1; i < attempt && ceiling > 0 && ceiling < cap; ++i) ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
    return ceiling;
}

struct ServerDelay {
    std::int64_t ms = 0;
    std::string source;  // "Retry-After", "X-Ratelimit-Reset" or empty
};

ServerDelay server_delay(const AttemptOutcome& o) {
    ServerDelay d;
    if (o.retry_after && *o.retry_after > 0) {
        d.ms = static_cast<std::int64_t>(*o.retry_after) * 1000;
        d.source = "Retry-After";
    }
    if (o.ratelimit_reset) {
        constexpr std::int64_t kMax = INT64_MAX;
        const std::int64_t reset_ms = *o.ratelimit_reset > kMax / 1000 ? kMax : *o.ratelimit_reset * 1000;
        const std::int64_t now_ms = o.received_unix.count();
        // A reset time already past (or a clock behind) adds nothing.
        const std::int64_t wait = (now_ms < 0 || reset_ms <= now_ms) ? 0 : reset_ms - now_ms;
        if (wait > d.ms) {
            d.ms = wait;
            d.source = "X-Ratelimit-Reset";
        }
    }
    return d;
}

}  // namespace

std::vector<std::string> check_config(const RetryPolicy& p) {
    std::vector<std::string> errors;
    if (p.max_attempts < 1)
        errors.push_back("retry.max_attempts = " + std::to_string(p.max_attempts) + ": expected at least 1");
    if (p.base_delay.count() < 0)
        errors.push_back("retry.base_delay = " + std::to_string(p.base_delay.count()) + " ms: expected >= 0");
    if (p.max_delay < p.base_delay)
        errors.push_back("retry.max_delay = " + std::to_string(p.max_delay.count()) +
                         " ms: expected >= base_delay (" + std::to_string(p.base_delay.count()) + " ms)");
    if (p.max_server_delay.count() < 0)
        errors.push_back("retry.max_server_delay = " + std::to_string(p.max_server_delay.count()) +
                         " ms: expected >= 0");
    return errors;
}

const char* to_string(TransportFailure failure) {
    switch (failure) {
        case TransportFailure::none: return "none";
        case TransportFailure::timeout: return "timeout";
        case TransportFailure::network: return "network";
        case TransportFailure::tls: return "tls";
    }
    return "?";
}

std::string describe(const AttemptOutcome& o) {
    switch (o.transport) {
        case TransportFailure::timeout: return "timeout";
        case TransportFailure::network: return "network error";
        case TransportFailure::tls: return "TLS failure";
        case TransportFailure::none: break;
    }
    return "HTTP " + std::to_string(o.http_status);
}

RetryDecision decide_retry(const RetryPolicy& policy, int attempt, const AttemptOutcome& outcome, double random01,
                           milliseconds time_left) {
    assert(attempt >= 1);
    if (attempt < 1) return give_up("invalid attempt number " + std::to_string(attempt) + " (expected >= 1)");

    // Only transient failures are worth another attempt.
    switch (classify(outcome)) {
        case Verdict::not_a_failure: return give_up(describe(outcome) + " is not a failure: nothing to retry");
        case Verdict::permanent: return give_up(permanent_reason(outcome));
        case Verdict::transient: break;
    }

    const int max_attempts = std::max(1, policy.max_attempts);
    if (attempt >= max_attempts)
        return give_up("gave up after " + std::to_string(attempt) + " attempt" + (attempt == 1 ? "" : "s") +
                       " (last: " + describe(outcome) + ")");

    // Full jitter over the exponential ceiling.
    if (!(random01 >= 0.0)) random01 = 0.0;  // NaN too
    if (random01 >= 1.0) random01 = std::nextafter(1.0, 0.0);
    const std::int64_t ceiling = backoff_ceiling_ms(policy, attempt);
    std::int64_t delay = static_cast<std::int64_t>(std::floor(random01 * static_cast<double>(ceiling)));
    delay = std::clamp<std::int64_t>(delay, 0, std::max<std::int64_t>(0, ceiling - 1));

    // The server's own wait is a floor for 429 and 503.
    std::string note;
    const int status = outcome.transport == TransportFailure::none ? outcome.http_status : 0;
    if (status == 429 || status == 503) {
        const ServerDelay server = server_delay(outcome);
        const std::int64_t cap = std::max<std::int64_t>(0, policy.max_server_delay.count());
        if (server.ms > cap)
            return give_up(describe(outcome) + ": server asked to wait " + format_ms(server.ms) + " (" +
                           server.source + "), more than the " + format_ms(cap) + " cap; gave up after attempt " +
                           std::to_string(attempt));
        if (server.ms > delay) {
            delay = server.ms;
            note = " (" + server.source + ")";
        }
    }

    // Never sleep into (or past) the job's deadline.
    if (time_left.count() <= delay)
        return give_up("deadline: a retry in " + format_ms(delay) + " would pass the job deadline (" +
                       format_ms(std::max<std::int64_t>(0, time_left.count())) + " left) after attempt " +
                       std::to_string(attempt) + " (" + describe(outcome) + ")");

    return RetryDecision{true, milliseconds{delay},
                         describe(outcome) + ": retry " + std::to_string(attempt + 1) + " of " +
                             std::to_string(max_attempts) + " in " + format_ms(delay) + note};
}

bool counts_as_breaker_failure(const AttemptOutcome& o) {
    if (o.transport != TransportFailure::none) return true;
    return o.http_status == 429 || (o.http_status >= 500 && o.http_status <= 599);
}

std::optional<int> parse_retry_after(std::string_view value) {
    bool overflow = false;
    const auto v = parse_digits(value, INT_MAX, &overflow);
    if (!v) return std::nullopt;
    return static_cast<int>(*v);  // saturated at INT_MAX on overflow
}

std::optional<std::int64_t> parse_ratelimit_reset(std::string_view value) {
    bool overflow = false;
    const auto v = parse_digits(value, INT64_MAX, &overflow);
    if (!v || overflow) return std::nullopt;
    return v;
}

// ---------------------------------------------------------------------------------------

std::vector<std::string> check_config(const RateLimitConfig& c) {
    std::vector<std::string> errors;
    if (c.requests_per_minute < 1)
        errors.push_back("rate_limit.requests_per_minute = " + std::to_string(c.requests_per_minute) +
                         ": expected at least 1");
    if (c.window.count() <= 0)
        errors.push_back("rate_limit.window = " + std::to_string(c.window.count()) + " ms: expected > 0");
    return errors;
}

TokenBucket::TokenBucket(RateLimitConfig config)
    : capacity_(std::max(1, config.requests_per_minute)), window_(std::max(milliseconds{1}, config.window)) {
    assert(config.requests_per_minute >= 1);
    assert(config.window.count() > 0);
}

std::chrono::milliseconds TokenBucket::acquire(clock::time_point now) {
    if (!grants_.empty() && now < grants_.back()) now = grants_.back();
    // Fewer than N grants ever: nothing to wait for.
    if (static_cast<int>(grants_.size()) < capacity_) {
        grants_.push_back(now);
        return milliseconds{0};
    }
    // grants_.front() is the grant N back: its token returns one window after it.
    const auto returns_at = grants_.front() + window_;
    if (now >= returns_at) {
        grants_.pop_front();
        grants_.push_back(now);
        return milliseconds{0};
    }
    return std::chrono::ceil<milliseconds>(returns_at - now);
}

int TokenBucket::available(clock::time_point now) const {
    if (!grants_.empty() && now < grants_.back()) now = grants_.back();
    // Grants still inside the window hold their tokens.
    const auto in_window = std::count_if(grants_.begin(), grants_.end(), [&](clock::time_point t) { return now - t < window_; });
    return capacity_ - static_cast<int>(in_window);
}

// ---------------------------------------------------------------------------------------

std::vector<std::string> check_config(const CircuitBreakerConfig& c) {
    std::vector<std::string> errors;
    if (c.failure_threshold < 1)
        errors.push_back("circuit_breaker.failure_threshold = " + std::to_string(c.failure_threshold) +
                         ": expected at least 1");
    if (c.cool_down.count() < 0)
        errors.push_back("circuit_breaker.cool_down = " + std::to_string(c.cool_down.count()) + " ms: expected >= 0");
    return errors;
}

CircuitBreaker::CircuitBreaker(CircuitBreakerConfig config) : config_(config) {
    assert(config.failure_threshold >= 1);
    assert(config.cool_down.count() >= 0);
    config_.failure_threshold = std::max(1, config_.failure_threshold);
    config_.cool_down = std::max(milliseconds{0}, config_.cool_down);
}

bool CircuitBreaker::allow(clock::time_point now) {
    switch (state_) {
        case State::closed: return true;
        case State::open:
            if (now - opened_at_ < config_.cool_down) return false;
            // Cool-down over: this caller is the one probe.
            state_ = State::half_open;
            probe_granted_at_ = now;
            return true;
        case State::half_open:
            // A probe whose outcome never came (cancelled) must not wedge the breaker.
            if (now - probe_granted_at_ < config_.cool_down) return false;
            probe_granted_at_ = now;
            return true;
    }
    return false;
}

std::optional<CircuitBreaker::Transition> CircuitBreaker::on_success(clock::time_point) {
    switch (state_) {
        case State::closed: consecutive_failures_ = 0; return std::nullopt;
        case State::open: return std::nullopt;  // a request from before the circuit opened
        case State::half_open:
            state_ = State::closed;
            consecutive_failures_ = 0;
            return Transition{State::half_open, State::closed, "probe succeeded: circuit closed"};
    }
    return std::nullopt;
}

std::optional<CircuitBreaker::Transition> CircuitBreaker::on_failure(clock::time_point now) {
    switch (state_) {
        case State::closed:
            ++consecutive_failures_;
            if (consecutive_failures_ < config_.failure_threshold) return std::nullopt;
            state_ = State::open;
            opened_at_ = now;
            return Transition{State::closed, State::open,
                              std::to_string(consecutive_failures_) + " consecutive failures: open for " +
                                  format_ms(config_.cool_down.count())};
        case State::open: return std::nullopt;  // a request from before the circuit opened
        case State::half_open:
            state_ = State::open;
            opened_at_ = now;
            return Transition{State::half_open, State::open,
                              "probe failed: open for another " + format_ms(config_.cool_down.count())};
    }
    return std::nullopt;
}

const char* to_string(CircuitBreaker::State state) {
    switch (state) {
        case CircuitBreaker::State::closed: return "closed";
        case CircuitBreaker::State::open: return "open";
        case CircuitBreaker::State::half_open: return "half_open";
    }
    return "?";
}

}  // namespace ballast::broker
