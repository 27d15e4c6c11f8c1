#include "daemon/jobs.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <iterator>
#include <set>

#include <spdlog/spdlog.h>

#include "core/planner.hpp"
#include "core/rebalance.hpp"
#include "core/risk.hpp"
#include "storage/journal.hpp"

namespace ballast::daemon {
namespace {

using core::Decimal;

// The regular session's close, New York time.
constexpr int kCloseMinutes = 16 * 60;

// History fetched on the first data update, in calendar days.
constexpr int kInitialHistoryDays = 400;

JobResult fail(std::string error) { return {false, std::move(error), ""}; }

// Test hook for the crash-safety tests: BALLAST_CRASH_AT=<point>[:<n>] kills the
// process with SIGKILL the n-th time (default 1st) it reaches that point. Unset in
// production, where this is one getenv per order step.
void crash_point(const char* point) {
    static const char* spec = std::getenv("BALLAST_CRASH_AT");
    if (spec == nullptr || *spec == '\0') return;
    const std::string s(spec);
    const auto colon = s.find(':');
    if (s.substr(0, colon) != point) return;
    static int reached = 0;
    const int nth = colon == std::string::npos ? 1 : std::atoi(s.c_str() + colon + 1);
    if (++reached == nth) ::raise(SIGKILL);
}
JobResult ok(std::string detail) { return {true, "", std::move(detail)}; }

std::string compact_date(core::Date d) {
    std::string s = d.to_string();
    s.erase(std::remove(s.begin(), s.end(), '-'), s.end());
    return s;
}

// Deterministic id: session date, the job run that planned it, and the leg. This is all
// of it but the leg.
std::string client_order_id_prefix(bool dry_run, core::Date session, std::int64_t job_run_id) {
    return std::string(dry_run ? "dry-" : "bl-") + compact_date(session) + "-" + std::to_string(job_run_id) + "-";
}

// A bar's prices: all positive, low and high around open and close (NaN fails).
bool prices_ok(const core::Bar& b) {
    return b.open > 0 && b.high > 0 && b.low > 0 && b.close > 0 && b.adj_close > 0 && b.low <= b.open &&
           b.low <= b.close && b.high >= b.open && b.high >= b.close;
}

// Validates one bar for storage (the sim's CSV reader already does; a venue may not).
// `trading_day`: whether the exchange was open on b.date.
std::optional<std::string> bar_problem(const core::Bar& b, core::Date session, bool trading_day) {
    if (b.date > session) return "dated after the session " + session.to_string();
    if (!trading_day) return "dated on a day the exchange was closed";
    if (prices_ok(b)) return std::nullopt;
    if (!(b.open > 0 && b.high > 0 && b.low > 0 && b.close > 0 && b.adj_close > 0)) return "non-positive price";
    return "low/high inconsistent";
}

// The account as it will be once `pending` orders (open at the broker) have filled at
// `prices`: what a resumed rebalance plans from, so it never orders the same thing twice.
core::AccountState with_pending(core::AccountState account, const std::vector<storage::OrderRow>& pending,
                                const core::Prices& prices) {
    for (const auto& o : pending) {
        const Decimal remaining = o.qty - o.filled_qty;
        const auto it = prices.find(o.symbol);
        if (!remaining.is_positive() || it == prices.end()) continue;
        const Decimal value = remaining * it->second;
        auto pos = std::find_if(account.positions.begin(), account.positions.end(),
                                [&](const core::Position& p) { return p.symbol == o.symbol; });
        if (pos == account.positions.end()) pos = account.positions.insert(account.positions.end(), {o.symbol, Decimal{}});
        if (o.side == core::Side::sell) {
            pos->qty -= remaining;
            account.cash += value;
        } else {
            pos->qty += remaining;
            account.cash -= value;
        }
    }
    return account;
}

}  // namespace

ChainJobs::ChainJobs(const Config& config, storage::Journal& journal, broker::Broker& broker,
                     broker::MarketData& market, const core::Strategy& strategy, Clock& clock, bool dry_run,
                     std::shared_ptr<spdlog::logger> log, JournalDetail detail)
    : config_(config), journal_(journal), broker_(broker), market_(market), strategy_(strategy), clock_(clock),
      dry_run_(dry_run), log_(std::move(log)), detail_(detail), universe_(strategy.universe()) {
    std::sort(universe_.begin(), universe_.end());
    universe_.erase(std::unique(universe_.begin(), universe_.end()), universe_.end());
}

awaitable<JobResult> ChainJobs::run(core::Job job, core::Date session, std::int64_t job_run_id) {
    // One overall deadline per job for every remote call it makes.
    broker_.set_job_deadline(std::chrono::steady_clock::now() + std::chrono::seconds(config_.alpaca.job_deadline_seconds));
    switch (job) {
        case core::Job::data_update: co_return co_await data_update(session);
        case core::Job::signals: co_return co_await signals(session, job_run_id);
        case core::Job::rebalance: co_return co_await rebalance(session, job_run_id);
    }
    co_return fail("unknown job");
}

awaitable<JobResult> ChainJobs::data_update(core::Date session) {
    // The strategy's symbols and whatever the account holds (a position outside the
    // targets still needs a price to be valued and sold), sorted.
    auto account = co_await broker_.account();
    if (!account) co_return fail("broker account: " + account.error().message);
    const Wanted wanted = wanted_symbols(account.value());
    const std::vector<core::Symbol>& universe = *wanted.symbols;
    // Fetch from the oldest "last known bar" of those symbols (or a year back).
    core::Date from = session;
    for (const Series* s : *wanted.series)
        from = std::min(from, s->dates.empty() ? session.plus_days(-kInitialHistoryDays) : s->dates.back().plus_days(1));
    // The chain trades on the bars of `through`: this session when the data update runs
    // after the close, the previous one when it runs before (a market-hours schedule).
    const core::Date through = data_date(session);
    // Everything up to `through` already known (e.g. a resumed job): nothing to fetch.
    broker::Result<std::vector<core::Bar>> fetched = std::vector<core::Bar>{};
    if (from <= through) fetched = co_await market_.daily_bars(universe, from, through);
    if (!fetched) co_return fail("market data: " + fetched.error().message);
    std::vector<core::Bar> bars = std::move(fetched).value();
    const auto stored = [&] {
        return ok(std::string(detail_ == JournalDetail::full ? "stored " : "read ") + std::to_string(bars.size()) +
                  " bars for " + std::to_string(universe.size()) + " symbols through " + through.to_string());
    };
    // The usual fetch, checked in one pass: each wanted symbol's next session. Anything else
    // goes through the checks below, which accept it too but also name what is wrong.
    if (is_next_session(bars, *wanted.series, through)) {
        if (detail_ == JournalDetail::full) storage::BarRepository(journal_).upsert(bars, "market-data");
        for (std::size_t i = 0; i < bars.size(); ++i) remember(*(*wanted.series)[i], bars[i]);
        co_return stored();
    }
    // Valid, unique trading-day bars, ascending by symbol then date (sorted here if the
    // venue sent them otherwise; then checked again in that order).
    std::optional<std::string> problem;
    for (bool sorted = false;;) {
        bool out_of_order = false;
        problem.reset();
        std::optional<core::Date> checked_day;  // the bars of a fetch share few dates: one calendar look-up each
        bool checked_open = false;
        for (std::size_t i = 0; i < bars.size(); ++i) {
            const auto& b = bars[i];
            const int order = i == 0 ? -1 : bars[i - 1].symbol.compare(b.symbol);
            if (order > 0 || (order == 0 && bars[i - 1].date > b.date)) {
                out_of_order = true;
                break;
            }
            if (problem) continue;  // the first problem in order is the one reported
            if (b.date != checked_day) {
                checked_day = b.date;
                checked_open = core::is_trading_day(b.date);
            }
            if (auto why = bar_problem(b, through, checked_open))
                problem = "invalid bar " + b.symbol + " " + b.date.to_string() + ": " + *why + "; holding";
            else if (order == 0 && bars[i - 1].date == b.date)
                problem = "duplicate bar " + b.symbol + " " + b.date.to_string() + " from market data; holding";
        }
        if (!out_of_order || sorted) break;
        std::stable_sort(bars.begin(), bars.end(), [](const core::Bar& x, const core::Bar& y) {
            return x.symbol != y.symbol ? x.symbol < y.symbol : x.date < y.date;
        });
        sorted = true;
    }
    if (problem) co_return fail(*problem);
    // No gaps: every trading day after a symbol's last known bar (or its first fetched
    // one) up to `through` must be there. The bars are valid, unique trading days up to
    // `through`, so counting them is enough; the missing days are listed only on failure.
    std::vector<core::Date> days;  // trading days from the earliest start to `through`
    struct Fetched {
        Series* series;
        std::size_t begin, end;  // its bars in `bars`
    };
    std::vector<Fetched> fetched_by_series;
    fetched_by_series.reserve(wanted.series->size());
    std::size_t first_bar = 0;
    for (Series* s : *wanted.series) {
        // Both ascending by symbol: walk them together.
        const auto is_s = [&](std::size_t i) { return i < bars.size() && bars[i].symbol == s->symbol; };
        if (!is_s(first_bar))
            while (first_bar < bars.size() && bars[first_bar].symbol < s->symbol) ++first_bar;
        std::size_t end_bar = first_bar;
        while (is_s(end_bar)) ++end_bar;
        fetched_by_series.push_back({s, first_bar, end_bar});
        const std::optional<core::Date> start =
            !s->dates.empty() ? std::optional<core::Date>(s->dates.back().plus_days(1))
                              : (first_bar != end_bar ? std::optional<core::Date>(bars[first_bar].date) : std::nullopt);
        if (start && *start <= through) {
            if (days.empty() || days.front() > *start) days = core::trading_days(std::min(*start, from), through);
            const auto expected = days.end() - std::lower_bound(days.begin(), days.end(), *start);
            const auto got = static_cast<std::ptrdiff_t>(end_bar) -
                             (std::lower_bound(bars.begin() + static_cast<std::ptrdiff_t>(first_bar),
                                               bars.begin() + static_cast<std::ptrdiff_t>(end_bar), *start,
                                               [](const core::Bar& bar, core::Date d) { return bar.date < d; }) -
                              bars.begin());
            if (got != expected) {
                // The symbol's bars are a subset of `days`: walk both to list what is missing.
                std::vector<std::string> missing;
                auto bar = bars.begin() + static_cast<std::ptrdiff_t>(end_bar) - got;
                const auto last = bars.begin() + static_cast<std::ptrdiff_t>(end_bar);
                for (auto d = std::lower_bound(days.begin(), days.end(), *start); d != days.end(); ++d) {
                    if (bar != last && bar->date == *d) ++bar;
                    else missing.push_back(d->to_string());
                }
                co_return fail("gap in the market data: no bar for " + s->symbol + " on " + missing.front() +
                               (missing.size() > 1 ? " and " + std::to_string(missing.size() - 1) + " more trading day(s)"
                                                   : "") +
                               " up to " + through.to_string() + "; holding");
            }
        }
        first_bar = end_bar;
    }
    // Bars of symbols not asked for (a venue's extra) are journaled at full detail but not
    // kept in memory: a series is read from the journal when first wanted.
    if (detail_ == JournalDetail::full) storage::BarRepository(journal_).upsert(bars, "market-data");
    for (const auto& f : fetched_by_series)
        for (std::size_t i = f.begin; i < f.end; ++i) remember(*f.series, bars[i]);
    // Every symbol needs a bar for that very session: anything else is stale data.
    for (const Series* s : *wanted.series) {
        if (!close_on(*s, through))
            co_return fail("no bar for " + s->symbol + " on " + through.to_string() + " (latest known: " +
                           (s->dates.empty() ? std::string("none") : s->dates.back().to_string()) + "); holding");
    }
    co_return stored();
}

bool ChainJobs::is_next_session(const std::vector<core::Bar>& bars, const std::vector<Series*>& series,
                                core::Date through) {
    if (bars.empty() || bars.size() != series.size() || !core::is_trading_day(through)) return false;
    const core::Date previous = core::previous_trading_day(through);
    for (std::size_t i = 0; i < bars.size(); ++i) {
        prefetch_ahead(series, i);
        const core::Bar& b = bars[i];
        const Series& s = *series[i];
        // (What bar_problem checks of a bar dated `through`, a trading day.)
        if (b.date != through || s.dates.empty() || s.dates.back() != previous || !core::same_symbol(b.symbol, s.symbol) ||
            !prices_ok(b))
            return false;
    }
    return true;
}

ChainJobs::Wanted ChainJobs::wanted_symbols(const core::AccountState& account) {
    if (universe_series_.size() != universe_.size()) {
        universe_series_.clear();
        for (const auto& s : universe_) universe_series_.push_back(&series(s));
    }
    // Usually the account holds what it held at the last call, all of it in the strategy's
    // universe: the same symbols in the same order are checked by comparing them with
    // those (short strings, equal: cheaper than walking the universe again).
    const auto& positions = account.positions;
    if (positions.size() == held_inside_.size() &&
        std::equal(positions.begin(), positions.end(), held_inside_.begin(),
                   [](const core::Position& p, const core::Symbol& s) { return core::same_symbol(p.symbol, s); }))
        return {&universe_, &universe_series_};
    bool inside = true;
    auto u = universe_.begin();
    for (const auto& p : account.positions) {
        if (u != universe_.end() && core::same_symbol(*u, p.symbol)) {  // the next in line
            ++u;
            continue;
        }
        if (u != universe_.begin() && !(*std::prev(u) < p.symbol))  // not ascending: search
            u = std::lower_bound(universe_.begin(), universe_.end(), p.symbol);
        while (u != universe_.end() && *u < p.symbol) ++u;
        if (u == universe_.end() || *u != p.symbol) {
            inside = false;
            break;
        }
    }
    if (inside) {
        held_inside_.clear();
        for (const auto& p : positions) held_inside_.push_back(p.symbol);
        return {&universe_, &universe_series_};
    }
    std::vector<core::Symbol> held;
    held.reserve(account.positions.size());
    for (const auto& p : account.positions) held.push_back(p.symbol);
    std::sort(held.begin(), held.end());
    extra_symbols_.clear();
    std::set_union(universe_.begin(), universe_.end(), held.begin(), held.end(), std::back_inserter(extra_symbols_));
    extra_symbols_.erase(std::unique(extra_symbols_.begin(), extra_symbols_.end()), extra_symbols_.end());
    extra_series_.clear();
    for (const auto& s : extra_symbols_) extra_series_.push_back(&series(s));
    return {&extra_symbols_, &extra_series_};
}

awaitable<JobResult> ChainJobs::signals(core::Date session, std::int64_t job_run_id) {
    // A backtest evaluates the strategy only where the rebalance may trade.
    if (detail_ == JournalDetail::trading)
        if (const auto hold = core::calendar_hold(session, last_rebalance(), config_.rebalance))
            co_return ok("not evaluated: no rebalance due (" + hold->reason + ")");
    if (auto problem = evaluate_strategy(session, job_run_id); !problem.empty()) co_return fail(problem);
    if (dry_run_) co_return ok("dry run: targets computed, not journaled");
    std::string detail = "targets";
    for (const auto& [s, w] : *targets_of(session)) detail += " " + s + "=" + (w * Decimal::from_int(100)).to_string() + "%";
    co_return ok(detail);
}

std::string ChainJobs::evaluate_strategy(core::Date session, std::int64_t job_run_id) {
    // The input map is kept from the last evaluation: its entries are updated in place (the
    // universe is fixed, so usually the same symbols have closes), not allocated again.
    core::StrategyInput& input = strategy_input_;
    input.session = session;
    auto entry = input.closes.begin();
    const auto lookback = static_cast<int>(strategy_.lookback());
    const core::Date through = data_date(session);
    // Enough calendar days to hold `lookback` sessions, holidays included.
    const core::Date from = core::history_start(through, static_cast<std::size_t>(lookback));
    for (const auto& sym : universe_) {
        const Series& s = series(sym);
        // Usually the series ends at `through`; the window's start is then among its last
        // (through - from + 1) dates, one per calendar day at most.
        const auto last = !s.dates.empty() && s.dates.back() == through
                              ? s.dates.end()
                              : std::upper_bound(s.dates.begin(), s.dates.end(), through);
        const auto span = std::max<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(through - from) + 1, 0);
        const auto first = std::lower_bound(last - std::min(span, last - s.dates.begin()), last, from);
        const bool has_close = first != last && *std::prev(last) == through;  // else the strategy sees none
        if (entry == input.closes.end() || !core::same_symbol(entry->first, sym))
            while (entry != input.closes.end() && core::symbol_less(entry->first, sym)) entry = input.closes.erase(entry);
        const bool kept = entry != input.closes.end() && core::same_symbol(entry->first, sym);
        if (!has_close) {
            if (kept) entry = input.closes.erase(entry);
            continue;
        }
        // A view into the series: nothing changes it during the evaluation.
        const auto closes = std::span<const double>(s.closes).subspan(static_cast<std::size_t>(first - s.dates.begin()),
                                                                      static_cast<std::size_t>(last - first));
        if (kept) (entry++)->second = closes;
        else entry = std::next(input.closes.emplace_hint(entry, sym, closes));  // still the entry after sym
    }
    input.closes.erase(entry, input.closes.end());
    auto out = strategy_.evaluate(input);
    const std::string problem = out.problem.empty() ? "" : "strategy " + strategy_.name() + ": " + out.problem;
    if (dry_run_) {
        // A dry run keeps its targets in memory: the session's journaled ones stay the real run's.
        if (problem.empty()) targets_.emplace(session, std::move(out.targets));
        return problem;
    }
    storage::SignalRepository repo(journal_);
    storage::Transaction tx(journal_);
    repo.save_signals(job_run_id, session, strategy_.name(), out.signals);
    if (problem.empty()) repo.save_targets(job_run_id, session, strategy_.name(), out.targets);
    tx.commit();
    if (problem.empty()) targets_.emplace(session, std::move(out.targets));
    return problem;
}

