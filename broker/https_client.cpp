#include "broker/https_client.hpp"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace ballast::broker {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using Stream = beast::ssl_stream<beast::tcp_stream>;
using SteadyClock = std::chrono::steady_clock;

enum class Phase { resolve, connect, handshake, write, read };

const char* phase_text(Phase p) {
    switch (p) {
        case Phase::resolve: return "resolving the host name";
        case Phase::connect: return "connecting";
        case Phase::handshake: return "in the TLS handshake";
        case Phase::write: return "sending the request";
        case Phase::read: return "waiting for the response";
    }
    return "?";
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    });
}

bool has_control(std::string_view s, bool allow_space) {
    return std::any_of(s.begin(), s.end(), [&](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f || (!allow_space && u == ' ');
    });
}

bool is_ip_literal(const std::string& host) {
    error_code ec;
    net::ip::make_address(host, ec);
    return !ec;
}

std::string authority(const HttpsEndpoint& e) {
    const bool v6 = e.host.find(':') != std::string::npos;
    return (v6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port);
}

// The server closed (or reset) the connection: on a reused connection with no response
// byte seen, this is the stale keep-alive case.
bool is_closed_by_peer(const error_code& ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
        ec == net::error::broken_pipe || ec == net::error::connection_aborted || ec == ssl::error::stream_truncated)
        return true;
    // OpenSSL 3 reports a TCP FIN without close_notify as an SSL error that Boost 1.74's
    // engine does not map to stream_truncated.
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    if (ec.category() == net::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        return true;
#endif
    return false;
}

std::string to_std(beast::string_view s) { return std::string(s.data(), s.size()); }

BrokerError make_error(BrokerError::Kind kind, std::string message) {
    BrokerError e;
    e.kind = kind;
    e.message = std::move(message);
    return e;
}

struct Exchange {
    error_code ec;
    Phase phase = Phase::write;
    bool response_started = false;
    std::optional<HttpResponse> response;
    bool keep_alive = false;
};

}  // namespace

// ---- pure parts ----------------------------------------------------------------------

std::optional<HttpsEndpoint> parse_https_url(std::string_view url, std::string* base_path) {
    constexpr std::string_view scheme = "https://";
    if (url.size() <= scheme.size() || !iequals(url.substr(0, scheme.size()), scheme)) return std::nullopt;
    const std::string_view rest = url.substr(scheme.size());
    if (rest.find_first_of("?#@") != std::string_view::npos || has_control(rest, false)) return std::nullopt;
    const auto slash = rest.find('/');
    const std::string_view auth = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);

    // Host, with IPv6 literals in brackets; then an optional ":port".
    std::string_view host;
    std::string_view port_text;
    if (!auth.empty() && auth.front() == '[') {
        const auto close = auth.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = auth.substr(1, close - 1);
        const std::string_view after = auth.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return std::nullopt;
            port_text = after.substr(1);
            if (port_text.empty()) return std::nullopt;
        }
    } else {
        const auto colon = auth.find(':');
        host = auth.substr(0, colon);
        if (colon != std::string_view::npos) {
            port_text = auth.substr(colon + 1);
            if (port_text.empty()) return std::nullopt;
        }
    }
    if (host.empty()) return std::nullopt;
    HttpsEndpoint e;
    e.host = lower(host);
    if (!port_text.empty()) {
        unsigned value = 0;
        const auto [p, err] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
        if (err != std::errc{} || p != port_text.data() + port_text.size() || value < 1 || value > 65535)
            return std::nullopt;
        e.port = static_cast<std::uint16_t>(value);
    }
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    if (base_path) *base_path = std::string(path);
    return e;
}

bool is_idempotent_method(std::string_view method) {
    return method == "GET" || method == "HEAD" || method == "DELETE" || method == "PUT" || method == "OPTIONS";
}

bool may_resend_on_new_connection(std::string_view method, bool connection_was_reused, bool response_started,
                                  bool closed_by_peer) {
    return connection_was_reused && !response_started && closed_by_peer && is_idempotent_method(method);
}

std::string describe_request_for_log(const HttpRequest& req) {
    static constexpr std::string_view secret[] = {"apca-api-key-id", "apca-api-secret-key", "authorization", "cookie",
                                                  "proxy-authorization"};
    std::string out = req.method + " " + req.target;
    for (const auto& [name, value] : req.headers) {
        const bool hide = std::any_of(std::begin(secret), std::end(secret), [&](std::string_view s) { return iequals(s, name); });
        out += " " + name + "=" + (hide ? std::string("<redacted>") : value);
    }
    out += " body=" + std::to_string(req.body.size()) + " bytes";
    return out;
}

