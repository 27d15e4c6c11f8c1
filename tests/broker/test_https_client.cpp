#include "broker/https_client.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "../support/test_certs.hpp"
#include "../support/tls_server.hpp"

using namespace ballast;
using namespace ballast::broker;
using ballast::test::TestHttpRequest;
using ballast::test::TestHttpResponse;
using ballast::test::TlsServer;
using ballast::test::TlsServerFault;
using namespace std::chrono_literals;

namespace {

constexpr const char* kKeyId = "PKTESTKEYID0123456789";
constexpr const char* kSecret = "s3cr3t-Value-That-Must-Not-Leak";

const ballast::test::TestPki& pki() {
    static ballast::test::TempDir dir;
    static const ballast::test::TestPki made = ballast::test::make_test_pki(dir.path());
    return made;
}

HttpsClientConfig config_for(std::uint16_t port, std::string host = "localhost") {
    HttpsClientConfig cfg;
    cfg.endpoint = HttpsEndpoint{std::move(host), port};
    cfg.ca_file = pki().ca_file;
    cfg.connect_timeout = 2000ms;
    cfg.handshake_timeout = 2000ms;
    cfg.request_timeout = 5000ms;
    return cfg;
}

HttpRequest get(std::string target) { return HttpRequest{"GET", std::move(target), {}, ""}; }

HttpRequest post(std::string target, std::string body) {
    return HttpRequest{"POST",
                       std::move(target),
                       {{"APCA-API-KEY-ID", kKeyId}, {"APCA-API-SECRET-KEY", kSecret}, {"Content-Type", "application/json"}},
                       std::move(body)};
}

awaitable<void> do_request(HttpsClient& client, HttpRequest req, std::optional<Result<HttpResponse>>& out) {
    auto r = co_await client.request(req);
    out.emplace(std::move(r));
}

// Runs one request to completion on the test's io_context.
Result<HttpResponse> call(net::io_context& ioc, HttpsClient& client, const HttpRequest& req) {
    std::optional<Result<HttpResponse>> out;
    net::co_spawn(ioc, do_request(client, req, out), net::detached);
    ioc.restart();
    ioc.run();
    REQUIRE(out.has_value());
    return std::move(*out);
}

// An error that must not carry a secret.
BrokerError error_of(const Result<HttpResponse>& r) {
    REQUIRE_FALSE(r.ok());
    const auto& e = r.error();
    CHECK(e.message.find(kSecret) == std::string::npos);
    CHECK(e.message.find(kKeyId) == std::string::npos);
    return e;
}

TestHttpResponse echo(const TestHttpRequest& req) {
    TestHttpResponse r;
    r.status = req.method == "POST" ? 201 : 200;
    r.headers = {{"Content-Type", "application/json"}, {"X-Echo-Target", req.target}, {"Set-Thing", "a"}, {"Set-Thing", "b"}};
    r.body = req.method == "POST" ? req.body : "{\"ok\":true}";
    return r;
}

std::uint16_t unused_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

int count_method(const TlsServer& server, const std::string& method) {
    int n = 0;
    for (const auto& r : server.received()) n += r.method == method;
    return n;
}

}  // namespace

TEST_CASE("parse_https_url takes https URLs and rejects the rest", "[broker][https]") {
    std::string path;
    auto e = parse_https_url("https://paper-api.alpaca.markets", &path);
    REQUIRE(e);
    CHECK(e->host == "paper-api.alpaca.markets");
    CHECK(e->port == 443);
    CHECK(path.empty());

    e = parse_https_url("https://LocalHost:8443/v2/", &path);
    REQUIRE(e);
    CHECK(e->host == "localhost");
    CHECK(e->port == 8443);
    CHECK(path == "/v2");

    e = parse_https_url("https://[::1]:9000", &path);
    REQUIRE(e);
    CHECK(e->host == "::1");
    CHECK(e->port == 9000);

    for (const char* bad : {"http://api.alpaca.markets", "ftp://x", "https://", "https://:443", "https://h:0",
                            "https://h:65536", "https://h:", "https://h:12a", "https://user@h", "https://h/p?q=1",
                            "https://h/p#f", "https://[::1", "https://h o", "api.alpaca.markets"}) {
        INFO(bad);
        CHECK_FALSE(parse_https_url(bad, &path));
    }
}

TEST_CASE("describe_request_for_log redacts credential headers", "[broker][https]") {
    HttpRequest req = post("/v2/orders", "{\"qty\":\"1\"}");
    req.headers.emplace_back("authorization", "Bearer abc.def");
    const std::string line = describe_request_for_log(req);
    CHECK(line.find(kKeyId) == std::string::npos);
    CHECK(line.find(kSecret) == std::string::npos);
    CHECK(line.find("abc.def") == std::string::npos);
    CHECK(line.find("qty") == std::string::npos);
    CHECK(line.find("POST /v2/orders") != std::string::npos);
    CHECK(line.find("APCA-API-KEY-ID=<redacted>") != std::string::npos);
    CHECK(line.find("Content-Type=application/json") != std::string::npos);
}

