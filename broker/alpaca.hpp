#pragma once
// Alpaca over HTTPS: the trading and market-data clients, and the Broker / MarketData
// implementations the daemon uses in paper and live mode. Every call goes through
// ResilientHttp (rate limit, circuit breaker, retries, deadline) and the parsers of
// broker/alpaca_json.hpp; nothing here throws.
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/alpaca_json.hpp"
#include "broker/broker.hpp"
#include "broker/resilient_http.hpp"

namespace ballast::broker {

struct AlpacaClientConfig {
    std::string trading_url;  // "https://paper-api.alpaca.markets"
    std::string data_url;     // "https://data.alpaca.markets"
    std::optional<std::filesystem::path> ca_file;
    std::string key_id;       // secret: only ever sent as a header
    std::string secret_key;   // secret: only ever sent as a header
    std::string feed = "iex";
    std::string adjustment = "all";
    int rate_limit_per_minute = 190;
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds request_timeout{15000};
    int max_attempts = 5;
    std::chrono::milliseconds breaker_cooldown{30'000};  // open circuit: fail fast this long, then one probe
    std::chrono::seconds call_deadline{120};  // one call, all its retries included (and never past the job's)
};

class AlpacaClient {
public:
    // Fails (Kind::bad_data) on a URL that is not https://host[:port][/path].
    static Result<std::shared_ptr<AlpacaClient>> create(net::any_io_executor ex, AlpacaClientConfig config,
                                                        HttpObserver* observer);

    awaitable<Result<alpaca::Account>> account();
    awaitable<Result<std::vector<alpaca::Position>>> positions();
    // POST /v2/orders. A 422 "client_order_id must be unique" (a retried submit that had
    // in fact arrived) is resolved by fetching that order, never by a new id. 403/422
    // answers (insufficient buying power or qty, invalid order) are Kind::rejected.
    awaitable<Result<alpaca::Order>> submit_order(const OrderRequest& order);
    awaitable<Result<alpaca::Order>> order_by_client_id(const std::string& client_order_id);
    awaitable<Result<alpaca::Order>> order(const std::string& id);
    awaitable<Result<bool>> cancel_order(const std::string& id);  // true: canceled; 422 not cancelable -> false
    awaitable<Result<alpaca::Clock>> clock();
    awaitable<Result<std::vector<alpaca::CalendarDay>>> calendar(core::Date from, core::Date to);
    awaitable<Result<alpaca::Asset>> asset(const core::Symbol& symbol);
    // Daily bars of every symbol with from <= date <= to, all pages (page_token until
    // next_page_token is null).
    awaitable<Result<std::vector<core::Bar>>> daily_bars(const std::vector<core::Symbol>& symbols, core::Date from,
                                                          core::Date to);

    // GET /v2/orders?status=open|closed|all&limit=N (limit 1..500).
    awaitable<Result<std::vector<alpaca::Order>>> orders(std::string_view status, int limit);
    // GET /v2/stocks/quotes/latest: the last quote of each symbol.
    awaitable<Result<std::map<core::Symbol, alpaca::Quote>>> latest_quotes(const std::vector<core::Symbol>& symbols);
    // GET /v2/stocks/trades/latest: the last trade of each symbol.
    awaitable<Result<std::map<core::Symbol, alpaca::Trade>>> latest_trades(const std::vector<core::Symbol>& symbols);

    // Every call made before `deadline` stops retrying at it (on top of call_deadline).
    void set_job_deadline(std::chrono::steady_clock::time_point deadline) { job_deadline_ = deadline; }

    CircuitBreaker::State trading_breaker() const { return trading_->breaker_state(); }

private:
    AlpacaClient(std::unique_ptr<ResilientHttp> trading, std::unique_ptr<ResilientHttp> data, std::string trading_base,
                 std::string data_base, AlpacaClientConfig config);
    // Arguments are views: a std::string temporary inside a co_await expression is
    // destroyed twice by g++ 12.
    awaitable<Result<HttpResponse>> call(ResilientHttp& host, std::string_view method, std::string_view target,
                                         std::string_view body = {});

    // GET `target` on `host`: a 200 answer parsed by `parse(endpoint, body)`, any other
    // status turned into the error it stands for.
    template <class T>
    awaitable<Result<T>> get(ResilientHttp& host, std::string_view endpoint, std::string_view target,
                             Result<T> (*parse)(std::string_view, std::string_view));

    std::unique_ptr<ResilientHttp> trading_;
    std::unique_ptr<ResilientHttp> data_;
    std::string trading_base_, data_base_;  // path prefixes from the URLs ("" normally)
    AlpacaClientConfig config_;
    std::chrono::steady_clock::time_point job_deadline_ = std::chrono::steady_clock::time_point::max();
};

// Broker over Alpaca: cash and long positions from /v2/account and /v2/positions.
class AlpacaBroker final : public Broker {
public:
    explicit AlpacaBroker(std::shared_ptr<AlpacaClient> client) : client_(std::move(client)) {}
    awaitable<Result<core::AccountState>> account() override;
    awaitable<Result<OrderUpdate>> submit(const OrderRequest& order) override;
    awaitable<Result<OrderUpdate>> order_by_client_id(const std::string& client_order_id) override;
    awaitable<Result<OrderUpdate>> cancel(const std::string& client_order_id) override;
    // GET /v2/clock: is_open.
    awaitable<Result<bool>> fills_now() override;
    // Last trades, from the market-data API.
    awaitable<Result<core::Prices>> latest_prices(const std::vector<core::Symbol>& symbols) override;
    void set_job_deadline(std::chrono::steady_clock::time_point deadline) override {
        client_->set_job_deadline(deadline);
    }

private:
    std::shared_ptr<AlpacaClient> client_;
};

class AlpacaMarketData final : public MarketData {
public:
    explicit AlpacaMarketData(std::shared_ptr<AlpacaClient> client) : client_(std::move(client)) {}
    awaitable<Result<std::vector<core::Bar>>> daily_bars(const std::vector<core::Symbol>& symbols, core::Date from,
                                                          core::Date to) override;

private:
    std::shared_ptr<AlpacaClient> client_;
};

}  // namespace ballast::broker
