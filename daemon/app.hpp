#pragma once
// The `ballast` commands. Each returns the process exit code (see docs/cli.md):
//   0 success; 1 the chain failed for the session (journaled); 64 usage error;
//   65 bad market data (CSV); 70 internal error; 74 journal error; 75 journal in use by
//   another ballast process; 78 config error.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace spdlog {
class logger;
}

namespace ballast::daemon {

inline constexpr int kExitOk = 0;
inline constexpr int kExitChainFailed = 1;
inline constexpr int kExitUsage = 64;
inline constexpr int kExitData = 65;
inline constexpr int kExitInternal = 70;
inline constexpr int kExitJournal = 74;
inline constexpr int kExitBusy = 75;  // another ballast process trades from this journal

struct CommonOptions {
    std::optional<std::filesystem::path> config;  // --config
    bool verbose = false;                         // -v: debug logging
};

struct DemoOptions {
    CommonOptions common;
    std::filesystem::path journal = "ballast-demo.db";
    std::optional<std::string> from, to;  // YYYY-MM-DD
    bool quiet = false;                   // no progress lines
};

struct OnceOptions {
    CommonOptions common;
    bool dry_run = false;
    bool live = false;                   // confirms mode = "live"
    std::optional<std::string> session;  // YYYY-MM-DD; default: the latest closed session
};

struct RunOptions {
    CommonOptions common;
    bool live = false;    // confirms mode = "live"
    bool replay = false;  // sim only: replay the sim window on the virtual clock
};

// The configuration file: --config, then $BALLAST_CONFIG, ./config.toml,
// /etc/ballast/config.toml; with `with_source_default` (demo, backtest) the source tree's
// config.toml comes before /etc. nullopt when none exists.
std::optional<std::filesystem::path> find_config(const CommonOptions& options, bool with_source_default);

// The process logger on stderr: debug with `verbose`, else info (nothing with `silent`).
std::shared_ptr<spdlog::logger> make_logger(bool verbose, bool silent = false);
// Removes a journal file and its -wal and -shm companions (missing ones are fine).
void remove_journal_files(const std::filesystem::path& journal);

// The current UTC time as ISO-8601 text.
std::string now_utc_text();

int cmd_demo(const DemoOptions& options);
int cmd_once(const OnceOptions& options);
int cmd_run(const RunOptions& options);
int cmd_check_config(const CommonOptions& options);
int cmd_migrate(const CommonOptions& options);
int cmd_halt(const CommonOptions& options, const std::string& reason);
int cmd_resume(const CommonOptions& options);

}  // namespace ballast::daemon