TEST_CASE("only idempotent requests are resent after a stale kept-alive connection", "[broker][https]") {
    CHECK(may_resend_on_new_connection("GET", true, false, true));
    CHECK(may_resend_on_new_connection("DELETE", true, false, true));
    CHECK_FALSE(may_resend_on_new_connection("POST", true, false, true));
    CHECK_FALSE(may_resend_on_new_connection("PATCH", true, false, true));
    CHECK_FALSE(may_resend_on_new_connection("GET", false, false, true));  // a fresh connection failed
    CHECK_FALSE(may_resend_on_new_connection("GET", true, true, true));    // a response had begun
    CHECK_FALSE(may_resend_on_new_connection("GET", true, false, false));  // not a peer close
}

TEST_CASE("GET and POST round trips carry headers and bodies", "[broker][https]") {
    TlsServer server(pki().server_cert, pki().server_key, echo);
    net::io_context ioc;
    HttpsClient client(ioc.get_executor(), config_for(server.port()));

    auto r = call(ioc, client, get("/v2/account?x=1"));
    REQUIRE(r.ok());
    CHECK(r.value().status == 200);
    CHECK(r.value().body == "{\"ok\":true}");
    CHECK(r.value().headers.at("content-type") == "application/json");
    CHECK(r.value().headers.at("x-echo-target") == "/v2/account?x=1");
    CHECK(r.value().headers.at("set-thing") == "a, b");

    auto p = call(ioc, client, post("/v2/orders", "{\"symbol\":\"VTI\"}"));
    REQUIRE(p.ok());
    CHECK(p.value().status == 201);
    CHECK(p.value().body == "{\"symbol\":\"VTI\"}");

    const auto seen = server.received();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].method == "GET");
    CHECK(seen[0].headers.at("host") == "localhost:" + std::to_string(server.port()));
    CHECK(seen[0].headers.at("user-agent").rfind("ballast/", 0) == 0);
    CHECK(seen[1].method == "POST");
    CHECK(seen[1].headers.at("apca-api-key-id") == kKeyId);
    CHECK(seen[1].headers.at("apca-api-secret-key") == kSecret);
    CHECK(seen[1].headers.at("content-length") == "16");
    CHECK(seen[1].body == "{\"symbol\":\"VTI\"}");
}

TEST_CASE("HTTP error statuses come back as responses", "[broker][https]") {
    TlsServer server(pki().server_cert, pki().server_key, [](const TestHttpRequest&) {
        return TestHttpResponse{422, {}, "{\"message\":\"qty must be > 0\"}", false};
    });
    net::io_context ioc;
    HttpsClient client(ioc.get_executor(), config_for(server.port()));
    auto r = call(ioc, client, post("/v2/orders", "{}"));
    REQUIRE(r.ok());
    CHECK(r.value().status == 422);
    CHECK(r.value().body.find("qty must be") != std::string::npos);
}

TEST_CASE("Keep-alive reuses one connection", "[broker][https]") {
    TlsServer server(pki().server_cert, pki().server_key, echo);
    net::io_context ioc;
    HttpsClient client(ioc.get_executor(), config_for(server.port()));
    for (int i = 0; i < 3; ++i) REQUIRE(call(ioc, client, get("/v2/clock")).ok());
    CHECK(server.requests() == 3);
    CHECK(server.connections() == 1);

    SECTION("close() drops it") {
        client.close();
        REQUIRE(call(ioc, client, get("/v2/clock")).ok());
        CHECK(server.connections() == 2);
    }
    SECTION("Connection: close in a response drops it") {
        TlsServer closing(pki().server_cert, pki().server_key, [](const TestHttpRequest&) {
            return TestHttpResponse{200, {}, "bye", true};
        });
        HttpsClient c2(ioc.get_executor(), config_for(closing.port()));
        auto r = call(ioc, c2, get("/a"));
        REQUIRE(r.ok());
        CHECK(r.value().body == "bye");
        REQUIRE(call(ioc, c2, get("/b")).ok());
        CHECK(closing.connections() == 2);
    }
}

