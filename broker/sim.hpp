#pragma once
// The simulated venue: market data from bundled Yahoo CSV files and an in-process
// broker that fills market orders against those bars. Used by `ballast demo`, by the
// replay clock (backtests) and by `mode = "sim"`.
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <unordered_map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "broker/broker.hpp"
#include "core/key_index.hpp"

namespace ballast::broker {

class SimMarket final : public MarketData {
public:
    // Reads `<dir>/<SYMBOL>.csv` for every symbol. The first missing or malformed file
    // is the error (file, line, column, value).
    static Result<std::shared_ptr<SimMarket>> load(const std::filesystem::path& dir,
                                                   const std::vector<core::Symbol>& symbols);
    // Builds a market from bars already in memory (tests).
    static std::shared_ptr<SimMarket> from_bars(std::map<core::Symbol, std::vector<core::Bar>> bars);
    SimMarket(const SimMarket&) = delete;  // index_ points into bars_
    SimMarket& operator=(const SimMarket&) = delete;

    awaitable<Result<std::vector<core::Bar>>> daily_bars(const std::vector<core::Symbol>& symbols, core::Date from,
                                                          core::Date to) override;

    // One session of one symbol as the market keeps it: a bar without its symbol (the
    // series' own). A 500-symbol, 20-year market is 2.5 million of these: 56 bytes each
    // where a core::Bar is 88.
    struct Quote {
        core::Date date;
        double open = 0, high = 0, low = 0, close = 0, adj_close = 0, volume = 0;
        double valuation_close(core::PriceField field) const { return core::valuation_close(close, adj_close, field); }
        double valuation_open(core::PriceField field) const { return core::valuation_open(open, close, adj_close, field); }
    };
    // The session of `symbol` on `date`, or nullptr.
    const Quote* bar(const core::Symbol& symbol, core::Date date) const;
    // For each of `symbols` (fastest sorted), its latest session dated from `date` -
    // `back_days` to `date`, or nullptr.
    std::vector<const Quote*> latest_bars(const std::vector<core::Symbol>& symbols, core::Date date,
                                          int back_days) const;
    // The first session of `symbol` dated strictly after `date`, or nullptr.
    const Quote* bar_after(const core::Symbol& symbol, core::Date date) const;
    // The first date on which every symbol has data, and the last such date.
    std::optional<core::Date> first_common_date() const;
    std::optional<core::Date> last_common_date() const;
    std::vector<core::Symbol> symbols() const;

private:
    // The sessions of one symbol (ascending by date) and their dates alone.
    struct Series {
        std::vector<Quote> quotes;
        std::vector<core::Date> dates;  // quotes[i].date: searched without touching the quotes
    };
    static Series series_of(const std::vector<core::Bar>& bars);  // bars ascending by date
    explicit SimMarket(std::map<core::Symbol, Series> series);
    const Series* series(const core::Symbol& symbol) const;  // or nullptr
    // Ascending by symbol, contiguous (walked along by sorted look-ups, core::Walk); built
    // once by the constructor and never changed, so that index_ can point into it and
    // threads can share the market.
    std::vector<std::pair<core::Symbol, Series>> bars_;
    std::unordered_map<core::Symbol, const Series*> index_;
};

struct SimBrokerConfig {
    core::PriceField price_field = core::PriceField::adj_close;
    core::FillModel fill = core::FillModel::next_open;
    double slippage_bps = 5.0;          // buys fill higher, sells lower, by this much
    core::Decimal commission_per_order;
    double commission_bps = 0.0;
    core::Decimal initial_cash = core::Decimal::from_int(100000);
    // When set, the account (cash, positions, orders) is loaded from and saved to this
    // JSON file after every change, so `ballast once` runs share one account.
    std::optional<std::filesystem::path> state_file;
};

// Fill rules:
// - fill = close: an order fills when submitted, at the valuation close of the latest
//   bar of its symbol on or before the submission's New York date.
// - fill = next_open: an order fills at the valuation open of its symbol's first bar
//   dated after the submission's New York date (or that same date when submitted
//   before 09:30), once the clock has reached 09:30 New York on that date.
// - Due orders fill in submission order (sells are submitted first). A sell of more
//   than is held is rejected; a buy costing more than the cash is filled for the
//   quantity the cash affords (same decimals as the order) and the rest canceled, or
//   rejected if nothing is affordable.
class SimBroker final : public Broker {
public:
    SimBroker(std::shared_ptr<const SimMarket> market, SimBrokerConfig config, std::function<core::Timestamp()> now);
    // Loads the state file when configured and present; a malformed file is an error
    // naming the file and the field. Without a file the account starts with initial_cash.
    Result<bool> load_state();
    // The symbols held according to a state file (empty when it is missing or unreadable;
    // load_state() reports the problem). Lets the market load their prices too.
    static std::vector<core::Symbol> held_in_state_file(const std::filesystem::path& file);

