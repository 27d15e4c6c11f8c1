#include "daemon/venue.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <set>

#include <spdlog/spdlog.h>

#include "daemon/app.hpp"
#include "storage/journal.hpp"

namespace ballast::daemon {

void JournalHttpObserver::on_attempt(const Attempt& a) {
    const std::string detail = a.method + " " + a.host + " " + a.path + " attempt " + std::to_string(a.attempt) + ": " +
                               (a.status ? "HTTP " + std::to_string(a.status) : a.error) + " in " +
                               std::to_string(a.elapsed.count()) + " ms";
    storage::HealthRepository(journal_).record(now_utc_text(), "http", "http_attempt", detail);
    if (a.status == 0 || a.status >= 400) log_->warn("{}", detail);
    else log_->debug("{}", detail);
}

void JournalHttpObserver::on_breaker(const std::string& host, const broker::CircuitBreaker::Transition& t) {
    const std::string detail = host + ": " + broker::to_string(t.from) + " -> " + broker::to_string(t.to) + ": " + t.reason;
    storage::HealthRepository(journal_).record(now_utc_text(), "http", "circuit_breaker", detail);
    log_->warn("circuit breaker {}", detail);
}

std::string live_confirmation_problem(const Config& config, bool live_flag) {
    if (config.mode != Mode::live) return "";
    const char* env = std::getenv("BALLAST_LIVE");
    if (live_flag || (env && std::string(env) == "1")) return "";
    return "mode = \"live\" in " + config.source.string() +
           " trades real money; confirm with --live on the command line or BALLAST_LIVE=1 in the environment";
}

int open_sim_market(const Config& config, const core::Strategy& strategy, bool with_state_file, Venue& venue) {
    std::set<core::Symbol> symbols;
    for (const auto& s : strategy.universe()) symbols.insert(s);
    if (with_state_file)
        for (const auto& s : broker::SimBroker::held_in_state_file(config.sim.state_file)) symbols.insert(s);
    auto market = broker::SimMarket::load(config.sim.data_dir, {symbols.begin(), symbols.end()});
    if (!market) {
        std::cerr << "ballast: price data: " << market.error().message << "\n";
        return kExitData;
    }
    venue.sim_market = market.value();
    venue.market = venue.sim_market.get();
    return kExitOk;
}

int open_sim_broker(const Config& config, Clock& clock, bool with_state_file, Venue& venue) {
    broker::SimBrokerConfig c;
    c.price_field = config.sim.price_field;
    c.fill = config.sim.fill;
    c.slippage_bps = config.sim.slippage_bps;
    c.commission_per_order = config.sim.commission_per_order;
    c.commission_bps = config.sim.commission_bps;
    c.initial_cash = config.sim.initial_cash;
    if (with_state_file) c.state_file = config.sim.state_file;
    venue.sim_broker = std::make_unique<broker::SimBroker>(venue.sim_market, c, [&clock] { return clock.now(); });
    if (auto loaded = venue.sim_broker->load_state(); !loaded) {
        std::cerr << "ballast: sim account: " << loaded.error().message << "\n";
        return kExitData;
    }
    venue.broker = venue.sim_broker.get();
    return kExitOk;
}

int open_alpaca(const Config& config, net::io_context& io, storage::Journal& journal,
                std::shared_ptr<spdlog::logger> log, Venue& venue) {
    broker::AlpacaClientConfig c;
    c.trading_url = config.alpaca.trading_url;
    c.data_url = config.alpaca.data_url;
    c.ca_file = config.alpaca.ca_file;
    c.key_id = config.secrets.alpaca_key_id.value_or("");
    c.secret_key = config.secrets.alpaca_secret_key.value_or("");
    c.feed = config.alpaca.feed;
    c.adjustment = config.alpaca.adjustment;
    c.rate_limit_per_minute = config.alpaca.rate_limit_per_minute;
    c.connect_timeout = std::chrono::milliseconds(config.alpaca.connect_timeout_ms);
    c.request_timeout = std::chrono::milliseconds(config.alpaca.request_timeout_ms);
    c.max_attempts = config.alpaca.max_attempts;
    c.breaker_cooldown = std::chrono::milliseconds(config.alpaca.breaker_cooldown_ms);
    c.call_deadline = std::chrono::seconds(std::min(config.alpaca.job_deadline_seconds, 300));
    venue.observer = std::make_unique<JournalHttpObserver>(journal, log);
    auto client = broker::AlpacaClient::create(io.get_executor(), std::move(c), venue.observer.get());
    if (!client) {
        std::cerr << "ballast: " << client.error().message << "\n";
        return kExitConfig;
    }
    venue.alpaca = client.value();
    venue.alpaca_broker = std::make_unique<broker::AlpacaBroker>(venue.alpaca);
    venue.alpaca_market = std::make_unique<broker::AlpacaMarketData>(venue.alpaca);
    venue.broker = venue.alpaca_broker.get();
    venue.market = venue.alpaca_market.get();
    return kExitOk;
}

}  // namespace ballast::daemon
