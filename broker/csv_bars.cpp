#include "broker/csv_bars.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace ballast::broker {
namespace {

// The fields of `line` into `out` (reused from line to line).
void split_fields(std::string_view line, std::vector<std::string_view>& out) {
    out.clear();
    std::size_t start = 0;
    while (true) {
        const auto comma = line.find(',', start);
        out.push_back(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    return s;
}

BrokerError bad(const std::string& source, std::size_t line, const std::string& what) {
    return {BrokerError::Kind::bad_data, source + ":" + std::to_string(line) + ": " + what};
}

}  // namespace

Result<std::vector<core::Bar>> parse_yahoo_csv(std::string_view text, const core::Symbol& symbol,
                                               const std::string& source) {
    std::vector<core::Bar> bars;
    bars.reserve(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
    std::vector<std::string_view> fields;
    std::size_t line_no = 0;
    std::size_t pos = 0;
    int c_date = -1, c_open = -1, c_high = -1, c_low = -1, c_close = -1, c_adj = -1, c_volume = -1;
    std::size_t header_fields = 0;
    while (pos < text.size()) {
        const auto nl = text.find('\n', pos);
        const std::string_view line = trim(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        ++line_no;
        if (line.empty()) continue;
        split_fields(line, fields);
        if (header_fields == 0) {
            // Header: find the columns by name.
            for (std::size_t i = 0; i < fields.size(); ++i) {
                const auto name = trim(fields[i]);
                auto set = [&](int& c) {
                    if (c >= 0) return false;
                    c = static_cast<int>(i);
                    return true;
                };
                bool fresh = true;
                if (name == "Date") fresh = set(c_date);
                else if (name == "Open") fresh = set(c_open);
                else if (name == "High") fresh = set(c_high);
                else if (name == "Low") fresh = set(c_low);
                else if (name == "Close") fresh = set(c_close);
                else if (name == "Adj Close") fresh = set(c_adj);
                else if (name == "Volume") fresh = set(c_volume);
                if (!fresh) return bad(source, line_no, "duplicate column '" + std::string(name) + "' in the header");
            }
            for (auto [c, name] : {std::pair{c_date, "Date"}, {c_open, "Open"}, {c_high, "High"}, {c_low, "Low"},
                                   {c_close, "Close"}})
                if (c < 0)
                    return bad(source, line_no,
                               std::string("header has no '") + name +
                                   "' column (expected Date,Open,High,Low,Close[,Adj Close][,Volume])");
            header_fields = fields.size();
            continue;
        }
        if (fields.size() != header_fields)
            return bad(source, line_no,
                       "expected " + std::to_string(header_fields) + " fields, found " + std::to_string(fields.size()));
        core::Bar bar;
        bar.symbol = symbol;
        const auto date_text = trim(fields[static_cast<std::size_t>(c_date)]);
        const auto date = core::Date::parse(date_text);
        if (!date) return bad(source, line_no, "Date: '" + std::string(date_text) + "' is not a YYYY-MM-DD date");
        bar.date = *date;
        auto number = [&](int c, const char* name, double& out, bool required) -> std::optional<BrokerError> {
            if (c < 0) return std::nullopt;
            const auto t = trim(fields[static_cast<std::size_t>(c)]);
            if (t.empty() && !required) return std::nullopt;
            const auto r = std::from_chars(t.data(), t.data() + t.size(), out);
            if (r.ec != std::errc{} || r.ptr != t.data() + t.size() || !std::isfinite(out))
                return bad(source, line_no, std::string(name) + ": '" + std::string(t) + "' is not a number");
            return std::nullopt;
        };
        for (auto [c, name, out, required] :
             {std::tuple{c_open, "Open", &bar.open, true}, {c_high, "High", &bar.high, true},
              {c_low, "Low", &bar.low, true}, {c_close, "Close", &bar.close, true},
              {c_adj, "Adj Close", &bar.adj_close, true}, {c_volume, "Volume", &bar.volume, false}})
            if (auto e = number(c, name, *out, required)) return *e;
        if (c_adj < 0) bar.adj_close = bar.close;
        for (auto [v, name] : {std::pair{bar.open, "Open"}, {bar.high, "High"}, {bar.low, "Low"}, {bar.close, "Close"},
                               {bar.adj_close, "Adj Close"}})
            if (!(v > 0)) {
                std::ostringstream os;
                os << name << ": " << v << " is not a positive price";
                return bad(source, line_no, os.str());
            }
        if (bar.volume < 0) return bad(source, line_no, "Volume: negative");
        if (bar.low > bar.open || bar.low > bar.close || bar.high < bar.open || bar.high < bar.close ||
            bar.low > bar.high) {
            std::ostringstream os;
            os.precision(10);
            os << "inconsistent OHLC on " << bar.date.to_string() << ": open " << bar.open << ", high " << bar.high
               << ", low " << bar.low << ", close " << bar.close << " (expected low <= open, close <= high)";
            return bad(source, line_no, os.str());
        }
        if (!bars.empty() && bars.back().date >= bar.date)
            return bad(source, line_no,
                       "Date: " + bar.date.to_string() + (bars.back().date == bar.date ? " is a duplicate" : " is out of order") +
                           " (previous row is " + bars.back().date.to_string() + ")");
        bars.push_back(std::move(bar));
    }
    if (header_fields == 0) return BrokerError{BrokerError::Kind::bad_data, source + ": empty file, expected a CSV header"};
    return bars;
}

Result<std::vector<core::Bar>> read_yahoo_csv(const std::filesystem::path& file, const core::Symbol& symbol) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return BrokerError{BrokerError::Kind::bad_data, file.string() + ": cannot open the price file for " + symbol};
    std::string text;
    std::error_code ec;
    // The file's size read straight into the text (no copy through a buffer), then
    // whatever it grew by since, in chunks.
    if (const auto size = std::filesystem::file_size(file, ec); !ec && size > 0) {
        text.resize(static_cast<std::size_t>(size));
        in.read(text.data(), static_cast<std::streamsize>(size));
        text.resize(static_cast<std::size_t>(in.gcount()));
    }
    static thread_local char chunk[1 << 16];
    if (in) while (in.read(chunk, sizeof chunk) || in.gcount() > 0) text.append(chunk, static_cast<std::size_t>(in.gcount()));
    if (in.bad()) return BrokerError{BrokerError::Kind::bad_data, file.string() + ": cannot read the price file for " + symbol};
    return parse_yahoo_csv(text, symbol, file.string());
}

}  // namespace ballast::broker
