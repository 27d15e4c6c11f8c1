#include "storage/detail/writer.hpp"

#include <exception>
#include <utility>

namespace ballast::storage::detail {

Writer::Writer(std::unique_ptr<Journal> file) : file_(std::move(file)), thread_([this] { run(); }) {}

Writer::~Writer() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void Writer::submit(Unit unit) {
    if (unit.empty()) return;
    std::vector<Unit> applied;
    std::unique_lock lock(mutex_);
    drained_.wait(lock, [&] { return queue_.size() < kMaxQueued || failure_; });
    applied.swap(applied_);
    if (!failure_) queue_.push_back(std::move(unit));  // else dropped: nothing reaches the file after a refused write
    lock.unlock();
    wake_.notify_one();
}  // `unit` (if dropped) and the applied units are freed here, on the caller's thread

void Writer::wait_idle() {
    std::vector<Unit> applied;
    std::unique_lock lock(mutex_);
    drained_.wait(lock, [&] { return queue_.empty() && !busy_; });
    applied.swap(applied_);
}

std::optional<JournalError> Writer::failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
}

void Writer::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything handed over is done
        // Everything queued behind: applied together (see apply).
        std::vector<Unit> units;
        while (!queue_.empty()) {
            units.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        busy_ = true;
        drained_.notify_all();  // room in the queue again
        lock.unlock();
        auto failed = apply(units);
        lock.lock();
        for (auto& unit : units) applied_.push_back(std::move(unit));
        if (failed) {
            failure_ = std::move(failed);
            for (auto& unit : queue_) applied_.push_back(std::move(unit));
            queue_.clear();
        }
        busy_ = false;
        drained_.notify_all();
    }
}

std::optional<JournalError> Writer::apply(std::vector<Unit>& units) {
    const auto attempt = [&](std::size_t first, std::size_t last) -> std::optional<JournalError> {
        try {
            // Always a transaction, a single write too: a write whose id check fails after
            // it ran (same_id in storage/repositories.cpp) is undone with it.
            Transaction tx(*file_);
            for (std::size_t u = first; u < last; ++u)
                for (auto& write : units[u]) write(*file_);
            tx.commit();
            return std::nullopt;
        } catch (const JournalError& e) {
            return e;
        } catch (const std::exception& e) {
            return JournalError(JournalError::Kind::io, "journal " + file_->path().string() + ": " + e.what());
        } catch (...) {
            return JournalError(JournalError::Kind::io, "journal " + file_->path().string() + ": a write failed");
        }
    };
    // Several units queued behind: one transaction for all of them (a commit writes every
    // page it changed, so fewer commits write less). If it fails, nothing of it is on file:
    // the units are then applied again one by one, so that each one before the failing one
    // is committed as it would have been, and the failure is the failing unit's own.
    if (units.size() > 1 && !attempt(0, units.size())) return std::nullopt;
    for (std::size_t u = 0; u < units.size(); ++u)
        if (auto failed = attempt(u, u + 1)) return failed;
    return std::nullopt;
}

}  // namespace ballast::storage::detail
