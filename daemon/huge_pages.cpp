#include "daemon/huge_pages.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>

#if BALLAST_TCMALLOC
#include <sys/mman.h>
#include <unistd.h>

#include <gperftools/malloc_extension.h>
#endif

namespace ballast::daemon {

#if BALLAST_TCMALLOC
namespace {

constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
// Mapped at a time (more for a larger request). Only what the allocator touches becomes
// memory, but a mapping counts whole against the commit limit where the kernel keeps one
// (vm.overcommit_memory = 2) and against RLIMIT_AS; the unused rest of a mapping is
// unmapped when a request does not fit in it.
constexpr std::uintptr_t kMapping = std::uintptr_t{64} << 20;

constexpr std::uintptr_t round_up(std::uintptr_t n, std::uintptr_t to) { return (n + to - 1) / to * to; }

// tcmalloc's source of memory: hands out consecutive pieces of mappings that start on a
// 2 MiB boundary and are advised for huge pages. tcmalloc calls it under a lock of its own
// (TCMalloc_SystemAlloc), with any size and an alignment of at least 16 bytes, and never
// unmaps what it got (it gives memory back with madvise, which works on these mappings as
// on any). What cannot be mapped goes to the allocator this one replaced.
class HugePageSystemAllocator final : public SysAllocator {
public:
    explicit HugePageSystemAllocator(SysAllocator* fallback) : fallback_(fallback) {}

    void* Alloc(std::size_t size, std::size_t* actual_size, std::size_t alignment) override {
        const std::uintptr_t align = std::max<std::uintptr_t>(alignment, 1);
        std::uintptr_t at = round_up(next_, align);
        if (next_ == 0 || at < next_ || at > end_ || size > end_ - at) {
            if (size > (std::uintptr_t{1} << 46) || map(size + align) != 0)
                return fallback_ ? fallback_->Alloc(size, actual_size, alignment) : nullptr;
            at = round_up(next_, align);
        }
        next_ = at + size;
        if (actual_size) *actual_size = size;
        return reinterpret_cast<void*>(at);
    }

    // A new mapping of at least `bytes`, replacing the current one; 0 or the errno of the
    // call that failed (the mapping, or the advice: then nothing is kept).
    int map(std::uintptr_t bytes) {
        const std::uintptr_t length = round_up(std::max(bytes, kMapping), kHugePage);
        // Mapped a huge page longer than needed, so that it can start on a 2 MiB boundary;
        // the unaligned head and the rest of the tail are unmapped.
        void* p = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return errno != 0 ? errno : ENOMEM;
        const auto raw = reinterpret_cast<std::uintptr_t>(p);
        const std::uintptr_t start = round_up(raw, kHugePage);
        if (start > raw) munmap(p, start - raw);
        munmap(reinterpret_cast<void*>(start + length), raw + kHugePage - start);  // never empty: start - raw < 2 MiB
        if (madvise(reinterpret_cast<void*>(start), length, MADV_HUGEPAGE) != 0) {
            const int error = errno;  // no transparent huge pages in this kernel
            munmap(reinterpret_cast<void*>(start), length);
            return error;
        }
        // What is left of the current mapping is never touched: given back.
        const std::uintptr_t page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
        const std::uintptr_t unused = round_up(next_, page);
        if (next_ != 0 && unused < end_) munmap(reinterpret_cast<void*>(unused), end_ - unused);
        next_ = start;
        end_ = start + length;
        return 0;
    }

private:
    SysAllocator* fallback_;
    std::uintptr_t next_ = 0;
    std::uintptr_t end_ = 0;
};

}  // namespace

std::string use_huge_page_heap() {
    static const std::string done = []() -> std::string {
        MallocExtension* tcmalloc = MallocExtension::instance();
        SysAllocator* previous = tcmalloc->GetSystemAllocator();
        if (!previous) return "the allocator takes no other source of memory: 4 KiB pages";
        // Never destroyed: tcmalloc may take memory until the process's very end.
        alignas(HugePageSystemAllocator) static unsigned char storage[sizeof(HugePageSystemAllocator)];
        auto* mine = new (storage) HugePageSystemAllocator(previous);
        // The first mapping now, so that a kernel without huge pages is known before use.
        if (const int error = mine->map(kMapping); error != 0)
            return std::string("no mapping advised for huge pages (") + std::strerror(error) + "): 4 KiB pages";
        tcmalloc->SetSystemAllocator(mine);
        return "new heap memory in mappings advised for transparent huge pages";
    }();
    return done;
}
#else
std::string use_huge_page_heap() {
    return "the system allocator (BALLAST_MALLOC=system) keeps its own pages: 4 KiB pages";
}
#endif

}  // namespace ballast::daemon