std::optional<core::Trip> ChainJobs::check_breakers(core::Date session, const core::AccountState& account) {
    const auto& limits = config_.breakers;
    if (!limits.max_daily_loss && !limits.max_drawdown && !limits.max_consecutive_rejections) return std::nullopt;
    const auto equity = account_value(session, account);
    if (!equity) return std::nullopt;  // unvalued: the drift check holds anyway
    core::BreakerInputs in;
    in.equity = *equity;
    storage::EquityRepository snapshots(journal_);
    if (limits.max_daily_loss) in.previous_close_equity = snapshots.before(session);
    if (limits.max_drawdown) {
        if (!equity_peak_) equity_peak_ = snapshots.peak();
        in.peak_equity = std::max(equity_peak_->value_or(in.equity), in.equity);
    }
    if (limits.max_consecutive_rejections) in.consecutive_rejections = storage::OrderRepository(journal_).trailing_rejections();
    auto trip = core::evaluate_breakers(in, limits);
    if (!trip) return std::nullopt;
    const auto now = now_text();
    storage::ControlRepository(journal_).set_halt(trip->reason, now, "risk:" + trip->rule);
    storage::HealthRepository(journal_).record(now, "risk", "breaker_tripped", trip->rule + ": " + trip->reason);
    log_->error("circuit breaker {} tripped: {}; trading halted until `ballast resume`", trip->rule, trip->reason);
    return trip;
}

