#include "broker/sim.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "broker/csv_bars.hpp"
#include "core/sorted.hpp"

namespace ballast::broker {
namespace {

using core::Decimal;

constexpr int kOpenMinutes = 9 * 60 + 30;

Decimal bps_factor(double bps, bool up) {
    const auto f = Decimal::from_double(bps / 10000.0, 9).value_or(Decimal{});
    return up ? Decimal::from_int(1) + f : Decimal::from_int(1) - f;
}

// The number of fractional digits `qty` uses (0..9).
int qty_digits_of(Decimal qty) {
    std::int64_t raw = qty.raw();
    if (raw == 0) return 0;
    int digits = Decimal::kScaleDigits;
    for (; digits > 0 && raw % 10 == 0; --digits) raw /= 10;
    return digits;
}

constexpr std::array<std::string_view, 4> kStatusNames{"accepted", "filled", "canceled", "rejected"};

}  // namespace

// ---- SimMarket ----------------------------------------------------------------------

Result<std::shared_ptr<SimMarket>> SimMarket::load(const std::filesystem::path& dir,
                                                   const std::vector<core::Symbol>& symbols) {
    // The files are read on every core (a 500-symbol universe is 500 files), each made
    // compact as soon as parsed: the market never holds them all as core::Bar. The error
    // reported is the first in `symbols` order, as if read one by one.
    std::vector<std::optional<Result<Series>>> read(symbols.size());
    std::atomic<std::size_t> next{0};
    const auto work = [&]() noexcept {
        try {
            for (std::size_t i; (i = next++) < symbols.size();) {
                try {
                    auto r = read_yahoo_csv(dir / (symbols[i] + ".csv"), symbols[i]);
                    read[i].emplace(r ? Result<Series>(series_of(r.value())) : Result<Series>(r.error()));
                } catch (const std::exception& e) {  // (out of memory)
                    read[i].emplace(BrokerError{BrokerError::Kind::bad_data,
                                                (dir / (symbols[i] + ".csv")).string() + ": cannot read: " + e.what()});
                }
            }
        } catch (...) {  // not even the error could be made: the file stays unread, reported below
        }
    };
    const std::size_t threads =
        std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), symbols.size() / 8 + 1);
    {
        std::vector<std::jthread> pool;  // joined when it goes, whatever happens
        try {
            pool.reserve(threads);
            for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
        } catch (const std::exception&) {  // no more threads to be had: fewer read the files
        }
        work();
    }
    std::map<core::Symbol, Series> series;
    for (std::size_t i = 0; i < symbols.size(); ++i) {
        if (!read[i])
            return BrokerError{BrokerError::Kind::bad_data,
                               (dir / (symbols[i] + ".csv")).string() + ": cannot read (out of memory)"};
        if (!*read[i]) return read[i]->error();
        series[symbols[i]] = std::move(*read[i]).value();
    }
    return std::shared_ptr<SimMarket>(new SimMarket(std::move(series)));
}

std::shared_ptr<SimMarket> SimMarket::from_bars(std::map<core::Symbol, std::vector<core::Bar>> bars) {
    std::map<core::Symbol, Series> series;
    for (auto& [s, v] : bars) {
        std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.date < b.date; });
        series[s] = series_of(v);
        std::vector<core::Bar>().swap(v);  // freed as it goes
    }
    return std::shared_ptr<SimMarket>(new SimMarket(std::move(series)));
}

SimMarket::Series SimMarket::series_of(const std::vector<core::Bar>& bars) {
    Series out;
    out.quotes.reserve(bars.size());
    out.dates.reserve(bars.size());
    for (const auto& b : bars) {
        out.quotes.push_back({b.date, b.open, b.high, b.low, b.close, b.adj_close, b.volume});
        out.dates.push_back(b.date);
    }
    return out;
}

