#pragma once
// The writer thread of a write-behind journal (Journal::open_write_behind): it applies, in
// order, the writes the repositories hand it to the journal file it owns, while the
// process goes on answering its reads from memory.
//
// Work arrives in units: one write made outside a Transaction, or every write of a
// committed outermost Transaction (a replay's batch), which the writer applies inside one
// storage::Transaction of the file. A unit either reaches the file whole or not at all.
// Units queued behind the writer are applied together in one transaction (fewer commits);
// should that fail, they are applied again one by one, so what reaches the file is the
// same as unit by unit.
// The first write the file refuses (an exception of any kind) rolls its unit back and
// stops the writer: later units are dropped, and failure() names that write from then on.
// The owner checks failure() at each commit and at sync(), so a replay stops with the
// journal's own error a few batches after the write that failed (up to about nine: the
// units being applied, four queued, the one being built), with every batch before it on
// file.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "storage/journal.hpp"

namespace ballast::storage::detail {

class Writer {
public:
    using Write = std::function<void(Journal&)>;
    using Unit = std::vector<Write>;

    // Takes `file` (a journal opened by Journal::open) to this writer's thread.
    explicit Writer(std::unique_ptr<Journal> file);
    // Applies every unit handed over, then stops the thread.
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    // Hands a unit over, in order. Waits while kMaxQueued units are waiting, so
    // a writer slower than the process keeps a bounded backlog.
    void submit(Unit unit);
    // Waits until every unit handed over is applied (or dropped after a failure).
    void wait_idle();
    // The write the file refused, if one did.
    std::optional<JournalError> failure() const;

    static constexpr std::size_t kMaxQueued = 4;

private:
    void run();
    // Applies `units` in order; returns the failure of the first write the file refused
    // (its unit rolled back, every unit before it committed), or nothing.
    std::optional<JournalError> apply(std::vector<Unit>& units);

    std::unique_ptr<Journal> file_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;   // the thread: work or stop
    std::condition_variable drained_;  // submitters and wait_idle: room or idle
    std::deque<Unit> queue_;
    // Units applied, handed back to be freed by the thread that made them (submit,
    // wait_idle): freeing another thread's allocations contends for its malloc arena.
    std::vector<Unit> applied_;
    bool busy_ = false;  // the thread is applying a unit taken off the queue
    bool stop_ = false;
    std::optional<JournalError> failure_;
    std::thread thread_;  // last: started once everything above exists
};

}  // namespace ballast::storage::detail
