// Journal ingest benchmark: upserts 1,000,000 daily bars (100 symbols x 10,000 days)
// into a fresh journal in one call and prints the rate. Not part of the test run.
//   ./build/release/tests/bench/bench_ingest [DIR]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/journal.hpp"

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    const fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path();
    const fs::path db = dir / "ballast-bench-ingest.db";
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix);

    std::vector<ballast::core::Bar> bars;
    bars.reserve(1'000'000);
    for (int s = 0; s < 100; ++s) {
        const std::string symbol = "S" + std::to_string(s);
        for (int d = 0; d < 10'000; ++d) {
            const double p = 100.0 + (d % 97) * 0.25;
            bars.push_back({symbol, ballast::core::Date::from_days(d), p, p + 1, p - 1, p + 0.5, p + 0.5, 1000});
        }
    }
    auto journal = ballast::storage::Journal::open(db);
    ballast::storage::BarRepository repo(*journal);
    const auto start = std::chrono::steady_clock::now();
    repo.upsert(bars, "bench");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("ingest: %zu bars in %.3f s = %.0f bars/s (journal %s)\n", bars.size(), seconds,
                static_cast<double>(bars.size()) / seconds, db.string().c_str());
    const bool ok = repo.count() == static_cast<std::int64_t>(bars.size());
    journal.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix);
    return ok ? 0 : 1;
}
