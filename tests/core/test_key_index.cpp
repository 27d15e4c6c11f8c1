#include <catch2/catch.hpp>

#include <deque>
#include <stdexcept>
#include <string>

#include "core/key_index.hpp"

using ballast::core::KeyIndex;

TEST_CASE("key index finds every key it holds and nothing else", "[core][key_index]") {
    std::deque<std::string> keys;
    KeyIndex index;
    const auto key_of = [&](std::size_t i) -> const std::string& { return keys[i]; };
    CHECK_FALSE(index.find("x", key_of).has_value());  // empty
    // Order ids as the jobs make them, across many growths of the table.
    for (int i = 0; i < 100'000; ++i) {
        std::string key = "bl-20240102-" + std::to_string(i / 300) + "-" + std::to_string(i % 300);
        REQUIRE_FALSE(index.find(key, key_of).has_value());
        keys.push_back(key);
        index.insert(keys.back(), keys.size() - 1);
    }
    CHECK(index.size() == keys.size());
    for (std::size_t i = 0; i < keys.size(); i += 7) {
        const auto found = index.find(keys[i], key_of);
        REQUIRE(found.has_value());
        CHECK(*found == i);
    }
    CHECK_FALSE(index.find("bl-20240102-333-300", key_of).has_value());
    CHECK_FALSE(index.find("", key_of).has_value());
    index.insert("", keys.size());  // the empty key is a key like any other
    keys.push_back("");
    CHECK(index.find("", key_of) == keys.size() - 1);
    index.clear();
    CHECK(index.size() == 0);
    CHECK_FALSE(index.find(keys[0], key_of).has_value());
}

TEST_CASE("key index holds positions up to 2^32 - 2 and refuses larger ones", "[core][key_index]") {
    KeyIndex index;
    const std::string big = "big", bigger = "bigger";
    const std::size_t last = 0xFFFFFFFEu;
    const auto key_of = [&](std::size_t i) -> const std::string& { return i == last ? big : bigger; };
    index.insert(big, last);
    CHECK(index.find("big", key_of) == last);
    CHECK_THROWS_AS(index.insert(bigger, last + 1), std::length_error);
    CHECK_THROWS_AS(index.insert(bigger, std::size_t{1} << 40), std::length_error);
    CHECK(index.size() == 1);
    CHECK_FALSE(index.find("bigger", key_of).has_value());
}
