#include "tls_server.hpp"

#include <atomic>
#include <cctype>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "broker/asio.hpp"  // <utility> before Asio (Boost 1.74 + g++ 12)

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace ballast::test {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using Stream = beast::ssl_stream<beast::tcp_stream>;

std::string to_std(beast::string_view s) { return std::string(s.data(), s.size()); }

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

awaitable<void> wait_forever() {
    net::steady_timer timer(co_await net::this_coro::executor);
    timer.expires_at(net::steady_timer::time_point::max());
    error_code ec;
    co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
}

void close_abruptly(Stream& stream) {
    error_code ec;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream).close();
}

}  // namespace

struct TlsServer::Impl {
    // Counters and state first: sessions still pending when io_context is destroyed
    // touch them from their destructors.
    Handler handler;
    mutable std::mutex mu;
    TlsServerFault fault = TlsServerFault::none;
    int fault_count = 0;
    int close_after = 0;
    std::vector<TestHttpRequest> received;
    std::atomic<int> connections{0};
    std::atomic<int> closed{0};
    std::atomic<int> requests{0};
    std::uint16_t port = 0;
    ssl::context ctx{ssl::context::tls_server};

    net::io_context ioc;
    tcp::acceptor acceptor{ioc};
    std::thread thread;

    // The fault for this stage (handshake or request), used up by one.
    TlsServerFault take_fault(bool handshake_stage) {
        std::lock_guard lock(mu);
        if (fault == TlsServerFault::none || (fault == TlsServerFault::stall_handshake) != handshake_stage)
            return TlsServerFault::none;
        const auto f = fault;
        if (fault_count > 0 && --fault_count == 0) fault = TlsServerFault::none;
        return f;
    }

    awaitable<void> accept_loop() {
        for (;;) {
            error_code ec;
            tcp::socket sock = co_await acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
            if (ec) co_return;
            const int id = ++connections;
            net::co_spawn(ioc, session(std::move(sock), id), net::detached);
        }
    }

    awaitable<void> session(tcp::socket sock, int id) {
        struct Count {
            std::atomic<int>& n;
            ~Count() { ++n; }
        } count_close{closed};
        Stream stream(std::move(sock), ctx);
        if (take_fault(true) == TlsServerFault::stall_handshake) {
            co_await wait_forever();
            co_return;
        }
        error_code ec;
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
        co_await stream.async_handshake(ssl::stream_base::server, net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return;

        beast::flat_buffer buffer;
        int served = 0;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(std::uint64_t{64} * 1024 * 1024);
            beast::get_lowest_layer(stream).expires_never();
            co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
            if (ec) co_return;  // the client closed or sent garbage
            auto req = parser.release();

            TestHttpRequest seen;
            seen.method = to_std(req.method_string());
            seen.target = to_std(req.target());
            for (const auto& f : req) seen.headers[lower(to_std(f.name_string()))] = to_std(f.value());
            seen.body = req.body();
            seen.connection = id;
            {
                std::lock_guard lock(mu);
                received.push_back(seen);
            }
            ++requests;

            const auto f = take_fault(false);
            if (f == TlsServerFault::close_before_responding) {
                close_abruptly(stream);
                co_return;
            }
            if (f == TlsServerFault::stall_response) {
                co_await wait_forever();
                co_return;
            }

            TestHttpResponse answer;
            try {
                answer = handler ? handler(seen) : TestHttpResponse{};
            } catch (const std::exception& e) {
                answer = TestHttpResponse{500, {}, std::string("handler threw: ") + e.what(), false};
            }
            http::response<http::string_body> res;
            res.version(11);
            res.result(static_cast<unsigned>(answer.status));
            for (const auto& [name, value] : answer.headers) res.insert(name, value);
            res.body() = std::move(answer.body);
            res.keep_alive(!answer.close && req.keep_alive());
            res.prepare_payload();
            beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
            co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
            if (ec) co_return;
            ++served;

            if (!res.keep_alive()) {
                beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
                co_await stream.async_shutdown(net::redirect_error(net::use_awaitable, ec));
                co_return;
            }
            int limit = 0;
            {
                std::lock_guard lock(mu);
                limit = close_after;
            }
            if (limit > 0 && served >= limit) {
                close_abruptly(stream);
                co_return;
            }
        }
    }
};

TlsServer::TlsServer(const std::filesystem::path& cert, const std::filesystem::path& key, Handler handler)
    : impl_(std::make_unique<Impl>()) {
    impl_->handler = std::move(handler);
    impl_->ctx.use_certificate_chain_file(cert.string());
    impl_->ctx.use_private_key_file(key.string(), ssl::context::pem);

    const tcp::endpoint at(net::ip::make_address("127.0.0.1"), 0);
    impl_->acceptor.open(at.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(at);
    impl_->acceptor.listen();
    impl_->port = impl_->acceptor.local_endpoint().port();

    net::co_spawn(impl_->ioc, impl_->accept_loop(), net::detached);
    impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
}

TlsServer::~TlsServer() {
    impl_->ioc.stop();
    impl_->thread.join();
}

std::uint16_t TlsServer::port() const { return impl_->port; }

void TlsServer::set_fault(TlsServerFault fault, int count) {
    std::lock_guard lock(impl_->mu);
    impl_->fault = count == 0 ? TlsServerFault::none : fault;
    impl_->fault_count = count;
}

void TlsServer::close_after(int n) {
    std::lock_guard lock(impl_->mu);
    impl_->close_after = n;
}

int TlsServer::connections() const { return impl_->connections.load(); }
int TlsServer::closed_connections() const { return impl_->closed.load(); }
int TlsServer::requests() const { return impl_->requests.load(); }

std::vector<TestHttpRequest> TlsServer::received() const {
    std::lock_guard lock(impl_->mu);
    return impl_->received;
}

bool TlsServer::wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

}  // namespace ballast::test
