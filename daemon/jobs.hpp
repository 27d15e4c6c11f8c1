#pragma once
// The three jobs of a trading session, wired to a venue (Broker + MarketData), the
// strategy and the journal. Each follows fetch (broker) -> decide (core) -> record
// (storage) -> act (broker).
//
// The bars a session's chain uses are those of data_date(session): the session itself
// with an evening schedule, the previous session with a market-hours one (then the
// rebalance can poll sells to their fills and size buys from the cash they raised).
//
// data-update: fetches the bars of the strategy's universe and of every held symbol
//   since the last journaled bar and stores them; fails (the chain holds) when any of
//   them has no valid bar for the session.
// signals: evaluates the strategy on journaled closes; journals signals and targets;
//   fails when the strategy cannot produce targets.
// rebalance: reconciles every unfinished order with the broker by client_order_id,
//   then (unless halted, or orders are still open) measures drift, decides, plans,
//   applies the risk limits, journals each order's intent before sending it, sends
//   sells before buys, records what the broker answered, and snapshots equity.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "broker/broker.hpp"
#include "core/risk.hpp"
#include "core/strategy.hpp"
#include "daemon/clock.hpp"
#include "daemon/config.hpp"
#include "daemon/scheduler.hpp"
#include "storage/journal.hpp"

namespace ballast::daemon {

struct JobStats {
    int rebalances = 0;       // sessions that decided to rebalance and placed orders
    int orders = 0;           // orders sent to the broker
    int denied = 0;           // orders stopped by the risk limits
    int rejected = 0;         // orders the broker rejected
    int stop_exits = 0;       // sessions that sold stopped holdings outside a rebalance
};

// What a chain journals besides its job runs, orders, rebalance decisions and equity
// (which it always journals). Either way it decides and trades the same.
enum class JournalDetail {
    // The daemon (and `demo`, `run --replay`): every bar it fetches, and every session's
    // signals, targets, drift and positions.
    full,
    // Backtests: the bars are the input files and are not copied; the strategy is
    // evaluated (and its signals and targets journaled) only on sessions where the
    // rebalance rules allow trading (core::calendar_hold), and positions are snapshotted
    // on sessions whose orders filled. This is what lets a backtest of years of a large
    // universe run in about a second.
    trading,
};

class ChainJobs final : public JobRunner {
public:
    ChainJobs(const Config& config, storage::Journal& journal, broker::Broker& broker, broker::MarketData& market,
              const core::Strategy& strategy, Clock& clock, bool dry_run, std::shared_ptr<spdlog::logger> log,
              JournalDetail detail = JournalDetail::full);

    awaitable<JobResult> run(core::Job job, core::Date session, std::int64_t job_run_id) override;
    const JobStats& stats() const { return stats_; }

    // Brings every unfinished journaled order up to date with the broker. Returns the
    // number of orders still open, or an error.
    awaitable<broker::Result<int>> reconcile_orders();

private:
    awaitable<JobResult> data_update(core::Date session);
    awaitable<JobResult> signals(core::Date session, std::int64_t job_run_id);
    // Evaluates the strategy on the session's closes, journals signals and targets (not in a
    // dry run) and keeps the targets in targets_. Returns "" or the strategy's problem.
    std::string evaluate_strategy(core::Date session, std::int64_t job_run_id);
    awaitable<JobResult> rebalance(core::Date session, std::int64_t job_run_id);
    // The orders of one rebalance as they are sent.
    struct Legs {
        core::Date session;
        std::int64_t job_run_id = 0;
        std::size_t next_leg = 0;
        std::string id_prefix;           // of its client_order_ids (all but the leg)
        int sent = 0;                    // accepted by the broker
        std::vector<std::string> open;   // client_order_ids sent and not yet terminal
        std::string buys_blocked;        // why no buy may be sent (a sell was denied or rejected)
        std::string failure;             // a submit whose fate is unknown: stop, reconcile later
    };
    // Journals each intent, then submits it (intent first, always).
    awaitable<void> send_legs(Legs& legs, const std::vector<core::RiskVerdict>& verdicts);
    // Polls legs.open until terminal; cancels what is still open at the fill deadline.
    // Returns an error sentence, or "".
    awaitable<std::string> await_terminal(Legs& legs);
    // Journals the change from `known` (journal status/fills) to `update` (broker), after
    // `events` (ours, e.g. "submitted"), all in one write. `known_avg` is the journal's
    // average fill price so far (for the new shares' price).
    void record_update(std::int64_t order_id, const std::string& known_status, core::Decimal known_filled,
                       const broker::OrderUpdate& update, std::optional<core::Decimal> known_avg = std::nullopt,
                       std::vector<storage::OrderRepository::StatusEvent> events = {});
    // Evaluates the circuit breakers (daily loss, drawdown from the journaled peak,
    // rejections in a row) on the account valued at the session's closes; on a trip
    // persists the halt and a health event.
    std::optional<core::Trip> check_breakers(core::Date session, const core::AccountState& account);