ChainJobs::Series& ChainJobs::series(const core::Symbol& symbol) {
    // Callers usually ask in the order the series were made (the universe's, sorted),
    // sometimes skipping some (the holdings, a subset): look a few places ahead first.
    constexpr std::size_t kLookAhead = 8;
    for (std::size_t i = series_cursor_, end = std::min(series_order_.size(), series_cursor_ + kLookAhead); i < end; ++i)
        if (core::same_symbol(series_order_[i]->symbol, symbol)) {
            series_cursor_ = i + 1;
            return *series_order_[i];
        }
    if (const auto it = series_index_.find(symbol); it != series_index_.end()) {
        series_cursor_ = it->second + 1;
        return *series_order_[it->second];
    }
    // First use: everything the journal holds for the symbol.
    Series s;
    s.symbol = symbol;
    for (const auto& b : storage::BarRepository(journal_).range(symbol, core::Date::from_days(-1'000'000),
                                                                core::Date::from_days(1'000'000))) {
        s.dates.push_back(b.date);
        s.closes.push_back(core::valuation_close(b, config_.sim.price_field));
    }
    series_index_.emplace(symbol, series_.size());
    series_.push_back(std::move(s));
    series_order_.push_back(&series_.back());
    series_cursor_ = series_.size();
    return series_.back();
}

