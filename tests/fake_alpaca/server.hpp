#pragma once
// The socket layer of ballast-fake-alpaca: an HTTPS/1.1 server (Boost.Beast +
// OpenSSL, keep-alive, one coroutine per connection) on 127.0.0.1 that hands every
// request to FakeAlpaca::handle and carries out the response's Delivery (slow,
// timeout, reset, truncate). Runs on the caller's io_context; one thread.
#include <chrono>
#include <filesystem>
#include <memory>
#include <ostream>

#include "broker/asio.hpp"
#include "tests/fake_alpaca/fake_state.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

namespace ballast::fake {

struct ServerOptions {
    std::filesystem::path cert_file;  // PEM certificate chain
    std::filesystem::path key_file;   // PEM private key
    unsigned short port = 0;          // 0 = ephemeral
    std::chrono::seconds idle_timeout{120};     // between requests on a keep-alive connection
    std::chrono::seconds hold_timeout{600};     // how long a `timeout` fault holds a connection at most
};

class Server {
public:
    // Loads the certificate and key and binds 127.0.0.1:port. Throws std::runtime_error
    // naming the file or the port on failure. `fake` and `log` must outlive the
    // io_context's handlers. Request log lines never contain header values.
    Server(net::io_context& io, const ServerOptions& options, FakeAlpaca& fake, std::ostream& log);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    unsigned short port() const;
    void start();  // spawns the accept loop
    void stop();   // stops accepting; connections end when the io_context stops

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ballast::fake
