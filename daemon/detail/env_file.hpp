#pragma once
// The secrets env file: KEY=VALUE lines, as read by systemd's EnvironmentFile and by
// ballast (for `ballast run` outside systemd and for check-config).
//
// Accepted per line: blank lines; `#` comment lines (leading whitespace allowed); an
// optional `export ` prefix; KEY matching [A-Za-z_][A-Za-z0-9_]*; whitespace around
// KEY and VALUE trimmed; VALUE optionally wrapped in matching single or double quotes
// (no escape processing). A later line for the same KEY wins. Anything else is a
// malformed line, reported by line number only: the line may hold a secret, so its
// text is never copied into an error.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ballast::daemon::detail {

struct EnvFile {
    std::map<std::string, std::string> values;
    std::vector<int> malformed_lines;  // 1-based line numbers
};

// Parses env file text.
EnvFile parse_env_file(std::string_view text);

// Reads and parses `path`. nullopt with `error` set (e.g. "No such file or
// directory") when the file cannot be opened or read.
std::optional<EnvFile> read_env_file(const std::filesystem::path& path, std::string& error);

}  // namespace ballast::daemon::detail