void ChainJobs::remember(Series& s, const core::Bar& b) {
    const double close = core::valuation_close(b, config_.sim.price_field);
    if (s.dates.empty() || s.dates.back() < b.date) {
        s.dates.push_back(b.date);
        s.closes.push_back(close);
        return;
    }
    const auto at = std::lower_bound(s.dates.begin(), s.dates.end(), b.date);
    const auto i = at - s.dates.begin();
    if (at != s.dates.end() && *at == b.date) {
        s.closes[static_cast<std::size_t>(i)] = close;  // upsert, as in the journal
    } else {
        s.dates.insert(at, b.date);
        s.closes.insert(s.closes.begin() + i, close);
    }
}

std::optional<double> ChainJobs::close_on(const Series& s, core::Date date) {
    if (!s.dates.empty() && s.dates.back() == date) return s.closes.back();
    const auto at = std::lower_bound(s.dates.begin(), s.dates.end(), date);
    if (at == s.dates.end() || *at != date) return std::nullopt;
    return s.closes[static_cast<std::size_t>(at - s.dates.begin())];
}

core::Date ChainJobs::data_date(core::Date session) const {
    return config_.schedule.data_update.minutes >= kCloseMinutes ? session : core::previous_trading_day(session);
}

const std::vector<ChainJobs::Series*>& ChainJobs::series_of(const std::vector<core::Position>& positions) {
    if (positions.size() != position_series_.size() ||
        !std::equal(positions.begin(), positions.end(), position_series_.begin(),
                    [](const core::Position& p, const Series* s) { return core::same_symbol(p.symbol, s->symbol); })) {
        position_series_.clear();
        for (const auto& p : positions) position_series_.push_back(&series(p.symbol));
    }
    return position_series_;
}

std::optional<Decimal> ChainJobs::valuation_price(const Series& s, core::Date date) {
    const auto close = close_on(s, date);
    return close ? core::to_price(*close) : std::nullopt;
}

core::Prices ChainJobs::session_prices(core::Date session, const core::AccountState& account) {
    core::Prices prices;
    const core::Date date = data_date(session);
    // The wanted symbols (sorted): each price goes in at the end of the map.
    for (Series* s : *wanted_symbols(account).series)
        if (const auto close = close_on(*s, date))
            if (const auto price = core::to_price(*close)) prices.emplace_hint(prices.end(), s->symbol, *price);
    return prices;
}

std::optional<Decimal> ChainJobs::account_value(core::Date session, const core::AccountState& account) {
    const core::Date date = data_date(session);
    Decimal equity = account.cash;
    const auto& held = series_of(account.positions);
    for (std::size_t i = 0; i < held.size(); ++i) {
        prefetch_ahead(held, i);
        const auto& p = account.positions[i];
        const auto price = valuation_price(*held[i], date);
        if (!price) return std::nullopt;
        equity += p.qty * *price;
    }
    return equity;
}

std::optional<core::Date> ChainJobs::last_rebalance() {
    if (!last_rebalance_) last_rebalance_ = storage::SignalRepository(journal_).last_rebalance();
    return *last_rebalance_;
}