SimMarket::SimMarket(std::map<core::Symbol, Series> series) {
    bars_.reserve(series.size());
    for (auto& [symbol, s] : series) bars_.emplace_back(symbol, std::move(s));  // ascending by symbol, as bars_ must be
    for (const auto& [symbol, s] : bars_) index_.emplace(symbol, &s);  // bars_ is complete: no more moves
}

const SimMarket::Series* SimMarket::series(const core::Symbol& symbol) const {
    const auto it = index_.find(symbol);
    return it == index_.end() ? nullptr : it->second;
}

awaitable<Result<std::vector<core::Bar>>> SimMarket::daily_bars(const std::vector<core::Symbol>& symbols,
                                                                 core::Date from, core::Date to) {
    std::vector<core::Bar> out;
    out.reserve(symbols.size());
    std::size_t hint = 0;  // symbols usually share their dates: try the previous symbol's start first
    std::vector<const Series*> found;
    found.reserve(symbols.size());
    {
        core::Walk walk(bars_);  // symbols come sorted: found by walking bars_ along
        for (const auto& s : symbols) found.push_back(walk.find(s));
    }
    // Each symbol's quotes live apart, so reading hundreds of them one after another waits
    // on memory at each: the quote a few symbols ahead is asked for while this one is copied
    // (measured: 4-10% of a 500-symbol replay's sessions, the more the busier the machine).
    constexpr std::size_t kAhead = 8;
    for (std::size_t k = 0; k < symbols.size(); ++k) {
        const auto& s = symbols[k];
        if (k + kAhead < found.size()) {
            if (const Series* next = found[k + kAhead]; next && hint < next->dates.size()) {
                __builtin_prefetch(next->dates.data() + hint);
                __builtin_prefetch(next->quotes.data() + hint);
                __builtin_prefetch(reinterpret_cast<const char*>(next->quotes.data() + hint) + sizeof(Quote) - 1);
            }
        }
        const Series* series = found[k];
        if (!series) continue;
        const auto& dates = series->dates;
        const bool hint_fits = hint < dates.size() && dates[hint] >= from && (hint == 0 || dates[hint - 1] < from);
        auto i = hint_fits ? hint
                           : static_cast<std::size_t>(std::lower_bound(dates.begin(), dates.end(), from) - dates.begin());
        hint = i;
        for (; i < dates.size() && dates[i] <= to; ++i) {
            const Quote& q = series->quotes[i];
            out.emplace_back(s, q.date, q.open, q.high, q.low, q.close, q.adj_close, q.volume);  // in place
        }
    }
    co_return out;
}

const SimMarket::Quote* SimMarket::bar(const core::Symbol& symbol, core::Date date) const {
    const Series* series = this->series(symbol);
    if (!series) return nullptr;
    const auto& dates = series->dates;
    const auto lo = std::lower_bound(dates.begin(), dates.end(), date);
    return lo != dates.end() && *lo == date ? &series->quotes[static_cast<std::size_t>(lo - dates.begin())] : nullptr;
}

std::vector<const SimMarket::Quote*> SimMarket::latest_bars(const std::vector<core::Symbol>& symbols, core::Date date,
                                                            int back_days) const {
    std::vector<const Quote*> out;
    out.reserve(symbols.size());
    const core::Date earliest = date.plus_days(-back_days);
    std::size_t hint = 0;  // symbols usually share their dates: try the previous symbol's index first
    core::Walk walk(bars_);
    for (const auto& s : symbols) {
        const Series* series = walk.find(s);
        if (!series || series->dates.empty()) {
            out.push_back(nullptr);
            continue;
        }
        const auto& dates = series->dates;
        // The last index dated on or before `date`.
        const bool hint_fits = hint < dates.size() && dates[hint] <= date && (hint + 1 == dates.size() || dates[hint + 1] > date);
        std::size_t i = hint;
        if (!hint_fits) {
            const auto up = std::upper_bound(dates.begin(), dates.end(), date);
            if (up == dates.begin()) {
                out.push_back(nullptr);
                continue;
            }
            i = static_cast<std::size_t>(up - dates.begin()) - 1;
        }
        hint = i;
        out.push_back(dates[i] >= earliest ? &series->quotes[i] : nullptr);
    }
    return out;
}

