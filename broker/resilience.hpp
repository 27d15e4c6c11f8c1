#pragma once
// The I/O-free resilience decisions of the HTTPS venues: when to retry a request and how
// long to wait first (RetryPolicy / decide_retry), how fast requests may leave
// (TokenBucket), and when to stop calling a failing host altogether (CircuitBreaker).
//
// Nothing here reads a clock, draws a random number, sleeps or touches a socket: the
// current time and a random number in [0, 1) are parameters. The Asio driver asks, then
// does what the answer says (sleep, send, fail fast) and reports what happened — the
// Boost.Redis `resume(state, event) -> action` shape.
//
// Time: the TokenBucket and the CircuitBreaker take `std::chrono::steady_clock::time_point`
// (tests build them as `time_point{} + offset`); decide_retry takes durations only (the
// time left before the job's deadline) plus, for X-Ratelimit-Reset, the wall-clock Unix
// time at which the response arrived.
//
// Thread-safety: the free functions are pure; TokenBucket and CircuitBreaker are plain
// values with no locking (the daemon uses them from its one io_context thread).
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ballast::broker {

// ---------------------------------------------------------------------------------------
// Retry

struct RetryPolicy {
    int max_attempts = 5;                                  // attempts in all, the first included
    std::chrono::milliseconds base_delay{250};             // backoff ceiling of the first retry
    std::chrono::milliseconds max_delay{20'000};           // the backoff ceiling never exceeds this
    std::chrono::milliseconds max_server_delay{60'000};    // longest Retry-After/X-Ratelimit-Reset
                                                           // wait honoured; longer ones give up
};
// Empty when the policy is usable, else one message per bad field (field, value, what
// was expected). decide_retry still behaves sanely on a bad policy (it clamps).
std::vector<std::string> check_config(const RetryPolicy& policy);

enum class TransportFailure {
    none,     // the exchange completed: look at http_status
    timeout,  // a connect/handshake/write/read deadline passed
    network,  // refused, reset, or the peer closed early (eof)
    tls,      // handshake or certificate/host-name verification failed
};
const char* to_string(TransportFailure failure);  // "none", "timeout", "network", "tls"

// A finished attempt.
struct AttemptOutcome {
    TransportFailure transport = TransportFailure::none;
    int http_status = 0;  // meaningful only when transport == none
    // Retry-After in seconds (delta-seconds form; see parse_retry_after).
    std::optional<int> retry_after;
    // X-Ratelimit-Reset: Unix seconds at which the rate-limit window resets.
    std::optional<std::int64_t> ratelimit_reset;
    // Wall-clock time the response arrived, milliseconds since the Unix epoch; used only
    // to turn ratelimit_reset into a delay.
    std::chrono::milliseconds received_unix{0};

    static AttemptOutcome status(int code) {
        AttemptOutcome o;
        o.http_status = code;
        return o;
    }
    static AttemptOutcome failure(TransportFailure kind) {
        AttemptOutcome o;
        o.transport = kind;
        return o;
    }
};
// "timeout", "network error", "TLS failure", "HTTP 503".
std::string describe(const AttemptOutcome& outcome);

struct RetryDecision {
    bool retry = false;
    std::chrono::milliseconds delay{0};  // wait this long, then send attempt + 1 (retry only)
    std::string reason;                  // why; for a give-up, what the caller's error says
};

// Passing kNoDeadline as time_left means the job has no deadline.
inline constexpr std::chrono::milliseconds kNoDeadline = std::chrono::milliseconds::max();

// What to do after attempt `attempt` (1-based: the attempt that just failed) ended with
// `outcome`.
// - Retried (transient): timeout, network, HTTP 429, 500, 502, 503, 504.
// - Never retried: TLS failures, 2xx/3xx (not failures), 401/403 (credentials or
//   permission), every other 4xx, 501 and every other status, out-of-range statuses.
// - Backoff with full jitter: delay = floor(random01 * min(max_delay,
//   base_delay * 2^(attempt-1))) ms. random01 outside [0, 1) (or NaN) is clamped.
// - For 429 and 503 the larger of Retry-After and (X-Ratelimit-Reset - received_unix) is a
//   minimum delay; if that minimum exceeds max_server_delay the decision gives up and
//   the reason says what the server asked for. A reset time already past adds nothing.
// - Gives up once `attempt >= max_attempts` (reason names the attempts and the last
//   outcome), and when the delay would reach or pass the deadline: `time_left` is the
//   time remaining before the job's deadline (reason begins with "deadline").
// An attempt below 1 is a caller bug: asserted, and answered with a give-up.
RetryDecision decide_retry(const RetryPolicy& policy, int attempt, const AttemptOutcome& outcome, double random01,
                           std::chrono::milliseconds time_left = kNoDeadline);

// Whether the outcome counts against the host's circuit breaker: transport failures
// (timeout, network, tls) and HTTP 429/5xx do; 2xx/3xx and 4xx other than 429 do not (the
// host answered; the request was wrong).
bool counts_as_breaker_failure(const AttemptOutcome& outcome);

// Retry-After value in delta-seconds form ("120", optional surrounding spaces/tabs).
// Junk, a sign, a fraction or an empty value -> nullopt. A number above INT_MAX saturates
// to INT_MAX (the server did ask for a very long wait, which decide_retry then refuses).
// The HTTP-date form ("Wed, 21 Oct 2015 07:28:00 GMT") is NOT accepted (nullopt): Alpaca
// signals its window with X-Ratelimit-Reset, and without a delay the ordinary backoff
// applies.
std::optional<int> parse_retry_after(std::string_view value);
// X-Ratelimit-Reset value: non-negative integer Unix seconds (optional surrounding
// spaces/tabs). Junk, a sign, a fraction, empty or overflow -> nullopt.
std::optional<std::int64_t> parse_ratelimit_reset(std::string_view value);

// ---------------------------------------------------------------------------------------
// Rate limit

struct RateLimitConfig {
    int requests_per_minute = 200;            // Alpaca's free-plan limit per key and API
    std::chrono::milliseconds window{60'000};  // the sliding window the limit applies to
};
std::vector<std::string> check_config(const RateLimitConfig& config);

// A request limiter that guarantees: over ANY window [t, t + window) no more than N
// grants, N = requests_per_minute.
//
// Why not a classic bucket: a bucket of capacity N refilling N per window lets a full
// bucket be spent at once and then refill during the same window, granting up to ~2N in
// one window. Here every token returns exactly one window after it was spent: the bucket
// keeps the times of the last N grants, and grant k is allowed only when
// t_k - t_(k-N) >= window. Proof: if some window [t, t + window) held N + 1 grants
// t_i < ... < t_(i+N), then t_(i+N) - t_i < window, which the rule forbids. So the bound
// is exact; bursts of up to N back-to-back are still allowed when the last window was
// quiet. Memory: N time points.
//
// Alpaca counts arrivals, not departures: network jitter can bring grants closer together
// at the server than they left here, so set N a little below the venue's limit if that
// matters (the retry policy handles an occasional 429 anyway).
class TokenBucket {
public:
    using clock = std::chrono::steady_clock;

    // requests_per_minute < 1 or a window <= 0 is a caller bug (see check_config):
    // asserted, then clamped to 1 request and 1 ms.
    explicit TokenBucket(RateLimitConfig config = {});

    // 0 ms: a token was taken at `now`, send the request. Otherwise nothing was taken:
    // sleep for the returned time (rounded up to whole milliseconds) and call again.
    // `now` earlier than a previous grant (not possible with steady_clock) is treated as
    // the time of that grant.
    std::chrono::milliseconds acquire(clock::time_point now);

    // Tokens that acquire(now) could grant at once, without taking any.
    int available(clock::time_point now) const;
    int capacity() const { return capacity_; }

private:
    int capacity_;
    clock::duration window_;
    std::deque<clock::time_point> grants_;  // the last <= capacity_ grant times, ascending
};

// ---------------------------------------------------------------------------------------
// Circuit breaker (one per host)

struct CircuitBreakerConfig {
    int failure_threshold = 5;                   // consecutive failures that open the circuit
    std::chrono::milliseconds cool_down{30'000};  // open this long before one probe is allowed
};
std::vector<std::string> check_config(const CircuitBreakerConfig& config);

// closed --(failure_threshold consecutive failures)--> open
// open --(cool_down elapsed; allow() grants exactly one probe)--> half_open
// half_open --(probe succeeded)--> closed;  half_open --(probe failed)--> open (cool-down restarts)
//
// The caller asks allow(now) before every request (false: fail fast with circuit_open)
// and reports the outcome of every allowed request exactly once with on_success or
// on_failure. Which outcomes are failures is the caller's decision; ballast uses
// counts_as_breaker_failure (transport failures, 429 and 5xx count; 4xx do not).
//
// Reported transitions: on_success/on_failure return the transition they caused (at most
// once per change of state) for the caller to journal as a health event; nullopt when the
// state did not change. The open -> half_open step happens inside allow() and is not
// reported separately: the probe's outcome is reported with from = half_open.
//
// Outcomes that arrive while open (requests allowed before the circuit opened) change
// nothing. While half_open any reported outcome is taken as the probe's. A probe whose
// outcome is never reported (cancelled) would wedge the breaker, so once cool_down has
// passed since the probe was granted, allow() grants a new probe.
class CircuitBreaker {
public:
    using clock = std::chrono::steady_clock;
    enum class State { closed, open, half_open };
    struct Transition {
        State from = State::closed;
        State to = State::closed;
        std::string reason;
    };

    // A threshold < 1 or a negative cool-down is a caller bug (see check_config):
    // asserted, then clamped to 1 and 0.
    explicit CircuitBreaker(CircuitBreakerConfig config = {});

    bool allow(clock::time_point now);
    std::optional<Transition> on_success(clock::time_point now);
    std::optional<Transition> on_failure(clock::time_point now);

    State state() const { return state_; }
    int consecutive_failures() const { return consecutive_failures_; }

private:
    CircuitBreakerConfig config_;
    State state_ = State::closed;
    int consecutive_failures_ = 0;
    clock::time_point opened_at_{};       // when the circuit last opened
    clock::time_point probe_granted_at_{};  // when the half_open probe was granted
};
const char* to_string(CircuitBreaker::State state);  // "closed", "open", "half_open"

}  // namespace ballast::broker