void ChainJobs::record_update(std::int64_t order_id, const std::string& known_status, Decimal known_filled,
                              const broker::OrderUpdate& u, std::optional<Decimal> known_avg,
                              std::vector<storage::OrderRepository::StatusEvent> events) {
    last_rebalance_.reset();  // an order's fate decides whether its session counts as a rebalance
    const std::string at = u.updated_at.empty() ? now_text() : u.updated_at;
    const auto add = [&](std::string event, std::optional<Decimal> qty, std::optional<Decimal> price,
                         std::optional<Decimal> commission, const std::string& status) {
        events.push_back({{std::move(event), at, qty, price, commission, u.reason}, status});
    };
    if (u.filled_qty > known_filled) {
        filled_this_job_ = true;
        const bool complete = u.status == "filled";
        const Decimal delta = u.filled_qty - known_filled;
        // The broker reports the average over all fills: the new shares' own price is what
        // takes that average from the known one to the new one.
        std::optional<Decimal> price = u.filled_avg_price;
        if (price && known_avg && known_filled.is_positive())
            price = (*u.filled_avg_price * u.filled_qty - *known_avg * known_filled) / delta;
        // The commission on the event is the broker's running total for the order.
        const char* name = complete ? "filled" : "partially_filled";
        add(name, delta, price, u.commission, name);
    }
    const bool new_status = u.status != known_status;
    if (new_status && u.status == "filled") {
        if (u.filled_qty <= known_filled)  // filled with no new quantity: still record the state
            add("filled", std::nullopt, std::nullopt, std::nullopt, "filled");
    } else if (new_status && !(u.status == "partially_filled" && u.filled_qty > known_filled)) {
        // accepted, new, canceled, expired, rejected ... recorded under the broker's name.
        add(u.status, std::nullopt, std::nullopt, std::nullopt, u.status);
        if (u.status == "rejected") ++stats_.rejected;
    }
    // One write for everything this answer says.
    if (!events.empty()) storage::OrderRepository(journal_).append_events(order_id, events, u.broker_order_id);
}

awaitable<broker::Result<int>> ChainJobs::reconcile_orders() {
    storage::OrderRepository orders(journal_);
    int open = 0;
    for (const auto& row : orders.non_terminal()) {
        last_rebalance_.reset();
        auto update = co_await broker_.order_by_client_id(row.client_order_id);
        if (!update) {
            if (update.error().kind == broker::BrokerError::Kind::not_found && row.status == "intent") {
                // The intent was journaled but the submit never reached the broker: it is
                // closed here and never resent; the next rebalance plans afresh.
                orders.append_event(row.id,
                                    {"canceled", now_text(), std::nullopt, std::nullopt,
                                     std::nullopt, "not found at the broker: the submit never reached it; not resent"},
                                    "canceled");
                continue;
            }
            if (update.error().kind == broker::BrokerError::Kind::not_found) {
                // Sent, but the broker no longer knows it (e.g. a reset paper account): close
                // it so trading can go on, and say so loudly.
                const std::string why = "the broker no longer knows order " + row.client_order_id +
                                        " (journaled as " + row.status + "); closed as expired";
                orders.append_event(row.id, {"expired", now_text(), std::nullopt, std::nullopt,
                                             std::nullopt, why},
                                    "expired");
                storage::HealthRepository(journal_).record(now_text(), "orders", "order_vanished",
                                                           why);
                log_->error("{}", why);
                continue;
            }
            co_return update.error();
        }
        record_update(row.id, row.status, row.filled_qty, update.value(), row.filled_avg_price);
        if (!broker::is_terminal_status(update.value().status)) ++open;
    }
    co_return open;
}

const std::string& ChainJobs::now_text() {
    const auto now = clock_.now();
    if (!now_text_ || now_text_->first != now) now_text_.emplace(now, core::format_utc(now));
    return now_text_->second;
}

std::string ChainJobs::snapshot(core::Date session, std::int64_t job_run_id, const core::AccountState& account,
                                bool with_positions) {
    const core::Date date = data_date(session);
    storage::EquitySnapshot snap;
    snap.job_run_id = job_run_id;
    snap.session = session;
    snap.at = now_text();
    snap.cash = account.cash;
    snap.equity = account.cash;
    const auto& held = series_of(account.positions);
    for (std::size_t i = 0; i < held.size(); ++i) {
        prefetch_ahead(held, i);
        const auto& p = account.positions[i];
        const auto price = valuation_price(*held[i], date);
        if (!price) return "no price for held " + p.symbol + "; equity not snapshotted";
        const Decimal value = (p.qty * *price).round_half_away(2);
        if (with_positions) snap.positions.push_back({p.symbol, p.qty, *price, value, 0.0});
        snap.equity += value;
    }
    for (auto& p : snap.positions)
        p.weight = snap.equity.is_positive() ? p.market_value.to_double() / snap.equity.to_double() : 0.0;
    storage::EquityRepository(journal_).save(snap);
    if (equity_peak_ && (!*equity_peak_ || snap.equity > **equity_peak_)) *equity_peak_ = snap.equity;
    return "";
}

