// ballast-fake-alpaca: a local HTTPS stand-in for Alpaca's trading and market data
// APIs, for tests and for trying paper mode offline (docs/alpaca.md).
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "broker/asio.hpp"
#include "tests/fake_alpaca/fake_state.hpp"
#include "tests/fake_alpaca/server.hpp"

#include <boost/asio/signal_set.hpp>

namespace {

std::string env_or(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace ballast;

    CLI::App app{"ballast-fake-alpaca: a local fake of Alpaca's REST APIs over HTTPS"};
    std::string cert, key, data_dir, key_id, secret, cash_text = "100000", today_text, ready_file;
    int port = 0;
    int rate_limit = 200;
    app.add_option("--cert", cert, "PEM certificate (chain) file")->required();
    app.add_option("--key", key, "PEM private key file")->required();
    app.add_option("--port", port, "TCP port on 127.0.0.1 (0 = ephemeral)")->check(CLI::Range(0, 65535));
    app.add_option("--data-dir", data_dir, "directory of Yahoo CSV files SYMBOL.csv");
    app.add_option("--key-id", key_id, "accepted APCA-API-KEY-ID (default: $APCA_API_KEY_ID, else test-key)");
    app.add_option("--secret", secret, "accepted APCA-API-SECRET-KEY (default: $APCA_API_SECRET_KEY, else test-secret)");
    app.add_option("--cash", cash_text, "starting cash (default 100000)");
    app.add_option("--rate-limit", rate_limit, "requests per minute per key (0 = off)")->check(CLI::NonNegativeNumber);
    app.add_option("--today", today_text, "market date YYYY-MM-DD (default: the last date of the data)");
    std::string time_text;
    app.add_option("--time", time_text, "frozen New York time of day HH:MM (default: the real time of day)");
    app.add_option("--ready-file", ready_file, "write the port to this file once listening");
    CLI11_PARSE(app, argc, argv);

    fake::FakeConfig config;
    config.key_id = key_id.empty() ? env_or("APCA_API_KEY_ID", "test-key") : key_id;
    config.secret = secret.empty() ? env_or("APCA_API_SECRET_KEY", "test-secret") : secret;
    config.rate_limit_per_minute = rate_limit;
    const auto cash = core::Decimal::parse(cash_text);
    if (!cash || cash->is_negative()) {
        std::cerr << "ballast-fake-alpaca: --cash: expected a non-negative decimal, got \"" << cash_text << "\"\n";
        return 2;
    }
    config.cash = *cash;
    if (!time_text.empty()) {
        config.time = core::TimeOfDay::parse(time_text);
        if (!config.time) {
            std::cerr << "ballast-fake-alpaca: --time: expected HH:MM, got \"" << time_text << "\"\n";
            return 2;
        }
    }
    if (!today_text.empty()) {
        config.today = core::Date::parse(today_text);
        if (!config.today) {
            std::cerr << "ballast-fake-alpaca: --today: expected YYYY-MM-DD, got \"" << today_text << "\"\n";
            return 2;
        }
    }
    std::map<core::Symbol, std::vector<core::Bar>> bars;
    if (!data_dir.empty()) {
        auto loaded = fake::load_data_dir(data_dir);
        if (!loaded) {
            std::cerr << "ballast-fake-alpaca: --data-dir: " << loaded.error().message << "\n";
            return 1;
        }
        bars = std::move(loaded).value();
        std::cerr << "loaded " << bars.size() << " symbols from " << data_dir << "\n";
    } else {
        std::cerr << "no --data-dir: no symbols, no market data\n";
    }

    // Declared before the io_context so that connections destroyed with it still find them.
    fake::FakeAlpaca fake_alpaca(config, std::move(bars));
    net::io_context io;
    try {
        fake::ServerOptions options;
        options.cert_file = cert;
        options.key_file = key;
        options.port = static_cast<unsigned short>(port);
        fake::Server server(io, options, fake_alpaca, std::cerr);
        server.start();

        net::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int signo) {
            if (ec) return;
            std::cerr << "signal " << signo << ": stopping\n";
            server.stop();
            io.stop();
        });

        const auto bound = server.port();
        if (!ready_file.empty()) {
            std::ofstream out(ready_file, std::ios::trunc);
            out << bound << "\n";
            if (!out) {
                std::cerr << "ballast-fake-alpaca: cannot write --ready-file " << ready_file << "\n";
                return 1;
            }
        }
        std::cerr << "market date " << fake_alpaca.today().to_string() << ", rate limit " << rate_limit
                  << "/min\n";
        std::cout << "listening on 127.0.0.1:" << bound << std::endl;
        io.run();
    } catch (const std::exception& e) {
        std::cerr << "ballast-fake-alpaca: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
