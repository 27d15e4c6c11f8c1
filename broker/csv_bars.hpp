#pragma once
// Reading daily bars from Yahoo-format CSV files. Columns are found by header name
// (Date, Open, High, Low, Close, Volume, Adj Close; others are ignored; Adj Close and
// Volume are optional). Every row is validated: a strict YYYY-MM-DD date, ascending
// without duplicates, finite positive prices, low <= open, close <= high. The first
// problem is reported with the file, line, column and value.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.hpp"

namespace ballast::broker {

// Parses CSV text; `source` names it in errors ("data/VTI.csv").
Result<std::vector<core::Bar>> parse_yahoo_csv(std::string_view text, const core::Symbol& symbol,
                                               const std::string& source);
// Reads and parses a file. Kind::bad_data for unreadable or malformed files.
Result<std::vector<core::Bar>> read_yahoo_csv(const std::filesystem::path& file, const core::Symbol& symbol);

}  // namespace ballast::broker