const SimMarket::Quote* SimMarket::bar_after(const core::Symbol& symbol, core::Date date) const {
    const Series* series = this->series(symbol);
    if (!series) return nullptr;
    const auto& dates = series->dates;
    const auto up = std::upper_bound(dates.begin(), dates.end(), date);
    return up != dates.end() ? &series->quotes[static_cast<std::size_t>(up - dates.begin())] : nullptr;
}

std::optional<core::Date> SimMarket::first_common_date() const {
    std::optional<core::Date> out;
    for (const auto& [s, v] : bars_) {
        if (v.dates.empty()) return std::nullopt;
        if (!out || v.dates.front() > *out) out = v.dates.front();
    }
    return out;
}

std::optional<core::Date> SimMarket::last_common_date() const {
    std::optional<core::Date> out;
    for (const auto& [s, v] : bars_) {
        if (v.dates.empty()) return std::nullopt;
        if (!out || v.dates.back() < *out) out = v.dates.back();
    }
    return out;
}

std::vector<core::Symbol> SimMarket::symbols() const {
    std::vector<core::Symbol> out;
    for (const auto& [s, v] : bars_) out.push_back(s);
    return out;
}

// ---- SimBroker ----------------------------------------------------------------------

SimBroker::SimBroker(std::shared_ptr<const SimMarket> market, SimBrokerConfig config,
                     std::function<core::Timestamp()> now)
    : market_(std::move(market)), config_(std::move(config)), now_(std::move(now)), cash_(config_.initial_cash),
      buy_factor_(bps_factor(config_.slippage_bps, true)), sell_factor_(bps_factor(config_.slippage_bps, false)),
      commission_rate_(Decimal::from_double(config_.commission_bps / 10000.0, 9).value_or(Decimal{})) {}

const SimBroker::Now& SimBroker::now() {
    const auto t = now_();
    if (!now_cache_ || now_cache_->utc != t) now_cache_ = Now{t, core::utc_to_ny(t), core::format_utc(t), std::nullopt};
    return *now_cache_;
}

std::uint32_t SimBroker::time_index() {
    if (!now().text_index) now_cache_->text_index = time_text_index(now_cache_->utc_text);
    return *now_cache_->text_index;
}

std::uint32_t SimBroker::time_text_index(const std::string& text) {
    // Orders come in time order: a text is new unless it is the latest one kept.
    if (times_.empty() || times_.back() != text) times_.push_back(text);
    return static_cast<std::uint32_t>(times_.size() - 1);
}

OrderUpdate SimBroker::update_of(std::size_t index) const {
    const SimOrder& o = orders_[index];
    OrderUpdate u;
    u.client_order_id = o.request.client_order_id;
    u.broker_order_id = "sim-" + std::to_string(index + 1);
    u.symbol = o.request.symbol;
    u.side = core::to_string(o.request.side);
    u.qty = o.request.qty;
    u.status = kStatusNames[static_cast<std::size_t>(o.status)];
    u.filled_qty = o.filled_qty;
    u.filled_avg_price = o.filled_avg_price;
    u.commission = o.commission;
    u.reason = o.reason;
    u.updated_at = times_[o.updated_at];
    return u;
}