TEST_CASE("An idle connection the server closed is replaced", "[broker][https]") {
    TlsServer server(pki().server_cert, pki().server_key, echo);
    server.close_after(1);
    net::io_context ioc;
    HttpsClient client(ioc.get_executor(), config_for(server.port()));

    REQUIRE(call(ioc, client, get("/v2/clock")).ok());
    REQUIRE(TlsServer::wait_until([&] { return server.closed_connections() == 1; }));

    SECTION("for a GET") {
        auto r = call(ioc, client, get("/v2/clock"));
        REQUIRE(r.ok());
        CHECK(server.connections() == 2);
    }
    SECTION("for a POST, sent once on the new connection") {
        auto r = call(ioc, client, post("/v2/orders", "{}"));
        REQUIRE(r.ok());
        CHECK(server.connections() == 2);
        CHECK(count_method(server, "POST") == 1);
    }
}

TEST_CASE("A reused connection closed before the response", "[broker][https]") {
    TlsServer server(pki().server_cert, pki().server_key, echo);
    net::io_context ioc;
    HttpsClient client(ioc.get_executor(), config_for(server.port()));
    REQUIRE(call(ioc, client, get("/v2/clock")).ok());
    server.set_fault(TlsServerFault::close_before_responding, 1);

    SECTION("a GET is resent once on a new connection") {
        auto r = call(ioc, client, get("/v2/positions"));
        REQUIRE(r.ok());
        CHECK(server.requests() == 3);
        CHECK(server.connections() == 2);
    }
    SECTION("a POST is not resent and comes back as a network error") {
        auto r = call(ioc, client, post("/v2/orders", "{\"symbol\":\"VTI\"}"));
        const auto e = error_of(r);
        CHECK(e.kind == BrokerError::Kind::network);
        CHECK_THAT(e.message, Catch::Contains("POST localhost:" + std::to_string(server.port()) + "/v2/orders"));
        CHECK_THAT(e.message, Catch::Contains("not resent"));
        CHECK(count_method(server, "POST") == 1);
        CHECK(server.connections() == 1);

        // The next request connects afresh.
        REQUIRE(call(ioc, client, get("/v2/clock")).ok());
        CHECK(server.connections() == 2);
    }
    SECTION("a fresh connection closed before the response is not retried") {
        client.close();
        server.set_fault(TlsServerFault::close_before_responding, 1);
        auto r = call(ioc, client, get("/v2/positions"));
        CHECK(error_of(r).kind == BrokerError::Kind::network);
        CHECK(server.requests() == 2);
    }
}

TEST_CASE("Connection refused is a network error", "[broker][https]") {
    const auto port = unused_port();
    net::io_context ioc;
    HttpsClient client(ioc.get_executor(), config_for(port));
    auto r = call(ioc, client, post("/v2/orders", "{}"));
    const auto e = error_of(r);
    CHECK(e.kind == BrokerError::Kind::network);
    CHECK_THAT(e.message, Catch::Contains("localhost:" + std::to_string(port) + "/v2/orders"));
    CHECK_THAT(e.message, Catch::Contains("connect"));
}

TEST_CASE("An unresolvable host is a network error", "[broker][https]") {
    net::io_context ioc;
    HttpsClient client(ioc.get_executor(), config_for(443, "no-such-host.invalid"));
    auto r = call(ioc, client, get("/v2/clock"));
    const auto e = error_of(r);
    CHECK(e.kind == BrokerError::Kind::network);
    CHECK_THAT(e.message, Catch::Contains("no-such-host.invalid"));
}

TEST_CASE("Stalls time out and name the phase", "[broker][https]") {
    TlsServer server(pki().server_cert, pki().server_key, echo);
    net::io_context ioc;
    auto cfg = config_for(server.port());
    cfg.handshake_timeout = 300ms;
    cfg.request_timeout = 300ms;
    HttpsClient client(ioc.get_executor(), cfg);

    SECTION("no response") {
        server.set_fault(TlsServerFault::stall_response, 1);
        const auto e = error_of(call(ioc, client, get("/v2/clock")));
        CHECK(e.kind == BrokerError::Kind::timeout);
        CHECK_THAT(e.message, Catch::Contains("waiting for the response"));
        CHECK_THAT(e.message, Catch::Contains("request timeout 300 ms"));
        CHECK_THAT(e.message, Catch::Contains("GET localhost:"));
    }
    SECTION("no TLS handshake") {
        server.set_fault(TlsServerFault::stall_handshake, 1);
        const auto e = error_of(call(ioc, client, get("/v2/clock")));
        CHECK(e.kind == BrokerError::Kind::timeout);
        CHECK_THAT(e.message, Catch::Contains("TLS handshake"));
        CHECK_THAT(e.message, Catch::Contains("handshake timeout 300 ms"));
    }
    // Either way the client recovers on a new connection.
    REQUIRE(call(ioc, client, get("/v2/clock")).ok());
}

