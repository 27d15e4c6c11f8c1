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
        Unit unit = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
        lock.unlock();
        apply(unit);
        lock.lock();
        applied_.push_back(std::move(unit));
        busy_ = false;
        drained_.notify_all();
    }
}

void Writer::apply(Unit& unit) {
    if (failure()) return;
    std::optional<JournalError> failed;
    try {
        // One write is all or nothing by itself; several are one batch.
        if (unit.size() == 1) {
            unit.front()(*file_);
        } else {
            Transaction tx(*file_);
            for (auto& write : unit) write(*file_);
            tx.commit();
        }
    } catch (const JournalError& e) {
        failed = e;
    } catch (const std::exception& e) {
        failed = JournalError(JournalError::Kind::io, "journal " + file_->path().string() + ": " + e.what());
    } catch (...) {
        failed = JournalError(JournalError::Kind::io, "journal " + file_->path().string() + ": a write failed");
    }
    if (!failed) return;
    std::lock_guard lock(mutex_);
    failure_ = std::move(failed);
    queue_.clear();
    drained_.notify_all();
}

}  // namespace ballast::storage::detail
