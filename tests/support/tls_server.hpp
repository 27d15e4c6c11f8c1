#pragma once
// A minimal HTTPS/1.1 server for tests: Beast on 127.0.0.1 (ephemeral port), its own
// io_context on its own thread, keep-alive, and fault modes for the client's error paths.
// The header carries no Beast/Asio types, so test files stay light.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ballast::test {

struct TestHttpRequest {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    int connection = 0;                          // 1-based index of the connection it came on
};

struct TestHttpResponse {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;                            // a huge body tests the client's cap
    bool close = false;                          // answer with "Connection: close" and close
};

enum class TlsServerFault {
    none,
    close_before_responding,  // read the request, then close the TCP connection (no close_notify)
    stall_response,           // read the request, never answer
    stall_handshake,          // accept TCP, never start TLS
};

class TlsServer {
public:
    using Handler = std::function<TestHttpResponse(const TestHttpRequest&)>;

    // Listens at once; throws when the certificate or key cannot be loaded. The handler
    // runs on the server's thread.
    TlsServer(const std::filesystem::path& cert, const std::filesystem::path& key, Handler handler);
    ~TlsServer();  // stops the thread, closes every connection
    TlsServer(const TlsServer&) = delete;
    TlsServer& operator=(const TlsServer&) = delete;

    std::uint16_t port() const;

    // The next `count` requests (or, for stall_handshake, connections) get `fault`;
    // count < 0: all of them until set_fault(none).
    void set_fault(TlsServerFault fault, int count = 1);
    // After answering `n` requests on one connection (still saying keep-alive), close it
    // abruptly, like a server's idle timeout would. 0: never.
    void close_after(int n);

    int connections() const;         // TCP connections accepted
    int closed_connections() const;  // connections the server has finished with
    int requests() const;            // requests read, faulted ones included
    std::vector<TestHttpRequest> received() const;

    // Polls `done` every 5 ms for up to `limit`; true when it held.
    static bool wait_until(const std::function<bool()>& done,
                           std::chrono::milliseconds limit = std::chrono::milliseconds(5000));

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ballast::test