Result<bool> SimBroker::load_state() {
    if (!config_.state_file || !std::filesystem::exists(*config_.state_file)) return false;
    const std::string file = config_.state_file->string();
    std::ifstream in(*config_.state_file, std::ios::binary);
    if (!in) return BrokerError{BrokerError::Kind::bad_data, file + ": cannot read the sim account state"};
    std::ostringstream buf;
    buf << in.rdbuf();
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(buf.str());
    } catch (const nlohmann::json::parse_error& e) {
        return BrokerError{BrokerError::Kind::bad_data, file + ": not valid JSON (" + std::string(e.what()) + ")"};
    }
    auto bad = [&](const std::string& field, const std::string& expected) {
        return BrokerError{BrokerError::Kind::bad_data, file + ": field '" + field + "': expected " + expected};
    };
    auto decimal = [&](const nlohmann::json& v, const std::string& field) -> std::optional<Decimal> {
        if (!v.is_string()) return std::nullopt;
        auto d = Decimal::parse(v.get<std::string>());
        (void)field;
        return d;
    };
    if (!j.is_object() || !j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != 1)
        return bad("version", "the number 1");
    const auto cash = j.contains("cash") ? decimal(j["cash"], "cash") : std::nullopt;
    if (!cash) return bad("cash", "a decimal string");
    cash_ = *cash;
    account_cache_.reset();
    positions_.clear();
    if (!j.contains("positions") || !j["positions"].is_object()) return bad("positions", "an object");
    for (const auto& [sym, q] : j["positions"].items()) {
        auto qty = decimal(q, "positions." + sym);
        if (!qty) return bad("positions." + sym, "a decimal string");
        positions_[sym] = *qty;
    }
    // Average entry prices (absent from state files written before they were kept: the
    // positions then have none, and a stop-loss cannot be measured for them).
    entry_.clear();
    if (j.contains("entry_prices")) {
        if (!j["entry_prices"].is_object()) return bad("entry_prices", "an object");
        for (const auto& [sym, p] : j["entry_prices"].items()) {
            auto price = decimal(p, "entry_prices." + sym);
            if (!price || !price->is_positive()) return bad("entry_prices." + sym, "a positive decimal string");
            if (positions_.count(sym)) entry_[sym] = *price;
        }
    }
    orders_.clear();
    open_.clear();
    by_client_id_.clear();
    times_.clear();
    now_cache_.reset();  // its text index was into times_
    if (!j.contains("orders") || !j["orders"].is_array()) return bad("orders", "an array");
    for (const auto& o : j["orders"]) {
        SimOrder order;
        const auto idx = std::to_string(orders_.size());
        try {
            order.request.client_order_id = o.at("client_order_id").get<std::string>();
            order.request.symbol = o.at("symbol").get<std::string>();
            order.request.side = o.at("side").get<std::string>() == "sell" ? core::Side::sell : core::Side::buy;
            auto qty = decimal(o.at("qty"), "qty");
            auto filled = decimal(o.at("filled_qty"), "filled_qty");
            auto commission = decimal(o.at("commission"), "commission");
            auto date = core::Date::parse(o.at("submitted_date").get<std::string>());
            if (!qty || !filled || !commission || !date) return bad("orders[" + idx + "]", "decimal strings and a date");
            if (!qty->is_positive()) return bad("orders[" + idx + "].qty", "a positive decimal string");
            order.request.qty = *qty;
            order.submitted_date = *date;
            order.submitted_minutes = o.at("submitted_minutes").get<int>();
            // The sim's own ids and statuses: an order's id is "sim-" and its position + 1.
            if (o.at("id").get<std::string>() != "sim-" + std::to_string(orders_.size() + 1))
                return bad("orders[" + idx + "].id", "\"sim-" + std::to_string(orders_.size() + 1) + "\" (got \"" +
                                                         o.at("id").get<std::string>() + "\")");
            const auto status = o.at("status").get<std::string>();
            const auto known = std::find(kStatusNames.begin(), kStatusNames.end(), status);
            if (known == kStatusNames.end())
                return bad("orders[" + idx + "].status", "accepted, filled, canceled or rejected (got \"" + status + "\")");
            order.status = static_cast<Status>(known - kStatusNames.begin());
            order.filled_qty = *filled;
            order.commission = *commission;
            if (o.contains("filled_avg_price") && !o["filled_avg_price"].is_null()) {
                order.filled_avg_price = decimal(o["filled_avg_price"], "filled_avg_price");
                if (!order.filled_avg_price) return bad("orders[" + idx + "].filled_avg_price", "a decimal string");
            }
            order.reason = o.value("reason", "");
            order.updated_at = time_text_index(o.value("updated_at", ""));
        } catch (const nlohmann::json::exception& e) {
            return bad("orders[" + idx + "]", std::string("an order object (") + e.what() + ")");
        }
        if (find_order(order.request.client_order_id))
            return bad("orders[" + idx + "].client_order_id", "an id no earlier order has (" +
                                                                  order.request.client_order_id + " is repeated)");
        if (order.status == Status::accepted) open_.push_back(orders_.size());
        orders_.push_back(std::move(order));
        by_client_id_.insert(orders_.back().request.client_order_id, orders_.size() - 1);
    }
    return true;
}

