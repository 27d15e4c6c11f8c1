#pragma once
// One HTTPS/1.1 connection to one host, with keep-alive, deadlines and TLS verification.
// The transport under the Alpaca client: it moves bytes and maps transport failures to
// BrokerError; HTTP statuses are not errors here (the caller maps them).
//
// Beast, Asio's SSL layer and OpenSSL stay in https_client.cpp.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/broker.hpp"

namespace ballast::broker {

struct HttpsEndpoint {
    std::string host;  // DNS name or IP literal; also the SNI and the name the certificate must carry
    std::uint16_t port = 443;
};

// "https://host[:port][/path]" → endpoint; `base_path` (if given) receives "/path" without a
// trailing '/', or "" when there is none. nullopt for any other scheme (http:// included),
// an empty host, a bad port (not 1..65535), userinfo ('@'), a query or a fragment.
std::optional<HttpsEndpoint> parse_https_url(std::string_view url, std::string* base_path = nullptr);

struct HttpsClientConfig {
    HttpsEndpoint endpoint;
    std::optional<std::filesystem::path> ca_file;           // PEM trust anchors; else the system store
    std::chrono::milliseconds connect_timeout{5000};        // resolve + TCP connect
    std::chrono::milliseconds handshake_timeout{5000};      // TLS handshake
    std::chrono::milliseconds request_timeout{15000};       // write the request + read the whole response
    std::size_t max_response_bytes = 8 * 1024 * 1024;       // response body cap
    std::string user_agent = "ballast/" BALLAST_VERSION;
};

struct HttpRequest {
    std::string method;  // "GET", "POST", "DELETE", ...
    std::string target;  // origin-form: "/v2/orders?status=open"
    std::vector<std::pair<std::string, std::string>> headers;  // Host, User-Agent, Content-Length are set by the client
    std::string body;
};

struct HttpResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names; repeated fields joined with ", "
    std::string body;
};

// Not thread-safe: use from one strand (the daemon's io_context thread), one request at a
// time (a second request() while one is in flight is refused with Kind::network).
// Destroy it on that thread too, after its requests finished.
class HttpsClient {
public:
    // Loads the trust anchors now; a CA file that cannot be loaded makes every request
    // fail with Kind::tls naming the file. Never throws for a bad config.
    HttpsClient(net::any_io_executor ex, HttpsClientConfig cfg);
    ~HttpsClient();
    HttpsClient(const HttpsClient&) = delete;
    HttpsClient& operator=(const HttpsClient&) = delete;

    // One attempt. Reuses the kept-alive connection or (re)connects. When a reused
    // connection turns out closed by the server before any response byte, a GET/HEAD/
    // DELETE/PUT/OPTIONS is resent once on a new connection; any other method (POST,
    // PATCH) is not, and comes back as Kind::network saying it may have reached the server.
    // Errors: timeout (names the phase), network (refused, reset, closed, resolve failed),
    // tls (certificate verification, host-name mismatch, handshake), bad_payload (response
    // too large or malformed, invalid request). Every message names "METHOD host:port
    // target", never a header value or a body. Never throws.
    awaitable<Result<HttpResponse>> request(const HttpRequest& req);

    // Drops the kept-alive connection (no TLS close_notify). The next request reconnects.
    void close();

    const HttpsClientConfig& config() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// For logs: "METHOD target" and the header names, with the values of APCA-API-KEY-ID,
// APCA-API-SECRET-KEY, Authorization, Cookie and Proxy-Authorization as "<redacted>"
// (names compared case-insensitively), and the body size, never the body.
std::string describe_request_for_log(const HttpRequest& req);

// The resend rule of request(), as a pure function: may a request that failed on a
// reused connection be sent again on a new one?
bool is_idempotent_method(std::string_view method);
bool may_resend_on_new_connection(std::string_view method, bool connection_was_reused, bool response_started,
                                  bool closed_by_peer);

}  // namespace ballast::broker