TEST_CASE("A connect that never completes times out", "[broker][https]") {
    // A listener with a full accept queue drops further SYNs, so connect() hangs.
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(listener, 0) == 0);
    socklen_t len = sizeof a;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
    std::vector<int> fillers;
    for (int i = 0; i < 4; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        fillers.push_back(fd);
    }

    net::io_context ioc;
    auto cfg = config_for(ntohs(a.sin_port), "127.0.0.1");
    cfg.connect_timeout = 300ms;
    HttpsClient client(ioc.get_executor(), cfg);
    const auto e = error_of(call(ioc, client, get("/v2/clock")));
    CHECK(e.kind == BrokerError::Kind::timeout);
    CHECK_THAT(e.message, Catch::Contains("connecting"));
    CHECK_THAT(e.message, Catch::Contains("connect timeout 300 ms"));

    for (int fd : fillers) ::close(fd);
    ::close(listener);
}

TEST_CASE("A response body over the cap is bad_payload", "[broker][https]") {
    TlsServer server(pki().server_cert, pki().server_key, [](const TestHttpRequest& req) {
        return TestHttpResponse{200, {}, std::string(req.target == "/big" ? 200 * 1024 : 10, 'x'), false};
    });
    net::io_context ioc;
    auto cfg = config_for(server.port());
    cfg.max_response_bytes = 64 * 1024;
    HttpsClient client(ioc.get_executor(), cfg);
    const auto e = error_of(call(ioc, client, get("/big")));
    CHECK(e.kind == BrokerError::Kind::bad_payload);
    CHECK_THAT(e.message, Catch::Contains("response larger than 65536 bytes"));
    CHECK_THAT(e.message, Catch::Contains("GET localhost:"));
    REQUIRE(call(ioc, client, get("/small")).ok());
}

TEST_CASE("Certificates are verified", "[broker][https]") {
    net::io_context ioc;
    SECTION("a certificate for another host name") {
        TlsServer server(pki().wrong_host_cert, pki().wrong_host_key, echo);
        HttpsClient client(ioc.get_executor(), config_for(server.port()));
        const auto e = error_of(call(ioc, client, get("/v2/account")));
        CHECK(e.kind == BrokerError::Kind::tls);
        CHECK_THAT(e.message, Catch::Contains("host name mismatch"));
        CHECK_THAT(e.message, Catch::Contains("not valid for localhost"));
        CHECK(server.requests() == 0);
    }
    SECTION("a certificate from an untrusted CA") {
        TlsServer server(pki().untrusted_cert, pki().untrusted_key, echo);
        HttpsClient client(ioc.get_executor(), config_for(server.port()));
        const auto e = error_of(call(ioc, client, get("/v2/account")));
        CHECK(e.kind == BrokerError::Kind::tls);
        CHECK_THAT(e.message, Catch::Contains("certificate verify failed"));
        CHECK_THAT(e.message, Catch::Contains("issuer"));
        CHECK(server.requests() == 0);
    }
    SECTION("the system store does not trust the test CA") {
        TlsServer server(pki().server_cert, pki().server_key, echo);
        auto cfg = config_for(server.port());
        cfg.ca_file.reset();
        HttpsClient client(ioc.get_executor(), cfg);
        const auto e = error_of(call(ioc, client, get("/v2/account")));
        CHECK(e.kind == BrokerError::Kind::tls);
        CHECK_THAT(e.message, Catch::Contains("certificate verify failed"));
    }
    SECTION("an IP literal is checked against the IP subjectAltName") {
        TlsServer server(pki().server_cert, pki().server_key, echo);
        HttpsClient client(ioc.get_executor(), config_for(server.port(), "127.0.0.1"));
        REQUIRE(call(ioc, client, get("/v2/account")).ok());
    }
    SECTION("a missing CA file fails every request, naming the file") {
        auto cfg = config_for(1);
        cfg.ca_file = "/nonexistent/ca.pem";
        HttpsClient client(ioc.get_executor(), cfg);
        const auto e = error_of(call(ioc, client, get("/v2/account")));
        CHECK(e.kind == BrokerError::Kind::tls);
        CHECK_THAT(e.message, Catch::Contains("/nonexistent/ca.pem"));
    }
}

TEST_CASE("Invalid requests are refused before sending", "[broker][https]") {
    TlsServer server(pki().server_cert, pki().server_key, echo);
    net::io_context ioc;
    HttpsClient client(ioc.get_executor(), config_for(server.port()));
    HttpRequest req = post("/v2/orders", "{}");
    req.headers.emplace_back("X-Injected", std::string("a\r\nAPCA-API-SECRET-KEY: ") + kSecret);
    const auto e = error_of(call(ioc, client, req));
    CHECK(e.kind == BrokerError::Kind::bad_payload);
    CHECK_THAT(e.message, Catch::Contains("X-Injected"));
    CHECK(error_of(call(ioc, client, get("v2/no-slash"))).kind == BrokerError::Kind::bad_payload);
    CHECK(server.requests() == 0);
}
