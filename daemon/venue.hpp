#pragma once
// The venue a command trades with: the in-process sim (bundled CSV history) or Alpaca
// (paper/live over HTTPS), behind the Broker and MarketData interfaces.
#include <memory>
#include <string>

#include "broker/alpaca.hpp"
#include "broker/sim.hpp"
#include "core/strategy.hpp"
#include "daemon/clock.hpp"
#include "daemon/config.hpp"

namespace spdlog {
class logger;
}
namespace ballast::storage {
class Journal;
}

namespace ballast::daemon {

// Journals every HTTP attempt and circuit-breaker change as a health event.
class JournalHttpObserver final : public broker::HttpObserver {
public:
    JournalHttpObserver(storage::Journal& journal, std::shared_ptr<spdlog::logger> log)
        : journal_(journal), log_(std::move(log)) {}
    void on_attempt(const Attempt& a) override;
    void on_breaker(const std::string& host, const broker::CircuitBreaker::Transition& t) override;

private:
    storage::Journal& journal_;
    std::shared_ptr<spdlog::logger> log_;
};

struct Venue {
    broker::Broker* broker = nullptr;
    broker::MarketData* market = nullptr;
    std::shared_ptr<broker::SimMarket> sim_market;  // sim mode
    std::shared_ptr<broker::AlpacaClient> alpaca;   // paper/live mode
    std::unique_ptr<broker::SimBroker> sim_broker;
    std::unique_ptr<broker::AlpacaBroker> alpaca_broker;
    std::unique_ptr<broker::AlpacaMarketData> alpaca_market;
    std::unique_ptr<JournalHttpObserver> observer;
};

// Live trading needs both mode = "live" and an explicit confirmation: the --live flag
// or BALLAST_LIVE=1. Returns an error sentence, or "" when trading may start.
std::string live_confirmation_problem(const Config& config, bool live_flag);

// Loads the sim market (with the symbols held in the sim state file when
// `with_state_file`) or the Alpaca client. On failure prints the reason to stderr and
// returns the exit code (65 bad data, 78 config); 0 on success.
int open_sim_market(const Config& config, const core::Strategy& strategy, bool with_state_file, Venue& venue);
// The sim broker over venue.sim_market on `clock`; its account from the state file
// when `with_state_file`.
int open_sim_broker(const Config& config, Clock& clock, bool with_state_file, Venue& venue);
int open_alpaca(const Config& config, net::io_context& io, storage::Journal& journal,
                std::shared_ptr<spdlog::logger> log, Venue& venue);

}  // namespace ballast::daemon