std::vector<core::Symbol> SimBroker::held_in_state_file(const std::filesystem::path& file) {
    std::vector<core::Symbol> out;
    std::ifstream in(file, std::ios::binary);
    if (!in) return out;
    const auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_object() && j.contains("positions") && j["positions"].is_object())
        for (const auto& [sym, q] : j["positions"].items()) out.push_back(sym);
    return out;
}

std::optional<BrokerError> SimBroker::save_state() {
    if (!config_.state_file) return std::nullopt;
    nlohmann::json j;
    j["version"] = 1;
    j["cash"] = cash_.to_string();
    j["positions"] = nlohmann::json::object();
    for (const auto& [s, q] : positions_) j["positions"][s] = q.to_string();
    j["entry_prices"] = nlohmann::json::object();
    for (const auto& [s, p] : entry_) j["entry_prices"][s] = p.to_string();
    j["orders"] = nlohmann::json::array();
    for (std::size_t i = 0; i < orders_.size(); ++i) {
        const SimOrder& o = orders_[i];
        nlohmann::json jo{{"client_order_id", o.request.client_order_id},
                          {"id", "sim-" + std::to_string(i + 1)},
                          {"symbol", o.request.symbol},
                          {"side", core::to_string(o.request.side)},
                          {"qty", o.request.qty.to_string()},
                          {"submitted_date", o.submitted_date.to_string()},
                          {"submitted_minutes", o.submitted_minutes},
                          {"status", kStatusNames[static_cast<std::size_t>(o.status)]},
                          {"filled_qty", o.filled_qty.to_string()},
                          {"commission", o.commission.to_string()},
                          {"reason", o.reason},
                          {"updated_at", times_[o.updated_at]}};
        jo["filled_avg_price"] = o.filled_avg_price ? nlohmann::json(o.filled_avg_price->to_string()) : nlohmann::json(nullptr);
        j["orders"].push_back(std::move(jo));
    }
    // Write a temporary file and rename it over the old one: a crash leaves either state.
    const auto tmp = config_.state_file->string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << j.dump(1) << '\n';
        out.flush();
        if (!out) return BrokerError{BrokerError::Kind::bad_data, tmp + ": cannot write the sim account state"};
    }
    std::error_code ec;
    std::filesystem::rename(tmp, *config_.state_file, ec);
    if (ec)
        return BrokerError{BrokerError::Kind::bad_data,
                           config_.state_file->string() + ": cannot replace the sim account state: " + ec.message()};
    return std::nullopt;
}

