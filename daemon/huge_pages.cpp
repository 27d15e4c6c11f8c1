#include "daemon/huge_pages.hpp"

#include <algorithm>
#include <cstdint>
#include <new>

#if BALLAST_TCMALLOC
#include <sys/mman.h>

#include <gperftools/malloc_extension.h>
#endif

namespace ballast::daemon {

#if BALLAST_TCMALLOC
namespace {

constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
// Address space reserved at a time. Only what the allocator touches becomes memory; the
// rest of a reservation costs nothing but addresses.
constexpr std::uintptr_t kReservation = std::uintptr_t{64} << 20;

constexpr std::uintptr_t round_up(std::uintptr_t n, std::uintptr_t to) { return (n + to - 1) / to * to; }

// tcmalloc's source of memory: hands out consecutive pieces of mappings that start on a
// 2 MiB boundary and are advised for huge pages. tcmalloc calls it under its own lock,
// with sizes of whole pages of its own, and never gives the memory back by unmapping it
// (it returns memory with madvise, which works on these mappings as on any). Whatever it
// cannot map goes to the allocator it replaced.
class HugePageSystemAllocator final : public SysAllocator {
public:
    explicit HugePageSystemAllocator(SysAllocator* fallback) : fallback_(fallback) {}

    void* Alloc(std::size_t size, std::size_t* actual_size, std::size_t alignment) override {
        const std::uintptr_t align = std::max<std::uintptr_t>(alignment, 1);
        std::uintptr_t at = round_up(next_, align);
        if (next_ == 0 || at < next_ || at > end_ || size > end_ - at) {
            if (!reserve(size + align)) return fallback_ ? fallback_->Alloc(size, actual_size, alignment) : nullptr;
            at = round_up(next_, align);
        }
        next_ = at + size;
        if (actual_size) *actual_size = size;
        return reinterpret_cast<void*>(at);
    }

private:
    // A new reservation of at least `bytes` (what is left of the previous one stays unused).
    bool reserve(std::uintptr_t bytes) {
        if (bytes > (std::uintptr_t{1} << 46)) return false;  // no such mapping: let the fallback refuse it
        const std::uintptr_t length = round_up(std::max(bytes, kReservation), kHugePage);
        // Mapped a huge page longer than needed, so that it can start on a 2 MiB boundary;
        // the unaligned head and the rest of the tail are unmapped.
        void* p = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return false;
        const auto raw = reinterpret_cast<std::uintptr_t>(p);
        const std::uintptr_t start = round_up(raw, kHugePage);
        if (start > raw) munmap(p, start - raw);
        munmap(reinterpret_cast<void*>(start + length), raw + kHugePage - start);  // never empty: start - raw < 2 MiB
        // Advice only: where the kernel has no huge pages to give, the pages stay 4 KiB.
        madvise(reinterpret_cast<void*>(start), length, MADV_HUGEPAGE);
        next_ = start;
        end_ = start + length;
        return true;
    }

    SysAllocator* fallback_;
    std::uintptr_t next_ = 0;
    std::uintptr_t end_ = 0;
};

}  // namespace

std::string use_huge_page_heap() {
    static const std::string done = [] {
        MallocExtension* tcmalloc = MallocExtension::instance();
        SysAllocator* previous = tcmalloc->GetSystemAllocator();
        if (!previous) return std::string("the allocator takes no other source of memory: 4 KiB pages");
        // Never destroyed: tcmalloc may take memory until the process's very end.
        alignas(HugePageSystemAllocator) static unsigned char storage[sizeof(HugePageSystemAllocator)];
        tcmalloc->SetSystemAllocator(new (storage) HugePageSystemAllocator(previous));
        return std::string("new heap memory in mappings advised for transparent huge pages");
    }();
    return done;
}
#else
std::string use_huge_page_heap() {
    return "the system allocator (BALLAST_MALLOC=system) keeps its own pages: 4 KiB pages";
}
#endif

}  // namespace ballast::daemon
