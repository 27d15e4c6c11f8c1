#pragma once
// Starts `ballast-fake-alpaca` on an ephemeral 127.0.0.1 port for a test, talks to its
// control endpoints with the project's own HTTPS client, and stops it on destruction.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "broker/asio.hpp"
#include "broker/https_client.hpp"

namespace ballast::test {

class FakeAlpacaProcess {
public:
    // `args` are extra command-line arguments (e.g. {"--today", "2025-03-06"}).
    FakeAlpacaProcess(const std::filesystem::path& dir, const std::filesystem::path& cert,
                      const std::filesystem::path& key, std::filesystem::path ca_file,
                      const std::vector<std::string>& args = {})
        : ca_file_(std::move(ca_file)) {
        const auto ready = dir / "fake.port";
        const auto log = dir / "fake.log";
        std::filesystem::remove(ready);
        std::vector<std::string> argv{BALLAST_FAKE_ALPACA_BINARY, "--cert", cert.string(), "--key", key.string(),
                                      "--port", "0", "--data-dir", BALLAST_DATA_DIR, "--ready-file", ready.string(),
                                      "--key-id", "test-key", "--secret", "test-secret"};
        argv.insert(argv.end(), args.begin(), args.end());
        pid_ = ::fork();
        if (pid_ == 0) {
            const std::string out = log.string();
            std::freopen(out.c_str(), "w", stdout);
            std::freopen(out.c_str(), "a", stderr);
            std::vector<char*> cargv;
            for (auto& a : argv) cargv.push_back(a.data());
            cargv.push_back(nullptr);
            ::execv(cargv[0], cargv.data());
            ::_exit(127);
        }
        for (int i = 0; i < 400 && port_ == 0; ++i) {
            std::ifstream in(ready);
            int p = 0;
            if (in >> p && p > 0) port_ = p;
            else std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
        if (port_ == 0) throw std::runtime_error("ballast-fake-alpaca did not start; see " + log.string());
    }
    ~FakeAlpacaProcess() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
    }
    FakeAlpacaProcess(const FakeAlpacaProcess&) = delete;
    FakeAlpacaProcess& operator=(const FakeAlpacaProcess&) = delete;

    int port() const { return port_; }
    std::string url() const { return "https://localhost:" + std::to_string(port_); }

    // A control request to /_fake/...; returns the response body (throws on failure).
    // An authenticated GET of the Alpaca API itself (test-key / test-secret).
    std::string get_api(const std::string& target) const {
        return control("GET", target, "", {{"APCA-API-KEY-ID", "test-key"}, {"APCA-API-SECRET-KEY", "test-secret"}});
    }
    std::string control(const std::string& method, const std::string& target, const std::string& body = "",
                        std::vector<std::pair<std::string, std::string>> headers = {}) const {
        net::io_context io;
        broker::HttpsClientConfig cfg;
        cfg.endpoint = {"localhost", static_cast<std::uint16_t>(port_)};
        cfg.ca_file = ca_file_;
        broker::HttpsClient client(io.get_executor(), cfg);
        headers.emplace_back("Content-Type", "application/json");
        broker::HttpRequest req{method, target, headers, body};
        std::optional<broker::Result<broker::HttpResponse>> out;
        net::co_spawn(io, [&]() -> net::awaitable<void> { out.emplace(co_await client.request(req)); }, net::detached);
        io.run();
        if (!out || !*out) throw std::runtime_error("fake control " + target + " failed");
        if (out->value().status >= 300)
            throw std::runtime_error("fake control " + target + ": HTTP " + std::to_string(out->value().status) + " " +
                                     out->value().body);
        return out->value().body;
    }

private:
    std::filesystem::path ca_file_;
    pid_t pid_ = -1;
    int port_ = 0;
};

}  // namespace ballast::test
