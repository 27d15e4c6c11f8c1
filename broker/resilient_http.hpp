#pragma once
// One resilience policy for every call to a host: a client-side rate limit (token
// bucket), a circuit breaker, and retries with exponential backoff and full jitter for
// transient failures, all within a deadline. The decisions are the pure state machines
// of broker/resilience.hpp; this is their driver over HttpsClient.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "broker/https_client.hpp"
#include "broker/resilience.hpp"

namespace ballast::broker {

// What a caller may want to record of each attempt and breaker change (the daemon
// journals them as health events). Called on the io_context thread.
class HttpObserver {
public:
    virtual ~HttpObserver() = default;
    struct Attempt {
        std::string host;       // "paper-api.alpaca.markets:443"
        std::string method;
        std::string path;       // the target without its query string
        int attempt = 1;        // 1-based
        int status = 0;         // HTTP status, 0 when the exchange failed
        std::string error;      // transport error, empty on a response
        std::chrono::milliseconds elapsed{0};
    };
    virtual void on_attempt(const Attempt& attempt) = 0;
    virtual void on_breaker(const std::string& host, const CircuitBreaker::Transition& transition) = 0;
};

struct ResilientHttpConfig {
    HttpsClientConfig https;
    RetryPolicy retry;
    RateLimitConfig rate;
    CircuitBreakerConfig breaker;
    // Headers added to every request (authentication). Never logged.
    std::vector<std::pair<std::string, std::string>> headers;
};

class ResilientHttp {
public:
    using steady = std::chrono::steady_clock;
    ResilientHttp(net::any_io_executor ex, ResilientHttpConfig config, HttpObserver* observer);
    ~ResilientHttp();

    // Sends `request`, retrying transient failures, never past `deadline`.
    // Returns the response of the last attempt when its status is final (2xx, 3xx, 4xx
    // other than 429). Errors: circuit_open (failed fast), rate_limited (429 after the
    // retries), http_status (5xx after the retries; http_status set), timeout / network
    // (transport, after the retries), tls and bad_payload (not retried). Messages name the
    // method, host and path and end with why it gave up.
    awaitable<Result<HttpResponse>> send(const HttpRequest& request, steady::time_point deadline);

    const std::string& host() const { return host_; }
    CircuitBreaker::State breaker_state() const { return breaker_.state(); }

private:
    awaitable<void> sleep_for(std::chrono::milliseconds d);

    net::any_io_executor ex_;
    ResilientHttpConfig config_;
    HttpObserver* observer_;
    std::string host_;
    std::unique_ptr<HttpsClient> client_;
    TokenBucket bucket_;
    CircuitBreaker breaker_;
    std::uint64_t random_state_;
};

}  // namespace ballast::broker