awaitable<JobResult> ChainJobs::rebalance(core::Date session, std::int64_t job_run_id) {
    storage::SignalRepository signals(journal_);
    storage::OrderRepository orders(journal_);
    filled_this_job_ = false;

    // 1. Unfinished orders first: the broker is the source of truth.
    auto open = co_await reconcile_orders();
    if (!open) co_return fail("reconciling orders: " + open.error().message);
    auto fills_now = co_await broker_.fills_now();
    if (!fills_now) co_return fail("broker: cannot tell whether orders can fill now: " + fills_now.error().message);
    const bool sequential = fills_now.value() && !dry_run_;
    // This job run's own orders still open: it resumed after a crash. Where they can fill
    // now, wait for them (or cancel them at the deadline) before planning what is left;
    // where they queue, they count as done for the planning (see with_pending below).
    const auto own_open_orders = [&] {
        std::vector<storage::OrderRow> own;
        if (open.value() > 0)
            for (auto& row : orders.non_terminal())
                if (row.job_run_id == job_run_id) own.push_back(std::move(row));
        return own;
    };
    std::vector<storage::OrderRow> own_open = own_open_orders();
    if (sequential && !own_open.empty()) {
        Legs own;
        for (const auto& row : own_open) own.open.push_back(row.client_order_id);
        if (auto waited = co_await await_terminal(own); !waited.empty()) co_return fail(waited);
        open = co_await reconcile_orders();
        if (!open) co_return fail("reconciling orders: " + open.error().message);
        own_open = own_open_orders();
    }

    auto account = co_await broker_.account();
    if (!account) co_return fail("broker account: " + account.error().message);

    // Whether this job may have sent orders since it read `account` (set before any is
    // sent; a dry run sends none and snapshots nothing).
    bool sending = false;
    // Journals the decision and the equity snapshot. Callers pass named values only (see above).
    auto finish = [&](bool rebalanced, const std::string& reason, const core::Drift& drift) -> awaitable<JobResult> {
        if (!dry_run_) {
            signals.save_decision(job_run_id, {session, rebalanced, reason, drift.max, drift.symbol});
            last_rebalance_.reset();  // an upsert: a resumed job may turn its own session's decision around
        }
        // The account after trading. A job that sent nothing snapshots the account it read
        // (one broker call less on every session that holds).
        std::optional<core::AccountState> after;
        if (sending) {
            auto fetched = co_await broker_.account();
            if (!fetched) co_return fail("broker account after trading: " + fetched.error().message);
            after = std::move(fetched).value();
        }
        if (!dry_run_) {
            // A backtest snapshots positions only where they changed.
            const bool with_positions = detail_ == JournalDetail::full || filled_this_job_;
            if (auto problem = snapshot(session, job_run_id, after ? *after : account.value(), with_positions);
                !problem.empty())
                co_return fail(problem);
        }
        co_return ok((rebalanced ? "rebalanced: " : "hold: ") + reason);
    };

    // 2. Halt and open orders stop any new trading.
    const core::Drift no_drift;
    if (auto halt = storage::ControlRepository(journal_).halt()) {
        const std::string why = "halted since " + halt->set_at + ": " + halt->reason;
        co_return co_await finish(false, why, no_drift);
    }
    // Orders of another job run still open hold this one back.
    if (open.value() > static_cast<int>(own_open.size())) {
        const std::string why = std::to_string(open.value() - static_cast<int>(own_open.size())) +
                                " earlier order(s) still open at the broker";
        co_return co_await finish(false, why, no_drift);
    }

    // Circuit breakers: a trip halts all trading, persisted, until `ballast resume`.
    if (const auto trip = check_breakers(session, account.value())) {
        const std::string why = "circuit breaker " + trip->rule + " tripped: " + trip->reason + "; halted";
        co_return co_await finish(false, why, no_drift);
    }
    // Stop-loss (risk.stop_loss_pct), checked on every session: a holding at or past its
    // stop, measured from the broker's average entry price, is sold in full.
    // The session's valuation prices, worked out once and only when something needs them.
    std::optional<core::Prices> priced;
    const auto prices_now = [&]() -> const core::Prices& {
        if (!priced) priced = session_prices(session, account.value());
        return *priced;
    };
    core::RiskContext risk_context;
    std::vector<core::StopTrigger> stops;
    if (config_.risk.stop_loss) {
        for (const auto& p : account.value().positions)
            if (p.avg_entry_price) risk_context.stop_references[p.symbol] = *p.avg_entry_price;
        stops = core::evaluate_stops(account.value(), prices_now(), risk_context.stop_references,
                                     *config_.risk.stop_loss)
                    .stops;
    }
    // A backtest neither evaluated the strategy nor measures drift where the rules hold anyway.
    std::optional<core::RebalanceDecision> rules_hold;
    if (detail_ == JournalDetail::trading) rules_hold = core::calendar_hold(session, last_rebalance(), config_.rebalance);
    if (rules_hold && stops.empty()) {
        const std::string why = rules_hold->reason;
        co_return co_await finish(false, why, no_drift);
    }

    // 3. Decide.
    core::Weights targets;
    if (!rules_hold) {
        // In a backtest the signals job skipped the strategy if the rules held then; the
        // reconciliation above can change that (an order of the last rebalance that ended
        // without a fill no longer makes it one), so evaluate it now, as the daemon did.
        if (detail_ == JournalDetail::trading && !targets_of(session))
            if (auto problem = evaluate_strategy(session, job_run_id); !problem.empty()) co_return fail(problem);
        if (const auto* kept = targets_of(session)) targets = *kept;
        else targets = signals.targets_for(session);
        if (targets.empty()) co_return fail("no targets journaled for " + session.to_string());
    }
    const core::Prices& prices = prices_now();
    const core::AccountState holdings = with_pending(account.value(), own_open, prices);
    core::Drift drift;
    core::RebalanceDecision decision;
    if (rules_hold) {
        decision = *rules_hold;
    } else {
        const auto measured = core::measure_drift(holdings, targets, prices, config_.rebalance.drift_mode);
        if (!measured.drift) {
            const std::string why = "cannot measure drift: " + measured.problem;
            if (stops.empty()) co_return co_await finish(false, why, no_drift);
            decision = {false, why};  // no rebalance, but the stops are still sold
        } else {
            drift = *measured.drift;
            decision = core::decide_rebalance(session, last_rebalance(), drift, config_.rebalance);
        }
    }
    // A session that does not rebalance still sells what is stopped (and nothing else); it
    // is not a rebalance for the calendar or the minimum interval.
    const bool stop_exit = !decision.rebalance && !stops.empty();
    if (!decision.rebalance && !stop_exit) co_return co_await finish(false, decision.reason, drift);
    std::string stop_text;
    for (const auto& stop : stops) {
        stop_text += (stop_text.empty() ? "stop-loss: " : "; stop-loss: ") + stop.detail;
        if (!dry_run_)
            storage::HealthRepository(journal_).record(now_text(), "risk", "stop_loss", stop.detail);
        log_->warn("{} stop-loss: {}; selling", session.to_string(), stop.detail);
    }
    // The stopped symbols leave the targets (the planner sells them in full).
    targets = core::exit_stopped(std::move(targets), stops);

    // 4. Plan and apply the risk limits. Outside a rebalance, only the stopped holdings are
    //    sold, in full, at the price that stopped them; nothing else needs a price for that.
    core::Plan plan;
    if (stop_exit) {
        plan.equity = account_value(session, account.value()).value_or(account.value().cash);
        for (const auto& stop : stops)
            for (const auto& p : holdings.positions)
                if (p.symbol == stop.symbol && p.qty.is_positive())
                    plan.orders.push_back({p.symbol, core::Side::sell, p.qty, stop.price, (p.qty * stop.price).round_down(2),
                                           "stop-loss: sell all"});
    } else {
        plan = core::plan_orders(holdings, targets, prices, config_.orders.planner);
    }
    if (!plan.hold_reason.empty()) {
        const std::string why = "planner: " + plan.hold_reason + (stop_text.empty() ? "" : "; " + stop_text);
        co_return co_await finish(false, why, drift);
    }
    // The risk stage every order passes; price sanity compares with the venue's latest prices.
    if (config_.risk.price_sanity) {
        std::vector<core::Symbol> symbols;
        for (const auto& o : plan.orders) symbols.push_back(o.symbol);
        auto latest = co_await broker_.latest_prices(symbols);
        if (!latest) co_return fail("latest prices for the price check: " + latest.error().message);
        risk_context.quotes = latest.value();
    }
    auto risk = core::evaluate_risk(plan, holdings, prices, config_.risk, risk_context);
    const std::size_t planned = risk.verdicts.size();

    // 5. Act. Where orders can fill now (market open, or a venue that fills at once): sells
    //    first, polled to a terminal state (unfilled ones canceled at the deadline), then
    //    buys sized from the cash actually there. Where orders queue for the next open:
    //    sells and buys together, the buys sized on the planned sell proceeds.
    std::vector<core::RiskVerdict> sells, buys;
    std::vector<std::string> plan_notes;
    for (auto& v : risk.verdicts) (v.order.side == core::Side::sell ? sells : buys).push_back(std::move(v));

    Legs legs;
    legs.session = session;
    legs.job_run_id = job_run_id;
    // A resumed job continues its leg numbers: client_order_ids are never reused.
    legs.next_leg = static_cast<std::size_t>(orders.count_for_job_run(job_run_id));
    sending = !dry_run_;
    co_await send_legs(legs, sells);
    if (!legs.failure.empty()) co_return fail(legs.failure);
    crash_point("between-sells-and-buys");
    if (sequential && !legs.open.empty()) {
        if (auto waited = co_await await_terminal(legs); !waited.empty()) co_return fail(waited);
    }
    if (sequential && !stop_exit) {
        // Buys from the account as it is now and at the venue's latest prices, never from
        // the planned proceeds at yesterday's close.
        auto now_account = co_await broker_.account();
        if (!now_account) co_return fail("broker account before buys: " + now_account.error().message);
        std::vector<core::Symbol> symbols;
        for (const auto& [sym, w] : targets) symbols.push_back(sym);
        auto latest = co_await broker_.latest_prices(symbols);
        if (!latest) co_return fail("latest prices before buys: " + latest.error().message);
        core::Prices buy_prices = prices;
        auto at = buy_prices.begin();  // both ascending: walked together
        for (const auto& [sym, p] : latest.value()) {
            while (at != buy_prices.end() && at->first < sym) ++at;
            if (at != buy_prices.end() && at->first == sym) at->second = p;
            else at = std::next(buy_prices.emplace_hint(at, sym, p));
        }
        auto buys_only = config_.orders.planner;
        buys_only.plan_sells = false;
        for (const auto& sym : symbols)
            if (!latest.value().count(sym))
                plan_notes.push_back("no latest price for " + sym + "; buys sized at the session's close");
        const auto replan = core::plan_orders(now_account.value(), targets, buy_prices, buys_only);
        if (!replan.hold_reason.empty()) plan_notes.push_back("buys: " + replan.hold_reason);
        for (const auto& note : replan.notes) plan_notes.push_back("buys: " + note);
        buys.clear();
        for (auto& v : core::check_risk(replan, now_account.value(), buy_prices, config_.risk))
            if (v.order.side == core::Side::buy) buys.push_back(std::move(v));
    }
    // The kill switch may have been thrown while the sells were polled.
    if (legs.buys_blocked.empty() && !buys.empty())
        if (const auto halt = storage::ControlRepository(journal_).halt())
            legs.buys_blocked = "halted since " + halt->set_at + ": " + halt->reason;
    if (legs.buys_blocked.empty()) {
        co_await send_legs(legs, buys);
        if (!legs.failure.empty()) co_return fail(legs.failure);
        if (sequential && !legs.open.empty())
            if (auto waited = co_await await_terminal(legs); !waited.empty()) co_return fail(waited);
    }

    // Rejections in a row also trip a breaker, halting the sessions that follow.
    if (config_.breakers.max_consecutive_rejections) check_breakers(session, account.value());

    stats_.orders += legs.sent;
    if (legs.sent > 0 && !stop_exit) ++stats_.rebalances;
    if (stop_exit && legs.sent > 0) ++stats_.stop_exits;
    const std::string why = stop_exit ? stop_text : decision.reason + (stop_text.empty() ? "" : "; " + stop_text);
    std::string summary = why + "; " + std::to_string(legs.sent) + " order(s) sent";
    if (dry_run_) summary = why + "; dry run: " + std::to_string(planned) + " order(s) planned, none sent";
    if (!legs.buys_blocked.empty()) summary += "; buys not sent: " + legs.buys_blocked;
    for (const auto& note : plan.notes) summary += "; " + note;
    for (const auto& note : plan_notes) summary += "; " + note;
    for (const auto& note : risk.notes) summary += "; " + note;
    co_return co_await finish(!stop_exit && (legs.sent > 0 || dry_run_), summary, drift);
}

