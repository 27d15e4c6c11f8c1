#pragma once
// The heap of a batch run (a backtest, a sweep) in transparent huge pages.
//
// A large backtest first-touches ~100 MB (the jobs' close series, the orders, the price
// quotes) and a paravirtualised VPS charges ~10 us for each 4 KiB page so touched: a
// tenth of a second or more. With 2 MiB pages it is ~500 faults instead of ~25,000.
//
// Not for the daemon: a huge page is committed whole, and a small VPS's memory is worth
// more than a daily job's few milliseconds.
#include <string>

namespace ballast::daemon {

// From now on, the memory the allocator takes from the kernel comes in mappings advised
// for huge pages (madvise MADV_HUGEPAGE). The kernel decides whether it grants them: with
// transparent huge pages off ("never") the pages stay 4 KiB and nothing else changes.
// Memory the allocator already holds is left as it is. Call it before starting threads;
// a second call changes nothing. Returns what was done, for the log.
std::string use_huge_page_heap();

}  // namespace ballast::daemon
