#pragma once
// The venue interfaces the daemon talks to: Broker (account, orders) and MarketData
// (daily bars). Both are asynchronous (Asio awaitables) and report failures as values
// (Result), never by throwing.
#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "broker/asio.hpp"
#include "core/types.hpp"

namespace ballast::broker {

struct BrokerError {
    enum class Kind {
        timeout,       // a connect, handshake or request deadline passed (retryable)
        network,       // connection refused/reset/closed early (retryable)
        tls,           // certificate or host-name verification failed (never retried)
        http_status,   // an HTTP status the call did not expect (5xx retryable, 4xx not)
        rate_limited,  // 429 after the retries
        circuit_open,  // the host's circuit breaker is open: failed fast
        bad_payload,   // a body that does not parse or lacks a field (endpoint, field, value)
        unauthorized,  // 401/403 for credentials: never retried
        not_found,     // 404 for the thing asked for
        rejected,      // the broker said no to an order (definite: it does not exist there)
        bad_data,      // local data files (CSV, state) malformed
    };
    Kind kind = Kind::bad_payload;
    std::string message;  // names the endpoint/file, the field and the value; never a secret
    int http_status = 0;  // when the failure came with an HTTP status
};
const char* to_string(BrokerError::Kind kind);

// A value or a BrokerError.
template <class T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(BrokerError error) : v_(std::move(error)) {}
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const BrokerError& error() const { return std::get<1>(v_); }

private:
    std::variant<T, BrokerError> v_;
};

// A market order for the regular session (time in force "day").
struct OrderRequest {
    std::string client_order_id;  // deterministic, <= 48 characters
    core::Symbol symbol;
    core::Side side = core::Side::buy;
    core::Decimal qty;            // > 0
};

// The broker's view of one order. `status` uses Alpaca's names: new, accepted,
// partially_filled, filled, canceled, expired, rejected, ...
struct OrderUpdate {
    std::string client_order_id;
    std::string broker_order_id;
    core::Symbol symbol;              // what the broker holds under that id
    std::string side;                 // "buy" / "sell"
    std::optional<core::Decimal> qty; // ordered quantity (absent for notional orders)
    std::string status;
    core::Decimal filled_qty;
    std::optional<core::Decimal> filled_avg_price;
    core::Decimal commission;  // total charged so far
    std::string reason;        // why rejected/canceled, when the broker says
    std::string updated_at;    // ISO-8601 UTC
};
bool is_terminal_status(std::string_view status);  // filled, canceled, expired, rejected, replaced
// Whether the order the broker reports is the one requested (symbol, side, quantity): an
// order found under our client_order_id is adopted only when it is.
bool same_order(const OrderUpdate& update, const OrderRequest& request);

class Broker {
public:
    virtual ~Broker() = default;
    virtual awaitable<Result<core::AccountState>> account() = 0;
    virtual awaitable<Result<OrderUpdate>> submit(const OrderRequest& order) = 0;
    // Kind::not_found when the broker has no order with that id.
    virtual awaitable<Result<OrderUpdate>> order_by_client_id(const std::string& client_order_id) = 0;
    // Asks the broker to cancel an order that is still open; returns the order as it
    // stands afterwards (it may have filled meanwhile). Kind::not_found for an unknown id.
    virtual awaitable<Result<OrderUpdate>> cancel(const std::string& client_order_id) = 0;
    // Whether a market order sent now can fill while the job waits for it (the market
    // is open, or the venue fills at once). When false, orders queue for the next open.
    virtual awaitable<Result<bool>> fills_now() = 0;
    // The latest price of each symbol that the venue knows (symbols it has none for are
    // absent): what a market order sent now would about pay.
    virtual awaitable<Result<core::Prices>> latest_prices(const std::vector<core::Symbol>& symbols) = 0;
    // The deadline of the job now running: no call, retries included, goes past it.
    // Venues without remote calls ignore it.
    virtual void set_job_deadline(std::chrono::steady_clock::time_point) {}
};

class MarketData {
public:
    virtual ~MarketData() = default;
    // Daily bars of each symbol with from <= date <= to, ascending per symbol. Symbols
    // with no bars in the range are simply absent from the result.
    virtual awaitable<Result<std::vector<core::Bar>>> daily_bars(const std::vector<core::Symbol>& symbols,
                                                                  core::Date from, core::Date to) = 0;
};

}  // namespace ballast::broker