awaitable<void> ChainJobs::send_legs(Legs& legs, const std::vector<core::RiskVerdict>& verdicts) {
    storage::OrderRepository orders(journal_);
    for (const auto& v : verdicts) {
        if (v.order.side == core::Side::buy && !legs.buys_blocked.empty()) co_return;
        const std::size_t leg = legs.next_leg++;
        if (legs.id_prefix.empty()) legs.id_prefix = client_order_id_prefix(dry_run_, legs.session, legs.job_run_id);
        storage::OrderIntent intent{legs.id_prefix + std::to_string(leg),
                                    legs.job_run_id,
                                    legs.session,
                                    static_cast<int>(leg),
                                    v.order.symbol,
                                    v.order.side,
                                    v.order.qty,
                                    v.order.price,
                                    v.order.notional,
                                    v.order.reason,
                                    now_text(),
                                    v.approved ? "risk ok: " + v.detail : "risk denied: " + v.rule + ": " + v.detail};
        // Write-ahead: the intent is in the journal before the broker hears of it.
        const auto order_id = orders.record_intent(intent);
        const auto now = now_text();
        const bool sell = v.order.side == core::Side::sell;
        if (!v.approved) {
            orders.append_event(order_id, {"denied", now, std::nullopt, std::nullopt, std::nullopt, v.rule + ": " + v.detail},
                                "denied");
            ++stats_.denied;
            if (sell) legs.buys_blocked = "sell " + v.order.symbol + " was denied (" + v.rule + ")";
            continue;
        }
        if (dry_run_) {
            orders.append_event(order_id,
                                {"dry_run", now, std::nullopt, std::nullopt, std::nullopt, "dry run: not sent"},
                                "dry_run");
            continue;
        }
        crash_point("after-intent");
        // Named, not a temporary: g++ 12 destroys temporaries inside co_await expressions twice.
        const broker::OrderRequest request{intent.client_order_id, intent.symbol, intent.side, intent.qty};
        auto update = co_await broker_.submit(request);
        crash_point("after-submit");
        if (!update && update.error().kind == broker::BrokerError::Kind::rejected) {
            // A "no" may answer a retry whose first attempt did arrive: believe it only if
            // the broker has no such order.
            auto found = co_await broker_.order_by_client_id(intent.client_order_id);
            if (found && broker::same_order(found.value(), request)) {
                log_->warn("submitting {}: {}; but the broker has the order, continuing", intent.client_order_id,
                           update.error().message);
                update = std::move(found);
            } else if (!found && found.error().kind != broker::BrokerError::Kind::not_found) {
                legs.failure = "submitting " + intent.client_order_id + ": " + update.error().message +
                               "; could not confirm the rejection (" + found.error().message +
                               "); the order is left for reconciliation and no further order was sent";
                co_return;
            }
        }
        if (!update) {
            if (update.error().kind == broker::BrokerError::Kind::rejected) {
                // A definite "no" from the broker: the order does not exist there.
                orders.append_event(order_id,
                                    {"rejected", now, std::nullopt, std::nullopt, std::nullopt, update.error().message},
                                    "rejected");
                ++stats_.rejected;
                if (sell) legs.buys_blocked = "sell " + v.order.symbol + " was rejected";
                continue;
            }
            // Anything else (timeout, broken connection, a garbled answer) may or may not have
            // reached the broker: ask for it by client_order_id. Found: carry on with what the
            // broker says. Otherwise the intent stays open for reconciliation and nothing more
            // is sent this session.
            auto found = co_await broker_.order_by_client_id(intent.client_order_id);
            if (!found || !broker::same_order(found.value(), request)) {
                legs.failure = "submitting " + intent.client_order_id + ": " + update.error().message +
                               "; the order is left for reconciliation and no further order was sent";
                co_return;
            }
            log_->warn("submitting {}: {}; the broker has the order, continuing", intent.client_order_id,
                       update.error().message);
            update = std::move(found);
        }
        // "submitted" and whatever the answer already says (filled, rejected, ...) in one write.
        record_update(order_id, "submitted", Decimal{}, update.value(), std::nullopt,
                      {{{"submitted", now, std::nullopt, std::nullopt, std::nullopt, ""}, "submitted"}});
        if (update.value().status == "rejected") {
            if (sell) legs.buys_blocked = "sell " + v.order.symbol + " was rejected: " + update.value().reason;
            continue;
        }
        ++legs.sent;
        if (!broker::is_terminal_status(update.value().status)) legs.open.push_back(intent.client_order_id);
    }
}

