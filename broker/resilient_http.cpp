#include "broker/resilient_http.hpp"

#include <random>

#include <boost/asio/steady_timer.hpp>

namespace ballast::broker {
namespace {

TransportFailure transport_of(BrokerError::Kind kind) {
    switch (kind) {
        case BrokerError::Kind::timeout: return TransportFailure::timeout;
        case BrokerError::Kind::network: return TransportFailure::network;
        case BrokerError::Kind::tls: return TransportFailure::tls;
        default: return TransportFailure::none;
    }
}

std::string path_of(const std::string& target) { return target.substr(0, target.find('?')); }

std::string header_or_empty(const HttpResponse& r, const char* name) {
    const auto it = r.headers.find(name);
    return it == r.headers.end() ? std::string() : it->second;
}

std::chrono::milliseconds unix_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
}

}  // namespace

ResilientHttp::ResilientHttp(net::any_io_executor ex, ResilientHttpConfig config, HttpObserver* observer)
    : ex_(ex),
      config_(std::move(config)),
      observer_(observer),
      host_(config_.https.endpoint.host + ":" + std::to_string(config_.https.endpoint.port)),
      client_(std::make_unique<HttpsClient>(ex, config_.https)),
      bucket_(config_.rate),
      breaker_(config_.breaker),
      random_state_(std::random_device{}()) {}

ResilientHttp::~ResilientHttp() = default;

awaitable<void> ResilientHttp::sleep_for(std::chrono::milliseconds d) {
    net::steady_timer timer(ex_, d);
    boost::system::error_code ec;
    co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
}

awaitable<Result<HttpResponse>> ResilientHttp::send(const HttpRequest& request, steady::time_point deadline) {
    HttpRequest req = request;
    for (const auto& h : config_.headers) req.headers.push_back(h);
    const std::string what = request.method + " " + host_ + " " + path_of(request.target);
    std::mt19937_64 rng(random_state_++);
    std::uniform_real_distribution<double> unit(0.0, 1.0);

    for (int attempt = 1;; ++attempt) {
        // Fail fast while the host's breaker is open.
        const auto before = breaker_.state();
        if (!breaker_.allow(steady::now()))
            co_return BrokerError{BrokerError::Kind::circuit_open,
                                  what + ": circuit breaker open after repeated failures; failing fast"};
        if (before != breaker_.state() && observer_)
            observer_->on_breaker(host_, {before, breaker_.state(), "cool-down over: one probe request allowed"});
        // Stay under the request rate the broker allows.
        for (auto wait = bucket_.acquire(steady::now()); wait.count() > 0; wait = bucket_.acquire(steady::now())) {
            if (steady::now() + wait > deadline)
                co_return BrokerError{BrokerError::Kind::timeout,
                                      what + ": the job's deadline passes before the rate limit allows this request"};
            co_await sleep_for(wait);
        }

        const auto started = steady::now();
        auto result = co_await client_->request(req);
        const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started);

        AttemptOutcome outcome;
        if (result) {
            outcome = AttemptOutcome::status(result.value().status);
            outcome.retry_after = parse_retry_after(header_or_empty(result.value(), "retry-after"));
            outcome.ratelimit_reset = parse_ratelimit_reset(header_or_empty(result.value(), "x-ratelimit-reset"));
            outcome.received_unix = unix_now();
        } else {
            outcome = AttemptOutcome::failure(transport_of(result.error().kind));
            if (outcome.transport == TransportFailure::none) co_return result.error();  // bad_payload: not retried
        }
        if (observer_)
            observer_->on_attempt({host_, request.method, path_of(request.target), attempt,
                                   result ? result.value().status : 0, result ? "" : result.error().message, elapsed});
        const auto transition = counts_as_breaker_failure(outcome) ? breaker_.on_failure(steady::now())
                                                                   : breaker_.on_success(steady::now());
        if (transition && observer_) observer_->on_breaker(host_, *transition);

        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
        const auto decision = decide_retry(config_.retry, attempt, outcome, unit(rng),
                                           left.count() > 0 ? left : std::chrono::milliseconds{0});
        if (!decision.retry) {
            if (!result) {
                BrokerError e = result.error();
                if (e.kind != BrokerError::Kind::tls) e.message += " (" + decision.reason + ")";
                co_return e;
            }
            const int status = result.value().status;
            if (status == 429)
                co_return BrokerError{BrokerError::Kind::rate_limited, what + ": HTTP 429 rate limited; " + decision.reason,
                                      status};
            if (status >= 500)
                co_return BrokerError{BrokerError::Kind::http_status, what + ": HTTP " + std::to_string(status) + "; " +
                                                                          decision.reason,
                                      status};
            co_return result;  // a final answer for the caller to interpret
        }
        co_await sleep_for(decision.delay);
    }
}

}  // namespace ballast::broker
