#pragma once
// Test helpers: run the real `ballast` binary, make temp dirs and config files.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "temp_dir.hpp"

namespace ballast::test {

struct ProcessResult {
    int exit_code = -1;
    std::string output;  // stdout and stderr, interleaved
};

inline std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Runs `ballast ARGS` through /bin/sh, capturing its output (stdout and stderr, or stdout
// alone when `stderr_file` is given: stderr then goes there).
inline ProcessResult run_ballast(const std::string& args, const std::string& env = "",
                                 const std::string& stderr_file = "") {
    const std::string cmd = env + " " + shell_quote(BALLAST_BINARY) + " " + args +
                            (stderr_file.empty() ? std::string(" 2>&1") : " 2>" + shell_quote(stderr_file));
    ProcessResult r;
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (!pipe) return r;
    std::array<char, 4096> buf{};
    while (std::fgets(buf.data(), static_cast<int>(buf.size()), pipe)) r.output += buf.data();
    const int status = ::pclose(pipe);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
}

// A sim config over the bundled data with the given extra [sim]/[orders] lines.
inline std::string sim_config(const std::filesystem::path& journal, const std::string& sim_extra = "",
                              const std::string& rebalance_extra = "") {
    return "mode = \"sim\"\njournal = \"" + journal.string() +
           "\"\n[strategy]\nname = \"all-weather\"\n[strategy.weights]\nVTI = 40\nTLT = 30\nGLD = 20\nDBC = 10\n"
           "[rebalance]\ndrift_threshold = 5.0\nmin_interval_days = 30\n" +
           rebalance_extra + "[sim]\ndata_dir = \"" + std::string(BALLAST_DATA_DIR) + "\"\n" + sim_extra;
}

}  // namespace ballast::test