void SimBroker::fill(SimOrder& order, Decimal base_price) {
    const bool buy = order.request.side == core::Side::buy;
    const Decimal price = (base_price * (buy ? buy_factor_ : sell_factor_)).round_half_away(core::kPriceDigits);
    const Decimal cbps = commission_rate_;
    auto commission_of = [&](Decimal qty) {
        return (config_.commission_per_order + qty * price * cbps).round_half_away(2);
    };
    Decimal qty = order.request.qty;
    order.updated_at = time_index();
    const auto& symbol = order.request.symbol;
    const auto position = positions_.find(symbol);  // the one look-up of the symbol's holding
    const Decimal held = position != positions_.end() ? position->second : Decimal{};
    if (!buy) {
        if (qty > held || position == positions_.end()) {  // (a zero quantity never gets here: refused on entry)
            order.status = Status::rejected;
            order.reason = "insufficient qty available for order (requested: " + qty.to_string() +
                           ", available: " + held.to_string() + ")";
            return;
        }
    } else {
        // Reduce to what the cash affords at this price.
        const int digits = qty_digits_of(qty);
        Decimal step = Decimal::from_int(1);
        for (int i = 0; i < digits; ++i) step = Decimal::from_raw(step.raw() / 10);
        if (qty * price + commission_of(qty) > cash_) {
            const Decimal per_unit = price * (Decimal::from_int(1) + cbps);
            Decimal affordable = ((cash_ - config_.commission_per_order) / per_unit).round_down(digits);
            while (affordable.is_positive() && affordable * price + commission_of(affordable) > cash_) affordable -= step;
            if (!affordable.is_positive()) {
                order.status = Status::rejected;
                order.reason = "insufficient buying power (cash " + cash_.to_string_fixed(2) + ", order cost " +
                               (qty * price).to_string_fixed(2) + ")";
                return;
            }
            order.reason = "insufficient cash at fill: filled " + affordable.to_string() + " of " + qty.to_string() +
                           ", rest canceled";
            qty = affordable;
        }
    }
    const Decimal commission = commission_of(qty);
    const Decimal notional = (qty * price).round_half_away(2);
    account_cache_.reset();
    if (buy) {
        cash_ -= notional + commission;
        // The average entry price over the shares held, as a broker reports it (4 dp). Shares
        // held without a known entry price (an older state file) keep it unknown.
        if (const auto entry = entry_.find(symbol); entry != entry_.end())
            entry->second = ((held * entry->second + qty * price) / (held + qty)).round_half_away(core::kPriceDigits);
        else if (held.is_zero())
            entry_.emplace(symbol, price);
        if (position != positions_.end()) position->second = held + qty;
        else positions_.emplace(symbol, qty);
    } else {
        cash_ += notional - commission;
        position->second -= qty;  // held: checked above
        if (position->second.is_zero()) {
            positions_.erase(position);
            entry_.erase(symbol);
        }
    }
    order.filled_qty = qty;
    order.filled_avg_price = price;
    order.commission = commission;
    order.status = qty == order.request.qty ? Status::filled : Status::canceled;
}

std::optional<BrokerError> SimBroker::settle() {
    const auto now = this->now().ny;
    bool changed = false;
    for (const std::size_t index : open_) {
        auto& order = orders_[index];
        if (order.status != Status::accepted) continue;  // canceled meanwhile
        const SimMarket::Quote* bar = order.submitted_minutes < kOpenMinutes
                                   ? market_->bar(order.request.symbol, order.submitted_date)
                                   : nullptr;
        if (!bar) bar = market_->bar_after(order.request.symbol, order.submitted_date);
        if (!bar) continue;  // no later data yet: the order waits
        if (now.date < bar->date || (now.date == bar->date && now.time.minutes < kOpenMinutes)) continue;
        const auto price = core::to_price(bar->valuation_open(config_.price_field));
        if (!price) continue;
        fill(order, *price);
        changed = true;
    }
    std::erase_if(open_, [&](std::size_t i) { return orders_[i].status != Status::accepted; });
    return changed ? save_state() : std::nullopt;
}

awaitable<Result<core::AccountState>> SimBroker::account() {
    if (auto e = settle()) co_return *e;
    if (account_cache_) co_return *account_cache_;  // nothing filled since it was built
    core::AccountState state;
    state.cash = cash_;
    state.positions.reserve(positions_.size());
    auto entry = entry_.begin();  // both maps ascending by symbol: walked together
    for (const auto& [s, q] : positions_) {
        while (entry != entry_.end() && entry->first < s) ++entry;
        const bool known = entry != entry_.end() && entry->first == s;
        state.positions.emplace_back(s, q, known ? std::optional<Decimal>(entry->second) : std::nullopt);
    }
    account_cache_ = state;
    co_return state;
}