    // A symbol's valuation closes, ascending by date: the journal's bars, read on first use
    // and kept current by data_update, so that signals and valuations do not query SQLite.
    struct Series {
        core::Symbol symbol;
        std::vector<core::Date> dates;
        std::vector<double> closes;  // valuation closes (config.sim.price_field)
    };
    Series& series(const core::Symbol& symbol);
    // Adds (or replaces) the bar's close in its symbol's series `s`.
    void remember(Series& s, const core::Bar& bar);
    // Asks for the memory of the series a per-symbol loop reaches `kAhead` steps after `i`
    // (its latest date and close). Each symbol's series lives apart: a loop over hundreds
    // of them otherwise waits on memory at every step.
    static constexpr std::size_t kAhead = 8;
    static void prefetch_ahead(const std::vector<Series*>& series, std::size_t i) {
        if (i + kAhead >= series.size()) return;
        const Series& s = *series[i + kAhead];
        if (s.dates.empty()) return;
        __builtin_prefetch(&s.dates.back());
        __builtin_prefetch(&s.closes.back());
    }
    // The symbols a data update fetches (the strategy's and every held one, sorted) and
    // their series; valid until the next call.
    struct Wanted {
        const std::vector<core::Symbol>* symbols;
        const std::vector<Series*>* series;
    };
    Wanted wanted_symbols(const core::AccountState& account);
    // Whether `bars` are one valid bar dated `through` for each of `series` (in order), each
    // the trading day after the series' last: then every check of a data update passes.
    static bool is_next_session(const std::vector<core::Bar>& bars, const std::vector<Series*>& series,
                                core::Date through);
    // The valuation close of a series on `date`, or nullopt.
    static std::optional<double> close_on(const Series& s, core::Date date);
    // The series of each of `positions`, in their order; valid until the next call. The
    // last answer is kept: a session's unchanged holdings cost one comparison each.
    const std::vector<Series*>& series_of(const std::vector<core::Position>& positions);
    // A series' valuation close on `date` as a price (4 dp), or nullopt.
    static std::optional<core::Decimal> valuation_price(const Series& s, core::Date date);
    // The session whose bars the chain of `session` trades on: `session` itself when the
    // data update is scheduled at or after the 16:00 close, else the previous session.
    core::Date data_date(core::Date session) const;
    // Valuation closes of the session for the strategy's symbols and every held one.
    core::Prices session_prices(core::Date session, const core::AccountState& account);
    // Cash plus every position at the session's valuation close; nullopt when a held
    // symbol has no close for it.
    std::optional<core::Decimal> account_value(core::Date session, const core::AccountState& account);
    // `with_positions`: the positions too (else the equity alone).
    std::string snapshot(core::Date session, std::int64_t job_run_id, const core::AccountState& account,
                         bool with_positions);
    // The clock's time as ISO-8601 UTC text (kept while the clock reads the same).
    const std::string& now_text();
    // The session of the last rebalance that placed orders (SignalRepository::last_rebalance),
    // read once and again after anything that can change it.
    std::optional<core::Date> last_rebalance();

    const Config& config_;
    storage::Journal& journal_;
    broker::Broker& broker_;
    broker::MarketData& market_;
    const core::Strategy& strategy_;
    Clock& clock_;
    bool dry_run_;
    std::shared_ptr<spdlog::logger> log_;
    JobStats stats_;
    JournalDetail detail_;
    std::vector<core::Symbol> universe_;  // the strategy's, sorted
    // The targets of the latest session this process evaluated (its rebalance reads them;
    // older sessions' are in the journal, or were a dry run's): one set, not one a session.
    // Sessions run one after another, each signals job before its rebalance, so the slot
    // holds the rebalance's session; were another session evaluated in between, the
    // rebalance would read its targets from the journal (targets_of compares the date).
    std::optional<std::pair<core::Date, core::Weights>> targets_;
    const core::Weights* targets_of(core::Date session) const {
        return targets_ && targets_->first == session ? &targets_->second : nullptr;
    }
    // evaluate_strategy()'s input, kept between evaluations for its map's nodes: its views
    // are only valid during an evaluation.
    core::StrategyInput strategy_input_;
    std::deque<Series> series_;  // see series(); a deque: references stay valid as it grows
    std::unordered_map<core::Symbol, std::size_t> series_index_;
    std::vector<Series*> series_order_;  // &series_[i], for a cheap look at the cursor
    std::size_t series_cursor_ = 0;  // where the next symbol's series probably is
    std::vector<Series*> universe_series_;  // series(s) for each of universe_
    std::vector<core::Symbol> held_inside_;    // the held symbols wanted_symbols() last found all in universe_
    std::vector<core::Symbol> extra_symbols_;  // wanted_symbols() when something outside universe_ is held
    std::vector<Series*> extra_series_;
    std::vector<Series*> position_series_;  // series_of()'s last answer
    std::optional<std::optional<core::Date>> last_rebalance_;  // outer nullopt: not read yet
    std::optional<std::optional<core::Decimal>> equity_peak_;   // outer nullopt: not read yet
    bool filled_this_job_ = false;  // record_update saw new fills during the current job
    std::optional<std::pair<core::Timestamp, std::string>> now_text_;
};

}  // namespace ballast::daemon
