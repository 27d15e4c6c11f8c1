#include "daemon/detail/env_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

namespace ballast::daemon::detail {
namespace {

std::string_view trim(std::string_view s) {
    const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

bool is_env_name(std::string_view key) {
    if (key.empty()) return false;
    for (std::size_t i = 0; i < key.size(); ++i) {
        const char c = key[i];
        const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        const bool digit = c >= '0' && c <= '9';
        if (!(alpha || (i > 0 && digit))) return false;
    }
    return true;
}

// One KEY=VALUE line; false when malformed.
bool parse_line(std::string_view line, std::string& key, std::string& value) {
    line = trim(line);
    if (line.starts_with("export ") || line.starts_with("export\t")) line = trim(line.substr(7));
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) return false;
    const auto k = trim(line.substr(0, eq));
    auto v = trim(line.substr(eq + 1));
    if (!is_env_name(k)) return false;
    // Quotes: both ends or neither.
    const bool opens = !v.empty() && (v.front() == '"' || v.front() == '\'');
    const bool closes = !v.empty() && (v.back() == '"' || v.back() == '\'');
    if (opens || closes) {
        if (v.size() < 2 || v.front() != v.back()) return false;
        v = v.substr(1, v.size() - 2);
    }
    key.assign(k);
    value.assign(v);
    return true;
}

}  // namespace

EnvFile parse_env_file(std::string_view text) {
    EnvFile out;
    int line_no = 0;
    while (!text.empty() || line_no == 0) {
        const auto nl = text.find('\n');
        const auto line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++line_no;
        const auto t = trim(line);
        if (t.empty() || t.front() == '#') {
            if (text.empty()) break;
            continue;
        }
        std::string key, value;
        if (parse_line(t, key, value)) out.values[key] = value;
        else out.malformed_lines.push_back(line_no);
        if (text.empty()) break;
    }
    return out;
}

std::optional<EnvFile> read_env_file(const std::filesystem::path& path, std::string& error) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        error = "is a directory";
        return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = std::strerror(errno);
        return std::nullopt;
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    if (in.bad()) {
        error = "read error";
        return std::nullopt;
    }
    return parse_env_file(buf.str());
}

}  // namespace ballast::daemon::detail