awaitable<Result<OrderUpdate>> SimBroker::submit(const OrderRequest& request) {
    if (auto e = settle()) co_return *e;
    if (find_order(request.client_order_id))
        co_return BrokerError{BrokerError::Kind::rejected, "client_order_id must be unique: " + request.client_order_id};
    if (!request.qty.is_positive())
        co_return BrokerError{BrokerError::Kind::rejected, "qty must be positive, got " + request.qty.to_string()};
    const core::NyLocal ny = now().ny;  // a copy: fill() may read the clock again
    SimOrder order;
    order.request = request;
    order.submitted_date = ny.date;
    order.submitted_minutes = ny.time.minutes;
    order.updated_at = time_index();
    if (config_.fill == core::FillModel::close) {
        // The latest bar on or before today.
        const SimMarket::Quote* bar = market_->bar(request.symbol, ny.date);
        if (!bar) {
            const SimMarket::Quote* after = nullptr;
            for (core::Date d = ny.date.plus_days(-10); d < ny.date; d = d.plus_days(1))
                if (const auto* b = market_->bar(request.symbol, d)) after = b;
            bar = after;
        }
        const auto price = bar ? core::to_price(bar->valuation_close(config_.price_field)) : std::nullopt;
        if (!price) {
            order.status = Status::rejected;
            order.reason = "no price for " + request.symbol + " on " + ny.date.to_string();
        } else {
            fill(order, *price);
        }
    }
    if (order.status == Status::accepted) open_.push_back(orders_.size());
    orders_.push_back(std::move(order));
    by_client_id_.insert(orders_.back().request.client_order_id, orders_.size() - 1);
    if (auto e = save_state()) co_return *e;
    co_return update_of(orders_.size() - 1);
}

std::optional<std::size_t> SimBroker::find_order(const std::string& client_order_id) const {
    return by_client_id_.find(client_order_id,
                              [this](std::size_t i) -> const std::string& { return orders_[i].request.client_order_id; });
}

awaitable<Result<OrderUpdate>> SimBroker::order_by_client_id(const std::string& client_order_id) {
    if (auto e = settle()) co_return *e;
    const auto found = find_order(client_order_id);
    if (!found) co_return BrokerError{BrokerError::Kind::not_found, "order not found: client_order_id " + client_order_id};
    co_return update_of(*found);
}

awaitable<Result<OrderUpdate>> SimBroker::cancel(const std::string& client_order_id) {
    if (auto e = settle()) co_return *e;
    const auto found = find_order(client_order_id);
    if (!found) co_return BrokerError{BrokerError::Kind::not_found, "order not found: client_order_id " + client_order_id};
    auto& o = orders_[*found];
    if (o.status == Status::accepted) {
        o.status = Status::canceled;
        o.reason = "canceled on request";
        o.updated_at = time_index();
        if (auto e = save_state()) co_return *e;
    }
    co_return update_of(*found);
}

awaitable<Result<bool>> SimBroker::fills_now() { co_return config_.fill == core::FillModel::close; }

awaitable<Result<core::Prices>> SimBroker::latest_prices(const std::vector<core::Symbol>& symbols) {
    const auto today = now().ny.date;
    core::Prices out;
    const auto bars = market_->latest_bars(symbols, today, 10);
    for (std::size_t i = 0; i < symbols.size(); ++i) {
        if (!bars[i]) continue;
        if (auto p = core::to_price(bars[i]->valuation_close(config_.price_field)))
            out.insert_or_assign(out.empty() || out.rbegin()->first < symbols[i] ? out.end() : out.lower_bound(symbols[i]),
                                 symbols[i], *p);
    }
    co_return out;
}

}  // namespace ballast::broker
