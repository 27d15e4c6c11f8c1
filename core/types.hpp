#pragma once
// Plain domain values shared by every layer.
#include <bit>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include <boost/container/flat_map.hpp>

#include "core/calendar.hpp"
#include "core/decimal.hpp"

namespace ballast::core {

using Symbol = std::string;

namespace detail {
// A symbol of up to 15 characters as two words: bytes [0, 16) of its storage, those at and
// past `n` cleared. Those 16 bytes are always the string's own: a string that short is
// kept in the string's in-object buffer (16 bytes in libstdc++; libc++ and MSVC have at
// least as many), or, grown and then shortened, in a heap buffer of capacity + 1 > 16
// bytes. The bytes past the end may never have been written; they are read, then masked
// off (exact under valgrind; MemorySanitizer would flag the read).
static_assert(Symbol().capacity() >= 15, "a short symbol is expected in a 16-byte in-object buffer");
static_assert(std::endian::native == std::endian::little);
inline void symbol_words(const Symbol& s, std::size_t n, std::uint64_t& w0, std::uint64_t& w1) {
    std::memcpy(&w0, s.data(), 8);
    std::memcpy(&w1, s.data() + 8, 8);
    // Little-endian: character i is byte i % 8 of word i / 8.
    w0 &= n >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * n)) - 1;
    w1 &= n <= 8 ? 0 : (std::uint64_t{1} << (8 * (n - 8))) - 1;
}
}  // namespace detail

// Symbol equality and order (the same as ==, < on the strings), inline: symbols are a few
// characters long, and the per-symbol walks of a session compare thousands of them.
// Equality compares a symbol of up to 15 characters as two words (a longer one by memcmp).
inline bool same_symbol(const Symbol& a, const Symbol& b) {
    const std::size_t n = a.size();
    if (n != b.size()) return false;
    if (n <= 15) {
        std::uint64_t a0, a1, b0, b1;
        detail::symbol_words(a, n, a0, a1);
        detail::symbol_words(b, n, b0, b1);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    return std::memcmp(a.data(), b.data(), n) == 0;
}
// (Order by words measured slower than this loop on four-character symbols.)
inline bool symbol_less(const Symbol& a, const Symbol& b) {
    const std::size_t n = a.size() < b.size() ? a.size() : b.size();
    const auto* x = reinterpret_cast<const unsigned char*>(a.data());
    const auto* y = reinterpret_cast<const unsigned char*>(b.data());
    for (std::size_t i = 0; i < n; ++i)
        if (x[i] != y[i]) return x[i] < y[i];
    return a.size() < b.size();
}

// One daily bar. Prices are doubles (analytics); `adj_close` is the split- and
// dividend-adjusted close (total return), equal to `close` where no adjustment exists.
struct Bar {
    Symbol symbol;
    Date date;
    double open = 0, high = 0, low = 0, close = 0, adj_close = 0;
    double volume = 0;
};

enum class Side { buy, sell };
inline const char* to_string(Side s) { return s == Side::buy ? "buy" : "sell"; }

struct Position {
    Position() = default;
    Position(Symbol s, Decimal q, std::optional<Decimal> entry = std::nullopt)
        : symbol(std::move(s)), qty(q), avg_entry_price(entry) {}
    Symbol symbol;
    Decimal qty;  // shares; positive = long
    // The average price paid for the shares held (the broker's avg_entry_price), when the
    // broker reports one; what a stop-loss is measured from.
    std::optional<Decimal> avg_entry_price;
};

// The account as the broker reports it.
struct AccountState {
    Decimal cash;
    std::vector<Position> positions;
};

// Which close values the portfolio: the plain (split-adjusted) close, or the
// dividend-adjusted close (total return).
enum class PriceField { close, adj_close };
// When a simulated market order fills.
enum class FillModel { next_open, close };

// `value` with `digits` decimals, exactly as printf's "%.*f" writes it (correctly rounded,
// "nan", "inf"), but without printf: journal texts format a few numbers per session.
std::string format_fixed(double value, int digits);

// Prices used for valuation and fills: rounded half away from zero to 4 decimals.
inline constexpr int kPriceDigits = 4;
// The valuation close of a bar (inline: read for every bar of every session).
inline double valuation_close(double close, double adj_close, PriceField field) {
    return field == PriceField::adj_close ? adj_close : close;
}
inline double valuation_close(const Bar& bar, PriceField field) { return valuation_close(bar.close, bar.adj_close, field); }
// The bar's open in the same basis as valuation_close (with adj_close, the open is
// scaled by adj_close / close so that fills and valuations agree).
inline double valuation_open(double open, double close, double adj_close, PriceField field) {
    if (field == PriceField::close || close <= 0) return open;
    return open * (adj_close / close);
}
inline double valuation_open(const Bar& bar, PriceField field) {
    return valuation_open(bar.open, bar.close, bar.adj_close, field);
}
// A price as an exact decimal; nullopt for non-finite or non-positive input.
inline std::optional<Decimal> to_price(double value) {
    if (!(value > 0)) return std::nullopt;  // NaN too
    auto d = Decimal::from_double(value, kPriceDigits);  // nullopt for +inf
    if (!d || !d->is_positive()) return std::nullopt;
    return d;
}

// A map by symbol kept as one vector sorted by symbol. The per-symbol maps of a session
// (weights, prices, shares) are built in symbol order and read by walking along them
// (core/sorted.hpp); a node-based map's allocation per entry and pointer chasing cost
// more there than its cheap insertion in the middle saves. As with any vector, an
// insertion or erasure invalidates iterators and references into the map. Ordered by
// symbol_less (the strings' own order, compared inline rather than by memcmp).
struct SymbolLess {
    bool operator()(const Symbol& a, const Symbol& b) const { return symbol_less(a, b); }
};
template <class T>
using SymbolMap = boost::container::flat_map<Symbol, T, SymbolLess>;
// Target weights as fractions of equity (0.4 = 40%), by symbol.
using Weights = SymbolMap<Decimal>;
// Valuation prices per symbol.
using Prices = SymbolMap<Decimal>;

}  // namespace ballast::core
