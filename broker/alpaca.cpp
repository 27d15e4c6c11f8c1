#include "broker/alpaca.hpp"

#include <algorithm>

namespace ballast::broker {
namespace {

using steady = std::chrono::steady_clock;

// Maps a final HTTP answer that is not 2xx to an error naming the endpoint.
BrokerError error_of(const std::string& endpoint, const HttpResponse& r, bool order_submit) {
    const auto api = alpaca::parse_error(r.body);
    const std::string text = endpoint + ": HTTP " + std::to_string(r.status) +
                             (api.code ? " (code " + std::to_string(api.code) + ")" : std::string()) + ": " +
                             api.message;
    BrokerError e{BrokerError::Kind::http_status, text, r.status};
    if (r.status == 401)
        e = {BrokerError::Kind::unauthorized,
             text + "; check APCA_API_KEY_ID and APCA_API_SECRET_KEY (paper and live keys differ)", r.status};
    else if (r.status == 403 && !order_submit)
        e = {BrokerError::Kind::unauthorized, text + "; the keys are missing or not allowed here", r.status};
    else if (r.status == 404)
        e.kind = BrokerError::Kind::not_found;
    else if (order_submit && (r.status == 400 || r.status == 403 || r.status == 422))
        e.kind = BrokerError::Kind::rejected;
    return e;
}

bool is_duplicate_client_order_id(const HttpResponse& r) {
    return r.status == 422 && alpaca::parse_error(r.body).message.find("client_order_id must be unique") !=
                                  std::string::npos;
}

}  // namespace

Result<std::shared_ptr<AlpacaClient>> AlpacaClient::create(net::any_io_executor ex, AlpacaClientConfig config,
                                                           HttpObserver* observer) {
    std::string trading_base, data_base;
    const auto trading = parse_https_url(config.trading_url, &trading_base);
    const auto data = parse_https_url(config.data_url, &data_base);
    if (!trading || !data)
        return BrokerError{BrokerError::Kind::bad_data,
                           std::string("alpaca: ") + (!trading ? "trading_url" : "data_url") +
                               " is not an https://host[:port][/path] URL"};
    auto make = [&](const HttpsEndpoint& endpoint) {
        ResilientHttpConfig c;
        c.https.endpoint = endpoint;
        c.https.ca_file = config.ca_file;
        c.https.connect_timeout = config.connect_timeout;
        c.https.handshake_timeout = config.connect_timeout;
        c.https.request_timeout = config.request_timeout;
        c.retry.max_attempts = config.max_attempts;
        c.breaker.cool_down = config.breaker_cooldown;
        c.rate.requests_per_minute = config.rate_limit_per_minute;
        // Alpaca counts a minute's requests as they arrive; ours are counted as they leave,
        // and the first one on a new connection arrives a TLS handshake later than a
        // later one on a kept-alive connection. A second of margin keeps the arrivals of
        // any N+1 requests more than a minute apart.
        c.rate.window = std::chrono::milliseconds(61'000);
        c.headers = {{"APCA-API-KEY-ID", config.key_id}, {"APCA-API-SECRET-KEY", config.secret_key}};
        return std::make_unique<ResilientHttp>(ex, std::move(c), observer);
    };
    auto t = make(*trading);
    auto d = make(*data);
    return std::shared_ptr<AlpacaClient>(
        new AlpacaClient(std::move(t), std::move(d), trading_base, data_base, std::move(config)));
}

AlpacaClient::AlpacaClient(std::unique_ptr<ResilientHttp> trading, std::unique_ptr<ResilientHttp> data,
                           std::string trading_base, std::string data_base, AlpacaClientConfig config)
    : trading_(std::move(trading)), data_(std::move(data)), trading_base_(std::move(trading_base)),
      data_base_(std::move(data_base)), config_(std::move(config)) {}

awaitable<Result<HttpResponse>> AlpacaClient::call(ResilientHttp& host, std::string_view method,
                                                   std::string_view target, std::string_view body) {
    HttpRequest req;
    req.method = std::string(method);
    req.target = (&host == trading_.get() ? trading_base_ : data_base_) + std::string(target);
    req.body = std::string(body);
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    req.headers.emplace_back("Accept", "application/json");
    const auto deadline = std::min(steady::now() + config_.call_deadline, job_deadline_);
    co_return co_await host.send(req, deadline);
}

template <class T>
awaitable<Result<T>> AlpacaClient::get(ResilientHttp& host, std::string_view endpoint, std::string_view target,
                                       Result<T> (*parse)(std::string_view, std::string_view)) {
    auto r = co_await call(host, "GET", target);
    if (!r) co_return r.error();
    if (r.value().status != 200) co_return error_of(std::string(endpoint), r.value(), false);
    co_return parse(endpoint, r.value().body);
}

awaitable<Result<alpaca::Account>> AlpacaClient::account() {
    co_return co_await get(*trading_, "GET /v2/account", "/v2/account", &alpaca::parse_account);
}

awaitable<Result<std::vector<alpaca::Position>>> AlpacaClient::positions() {
    co_return co_await get(*trading_, "GET /v2/positions", "/v2/positions", &alpaca::parse_positions);
}

awaitable<Result<alpaca::Order>> AlpacaClient::order_by_client_id(const std::string& client_order_id) {
    const std::string target = alpaca::order_by_client_id_target(client_order_id);
    co_return co_await get(*trading_, "GET /v2/orders:by_client_order_id", target, &alpaca::parse_order);
}

awaitable<Result<alpaca::Order>> AlpacaClient::submit_order(const OrderRequest& order) {
    const std::string ep = "POST /v2/orders";
    const std::string body = alpaca::order_request_json(order);
    auto r = co_await call(*trading_, "POST", "/v2/orders", body);
    if (!r) co_return r.error();
    if (is_duplicate_client_order_id(r.value())) {
        // An earlier attempt of this very submit arrived: fetch it, never use a new id. If
        // the id names a different order (a reused id), this order was not placed.
        auto found = co_await order_by_client_id(order.client_order_id);
        if (found && !same_order(alpaca::to_update(found.value()), order))
            co_return BrokerError{BrokerError::Kind::rejected,
                                  ep + ": client_order_id " + order.client_order_id +
                                      " already names a different order at the broker (" + found.value().symbol + " " +
                                      found.value().side + "); this order was not placed"};
        co_return found;
    }
    if (r.value().status != 200 && r.value().status != 201) co_return error_of(ep, r.value(), true);
    co_return alpaca::parse_order(ep, r.value().body);
}

awaitable<Result<alpaca::Order>> AlpacaClient::order(const std::string& id) {
    const std::string target = "/v2/orders/" + alpaca::url_encode(id);
    co_return co_await get(*trading_, "GET /v2/orders/{id}", target, &alpaca::parse_order);
}

awaitable<Result<bool>> AlpacaClient::cancel_order(const std::string& id) {
    const std::string ep = "DELETE /v2/orders/{id}";
    const std::string target = "/v2/orders/" + alpaca::url_encode(id);
    auto r = co_await call(*trading_, "DELETE", target);
    if (!r) co_return r.error();
    if (r.value().status == 204 || r.value().status == 200) co_return true;
    if (r.value().status == 422) co_return false;
    co_return error_of(ep, r.value(), false);
}

awaitable<Result<alpaca::Clock>> AlpacaClient::clock() {
    co_return co_await get(*trading_, "GET /v2/clock", "/v2/clock", &alpaca::parse_clock);
}

awaitable<Result<std::vector<alpaca::CalendarDay>>> AlpacaClient::calendar(core::Date from, core::Date to) {
    const std::string target = alpaca::calendar_target(from, to);
    co_return co_await get(*trading_, "GET /v2/calendar", target, &alpaca::parse_calendar);
}

awaitable<Result<alpaca::Asset>> AlpacaClient::asset(const core::Symbol& symbol) {
    const std::string target = "/v2/assets/" + alpaca::url_encode(symbol);
    co_return co_await get(*trading_, "GET /v2/assets/{symbol}", target, &alpaca::parse_asset);
}

awaitable<Result<std::vector<core::Bar>>> AlpacaClient::daily_bars(const std::vector<core::Symbol>& symbols,
                                                                    core::Date from, core::Date to) {
    const std::string ep = "GET /v2/stocks/bars";
    std::vector<core::Bar> out;
    if (symbols.empty()) co_return out;
    alpaca::BarsQuery q;
    q.symbols = symbols;
    q.start = core::ny_to_utc(from, core::TimeOfDay{0});
    q.end = core::ny_to_utc(to, core::TimeOfDay{23 * 60 + 59});
    q.adjustment = config_.adjustment;
    q.feed = config_.feed;
    // Page until next_page_token is null; a repeated token would loop forever: refuse it.
    std::optional<std::string> previous;
    for (int page = 0;; ++page) {
        const std::string target = alpaca::bars_target(q);
        auto r = co_await call(*data_, "GET", target);
        if (!r) co_return r.error();
        if (r.value().status != 200) co_return error_of(ep, r.value(), false);
        auto parsed = alpaca::parse_bars_page(ep, r.value().body);
        if (!parsed) co_return parsed.error();
        auto& p = parsed.value();
        out.insert(out.end(), p.bars.begin(), p.bars.end());
        if (!p.next_page_token) break;
        if (p.next_page_token == previous || page > 10000)
            co_return BrokerError{BrokerError::Kind::bad_payload,
                                  ep + ": next_page_token repeats ('" + *p.next_page_token + "'); refusing to loop"};
        previous = p.next_page_token;
        q.page_token = p.next_page_token;
    }
    co_return out;
}

awaitable<Result<std::vector<alpaca::Order>>> AlpacaClient::orders(std::string_view status, int limit) {
    const std::string target = "/v2/orders?status=" + alpaca::url_encode(status) +
                               "&limit=" + std::to_string(std::clamp(limit, 1, 500)) + "&direction=asc";
    co_return co_await get(*trading_, "GET /v2/orders", target, &alpaca::parse_orders);
}

awaitable<Result<std::map<core::Symbol, alpaca::Quote>>> AlpacaClient::latest_quotes(
    const std::vector<core::Symbol>& symbols) {
    if (symbols.empty()) co_return std::map<core::Symbol, alpaca::Quote>{};
    const std::string target = alpaca::latest_quotes_target(symbols, config_.feed);
    co_return co_await get(*data_, "GET /v2/stocks/quotes/latest", target, &alpaca::parse_latest_quotes);
}

awaitable<Result<std::map<core::Symbol, alpaca::Trade>>> AlpacaClient::latest_trades(
    const std::vector<core::Symbol>& symbols) {
    if (symbols.empty()) co_return std::map<core::Symbol, alpaca::Trade>{};
    const std::string target = alpaca::latest_trades_target(symbols, config_.feed);
    co_return co_await get(*data_, "GET /v2/stocks/trades/latest", target, &alpaca::parse_latest_trades);
}

awaitable<Result<core::AccountState>> AlpacaBroker::account() {
    auto account = co_await client_->account();
    if (!account) co_return account.error();
    if (account.value().trading_blocked || account.value().account_blocked)
        co_return BrokerError{BrokerError::Kind::rejected,
                              "GET /v2/account: the account is blocked (trading_blocked or account_blocked); "
                              "not trading"};
    auto positions = co_await client_->positions();
    if (!positions) co_return positions.error();
    core::AccountState state;
    state.cash = account.value().cash;
    for (const auto& p : positions.value())
        state.positions.push_back(
            {p.symbol, p.qty, p.avg_entry_price.is_positive() ? std::optional<core::Decimal>(p.avg_entry_price) : std::nullopt});
    co_return state;
}

awaitable<Result<OrderUpdate>> AlpacaBroker::submit(const OrderRequest& order) {
    auto r = co_await client_->submit_order(order);
    if (!r) co_return r.error();
    co_return alpaca::to_update(r.value());
}

awaitable<Result<OrderUpdate>> AlpacaBroker::order_by_client_id(const std::string& client_order_id) {
    auto r = co_await client_->order_by_client_id(client_order_id);
    if (!r) co_return r.error();
    co_return alpaca::to_update(r.value());
}

awaitable<Result<OrderUpdate>> AlpacaBroker::cancel(const std::string& client_order_id) {
    auto order = co_await client_->order_by_client_id(client_order_id);
    if (!order) co_return order.error();
    if (!alpaca::is_terminal(order.value().status)) {
        auto canceled = co_await client_->cancel_order(order.value().id);
        if (!canceled) co_return canceled.error();
        // The order as it stands now (a fill may have raced the cancel).
        order = co_await client_->order_by_client_id(client_order_id);
        if (!order) co_return order.error();
    }
    co_return alpaca::to_update(order.value());
}

awaitable<Result<core::Prices>> AlpacaBroker::latest_prices(const std::vector<core::Symbol>& symbols) {
    auto trades = co_await client_->latest_trades(symbols);
    if (!trades) co_return trades.error();
    core::Prices out;
    for (const auto& [symbol, trade] : trades.value())
        if (trade.price.is_positive()) out[symbol] = trade.price.round_half_away(core::kPriceDigits);
    co_return out;
}

awaitable<Result<bool>> AlpacaBroker::fills_now() {
    auto clock = co_await client_->clock();
    if (!clock) co_return clock.error();
    co_return clock.value().is_open;
}

awaitable<Result<std::vector<core::Bar>>> AlpacaMarketData::daily_bars(const std::vector<core::Symbol>& symbols,
                                                                        core::Date from, core::Date to) {
    co_return co_await client_->daily_bars(symbols, from, to);
}

}  // namespace ballast::broker
