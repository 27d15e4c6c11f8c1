// `ballast indicator`: the real binary over small CSV files: header, empty cells during
// warm-up, one row per bar, values, and the exit codes of bad input.
#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "../support/process.hpp"

using ballast::test::run_ballast;
using ballast::test::shell_quote;
using ballast::test::TempDir;
using ballast::test::write_file;

namespace {

// The first six bars of tests/data/ohlc-samples/2006-day-001.txt, Yahoo columns.
const char* kSmall =
    "Date,Open,High,Low,Close,Adj Close,Volume\n"
    "2006-01-02,3578.73,3605.95,3578.73,3604.33,3604.33,0\n"
    "2006-01-03,3604.08,3638.42,3601.84,3614.34,3614.34,0\n"
    "2006-01-04,3615.23,3652.46,3615.23,3652.46,3652.46,0\n"
    "2006-01-05,3652.19,3661.65,3643.17,3650.24,3650.24,0\n"
    "2006-01-06,3650.54,3666.99,3647.66,3666.99,3666.99,0\n"
    "2006-01-09,3667.10,3685.99,3667.10,3671.78,3671.78,0\n";

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

std::string sample(const std::string& name) { return std::string(BALLAST_TEST_DATA_DIR) + "/ohlc-samples/" + name; }

}  // namespace

TEST_CASE("indicator sma prints a header and one row per bar with empty warm-up cells", "[integration][cli][indicator]") {
    TempDir dir;
    write_file(dir / "small.csv", kSmall);
    const auto r = run_ballast("indicator sma --period 3 --csv " + shell_quote((dir / "small.csv").string()));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    const auto out = lines(r.output);
    REQUIRE(out.size() == 7);  // header + 6 bars
    CHECK(out[0] == "date,sma");
    CHECK(out[1] == "2006-01-02,");
    CHECK(out[2] == "2006-01-03,");
    CHECK(out[3] == "2006-01-04,3623.710000");  // (3604.33 + 3614.34 + 3652.46) / 3
    CHECK(out[4] == "2006-01-05,3639.013333");  // (3614.34 + 3652.46 + 3650.24) / 3
    CHECK(out[6] == "2006-01-09,3663.003333");  // (3650.24 + 3666.99 + 3671.78) / 3
}

TEST_CASE("indicator multi-column headers and defaults", "[integration][cli][indicator]") {
    TempDir dir;
    write_file(dir / "small.csv", kSmall);
    const auto csv = " --csv " + shell_quote((dir / "small.csv").string());

    auto r = run_ballast("indicator bollinger --period 3 --devs 0" + csv);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    auto out = lines(r.output);
    REQUIRE(out.size() == 7);
    CHECK(out[0] == "date,mid,top,bottom");
    CHECK(out[2] == "2006-01-03,,,");
    CHECK(out[3] == "2006-01-04,3623.710000,3623.710000,3623.710000");  // 0 deviations: bands on the mid

    r = run_ballast("indicator macd --fast 2 --slow 3 --signal 2" + csv);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    out = lines(r.output);
    REQUIRE(out.size() == 7);
    CHECK(out[0] == "date,macd,signal,histogram");
    CHECK(out[2] == "2006-01-03,,,");
    CHECK(out[3].rfind("2006-01-04,", 0) == 0);
    CHECK(out[3].size() > std::string("2006-01-04,,,").size());
    CHECK(out[3].substr(out[3].size() - 2) == ",,");  // macd only: the signal needs 2 macd values
    CHECK(out[4].find(",,") == std::string::npos);

    // Defaults: rsi 14 on 6 bars gives no value at all.
    r = run_ballast("indicator rsi" + csv);
    REQUIRE(r.exit_code == 0);
    out = lines(r.output);
    REQUIRE(out.size() == 7);
    CHECK(out[0] == "date,rsi");
    for (std::size_t i = 1; i < out.size(); ++i) CHECK(out[i].back() == ',');

    r = run_ballast("indicator roc --period 2" + csv);
    REQUIRE(r.exit_code == 0);
    out = lines(r.output);
    CHECK(out[0] == "date,roc");
    CHECK(out[3] == "2006-01-04,0.0133533833");  // 48.13 / 3604.33, 10 decimals for fractions
}

TEST_CASE("indicator runs every NAME over a real sample file", "[integration][cli][indicator]") {
    for (const std::string name : {"sma", "ema", "rsi", "atr", "bollinger", "macd", "momentum", "roc", "volatility"}) {
        const auto r = run_ballast("indicator " + name + " --csv " + shell_quote(sample("2006-day-001.txt")));
        INFO(name << "\n" << r.output.substr(0, 400));
        CHECK(r.exit_code == 0);
        const auto out = lines(r.output);
        CHECK(out.size() == 256);  // header + 255 bars
        CHECK(out[0].rfind("date," + std::string(name == "bollinger" ? "mid" : name), 0) == 0);
        CHECK(out.back().rfind("2006-12-29,", 0) == 0);
        CHECK(out.back().find("nan") == std::string::npos);
    }
}

TEST_CASE("indicator refuses bad input with a precise error and exit 64 or 65", "[integration][cli][indicator]") {
    TempDir dir;
    write_file(dir / "small.csv", kSmall);
    const auto csv = " --csv " + shell_quote((dir / "small.csv").string());
    const std::vector<std::tuple<std::string, int, std::string>> cases{
        {"indicator smaa" + csv, 64, "unknown indicator 'smaa'"},
        {"indicator sma --period 0" + csv, 64, "--period: 0 is out of range"},
        {"indicator sma --period abc" + csv, 64, "abc"},
        {"indicator volatility --period 1" + csv, 64, "volatility needs 2"},
        {"indicator sma --devs 2" + csv, 64, "--devs applies only to bollinger"},
        {"indicator macd --period 5" + csv, 64, "--period does not apply to macd"},
        {"indicator macd --fast 26 --slow 12" + csv, 64, "--fast 26 must be less than --slow 12"},
        {"indicator bollinger --devs -1" + csv, 64, "--devs: -1"},
        {"indicator sma", 64, "--csv"},
        {"indicator sma --csv " + shell_quote((dir / "missing.csv").string()), 65, "missing.csv: no such price file"},
    };
    for (const auto& [args, code, needle] : cases) {
        const auto r = run_ballast(args);
        INFO(args << "\n" << r.output);
        CHECK(r.exit_code == code);
        CHECK(r.output.find(needle) != std::string::npos);
    }

    // A malformed row: the file, line, column and value are named; nothing is printed on stdout.
    write_file(dir / "bad.csv", std::string(kSmall) + "2006-01-10,3671.23,3671.23,3638.77,abc,3644.94,0\n");
    const auto r = run_ballast("indicator sma --csv " + shell_quote((dir / "bad.csv").string()));
    INFO(r.output);
    CHECK(r.exit_code == 65);
    CHECK(r.output.find("bad.csv:8: Close: 'abc' is not a number") != std::string::npos);
    CHECK(r.output.find("date,sma") == std::string::npos);
}
