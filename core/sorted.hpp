#pragma once
// Symbol-keyed maps walked in ascending order. The core's per-symbol loops visit symbols
// in sorted order, so each look-up is a step or two along a map rather than a search from
// its root: with hundreds of symbols, string compares were most of a rebalance's planning.
#include <algorithm>
#include <iterator>
#include <map>
#include <vector>

#include "core/types.hpp"

namespace ballast::core {

// Looks symbols up in a symbol-keyed `map`, or in a vector of (symbol, value) pairs sorted
// by symbol (contiguous: each step is cheaper than a tree node's); correct in any order,
// O(1) amortized when they ascend.
template <class Map>
class Walk {
public:
    explicit Walk(const Map& map) : map_(&map), at_(map.begin()) {}
    // The value for `key`, or nullptr.
    const typename Map::value_type::second_type* find(const Symbol& key) {
        const auto end = map_->end();
        if (at_ != end && same_symbol(at_->first, key)) return &(at_++)->second;  // the next in line
        if (at_ != map_->begin() && !symbol_less(std::prev(at_)->first, key)) at_ = lower_bound(key);  // went back
        while (at_ != end && symbol_less(at_->first, key)) ++at_;
        return at_ != end && same_symbol(at_->first, key) ? &(at_++)->second : nullptr;
    }

private:
    typename Map::const_iterator lower_bound(const Symbol& key) const {
        if constexpr (requires { map_->lower_bound(key); }) {
            return map_->lower_bound(key);
        } else {
            return std::lower_bound(map_->begin(), map_->end(), key,
                                    [](const auto& entry, const Symbol& k) { return symbol_less(entry.first, k); });
        }
    }
    const Map* map_;
    typename Map::const_iterator at_;
};

// Shares held by symbol, the positions of a symbol added up. One pass, appending, when
// the positions come sorted by symbol (as the sim lists them); otherwise (a venue's own
// order) sorted once, never inserted one by one into the middle of the sorted vector.
inline SymbolMap<Decimal> holdings(const AccountState& account) {
    SymbolMap<Decimal> held;
    const auto& positions = account.positions;
    const bool ascending = std::is_sorted(positions.begin(), positions.end(), [](const Position& a, const Position& b) {
        return symbol_less(a.symbol, b.symbol);
    });
    if (ascending) {
        held.reserve(positions.size());
        for (const auto& p : positions) {
            if (held.empty() || symbol_less(std::prev(held.end())->first, p.symbol))
                held.emplace_hint(held.end(), p.symbol, p.qty);
            else std::prev(held.end())->second += p.qty;  // the same symbol again
        }
        return held;
    }
    std::vector<const Position*> sorted;
    sorted.reserve(positions.size());
    for (const auto& p : positions) sorted.push_back(&p);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Position* a, const Position* b) { return symbol_less(a->symbol, b->symbol); });
    typename SymbolMap<Decimal>::sequence_type summed;
    summed.reserve(sorted.size());
    for (const Position* p : sorted) {
        if (!summed.empty() && same_symbol(summed.back().first, p->symbol)) summed.back().second += p->qty;
        else summed.emplace_back(p->symbol, p->qty);
    }
    held.adopt_sequence(boost::container::ordered_unique_range, std::move(summed));
    return held;
}

// The keys of `a` passing `keep_a` and of `b` passing `keep_b`, ascending, each once.
template <class A, class KeepA, class B, class KeepB>
std::vector<const Symbol*> union_of_keys(const A& a, KeepA keep_a, const B& b, KeepB keep_b) {
    std::vector<const Symbol*> out;
    out.reserve(a.size() + b.size());
    auto i = a.begin();
    auto j = b.begin();
    while (i != a.end() || j != b.end()) {
        const bool take_a = j == b.end() || (i != a.end() && !symbol_less(j->first, i->first));
        const bool take_b = i == a.end() || (j != b.end() && !symbol_less(i->first, j->first));
        const Symbol* key = take_a ? &i->first : &j->first;
        const bool keep = (take_a && keep_a(i->second)) || (take_b && keep_b(j->second));
        if (keep) out.push_back(key);
        if (take_a) ++i;
        if (take_b) ++j;
    }
    return out;
}

}  // namespace ballast::core