// ---- the client ----------------------------------------------------------------------

struct HttpsClient::Impl {
    net::any_io_executor ex;
    HttpsClientConfig cfg;
    ssl::context ctx{ssl::context::tls_client};
    std::optional<std::string> init_error;  // a CA file that could not be loaded
    bool host_is_ip = false;
    std::string host_header;
    tcp::resolver resolver;
    net::steady_timer resolve_timer;
    std::uint64_t resolve_generation = 0;
    std::optional<Stream> stream;  // the kept-alive connection, when there is one
    beast::flat_buffer buffer;
    bool busy = false;

    Impl(net::any_io_executor executor, HttpsClientConfig config)
        : ex(std::move(executor)), cfg(std::move(config)), resolver(ex), resolve_timer(ex) {
        host_is_ip = is_ip_literal(cfg.endpoint.host);
        host_header = cfg.endpoint.host.find(':') != std::string::npos ? "[" + cfg.endpoint.host + "]" : cfg.endpoint.host;
        if (cfg.endpoint.port != 443) host_header += ":" + std::to_string(cfg.endpoint.port);

        // TLS 1.2 or newer, the peer always verified.
        SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
        ctx.set_verify_mode(ssl::verify_peer);
        error_code ec;
        if (cfg.ca_file) {
            std::error_code fs_ec;
            if (!std::filesystem::is_regular_file(*cfg.ca_file, fs_ec)) {
                init_error = "CA file " + cfg.ca_file->string() + " does not exist or is not a file";
                return;
            }
            ctx.load_verify_file(cfg.ca_file->string(), ec);
            if (ec) init_error = "cannot load CA file " + cfg.ca_file->string() + ": " + ec.message();
        } else {
            ctx.set_default_verify_paths(ec);
            if (ec) init_error = "cannot load the system trust store: " + ec.message();
        }
    }

    std::string where(const HttpRequest& req) const {
        return req.method + " " + authority(cfg.endpoint) + req.target;
    }

    void drop() {
        if (stream) beast::get_lowest_layer(*stream).close();
        stream.reset();
        buffer.clear();
    }

    // An idle kept-alive connection must have nothing to read: data, a close_notify or a
    // FIN there means the server closed it (or misbehaved), and it is not reused.
    bool idle_connection_usable() {
        if (!stream || buffer.size() > 0 || SSL_pending(stream->native_handle()) > 0) return false;
        auto& sock = beast::get_lowest_layer(*stream).socket();
        if (!sock.is_open()) return false;
        pollfd p{};
        p.fd = sock.native_handle();
        p.events = POLLIN | POLLRDHUP;
        return ::poll(&p, 1, 0) == 0;
    }

    std::optional<std::string> invalid(const HttpRequest& req) const {
        if (!is_token(req.method)) return "method is not an HTTP token";
        if (req.target.empty() || req.target.front() != '/' || has_control(req.target, false))
            return "target must start with '/' and contain no spaces or control characters";
        for (const auto& [name, value] : req.headers) {
            if (!is_token(name)) return "a header name is not an HTTP token";
            if (has_control(value, true)) return "the value of header " + name + " contains control characters";
        }
        return std::nullopt;
    }

    http::request<http::string_body> build(const HttpRequest& req) const {
        http::request<http::string_body> out;
        const auto verb = http::string_to_verb(req.method);
        if (verb == http::verb::unknown)
            out.method_string(req.method);
        else
            out.method(verb);
        out.target(req.target);
        out.version(11);
        out.set(http::field::host, host_header);
        out.set(http::field::user_agent, cfg.user_agent);
        for (const auto& [name, value] : req.headers) {
            if (iequals(name, "host") || iequals(name, "content-length") || iequals(name, "transfer-encoding")) continue;
            out.insert(name, value);
        }
        out.body() = req.body;
        out.keep_alive(true);
        out.prepare_payload();
        return out;
    }

    BrokerError timeout_error(const std::string& where, Phase phase) const {
        const auto limit = phase == Phase::resolve || phase == Phase::connect ? cfg.connect_timeout
                           : phase == Phase::handshake                     ? cfg.handshake_timeout
                                                                           : cfg.request_timeout;
        const char* which = phase == Phase::resolve || phase == Phase::connect ? "connect"
                            : phase == Phase::handshake                       ? "handshake"
                                                                              : "request";
        return make_error(BrokerError::Kind::timeout, where + ": timed out " + phase_text(phase) + " (" + which +
                                                          " timeout " + std::to_string(limit.count()) + " ms)");
    }