    awaitable<Result<core::AccountState>> account() override;
    awaitable<Result<OrderUpdate>> submit(const OrderRequest& order) override;
    awaitable<Result<OrderUpdate>> order_by_client_id(const std::string& client_order_id) override;
    awaitable<Result<OrderUpdate>> cancel(const std::string& client_order_id) override;
    // True with fill = close (orders fill when sent), false with next_open.
    awaitable<Result<bool>> fills_now() override;
    // The valuation close of each symbol's latest bar on or before today (New York).
    awaitable<Result<core::Prices>> latest_prices(const std::vector<core::Symbol>& symbols) override;

    std::size_t order_count() const { return orders_.size(); }

private:
    // What the sim knows of one order, compactly: a backtest keeps tens of thousands. The
    // broker's view (OrderUpdate) is made from it when asked (update_of): its id is
    // "sim-<position + 1>", its side and quantity are the request's, and its time one of
    // the distinct clock readings in times_.
    enum class Status : std::uint8_t { accepted, filled, canceled, rejected };
    struct SimOrder {
        OrderRequest request;
        core::Date submitted_date;  // New York date of submission
        int submitted_minutes = 0;  // New York time of submission
        Status status = Status::accepted;
        std::uint32_t updated_at = 0;  // index into times_
        core::Decimal filled_qty, commission;
        std::optional<core::Decimal> filled_avg_price;
        std::string reason;  // why rejected or canceled
    };
    OrderUpdate update_of(std::size_t index) const;
    // The index in times_ of the clock's current reading as text, added when new.
    std::uint32_t time_index();
    // The index in times_ of `text`, added unless it is the latest there.
    std::uint32_t time_text_index(const std::string& text);
    std::optional<BrokerError> settle();  // fills the orders that are due
    void fill(SimOrder& order, core::Decimal price);
    std::optional<BrokerError> save_state();
    // The clock's time, in New York and as text, worked out once per clock reading.
    struct Now {
        core::Timestamp utc;
        core::NyLocal ny;
        std::string utc_text;
        std::optional<std::uint32_t> text_index;  // in times_, once an order needed it
    };
    const Now& now();

    std::shared_ptr<const SimMarket> market_;
    SimBrokerConfig config_;
    std::function<core::Timestamp()> now_;
    core::Decimal cash_;
    std::map<core::Symbol, core::Decimal> positions_;
    std::map<core::Symbol, core::Decimal> entry_;  // average entry price of each held symbol
    std::optional<core::AccountState> account_cache_;  // account() as of the last fill
    std::deque<SimOrder> orders_;  // a deque: no moving every order as it grows
    std::vector<std::size_t> open_;  // indexes into orders_ of the orders not yet terminal
    core::KeyIndex by_client_id_;  // into orders_
    std::optional<std::size_t> find_order(const std::string& client_order_id) const;
    core::Decimal buy_factor_, sell_factor_;  // 1 +/- slippage
    core::Decimal commission_rate_;           // commission_bps as a fraction
    std::optional<Now> now_cache_;
    std::vector<std::string> times_;  // the orders' updated_at texts, each reading once
};

}  // namespace ballast::broker