awaitable<std::string> ChainJobs::await_terminal(Legs& legs) {
    storage::OrderRepository orders(journal_);
    const auto deadline = clock_.now() + std::chrono::seconds(config_.alpaca.fill_timeout_seconds);
    const auto poll = std::chrono::seconds(1);
    bool cancel_now = false;  // the deadline passed, or the process is stopping
    for (int after_cancel = 0; !legs.open.empty();) {
        crash_point("while-polling");
        std::vector<std::string> still_open;
        for (const auto& id : legs.open) {
            const auto row = orders.by_client_order_id(id);
            auto update = co_await broker_.order_by_client_id(id);
            if (!update) co_return "polling " + id + ": " + update.error().message;
            record_update(row->id, row->status, row->filled_qty, update.value(), row->filled_avg_price);
            if (!broker::is_terminal_status(update.value().status)) still_open.push_back(id);
        }
        legs.open = std::move(still_open);
        if (legs.open.empty()) break;
        if (after_cancel > 0) {
            // Canceled but not final yet (pending_cancel): a few more looks, then leave the
            // rest to the next reconciliation.
            if (++after_cancel > 10) {
                log_->warn("{} order(s) still not final after their cancel; left for reconciliation", legs.open.size());
                legs.open.clear();
                break;
            }
        } else if (cancel_now || clock_.now() >= deadline) {
            // Unfilled at the deadline (or stopping): cancel, and record what the broker says.
            for (const auto& id : legs.open) {
                const auto row = orders.by_client_order_id(id);
                auto update = co_await broker_.cancel(id);
                if (!update) co_return "canceling " + id + ": " + update.error().message;
                record_update(row->id, row->status, row->filled_qty, update.value(), row->filled_avg_price);
            }
            after_cancel = 1;
            continue;
        }
        const auto wake = clock_.now() + poll;
        // A stop request ends the wait at once: cancel what is open, at a safe point.
        if (!co_await clock_.sleep_until(wake)) cancel_now = true;
    }
    co_return "";
}

}  // namespace ballast::daemon
