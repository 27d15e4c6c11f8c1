#pragma once
// An index from string keys to positions in a container that holds the keys itself (such
// as a deque of orders and their client_order_ids). Open addressing over (hash, position)
// pairs: a look-up reads one slot of one array, and the container's key only when the
// hashes match. Tens of thousands of order ids in a node-based map made every look-up a
// handful of cache and TLB misses; this is about one. A slot is 8 bytes (32 bits of the
// hash, a 32-bit position): a backtest's index of 77,000 orders is 2 MB, not 4.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace ballast::core {

class KeyIndex {
public:
    // The position of `key`, where key_of(position) is the key held at a position.
    template <class KeyOf>
    std::optional<std::size_t> find(std::string_view key, KeyOf&& key_of) const {
        if (slots_.empty()) return std::nullopt;
        const std::uint32_t hash = hash_of(key);
        for (std::size_t i = hash & mask(); slots_[i].position != kEmpty; i = (i + 1) & mask())
            if (slots_[i].hash == hash && std::string_view(key_of(slots_[i].position)) == key) return slots_[i].position;
        return std::nullopt;
    }
    // Adds `key` at `position`; the key must not be in the index yet (find() first).
    // Positions go up to 2^32 - 2 (std::length_error beyond).
    void insert(std::string_view key, std::size_t position) {
        if (position >= kEmpty) throw std::length_error("KeyIndex: position beyond 32 bits");
        if ((size_ + 1) * 2 > slots_.size()) grow();
        place({hash_of(key), static_cast<std::uint32_t>(position)});
        ++size_;
    }
    void clear() {
        slots_.clear();
        size_ = 0;
    }
    std::size_t size() const { return size_; }

private:
    static constexpr std::uint32_t kEmpty = 0xFFFFFFFFu;
    struct Slot {
        std::uint32_t hash = 0;
        std::uint32_t position = kEmpty;
    };
    static_assert(sizeof(Slot) == 8);
    // The hash's low 32 bits: they pick the slot too (a table of 2^32 slots is far off).
    static std::uint32_t hash_of(std::string_view key) {
        return static_cast<std::uint32_t>(std::hash<std::string_view>{}(key));
    }
    std::size_t mask() const { return slots_.size() - 1; }
    void place(Slot slot) {
        std::size_t i = slot.hash & mask();
        while (slots_[i].position != kEmpty) i = (i + 1) & mask();
        slots_[i] = slot;
    }
    void grow() {
        std::vector<Slot> old = std::move(slots_);
        slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
        for (const Slot& s : old)
            if (s.position != kEmpty) place(s);
    }

    std::vector<Slot> slots_;  // a power of two in size, at most half full
    std::size_t size_ = 0;
};

}  // namespace ballast::core