    // After a failed handshake: the certificate's verdict first, then the transport's.
    BrokerError handshake_error(const std::string& where, const error_code& ec) {
        if (ec == beast::error::timeout) return timeout_error(where, Phase::handshake);
        const long verdict = SSL_get_verify_result(stream->native_handle());
        if (verdict == X509_V_ERR_HOSTNAME_MISMATCH || verdict == X509_V_ERR_IP_ADDRESS_MISMATCH)
            return make_error(BrokerError::Kind::tls, where + ": TLS host name mismatch: the server's certificate is not valid for " +
                                                          cfg.endpoint.host);
        if (verdict != X509_V_OK)
            return make_error(BrokerError::Kind::tls, where + ": TLS certificate verify failed: " +
                                                          X509_verify_cert_error_string(verdict) + " (X509 error " +
                                                          std::to_string(verdict) + ")");
        if (is_closed_by_peer(ec))
            return make_error(BrokerError::Kind::network, where + ": connection closed by the server during the TLS handshake");
        return make_error(BrokerError::Kind::tls, where + ": TLS handshake failed: " + ec.message());
    }

    // Resolve, TCP connect, TLS handshake; leaves `stream` connected or empty.
    awaitable<std::optional<BrokerError>> connect(const std::string& where) {
        const auto deadline = SteadyClock::now() + cfg.connect_timeout;
        error_code ec;

        // Resolve, bounded by the connect deadline (the resolver has no expiry of its own).
        resolve_timer.expires_at(deadline);
        resolve_timer.async_wait([this, generation = ++resolve_generation](error_code wait_ec) {
            if (!wait_ec && generation == resolve_generation) resolver.cancel();
        });
        const std::string service = std::to_string(cfg.endpoint.port);
        auto endpoints = co_await resolver.async_resolve(cfg.endpoint.host, service, net::redirect_error(net::use_awaitable, ec));
        ++resolve_generation;
        resolve_timer.cancel();
        if (ec == net::error::operation_aborted) co_return timeout_error(where, Phase::resolve);
        if (ec) co_return make_error(BrokerError::Kind::network, where + ": cannot resolve " + cfg.endpoint.host + ": " + ec.message());

        // SNI (not for IP literals, RFC 6066) and the name the certificate must carry:
        // OpenSSL checks it during verification and reports X509_V_ERR_HOSTNAME_MISMATCH.
        stream.emplace(ex, ctx);
        if (!host_is_ip && !SSL_set_tlsext_host_name(stream->native_handle(), cfg.endpoint.host.c_str()))
            co_return make_error(BrokerError::Kind::tls, where + ": cannot set the TLS server name");
        if (SSL_set1_host(stream->native_handle(), cfg.endpoint.host.c_str()) != 1)
            co_return make_error(BrokerError::Kind::tls, where + ": cannot set the expected certificate host name");

        // TCP connect to the first endpoint that answers.
        auto& tcp_layer = beast::get_lowest_layer(*stream);
        tcp_layer.expires_at(deadline);
        co_await tcp_layer.async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
        if (ec == beast::error::timeout) co_return timeout_error(where, Phase::connect);
        if (ec) co_return make_error(BrokerError::Kind::network, where + ": connect failed: " + ec.message());

        // TLS handshake.
        tcp_layer.expires_after(cfg.handshake_timeout);
        co_await stream->async_handshake(ssl::stream_base::client, net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return handshake_error(where, ec);
        co_return std::nullopt;
    }

    // Write the request and read the whole response under one deadline.
    awaitable<Exchange> exchange(const http::request<http::string_body>& breq, bool head) {
        Exchange out;
        auto& tcp_layer = beast::get_lowest_layer(*stream);
        const auto deadline = SteadyClock::now() + cfg.request_timeout;

        out.phase = Phase::write;
        tcp_layer.expires_at(deadline);
        co_await http::async_write(*stream, breq, net::redirect_error(net::use_awaitable, out.ec));
        if (out.ec) co_return out;

        out.phase = Phase::read;
        http::response_parser<http::string_body> parser;
        parser.body_limit(static_cast<std::uint64_t>(cfg.max_response_bytes));
        if (head) parser.skip(true);
        tcp_layer.expires_at(deadline);
        co_await http::async_read(*stream, buffer, parser, net::redirect_error(net::use_awaitable, out.ec));
        out.response_started = parser.got_some() || buffer.size() > 0;
        tcp_layer.expires_never();
        if (out.ec) co_return out;

        auto res = parser.release();
        HttpResponse r;
        r.status = static_cast<int>(res.result_int());
        for (const auto& field : res) {
            const std::string name = lower(to_std(field.name_string()));
            const std::string value = to_std(field.value());
            auto [it, inserted] = r.headers.emplace(name, value);
            if (!inserted) it->second += ", " + value;
        }
        r.body = std::move(res.body());
        out.keep_alive = res.keep_alive();
        out.response = std::move(r);
        co_return out;
    }

    BrokerError exchange_error(const std::string& where, const HttpRequest& req, const Exchange& x, bool reused) const {
        const auto& ec = x.ec;
        if (ec == beast::error::timeout) return timeout_error(where, x.phase);
        if (ec == http::error::body_limit)
            return make_error(BrokerError::Kind::bad_payload,
                              where + ": response larger than " + std::to_string(cfg.max_response_bytes) + " bytes");
        if (ec == http::error::header_limit)
            return make_error(BrokerError::Kind::bad_payload, where + ": response header too large");
        const bool closed = is_closed_by_peer(ec);
        if (closed && reused && !x.response_started)
            return make_error(BrokerError::Kind::network,
                              where + ": the server closed the kept-alive connection before answering; " + req.method +
                                  " not resent (it may have reached the server)");
        if (closed && x.response_started)
            return make_error(BrokerError::Kind::network, where + ": connection closed by the server in the middle of the response");
        if (closed) return make_error(BrokerError::Kind::network, where + ": connection closed by the server before answering");
        if (ec == http::error::partial_message)
            return make_error(BrokerError::Kind::network, where + ": connection closed by the server in the middle of the response");
        if (ec.category() == error_code(http::error::bad_version).category())
            return make_error(BrokerError::Kind::bad_payload, where + ": malformed HTTP response: " + ec.message());
        if (ec == net::error::operation_aborted)
            return make_error(BrokerError::Kind::network, where + ": request cancelled (connection closed by the client)");
        return make_error(BrokerError::Kind::network, where + ": " + (x.phase == Phase::write ? "sending the request" : "reading the response") +
                                                          " failed: " + ec.message());
    }

    // Best-effort TLS close after "Connection: close"; the server usually closes first, so
    // eof/stream_truncated are expected and harmless.
    awaitable<void> shutdown() {
        error_code ec;
        beast::get_lowest_layer(*stream).expires_after(cfg.handshake_timeout);
        co_await stream->async_shutdown(net::redirect_error(net::use_awaitable, ec));
        drop();
    }

    awaitable<Result<HttpResponse>> request_once(const HttpRequest& req) {
        const std::string where = this->where(req);
        if (init_error) co_return make_error(BrokerError::Kind::tls, where + ": " + *init_error);
        if (auto why = invalid(req)) co_return make_error(BrokerError::Kind::bad_payload, where + ": invalid request: " + *why);

        const http::request<http::string_body> breq = build(req);
        const bool head = req.method == "HEAD";
        bool reused = false;
        if (stream) {
            if (idle_connection_usable())
                reused = true;
            else
                drop();
        }
        for (;;) {
            if (!stream) {
                auto failed = co_await connect(where);
                if (failed) {
                    drop();
                    co_return std::move(*failed);
                }
            }
            Exchange x = co_await exchange(breq, head);
            if (!x.ec) {
                if (!x.keep_alive) co_await shutdown();
                co_return std::move(*x.response);
            }
            drop();
            // A stale kept-alive connection: resend once on a new one, if that is safe.
            if (may_resend_on_new_connection(req.method, reused, x.response_started, is_closed_by_peer(x.ec))) {
                reused = false;
                continue;
            }
            co_return exchange_error(where, req, x, reused);
        }
    }
};

HttpsClient::HttpsClient(net::any_io_executor ex, HttpsClientConfig cfg)
    : impl_(std::make_unique<Impl>(std::move(ex), std::move(cfg))) {}

HttpsClient::~HttpsClient() = default;

const HttpsClientConfig& HttpsClient::config() const { return impl_->cfg; }

void HttpsClient::close() {
    if (impl_->busy) {
        // In flight: abort its operations; the request drops the stream itself.
        if (impl_->stream) beast::get_lowest_layer(*impl_->stream).close();
        return;
    }
    impl_->drop();
}

awaitable<Result<HttpResponse>> HttpsClient::request(const HttpRequest& req) {
    Impl& impl = *impl_;
    if (impl.busy)
        co_return make_error(BrokerError::Kind::network,
                             impl.where(req) + ": another request is in flight on this client");
    impl.busy = true;
    auto result = co_await impl.request_once(req);
    impl.busy = false;
    co_return result;
}

}  // namespace ballast::broker
