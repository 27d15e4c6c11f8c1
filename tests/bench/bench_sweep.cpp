// Sweep benchmark: `ballast backtest --sweep` over the bundled ETFs (All Weather, drift
// rebalancing) on a grid of POINTS drift thresholds, and how well it spreads over the
// cores: CPU time of the process / wall time (2.0 = both cores busy on this machine).
//   ./build/release/tests/bench/bench_sweep [POINTS]   (default 1000; try 20 for a quick look)
#include <sys/resource.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

int main(int argc, char** argv) {
    const int points = argc > 1 ? std::atoi(argv[1]) : 1000;
    if (points < 1) return 64;
    // drift_threshold from 1% in steps small enough to give `points` values.
    char spec[128];
    std::snprintf(spec, sizeof spec, "drift_threshold=1:%.4f:%.4f", 1.0 + 0.01 * (points - 1), 0.01);
    const std::string cmd = std::string("'") + BALLAST_BINARY + "' backtest --config '" + BALLAST_SOURCE_DIR +
                            "/config.toml' --sweep " + spec + " --json --top 1 2>/dev/null";
    const auto start = std::chrono::steady_clock::now();
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (!pipe) return 1;
    std::string out;
    std::array<char, 4096> buf{};
    while (std::fgets(buf.data(), static_cast<int>(buf.size()), pipe)) out += buf.data();
    const int status = ::pclose(pipe);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rusage usage{};
    ::getrusage(RUSAGE_CHILDREN, &usage);
    const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    std::printf("sweep bench: %d points (%s), %u hardware threads\n", points, spec,
                std::thread::hardware_concurrency());
    std::printf("  wall %.2f s, CPU %.2f s, CPU/wall %.2f, %.3f s per point\n", wall, cpu, cpu / wall, wall / points);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::printf("  ballast backtest failed (status %d)\n", status);
        return 1;
    }
    return 0;
}
