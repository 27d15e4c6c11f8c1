#pragma once
// An index from string keys to positions in a container that holds the keys itself (such
// as a deque of orders and their client_order_ids). Open addressing over (hash, position)
// pairs: a look-up reads one slot of one array, and the container's key only when the
// hashes match. Tens of thousands of order ids in a node-based map made every look-up a
// handful of cache and TLB misses; this is about one.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace ballast::core {

class KeyIndex {
public:
    // The position of `key`, where key_of(position) is the key held at a position.
    template <class KeyOf>
    std::optional<std::size_t> find(std::string_view key, KeyOf&& key_of) const {
        if (slots_.empty()) return std::nullopt;
        const std::uint64_t hash = hash_of(key);
        for (std::size_t i = hash & mask(); slots_[i].position != kEmpty; i = (i + 1) & mask())
            if (slots_[i].hash == hash && std::string_view(key_of(slots_[i].position)) == key) return slots_[i].position;
        return std::nullopt;
    }
    // Adds `key` at `position`; the key must not be in the index yet (find() first).
    void insert(std::string_view key, std::size_t position) {
        if ((size_ + 1) * 2 > slots_.size()) grow();
        place({hash_of(key), position});
        ++size_;
    }
    void clear() {
        slots_.clear();
        size_ = 0;
    }
    std::size_t size() const { return size_; }

private:
    static constexpr std::size_t kEmpty = static_cast<std::size_t>(-1);
    struct Slot {
        std::uint64_t hash = 0;
        std::size_t position = kEmpty;
    };
    static std::uint64_t hash_of(std::string_view key) { return std::hash<std::string_view>{}(key); }
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
