#pragma once
// Time for the scheduler: the wall clock, or the replay clock whose virtual time jumps
// straight to the next timer. Jobs and the scheduler see only this interface, so the
// daemon and a replay run the same code.
#include <functional>
#include <memory>

#include "broker/asio.hpp"
#include "core/calendar.hpp"

namespace ballast::daemon {

class Clock {
public:
    virtual ~Clock() = default;
    virtual core::Timestamp now() const = 0;
    // Completes when now() >= t (at once if t is past). The wall clock's wait ends early,
    // with `false`, when cancel() is called; otherwise it returns true.
    virtual awaitable<bool> sleep_until(core::Timestamp t) = 0;
    virtual void cancel() {}
    virtual bool is_replay() const = 0;
};

class WallClock final : public Clock {
public:
    explicit WallClock(net::io_context& io);
    ~WallClock() override;
    core::Timestamp now() const override;
    awaitable<bool> sleep_until(core::Timestamp t) override;
    void cancel() override;
    bool is_replay() const override { return false; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class ReplayClock final : public Clock {
public:
    explicit ReplayClock(core::Timestamp start) : now_(start) {}
    core::Timestamp now() const override { return now_; }
    awaitable<bool> sleep_until(core::Timestamp t) override {
        if (t > now_) now_ = t;
        co_return true;
    }
    bool is_replay() const override { return true; }

private:
    core::Timestamp now_;
};

// Runs `body` on `io` until it finishes, then stops `io` (handlers still pending, such as
// a signal set, must not keep the process alive); rethrows the body's exception.
void run_to_completion(net::io_context& io, std::function<awaitable<void>()> body);

}  // namespace ballast::daemon
