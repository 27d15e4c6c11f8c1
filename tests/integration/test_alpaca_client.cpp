#include <algorithm>
// The Alpaca client's calls against ballast-fake-alpaca over TLS, one by one.
#include <catch2/catch.hpp>

#include "../support/fake_alpaca_process.hpp"
#include "../support/temp_dir.hpp"
#include "../support/test_certs.hpp"
#include "broker/alpaca.hpp"

using namespace ballast;

namespace {

template <class T>
T run(net::io_context& io, net::awaitable<T> a) {
    std::optional<T> out;
    net::co_spawn(io, [&]() -> net::awaitable<void> { out.emplace(co_await std::move(a)); }, net::detached);
    io.restart();
    io.run();
    return std::move(*out);
}

core::Decimal d(const char* s) { return core::Decimal::parse(s).value(); }

}  // namespace

TEST_CASE("alpaca client: every call against the fake", "[integration][alpaca]") {
    test::TempDir dir;
    const auto pki = test::make_test_pki(dir.path());
    test::FakeAlpacaProcess fake(dir.path(), pki.server_cert, pki.server_key, pki.ca_file,
                                 {"--today", "2025-03-06", "--time", "10:00"});
    net::io_context io;
    broker::AlpacaClientConfig cfg;
    cfg.trading_url = fake.url();
    cfg.data_url = fake.url();
    cfg.ca_file = pki.ca_file;
    cfg.key_id = "test-key";
    cfg.secret_key = "test-secret";
    auto client = broker::AlpacaClient::create(io.get_executor(), cfg, nullptr).value();

    const auto clock = run(io, client->clock());
    REQUIRE(clock.ok());
    CHECK(clock.value().is_open);
    CHECK(core::utc_to_ny(clock.value().timestamp).date == core::Date::parse("2025-03-06").value());

    const auto calendar = run(io, client->calendar(core::Date::parse("2025-03-03").value(), core::Date::parse("2025-03-07").value()));
    REQUIRE(calendar.ok());
    CHECK(calendar.value().size() == 5);

    const auto asset = run(io, client->asset("VTI"));
    REQUIRE(asset.ok());
    CHECK(asset.value().tradable);
    CHECK(run(io, client->asset("NOPE")).error().kind == broker::BrokerError::Kind::not_found);

    const auto quotes = run(io, client->latest_quotes({"VTI", "TLT"}));
    REQUIRE(quotes.ok());
    CHECK(quotes.value().size() == 2);
    CHECK(quotes.value().at("VTI").ask_price.is_positive());

    const auto bars = run(io, client->daily_bars({"VTI", "TLT"}, core::Date::parse("2025-01-02").value(),
                                                 core::Date::parse("2025-03-06").value()));
    REQUIRE(bars.ok());
    CHECK(bars.value().size() == 2 * core::trading_days(core::Date::parse("2025-01-02").value(),
                                                       core::Date::parse("2025-03-06").value()).size());

    // An order that waits: listed as open, canceled on request, then listed as closed.
    fake.control("POST", "/_fake/orders", R"({"mode":"delayed","polls":100})");
    const auto placed = run(io, client->submit_order({"cli-test-1", "VTI", core::Side::buy, d("2")}));
    REQUIRE(placed.ok());
    CHECK(placed.value().status == "accepted");
    const auto open = run(io, client->orders("open", 50));
    REQUIRE(open.ok());
    REQUIRE(open.value().size() == 1);
    CHECK(open.value()[0].client_order_id == "cli-test-1");
    broker::AlpacaBroker broker(client);
    const auto canceled = run(io, broker.cancel("cli-test-1"));
    REQUIRE(canceled.ok());
    CHECK(canceled.value().status == "canceled");
    CHECK(run(io, client->orders("open", 50)).value().empty());
    CHECK(run(io, client->orders("closed", 50)).value().size() == 1);
    // The same client_order_id again resolves to that order, never a new one.
    const auto again = run(io, client->submit_order({"cli-test-1", "VTI", core::Side::buy, d("2")}));
    REQUIRE(again.ok());
    CHECK(again.value().id == placed.value().id);
    // The same id for a different order (a reused id) is refused: that order was not placed.
    const auto reused = run(io, client->submit_order({"cli-test-1", "TLT", core::Side::buy, d("3")}));
    REQUIRE_FALSE(reused.ok());
    CHECK(reused.error().kind == broker::BrokerError::Kind::rejected);
    CHECK(reused.error().message.find("already names a different order") != std::string::npos);
    // A sell of more than is held is a definite rejection.
    const auto refused = run(io, client->submit_order({"cli-test-2", "TLT", core::Side::sell, d("5")}));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().kind == broker::BrokerError::Kind::rejected);
    CHECK(refused.error().message.find("insufficient qty") != std::string::npos);

    // The broker interface's account carries each position's average entry price (what a
    // stop-loss is measured from): two buys of VTI at the fake's price average to it.
    fake.control("POST", "/_fake/orders", R"({"mode":"immediate"})");
    REQUIRE(run(io, client->submit_order({"cli-test-3", "VTI", core::Side::buy, d("2")})).ok());
    REQUIRE(run(io, client->submit_order({"cli-test-4", "VTI", core::Side::buy, d("1")})).ok());
    const auto account = run(io, broker.account());
    REQUIRE(account.ok());
    const auto vti = std::find_if(account.value().positions.begin(), account.value().positions.end(),
                                  [](const core::Position& p) { return p.symbol == "VTI"; });
    REQUIRE(vti != account.value().positions.end());
    const auto wire = run(io, client->positions());
    REQUIRE(wire.ok());
    const auto wire_vti = std::find_if(wire.value().begin(), wire.value().end(),
                                       [](const auto& p) { return p.symbol == "VTI"; });
    REQUIRE(wire_vti != wire.value().end());
    REQUIRE(vti->avg_entry_price.has_value());
    CHECK(*vti->avg_entry_price == wire_vti->avg_entry_price);
    CHECK(vti->avg_entry_price->is_positive());
}
