#pragma once
// The heap of a batch run (a backtest, a sweep) in transparent huge pages.
//
// A large backtest first-touches ~100 MB or more (the price quotes, the jobs' close
// series, the orders), and a paravirtualised VPS charges ~10 us for each 4 KiB page so
// touched: a tenth of a second and more. Measured (docs/performance.md): 2,400 page faults
// instead of 65,600 for a 500-symbol backtest from its CSV files, 25-50% faster.
//
// The daemon does not ask for them: a huge page is committed whole, and a small VPS's
// memory is worth more than a daily job's few milliseconds. (A kernel with transparent
// huge pages set to "always" gives them to every process anyway.)
#include <string>

namespace ballast::daemon {

// From now on, the memory tcmalloc takes from the kernel comes in mappings advised for
// huge pages (madvise MADV_HUGEPAGE); what it cannot map that way it takes as before. The
// kernel decides whether it grants huge pages: set to "never", the pages stay 4 KiB and
// nothing else changes; a kernel without them at all refuses the advice, and then nothing
// is changed. Memory the allocator already holds is left as it is. Call it before starting
// threads; a second call changes nothing. Returns what was done, for the log. With the
// system allocator (BALLAST_MALLOC=system) it does nothing.
std::string use_huge_page_heap();

}  // namespace ballast::daemon
