#include <algorithm>
#include <cmath>
#include <queue>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "broker/resilience.hpp"

using namespace ballast::broker;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

using Clock = std::chrono::steady_clock;
Clock::time_point at(Clock::duration offset) { return Clock::time_point{} + offset; }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const double kAlmostOne = std::nextafter(1.0, 0.0);

AttemptOutcome with_retry_after(int status, int seconds) {
    auto o = AttemptOutcome::status(status);
    o.retry_after = seconds;
    return o;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// decide_retry

TEST_CASE("every transport kind and status class is classified", "[broker][resilience][retry]") {
    struct Row {
        AttemptOutcome outcome;
        bool retry;
        const char* reason;
    };
    const std::vector<Row> rows{
        {AttemptOutcome::failure(TransportFailure::timeout), true, "timeout: retry 2 of 5"},
        {AttemptOutcome::failure(TransportFailure::network), true, "network error: retry 2 of 5"},
        {AttemptOutcome::failure(TransportFailure::tls), false, "TLS failure: not retried"},
        {AttemptOutcome::status(429), true, "HTTP 429: retry 2 of 5"},
        {AttemptOutcome::status(500), true, "HTTP 500: retry"},
        {AttemptOutcome::status(502), true, "HTTP 502: retry"},
        {AttemptOutcome::status(503), true, "HTTP 503: retry"},
        {AttemptOutcome::status(504), true, "HTTP 504: retry"},
        {AttemptOutcome::status(501), false, "HTTP 501: not a transient status"},
        {AttemptOutcome::status(505), false, "not retried"},
        {AttemptOutcome::status(599), false, "not retried"},
        {AttemptOutcome::status(401), false, "HTTP 401 (credentials or permission): not retried"},
        {AttemptOutcome::status(403), false, "HTTP 403 (credentials or permission): not retried"},
        {AttemptOutcome::status(400), false, "HTTP 400 (client error): not retried"},
        {AttemptOutcome::status(404), false, "HTTP 404 (client error): not retried"},
        {AttemptOutcome::status(408), false, "client error"},
        {AttemptOutcome::status(409), false, "client error"},
        {AttemptOutcome::status(422), false, "HTTP 422 (client error): not retried"},
        {AttemptOutcome::status(499), false, "client error"},
        {AttemptOutcome::status(200), false, "HTTP 200 is not a failure"},
        {AttemptOutcome::status(201), false, "is not a failure"},
        {AttemptOutcome::status(204), false, "is not a failure"},
        {AttemptOutcome::status(301), false, "is not a failure"},
        {AttemptOutcome::status(304), false, "is not a failure"},
        {AttemptOutcome::status(100), false, "not a transient status"},
        {AttemptOutcome::status(0), false, "not a valid HTTP status"},
        {AttemptOutcome::status(-1), false, "not a valid HTTP status"},
        {AttemptOutcome::status(600), false, "not a valid HTTP status"},
    };
    const RetryPolicy policy;
    for (const auto& row : rows) {
        INFO(describe(row.outcome));
        const auto d = decide_retry(policy, 1, row.outcome, 0.5);
        CHECK(d.retry == row.retry);
        CHECK(contains(d.reason, row.reason));
        if (!d.retry) CHECK(d.delay == 0ms);
        // Whether it also counts against the breaker.
        const bool breaker = row.outcome.transport != TransportFailure::none || row.outcome.http_status == 429 ||
                             (row.outcome.http_status >= 500 && row.outcome.http_status <= 599);
        CHECK(counts_as_breaker_failure(row.outcome) == breaker);
    }
}

TEST_CASE("the defaults are the documented ones", "[broker][resilience][retry]") {
    const RetryPolicy p;
    CHECK(p.max_attempts == 5);
    CHECK(p.base_delay == 250ms);
    CHECK(p.max_delay == 20s);
    CHECK(p.max_server_delay == 60s);
    CHECK(check_config(p).empty());
    RetryPolicy bad;
    bad.max_attempts = 0;
    bad.base_delay = -1ms;
    bad.max_server_delay = -5ms;
    const auto errors = check_config(bad);
    REQUIRE(errors.size() == 3);
    CHECK(contains(errors[0], "retry.max_attempts = 0"));
    RetryPolicy inverted;
    inverted.max_delay = 100ms;
    REQUIRE(check_config(inverted).size() == 1);
    CHECK(contains(check_config(inverted)[0], "retry.max_delay = 100 ms"));
}

TEST_CASE("full jitter stays within 0 and the exponential ceiling", "[broker][resilience][retry]") {
    RetryPolicy p;
    p.max_attempts = 100;
    const auto timeout = AttemptOutcome::failure(TransportFailure::timeout);
    // ceiling = min(20000, 250 * 2^(attempt-1)): 250, 500, 1000, ..., 16000, 20000, 20000.
    const std::vector<std::int64_t> ceilings{250, 500, 1000, 2000, 4000, 8000, 16000, 20000, 20000};
    for (std::size_t i = 0; i < ceilings.size(); ++i) {
        const int attempt = static_cast<int>(i) + 1;
        INFO("attempt " << attempt);
        const auto low = decide_retry(p, attempt, timeout, 0.0);
        REQUIRE(low.retry);
        CHECK(low.delay == 0ms);
        const auto high = decide_retry(p, attempt, timeout, kAlmostOne);
        REQUIRE(high.retry);
        CHECK(high.delay.count() == ceilings[i] - 1);
        const auto half = decide_retry(p, attempt, timeout, 0.5);
        CHECK(half.delay.count() == ceilings[i] / 2);
    }
    // The cap holds for huge attempt numbers (no overflow).
    CHECK(decide_retry(p, 99, timeout, kAlmostOne).delay == 19'999ms);
    // Out-of-range random numbers are clamped, never scale beyond the ceiling.
    CHECK(decide_retry(p, 1, timeout, 1.0).delay == 249ms);
    CHECK(decide_retry(p, 1, timeout, 7.0).delay == 249ms);
    CHECK(decide_retry(p, 1, timeout, -3.0).delay == 0ms);
    CHECK(decide_retry(p, 1, timeout, std::nan("")).delay == 0ms);
    // Random samples stay inside [0, ceiling).
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int n = 0; n < 2000; ++n) {
        const int attempt = 1 + n % 10;
        const auto d = decide_retry(p, attempt, AttemptOutcome::status(502), u(rng));
        REQUIRE(d.retry);
        CHECK(d.delay >= 0ms);
        CHECK(d.delay.count() < ceilings[std::min<std::size_t>(attempt - 1, ceilings.size() - 1)]);
    }
}

TEST_CASE("gives up at max attempts naming them", "[broker][resilience][retry]") {
    const RetryPolicy p;
    const auto o = AttemptOutcome::status(503);
    for (int attempt = 1; attempt < 5; ++attempt) CHECK(decide_retry(p, attempt, o, 0.3).retry);
    const auto d = decide_retry(p, 5, o, 0.3);
    CHECK_FALSE(d.retry);
    CHECK(d.reason == "gave up after 5 attempts (last: HTTP 503)");
    CHECK_FALSE(decide_retry(p, 6, o, 0.3).retry);
    RetryPolicy once;
    once.max_attempts = 1;
    CHECK(decide_retry(once, 1, AttemptOutcome::failure(TransportFailure::network), 0.3).reason ==
          "gave up after 1 attempt (last: network error)");
    // A non-transient outcome says why, not the attempt count.
    CHECK(contains(decide_retry(p, 5, AttemptOutcome::status(404), 0.3).reason, "client error"));
}

TEST_CASE("Retry-After is a floor for 429 and 503 only", "[broker][resilience][retry]") {
    const RetryPolicy p;
    // The larger of jitter and Retry-After wins.
    auto d = decide_retry(p, 1, with_retry_after(429, 3), 0.5);
    REQUIRE(d.retry);
    CHECK(d.delay == 3s);
    CHECK(contains(d.reason, "in 3 s (Retry-After)"));
    d = decide_retry(p, 1, with_retry_after(503, 2), 0.0);
    CHECK(d.delay == 2s);
    // Jitter above the server's ask is kept.
    RetryPolicy many;
    many.max_attempts = 10;
    d = decide_retry(many, 8, with_retry_after(503, 1), 0.5);
    CHECK(d.delay == 10s);
    CHECK_FALSE(contains(d.reason, "Retry-After"));
    // Ignored on other retryable statuses.
    d = decide_retry(p, 1, with_retry_after(500, 30), 0.0);
    CHECK(d.delay == 0ms);
    d = decide_retry(p, 1, with_retry_after(502, 30), 0.0);
    CHECK(d.delay == 0ms);
    // Zero or negative asks nothing.
    CHECK(decide_retry(p, 1, with_retry_after(429, 0), 0.0).delay == 0ms);
    CHECK(decide_retry(p, 1, with_retry_after(429, -4), 0.0).delay == 0ms);
    // Exactly the cap is honoured; above it gives up and says so.
    d = decide_retry(p, 1, with_retry_after(429, 60), 0.0);
    CHECK(d.retry);
    CHECK(d.delay == 60s);
    d = decide_retry(p, 2, with_retry_after(429, 61), 0.0);
    CHECK_FALSE(d.retry);
    CHECK(d.reason == "HTTP 429: server asked to wait 61 s (Retry-After), more than the 60 s cap; gave up after attempt 2");
    d = decide_retry(p, 1, with_retry_after(503, 2147483647), 0.0);
    CHECK_FALSE(d.retry);
    CHECK(contains(d.reason, "more than the 60 s cap"));
}

TEST_CASE("X-Ratelimit-Reset becomes a delay from the arrival time", "[broker][resilience][retry]") {
    const RetryPolicy p;
    auto o = AttemptOutcome::status(429);
    o.received_unix = 1'700'000'000'250ms;
    o.ratelimit_reset = 1'700'000'005;  // 4.75 s later
    auto d = decide_retry(p, 1, o, 0.0);
    REQUIRE(d.retry);
    CHECK(d.delay == 4750ms);
    CHECK(contains(d.reason, "in 4750 ms (X-Ratelimit-Reset)"));
    // The larger of Retry-After and the reset wins.
    o.retry_after = 7;
    CHECK(decide_retry(p, 1, o, 0.0).delay == 7s);
    o.retry_after = 2;
    CHECK(decide_retry(p, 1, o, 0.0).delay == 4750ms);
    o.retry_after.reset();
    // A reset already past adds nothing.
    o.ratelimit_reset = 1'699'999'000;
    CHECK(decide_retry(p, 1, o, 0.0).delay == 0ms);
    // Too far ahead: give up and say so.
    o.ratelimit_reset = 1'700'000'000 + 3600;
    d = decide_retry(p, 1, o, 0.0);
    CHECK_FALSE(d.retry);
    CHECK(contains(d.reason, "(X-Ratelimit-Reset), more than the 60 s cap"));
    // Absurd values do not overflow.
    o.ratelimit_reset = INT64_MAX;
    CHECK_FALSE(decide_retry(p, 1, o, 0.0).retry);
    // A 503 honours it too; a 500 does not.
    auto u = AttemptOutcome::status(503);
    u.received_unix = 1'000'000ms;
    u.ratelimit_reset = 1'010;
    CHECK(decide_retry(p, 1, u, 0.0).delay == 10s);
    u.http_status = 500;
    CHECK(decide_retry(p, 1, u, 0.0).delay == 0ms);
}

TEST_CASE("never schedules a retry past the deadline", "[broker][resilience][retry]") {
    const RetryPolicy p;
    const auto o = AttemptOutcome::failure(TransportFailure::timeout);
    // Jitter 0.5 on attempt 3: 500 ms.
    CHECK(decide_retry(p, 3, o, 0.5, 501ms).retry);
    auto d = decide_retry(p, 3, o, 0.5, 500ms);
    CHECK_FALSE(d.retry);
    CHECK(d.reason == "deadline: a retry in 500 ms would pass the job deadline (500 ms left) after attempt 3 (timeout)");
    CHECK_FALSE(decide_retry(p, 1, o, 0.0, 0ms).retry);
    CHECK(contains(decide_retry(p, 1, o, 0.0, -20ms).reason, "deadline: a retry in 0 ms would pass the job deadline (0 ms left)"));
    // The server's minimum counts against the deadline too.
    d = decide_retry(p, 1, with_retry_after(429, 10), 0.0, 9s);
    CHECK_FALSE(d.retry);
    CHECK(contains(d.reason, "deadline: a retry in 10 s"));
    CHECK(decide_retry(p, 1, with_retry_after(429, 10), 0.0, 11s).delay == 10s);
    // No deadline by default.
    CHECK(decide_retry(p, 4, o, kAlmostOne).retry);
}

TEST_CASE("an invalid attempt number or policy never misbehaves", "[broker][resilience][retry]") {
    RetryPolicy p;
    p.max_attempts = -3;  // clamped to 1: no retries at all
    CHECK_FALSE(decide_retry(p, 1, AttemptOutcome::status(503), 0.5).retry);
    RetryPolicy zero;
    zero.base_delay = 0ms;
    zero.max_delay = 0ms;
    const auto d = decide_retry(zero, 4, AttemptOutcome::status(503), 0.9);
    CHECK(d.retry);
    CHECK(d.delay == 0ms);
}

TEST_CASE("header values parse and junk is nullopt", "[broker][resilience][retry]") {
    CHECK(parse_retry_after("120") == 120);
    CHECK(parse_retry_after("0") == 0);
    CHECK(parse_retry_after(" 7\t") == 7);
    CHECK(parse_retry_after("0005") == 5);
    CHECK(parse_retry_after("99999999999999999999") == 2147483647);
    for (const char* junk : {"", " ", "-1", "+5", "1.5", "5s", "abc", "1 2", "Wed, 21 Oct 2015 07:28:00 GMT",
                             "0x10", "99999999999999999999x", "\n5"}) {
        INFO(junk);
        CHECK_FALSE(parse_retry_after(junk));
    }
    CHECK(parse_ratelimit_reset("1700000005") == 1'700'000'005);
    CHECK(parse_ratelimit_reset(" 1700000005 ") == 1'700'000'005);
    CHECK(parse_ratelimit_reset("9223372036854775807") == INT64_MAX);
    for (const char* junk : {"", "-1700000005", "1700000005.5", "soon", "9223372036854775808",
                             "99999999999999999999999", "17e8"}) {
        INFO(junk);
        CHECK_FALSE(parse_ratelimit_reset(junk));
    }
}

// ---------------------------------------------------------------------------------------
// TokenBucket

namespace {

// Every window [t, t + window) holds at most n grants: with grants sorted, each grant
// and the one n later must lie at least a window apart. Also re-checked by counting.
void check_window_property(const std::vector<Clock::time_point>& grants, int n, Clock::duration window) {
    REQUIRE(std::is_sorted(grants.begin(), grants.end()));
    bool ok = true;
    for (std::size_t i = 0; i + n < grants.size(); ++i)
        if (grants[i + n] - grants[i] < window) ok = false;
    CHECK(ok);
    // Independent count: the busiest window starts at a grant.
    std::size_t busiest = 0;
    std::size_t j = 0;
    for (std::size_t i = 0; i < grants.size(); ++i) {
        j = std::max(j, i);
        while (j < grants.size() && grants[j] - grants[i] < window) ++j;
        busiest = std::max(busiest, j - i);
    }
    CHECK(busiest <= static_cast<std::size_t>(n));
}

}  // namespace

TEST_CASE("the token bucket bursts to N then waits for the oldest token", "[broker][resilience][ratelimit]") {
    TokenBucket bucket(RateLimitConfig{3, 60s});
    CHECK(bucket.capacity() == 3);
    CHECK(bucket.available(at(0s)) == 3);
    CHECK(bucket.acquire(at(0s)) == 0ms);
    CHECK(bucket.acquire(at(10s)) == 0ms);
    CHECK(bucket.acquire(at(10s)) == 0ms);
    CHECK(bucket.available(at(10s)) == 0);
    // The first token returns at 60 s: wait rounds up to whole milliseconds.
    CHECK(bucket.acquire(at(20s)) == 40s);
    CHECK(bucket.acquire(at(59'999'999'999ns)) == 1ms);
    CHECK(bucket.acquire(at(59'999'000'001ns)) == 1ms);
    CHECK(bucket.acquire(at(60s)) == 0ms);
    CHECK(bucket.acquire(at(60s)) == 10s);
    CHECK(bucket.available(at(70s)) == 2);
    CHECK(bucket.acquire(at(70s)) == 0ms);
    CHECK(bucket.acquire(at(70s)) == 0ms);
    CHECK(bucket.acquire(at(70s)) == 50s);
    // A time earlier than the last grant counts as that grant's time.
    CHECK(bucket.acquire(at(1s)) == 50s);

    const RateLimitConfig defaults;
    CHECK(defaults.requests_per_minute == 200);
    CHECK(defaults.window == 60s);
    CHECK(check_config(defaults).empty());
    CHECK(check_config(RateLimitConfig{0, 60s}).size() == 1);
    CHECK(check_config(RateLimitConfig{5, 0ms}).size() == 1);
}

TEST_CASE("the token bucket never grants more than N in any 60 s window under random load",
          "[broker][resilience][ratelimit]") {
    const int n = GENERATE(1, 2, 7, 60, 200);
    const auto window = Clock::duration{60s};
    TokenBucket bucket(RateLimitConfig{n, 60s});
    std::mt19937_64 rng(1234 + n);

    // Several callers; each sends, thinks for a random time (often zero: bursts), and when
    // told to wait sleeps that long (sometimes a little longer) before asking again. The
    // demand level changes every simulated 10 minutes, from idle to heavy overload.
    struct Wake {
        Clock::time_point t;
        int caller;
        bool operator>(const Wake& o) const { return t > o.t; }
    };
    std::priority_queue<Wake, std::vector<Wake>, std::greater<>> queue;
    const int callers = 4;
    for (int c = 0; c < callers; ++c) queue.push({at(std::chrono::microseconds(rng() % 1'000'000)), c});
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const auto end = at(6h);
    std::vector<Clock::time_point> grants;
    long waits_honoured = 0;
    std::vector<bool> after_wait(callers, false);
    while (!queue.empty()) {
        const Wake w = queue.top();
        queue.pop();
        if (w.t >= end) continue;
        const auto wait = bucket.acquire(w.t);
        if (wait == 0ms) {
            grants.push_back(w.t);
            if (after_wait[w.caller]) ++waits_honoured;
            after_wait[w.caller] = false;
            // Demand level of this 10-minute phase: mean think time from 0 to ~8 windows/N.
            const auto phase = std::chrono::duration_cast<std::chrono::minutes>(w.t - at(0s)).count() / 10;
            const double level = static_cast<double>((phase * 7919 + n) % 5);  // 0 = flood, 4 = quiet
            const double mean_us = level * 2.0 * 60e6 / n * callers;
            const double think = u(rng) < 0.3 ? 0.0 : -std::log(1.0 - u(rng)) * mean_us;
            queue.push({w.t + std::chrono::microseconds(static_cast<std::int64_t>(think)), w.caller});
        } else {
            REQUIRE(wait > 0ms);
            REQUIRE(wait <= 60s);
            after_wait[w.caller] = true;
            const auto extra = u(rng) < 0.5 ? std::chrono::microseconds(0)
                                            : std::chrono::microseconds(rng() % 3'000'000);
            queue.push({w.t + wait + extra, w.caller});
        }
    }
    INFO("N = " << n << ", grants = " << grants.size());
    check_window_property(grants, n, window);
    // Liveness: the flood phases keep the bucket busy, so hours of demand grant a good
    // share of the 360 windows' worth.
    CHECK(grants.size() >= static_cast<std::size_t>(n) * 360 / 4);
    CHECK(waits_honoured > 0);
}

TEST_CASE("a single caller that sleeps the returned wait always gets the token", "[broker][resilience][ratelimit]") {
    const int n = GENERATE(1, 200);
    TokenBucket bucket(RateLimitConfig{n, 60s});
    std::mt19937_64 rng(99);
    auto now = at(0s);
    std::vector<Clock::time_point> grants;
    while (now < at(2h)) {
        const auto wait = bucket.acquire(now);
        if (wait == 0ms) {
            grants.push_back(now);
            now += std::chrono::microseconds(rng() % 200'000);
            continue;
        }
        now += wait;
        REQUIRE(bucket.acquire(now) == 0ms);
        grants.push_back(now);
    }
    check_window_property(grants, n, 60s);
    // Saturated: exactly N per window on average (within one window's worth).
    CHECK(grants.size() >= static_cast<std::size_t>(n) * 119);
    CHECK(grants.size() <= static_cast<std::size_t>(n) * 121);
}

// ---------------------------------------------------------------------------------------
// CircuitBreaker

TEST_CASE("the breaker opens, fails fast, probes once and recovers", "[broker][resilience][breaker]") {
    CircuitBreaker b;  // 5 failures, 30 s
    CHECK(b.state() == CircuitBreaker::State::closed);
    CHECK(to_string(b.state()) == std::string("closed"));
    // Four failures, a success resets the count.
    for (int i = 0; i < 4; ++i) {
        CHECK(b.allow(at(1s)));
        CHECK_FALSE(b.on_failure(at(1s)));
    }
    CHECK(b.consecutive_failures() == 4);
    CHECK_FALSE(b.on_success(at(2s)));
    CHECK(b.consecutive_failures() == 0);
    // Five in a row open it; the transition is reported once.
    for (int i = 0; i < 4; ++i) CHECK_FALSE(b.on_failure(at(3s)));
    const auto opened = b.on_failure(at(4s));
    REQUIRE(opened);
    CHECK(opened->from == CircuitBreaker::State::closed);
    CHECK(opened->to == CircuitBreaker::State::open);
    CHECK(opened->reason == "5 consecutive failures: open for 30 s");
    CHECK(b.state() == CircuitBreaker::State::open);
    // Late outcomes of requests started before it opened change nothing.
    CHECK_FALSE(b.on_failure(at(5s)));
    CHECK_FALSE(b.on_success(at(5s)));
    CHECK(b.state() == CircuitBreaker::State::open);
    // Fail fast until the cool-down has passed (measured from opening, not the late failure).
    CHECK_FALSE(b.allow(at(4s)));
    CHECK_FALSE(b.allow(at(33'999ms)));
    // Exactly one probe.
    CHECK(b.allow(at(34s)));
    CHECK(b.state() == CircuitBreaker::State::half_open);
    CHECK(to_string(b.state()) == std::string("half_open"));
    CHECK_FALSE(b.allow(at(34s)));
    CHECK_FALSE(b.allow(at(50s)));
    // The probe succeeds: closed, reported once.
    const auto closed = b.on_success(at(51s));
    REQUIRE(closed);
    CHECK(closed->from == CircuitBreaker::State::half_open);
    CHECK(closed->to == CircuitBreaker::State::closed);
    CHECK(closed->reason == "probe succeeded: circuit closed");
    CHECK_FALSE(b.on_success(at(52s)));
    CHECK(b.allow(at(52s)));
    CHECK(b.allow(at(52s)));
    CHECK(b.consecutive_failures() == 0);
}

TEST_CASE("a failed probe reopens the breaker for another cool-down", "[broker][resilience][breaker]") {
    CircuitBreaker b(CircuitBreakerConfig{2, 10s});
    CHECK_FALSE(b.on_failure(at(0s)));
    REQUIRE(b.on_failure(at(1s)));
    CHECK_FALSE(b.allow(at(5s)));
    CHECK(b.allow(at(11s)));
    const auto reopened = b.on_failure(at(12s));
    REQUIRE(reopened);
    CHECK(reopened->from == CircuitBreaker::State::half_open);
    CHECK(reopened->to == CircuitBreaker::State::open);
    CHECK(reopened->reason == "probe failed: open for another 10 s");
    CHECK(to_string(b.state()) == std::string("open"));
    // The cool-down restarts at the probe's failure.
    CHECK_FALSE(b.allow(at(21s)));
    CHECK(b.allow(at(22s)));
    CHECK_FALSE(b.allow(at(22s)));
    REQUIRE(b.on_success(at(23s)));
    CHECK(b.state() == CircuitBreaker::State::closed);
    // Closed again: it takes the full threshold to reopen.
    CHECK_FALSE(b.on_failure(at(24s)));
    CHECK(b.on_failure(at(25s)));
}

TEST_CASE("a probe whose outcome never comes does not wedge the breaker", "[broker][resilience][breaker]") {
    CircuitBreaker b(CircuitBreakerConfig{1, 30s});
    REQUIRE(b.on_failure(at(0s)));
    CHECK(b.allow(at(30s)));   // the probe, then cancelled: never reported
    CHECK_FALSE(b.allow(at(59s)));
    CHECK(b.allow(at(60s)));   // a new probe after another cool-down
    CHECK_FALSE(b.allow(at(60s)));
    CHECK(b.state() == CircuitBreaker::State::half_open);
    REQUIRE(b.on_success(at(61s)));
}

TEST_CASE("every breaker transition is reported exactly once over a random run", "[broker][resilience][breaker]") {
    CircuitBreaker b(CircuitBreakerConfig{3, 5s});
    std::mt19937_64 rng(5);
    auto now = at(0s);
    auto state = CircuitBreaker::State::closed;  // as journaled from the reported transitions
    int opened = 0;
    int closed = 0;
    for (int i = 0; i < 20000; ++i) {
        now += std::chrono::milliseconds(rng() % 1500);
        const auto before = b.state();
        const bool allowed = b.allow(now);
        if (before == CircuitBreaker::State::open && allowed) state = CircuitBreaker::State::half_open;
        if (!allowed) {
            CHECK(b.state() != CircuitBreaker::State::closed);
            continue;
        }
        const bool fail = rng() % 3 != 0;
        const auto t = fail ? b.on_failure(now) : b.on_success(now);
        if (t) {
            REQUIRE(t->from == state);  // no transition skipped or repeated
            REQUIRE(t->to != t->from);
            state = t->to;
            if (t->to == CircuitBreaker::State::open) ++opened;
            if (t->to == CircuitBreaker::State::closed) ++closed;
        }
        REQUIRE(b.state() == state);
    }
    CHECK(opened > 10);
    CHECK(closed > 10);
}

TEST_CASE("breaker config is checked", "[broker][resilience][breaker]") {
    const CircuitBreakerConfig c;
    CHECK(c.failure_threshold == 5);
    CHECK(c.cool_down == 30s);
    CHECK(check_config(c).empty());
    const auto errors = check_config(CircuitBreakerConfig{0, -1ms});
    REQUIRE(errors.size() == 2);
    CHECK(contains(errors[0], "circuit_breaker.failure_threshold = 0"));
    CHECK(contains(errors[1], "circuit_breaker.cool_down = -1 ms"));
}
