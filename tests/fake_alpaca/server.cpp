#include "tests/fake_alpaca/server.hpp"

#include <stdexcept>
#include <string>

#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace ballast::fake {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Stream = beast::ssl_stream<beast::tcp_stream>;

Request to_request(const http::request<http::string_body>& req) {
    Request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& field : req) r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    r.body = req.body();
    return r;
}

http::response<http::string_body> to_http(const Response& resp, unsigned version, bool keep_alive) {
    http::response<http::string_body> res;
    res.version(version);
    res.result(static_cast<unsigned>(resp.status));
    res.set(http::field::server, "ballast-fake-alpaca");
    if (!resp.body.empty()) res.set(http::field::content_type, "application/json; charset=utf-8");
    for (const auto& [name, value] : resp.headers) res.set(name, value);
    res.keep_alive(keep_alive);
    res.body() = resp.body;
    res.prepare_payload();
    return res;
}

// Headers announcing more bytes than follow: the client must see a short body.
std::string truncated_message(const Response& resp) {
    const auto reason = http::obsolete_reason(static_cast<http::status>(resp.status));
    std::string raw = "HTTP/1.1 " + std::to_string(resp.status) + " " + std::string(reason) + "\r\n";
    raw += "Server: ballast-fake-alpaca\r\nContent-Type: application/json; charset=utf-8\r\n";
    for (const auto& [name, value] : resp.headers) raw += name + ": " + value + "\r\n";
    raw += "Content-Length: " + std::to_string(resp.body.size() + 100) + "\r\n\r\n";
    raw += resp.body.substr(0, resp.body.size() / 2);
    return raw;
}

}  // namespace

struct Server::Impl {
    Impl(net::io_context& io_, const ServerOptions& options_, FakeAlpaca& fake_, std::ostream& log_)
        : io(io_), options(options_), fake(fake_), log(log_), ssl_ctx(ssl::context::tls_server), acceptor(io_) {}

    net::io_context& io;
    ServerOptions options;
    FakeAlpaca& fake;
    std::ostream& log;
    ssl::context ssl_ctx;
    tcp::acceptor acceptor;
    std::uint64_t next_connection = 0;

    awaitable<void> accept_loop();
    awaitable<void> session(tcp::socket socket, std::uint64_t id);
};

Server::Server(net::io_context& io, const ServerOptions& options, FakeAlpaca& fake, std::ostream& log)
    : impl_(std::make_unique<Impl>(io, options, fake, log)) {
    auto& ctx = impl_->ssl_ctx;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    ctx.use_certificate_chain_file(options.cert_file.string(), ec);
    if (ec) throw std::runtime_error("cannot load --cert " + options.cert_file.string() + ": " + ec.message());
    ctx.use_private_key_file(options.key_file.string(), ssl::context::pem, ec);
    if (ec) throw std::runtime_error("cannot load --key " + options.key_file.string() + ": " + ec.message());

    const tcp::endpoint endpoint(net::ip::make_address_v4("127.0.0.1"), options.port);
    auto& acc = impl_->acceptor;
    acc.open(endpoint.protocol(), ec);
    if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acc.bind(endpoint, ec);
    if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("cannot listen on 127.0.0.1:" + std::to_string(options.port) + ": " + ec.message());
}

Server::~Server() = default;

unsigned short Server::port() const {
    boost::system::error_code ec;
    return impl_->acceptor.local_endpoint(ec).port();
}

void Server::start() { net::co_spawn(impl_->io, impl_->accept_loop(), net::detached); }

void Server::stop() {
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
}

awaitable<void> Server::Impl::accept_loop() {
    for (;;) {
        boost::system::error_code ec;
        tcp::socket socket = co_await acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
        if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) {
            log << "accept failed: " << ec.message() << std::endl;
            continue;
        }
        net::co_spawn(io, session(std::move(socket), ++next_connection), net::detached);
    }
}

awaitable<void> Server::Impl::session(tcp::socket socket, std::uint64_t id) {
    Stream stream(beast::tcp_stream(std::move(socket)), ssl_ctx);
    boost::system::error_code ec;
    const auto prefix = "[conn " + std::to_string(id) + "] ";

    // TLS handshake.
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    co_await stream.async_handshake(ssl::stream_base::server, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
        log << prefix << "TLS handshake failed: " << ec.message() << std::endl;
        co_return;
    }

    beast::flat_buffer buffer;
    for (;;) {
        // Read one request (the idle timeout also bounds a slow client).
        http::request<http::string_body> req;
        beast::get_lowest_layer(stream).expires_after(options.idle_timeout);
        co_await http::async_read(stream, buffer, req, net::redirect_error(net::use_awaitable, ec));
        if (ec) break;

        const auto request = to_request(req);
        const auto started = std::chrono::steady_clock::now();
        const auto resp = fake.handle(request, std::chrono::system_clock::now());
        const auto micros =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
        log << prefix << request.method << ' ' << request.target << " -> " << resp.status;
        if (!resp.fault.empty()) log << " [fault: " << resp.fault << ']';
        log << " (" << micros << " us)" << std::endl;

        switch (resp.delivery) {
            case Delivery::timeout: {
                // Hold the connection, answering nothing, until the client gives up.
                beast::get_lowest_layer(stream).expires_after(options.hold_timeout);
                char sink[512];
                for (;;) {
                    auto buf = net::buffer(sink);
                    co_await stream.async_read_some(buf, net::redirect_error(net::use_awaitable, ec));
                    if (ec) break;
                }
                log << prefix << "held connection closed: " << ec.message() << std::endl;
                co_return;
            }
            case Delivery::reset: {
                // RST: linger 0, then close, with no TLS close_notify.
                auto& sock = beast::get_lowest_layer(stream).socket();
                sock.set_option(net::socket_base::linger(true, 0), ec);
                sock.close(ec);
                co_return;
            }
            case Delivery::truncate: {
                const std::string raw = truncated_message(resp);
                auto buf = net::buffer(raw);
                beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
                co_await net::async_write(stream, buf, net::redirect_error(net::use_awaitable, ec));
                beast::get_lowest_layer(stream).socket().close(ec);
                co_return;
            }
            case Delivery::slow: {
                net::steady_timer timer(io);
                timer.expires_after(std::chrono::milliseconds(resp.delay_ms));
                co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
                break;
            }
            case Delivery::normal: break;
        }

        // Write the answer.
        auto res = to_http(resp, req.version(), req.keep_alive());
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
        co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
        if (ec || !res.keep_alive()) break;
    }

    // Graceful TLS close; a client that already hung up makes this fail harmlessly.
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    co_await stream.async_shutdown(net::redirect_error(net::use_awaitable, ec));
}

}  // namespace ballast::fake
