#include "daemon/clock.hpp"

#include <exception>

#include <boost/asio/system_timer.hpp>

namespace ballast::daemon {

struct WallClock::Impl {
    explicit Impl(net::io_context& io) : timer(io) {}
    net::system_timer timer;
    bool cancelled = false;
};

WallClock::WallClock(net::io_context& io) : impl_(std::make_unique<Impl>(io)) {}
WallClock::~WallClock() = default;

core::Timestamp WallClock::now() const {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

awaitable<bool> WallClock::sleep_until(core::Timestamp t) {
    // Wake at least hourly so a changed system clock is noticed.
    while (!impl_->cancelled && now() < t) {
        const auto until = std::min<std::chrono::system_clock::time_point>(
            t, std::chrono::system_clock::now() + std::chrono::hours(1));
        impl_->timer.expires_at(until);
        boost::system::error_code ec;
        co_await impl_->timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    co_return !impl_->cancelled;
}

void WallClock::cancel() {
    impl_->cancelled = true;
    impl_->timer.cancel();
}

void run_to_completion(net::io_context& io, std::function<awaitable<void>()> body) {
    std::exception_ptr failure;
    net::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
        failure = e;
        io.stop();
    });
    io.run();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace ballast::daemon
