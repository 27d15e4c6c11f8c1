// A batch run's heap in mappings advised for transparent huge pages (daemon/huge_pages.hpp).
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "daemon/huge_pages.hpp"

namespace {

// The VmFlags of the mapping that holds `p` (from /proc/self/smaps), or "" if none does.
std::string vm_flags_of(const void* p) {
    const auto at = reinterpret_cast<std::uintptr_t>(p);
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool inside = false;
    while (std::getline(smaps, line)) {
        std::uintptr_t lo = 0, hi = 0;
        char dash = 0;
        std::istringstream range(line);
        if (range >> std::hex >> lo >> dash >> hi && dash == '-' && line.find(':') > line.find(' ')) {
            inside = lo <= at && at < hi;  // a mapping's first line: "lo-hi perms offset dev inode path"
            continue;
        }
        if (inside && line.rfind("VmFlags:", 0) == 0) return line.substr(8);
    }
    return "";
}

}  // namespace

TEST_CASE("a batch run's new heap memory lies in mappings advised for huge pages, usable and apart", "[huge_pages]") {
    const std::string status = ballast::daemon::use_huge_page_heap();
    INFO(status);
    CHECK(ballast::daemon::use_huge_page_heap() == status);  // done once
    if (std::string(BALLAST_MALLOC_NAME) != "tcmalloc") {
        CHECK(status.find("system allocator") != std::string::npos);
        return;
    }
    // A kernel without transparent huge pages refuses the advice: nothing is changed.
    const bool advised = status == "new heap memory in mappings advised for transparent huge pages";
    if (!advised) CHECK(status.rfind("no mapping advised for huge pages (", 0) == 0);
    // More than the allocator holds free in this process (this test is alone in its own), in
    // blocks of different sizes: the third does not fit in what is left of the first mapping
    // (the rest of which is given back) and, like the fifth, is larger than a mapping of
    // 64 MiB. Every byte written and read back.
    constexpr std::size_t kMiB = std::size_t{1} << 20;
    const std::vector<std::size_t> sizes{48 * kMiB, 3 * kMiB + 12345, 70 * kMiB, 1 * kMiB, 129 * kMiB};
    std::vector<std::unique_ptr<unsigned char[]>> blocks;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        blocks.emplace_back(new unsigned char[sizes[i]]);
        std::memset(blocks.back().get(), static_cast<int>(0x11 * (i + 1)), sizes[i]);
    }
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        INFO("block " << i << " of " << sizes[i] << " bytes");
        const unsigned char* b = blocks[i].get();
        const auto want = static_cast<unsigned char>(0x11 * (i + 1));
        std::size_t wrong = 0;
        for (std::size_t k = 0; k < sizes[i]; ++k) wrong += b[k] != want;
        CHECK(wrong == 0);  // no block overlaps another
        const std::string flags = vm_flags_of(b);
        INFO("VmFlags:" << flags);
        CHECK(vm_flags_of(b + sizes[i] - 1) == flags);  // and its last byte
        if (advised) CHECK(flags.find(" hg") != std::string::npos);  // MADV_HUGEPAGE
    }
}
