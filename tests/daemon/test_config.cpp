#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>

#include "daemon/config.hpp"
#include "daemon/detail/env_file.hpp"

using namespace ballast::daemon;
using ballast::core::Decimal;
namespace fs = std::filesystem;

namespace {

using Env = std::map<std::string, std::string>;

const fs::path kDir = fs::path(BALLAST_TEST_DATA_DIR) / "config";

LoadResult load_fixture(const std::string& name, const Env& env = {}) { return load_config(kDir / name, env); }

// The fixture's path as it appears at the start of messages.
std::string at(const std::string& name, const std::string& line_col) { return (kDir / name).string() + ":" + line_col + ": "; }

std::string all_messages(const LoadResult& r) {
    std::string out;
    for (const auto& e : r.errors) out += e.message + "\n";
    return out;
}

bool has(const LoadResult& r, const std::string& needle) {
    for (const auto& e : r.errors) {
        if (e.message.find(needle) != std::string::npos) return true;
    }
    return false;
}

Decimal dec(const char* s) { return Decimal::parse(s).value(); }

constexpr const char* kWeights = "[strategy.weights]\nVTI = 40\nTLT = 30\nGLD = 20\nDBC = 10\n";

// A document made of `head`, the standard weights and `tail`.
LoadResult load_text(const std::string& head, const std::string& tail = "", const Env& env = {}) {
    return load_config_string(head + kWeights + tail, "/srv/ballast/config.toml", env);
}

const Env kKeys{{"APCA_API_KEY_ID", "PKFROMENV"}, {"APCA_API_SECRET_KEY", "env-secret-value"}};

}  // namespace

TEST_CASE("the shipped config.toml loads with exact weights", "[daemon][config]") {
    const auto r = load_config(BALLAST_TEST_DATA_DIR "/../../config.toml", {});
    INFO(all_messages(r));
    REQUIRE(r.errors.empty());
    REQUIRE(r.config);
    const auto& c = *r.config;
    CHECK(c.mode == Mode::sim);
    REQUIRE(c.strategy.weights.size() == 4);
    CHECK(c.strategy.weights.at("VTI") == dec("0.4"));
    CHECK(c.strategy.weights.at("TLT") == dec("0.3"));
    CHECK(c.strategy.weights.at("GLD") == dec("0.2"));
    CHECK(c.strategy.weights.at("DBC") == dec("0.1"));
    CHECK(c.rebalance.drift_threshold == Approx(0.05));
    CHECK(c.rebalance.min_interval_days == 30);
    CHECK(c.orders.planner.cash_reserve == dec("0.005"));
    CHECK(c.orders.planner.min_order_notional == dec("10"));
    CHECK(c.risk.max_order_fraction == dec("0.5"));
    CHECK(c.risk.max_position_fraction == dec("0.6"));
    CHECK(c.schedule.rebalance.to_string() == "16:50");
    CHECK(c.sim.initial_cash == dec("100000"));
    CHECK(c.sim.data_dir.is_absolute());
    CHECK(fs::is_directory(c.sim.data_dir));  // the bundled history
    CHECK_FALSE(c.env_file);
}

TEST_CASE("missing sections and keys take the documented defaults", "[daemon][config]") {
    const auto r = load_fixture("good_minimal.toml");
    INFO(all_messages(r));
    REQUIRE(r.config);
    const auto& c = *r.config;
    const Config defaults;
    CHECK(c.mode == Mode::sim);
    CHECK(c.strategy.name == "all-weather");
    CHECK(c.rebalance.drift_threshold == defaults.rebalance.drift_threshold);
    CHECK(c.rebalance.calendar == defaults.rebalance.calendar);
    CHECK(c.orders.planner.qty_decimals == 6);
    CHECK(c.orders.planner.cash_reserve == defaults.orders.planner.cash_reserve);
    CHECK(c.risk.max_position_fraction == defaults.risk.max_position_fraction);
    CHECK(c.schedule.data_update.to_string() == "16:30");
    CHECK(c.sim.slippage_bps == 5.0);
    CHECK(c.sim.fill == FillModel::next_open);
    CHECK(c.sim.price_field == PriceField::adj_close);
    CHECK(c.journal == (kDir / "ballast.db").lexically_normal());
    CHECK(c.sim.data_dir == (kDir / "data").lexically_normal());
    CHECK(c.sim.state_file == (kDir / "ballast.db.sim.json").lexically_normal());
    CHECK_FALSE(c.sim.start);
}

TEST_CASE("relative paths resolve against the config file's directory", "[daemon][config]") {
    const auto r = load_text(
        "journal = \"../var/journal.db\"\n",
        "[sim]\ndata_dir = \"prices\"\nstate_file = \"/var/lib/ballast/sim.json\"\n");
    INFO(all_messages(r));
    REQUIRE(r.config);
    CHECK(r.config->source == fs::path("/srv/ballast/config.toml"));
    CHECK(r.config->journal == fs::path("/srv/var/journal.db"));
    CHECK(r.config->sim.data_dir == fs::path("/srv/ballast/prices"));
    CHECK(r.config->sim.state_file == fs::path("/var/lib/ballast/sim.json"));

    // The default state file follows the journal.
    const auto d = load_text("journal = \"state/j.db\"\n");
    REQUIRE(d.config);
    CHECK(d.config->sim.state_file == fs::path("/srv/ballast/state/j.db.sim.json"));

    const auto p = load_fixture("good_paper.toml", kKeys);
    REQUIRE(p.config);
    CHECK(p.config->journal == (kDir / "state/paper.db").lexically_normal());
    CHECK(*p.config->env_file == (kDir / "good_paper.env").lexically_normal());
}

TEST_CASE("numbers may be integers or floats and percents become exact fractions", "[daemon][config]") {
    const auto r = load_config_string(
        "[strategy.weights]\nA = 33.333333\nB = 33.333333\nC = 33.333334\n"
        "[rebalance]\ndrift_threshold = 7\n"
        "[orders]\nmin_order_notional = 12.5\ncash_reserve = 1\n"
        "[sim]\ninitial_cash = 2500.75\nstart = 2010-01-04\nend = \"2020-12-31\"\n"
        "[schedule]\ndata_update = 09:00:00\n",
        "x.toml", {});
    INFO(all_messages(r));
    REQUIRE(r.config);
    const auto& c = *r.config;
    CHECK(c.strategy.weights.at("A") == dec("0.33333333"));
    CHECK(c.strategy.weights.at("C") == dec("0.33333334"));
    CHECK(c.rebalance.drift_threshold == Approx(0.07));
    CHECK(c.orders.planner.min_order_notional == dec("12.5"));
    CHECK(c.orders.planner.cash_reserve == dec("0.01"));
    CHECK(c.sim.initial_cash == dec("2500.75"));
    CHECK(c.sim.start->to_string() == "2010-01-04");
    CHECK(c.sim.end->to_string() == "2020-12-31");
    CHECK(c.schedule.data_update.to_string() == "09:00");
}

TEST_CASE("unknown key is reported with a suggestion", "[daemon][config]") {
    const auto r = load_fixture("bad_unknown_key.toml");
    REQUIRE_FALSE(r.config);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message == at("bad_unknown_key.toml", "8:1") +
                                     "rebalance.drift_treshold: unknown key; did you mean 'drift_threshold'?");

    const auto t = load_fixture("bad_unknown_table.toml");
    REQUIRE(t.errors.size() == 1);
    CHECK(t.errors[0].message ==
          at("bad_unknown_table.toml", "7:2") + "rebalanse: unknown table; did you mean 'rebalance'?");

    // Nothing close: no suggestion.
    const auto n = load_text("[orders]\nzzzzzzzz = 1\n");
    REQUIRE(n.errors.size() == 1);
    CHECK(n.errors[0].message == "/srv/ballast/config.toml:2:1: orders.zzzzzzzz: unknown key");
}

TEST_CASE("wrong type names the value found and the type expected", "[daemon][config]") {
    const auto r = load_fixture("bad_wrong_type.toml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message ==
          at("bad_wrong_type.toml", "8:21") + "rebalance.min_interval_days: expected an integer, found string \"30\"");

    const auto s = load_text("", "[orders]\nfractional = \"no\"\nmin_order_notional = \"10\"\n[risk]\nmax_order_pct = [1]\n");
    CHECK(has(s, ":7:14: orders.fractional: expected a boolean (true or false), found string \"no\""));
    CHECK(has(s, ":8:22: orders.min_order_notional: expected a number, found string \"10\""));
    CHECK(has(s, ":10:17: risk.max_order_pct: expected a number, found an array"));

    const auto t = load_config_string("rebalance = 5\n", "x.toml", {});
    CHECK(has(t, "x.toml:1:13: rebalance: expected a table, found integer 5"));
}

TEST_CASE("weights must sum to 100 percent", "[daemon][config]") {
    const auto r = load_fixture("bad_weights_sum.toml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message ==
          at("bad_weights_sum.toml", "1:1") + "strategy.weights: weights sum to 95.00%, expected 100% (±0.01%)");

    // Within the tolerance is fine.
    CHECK(load_config_string("[strategy.weights]\nA = 50.005\nB = 50\n", "x.toml", {}).config);
    CHECK_FALSE(load_config_string("[strategy.weights]\nA = 50.02\nB = 50\n", "x.toml", {}).config);
}

TEST_CASE("each weight is above 0 and at most 100 and within the position limit", "[daemon][config]") {
    const auto r = load_fixture("bad_weight_range.toml");
    REQUIRE(r.errors.size() == 3);
    CHECK(r.errors[0].message ==
          at("bad_weight_range.toml", "2:7") + "strategy.weights.VTI: expected a percentage in (0, 100], found 120");
    CHECK(r.errors[1].message ==
          at("bad_weight_range.toml", "3:7") + "strategy.weights.TLT: expected a percentage in (0, 100], found -10");

    CHECK(has(load_config_string("[strategy.weights]\nA = 0\nB = 100\n", "x.toml", {}),
              "x.toml:2:5: strategy.weights.A: expected a percentage in (0, 100], found 0"));

    const auto l = load_fixture("bad_weight_over_limit.toml");
    REQUIRE(l.errors.size() == 1);
    CHECK(l.errors[0].message == at("bad_weight_over_limit.toml", "2:7") +
                                     "strategy.weights.VTI: weight 70% exceeds risk.max_position_pct 60% (line 6)");
}

TEST_CASE("symbols must look like uppercase tickers", "[daemon][config]") {
    const auto r = load_fixture("bad_symbol.toml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message == at("bad_symbol.toml", "2:1") +
                                     "strategy.weights.\"BRK/B\": expected a ticker symbol of 1-10 uppercase "
                                     "characters A-Z 0-9 . -, found \"BRK/B\"");
    CHECK(load_config_string("[strategy.weights]\n\"BRK.B\" = 50\nBF-B = 50\n", "x.toml", {}).config);
    CHECK(has(load_config_string("[strategy.weights]\nABCDEFGHIJK = 100\n", "x.toml", {}), "ABCDEFGHIJK"));

    const auto m = load_fixture("bad_missing_weights.toml");
    REQUIRE(m.errors.size() == 1);
    CHECK(m.errors[0].message.starts_with(at("bad_missing_weights.toml", "3:1") + "strategy.weights: missing"));
    CHECK(has(load_config_string("", "empty.toml", {}), "empty.toml:1:1: strategy.weights: missing"));
}

TEST_CASE("duplicate symbols are rejected also case-insensitively", "[daemon][config]") {
    // TOML itself: toml++'s parse error in file:line:column form.
    const auto r = load_fixture("bad_duplicate_symbol.toml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message.starts_with(at("bad_duplicate_symbol.toml", "5:7")));
    CHECK(r.errors[0].message.find("'VTI'") != std::string::npos);

    const auto c = load_fixture("bad_duplicate_symbol_case.toml");
    REQUIRE_FALSE(c.config);
    CHECK(has(c, at("bad_duplicate_symbol_case.toml", "5:1") +
                     "strategy.weights.vti: duplicate symbol: \"vti\" repeats \"VTI\" (line 2)"));
}

TEST_CASE("negative thresholds are rejected", "[daemon][config]") {
    const auto r = load_fixture("bad_negative_threshold.toml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message == at("bad_negative_threshold.toml", "8:19") +
                                     "rebalance.drift_threshold: expected a percentage in (0, 100], found -5");
    CHECK(has(load_text("", "[orders]\nmin_order_notional = -1\n"),
              ":7:22: orders.min_order_notional: expected an amount in dollars in [0, 1000000], found -1"));
    CHECK(has(load_text("", "[sim]\ncommission_per_order = -0.5\n"), "sim.commission_per_order"));
    CHECK(has(load_text("", "[rebalance]\nmin_interval_days = -1\n"),
              "rebalance.min_interval_days: expected an integer in 0..3660, found -1"));
}

TEST_CASE("out-of-range values name the range", "[daemon][config]") {
    const auto r = load_fixture("bad_range_threshold.toml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message == at("bad_range_threshold.toml", "8:19") +
                                     "rebalance.drift_threshold: expected a percentage in (0, 100], found 150");

    const auto m = load_text("", "[orders]\nqty_decimals = 10\ncash_reserve = 50\n"
                                 "[risk]\nmax_order_pct = 0\nmax_position_pct = 100.5\n"
                                 "[sim]\nslippage_bps = 1001\ncommission_bps = 1e9\ninitial_cash = 0\n"
                                 "[rebalance]\nmin_interval_days = 3661\n");
    CHECK(has(m, ":7:16: orders.qty_decimals: expected an integer in 0..9, found 10"));
    CHECK(has(m, ":8:16: orders.cash_reserve: expected a percentage in [0, 50), found 50"));
    CHECK(has(m, ":10:17: risk.max_order_pct: expected a percentage in (0, 100], found 0"));
    CHECK(has(m, ":11:20: risk.max_position_pct: expected a percentage in (0, 100], found 100.5"));
    CHECK(has(m, ":13:16: sim.slippage_bps: expected basis points in [0, 1000], found 1001"));
    CHECK(has(m, ":14:18: sim.commission_bps: expected basis points in [0, 1000], found 1000000000"));
    CHECK(has(m, ":15:16: sim.initial_cash: expected an amount in dollars in (0, 1000000000], found 0"));
    CHECK(has(m, ":17:21: rebalance.min_interval_days: expected an integer in 0..3660, found 3661"));
    CHECK(m.errors.size() == 8);
    // In file order.
    CHECK(m.errors.front().message.find("qty_decimals") != std::string::npos);
    CHECK(m.errors.back().message.find("min_interval_days") != std::string::npos);

    CHECK(has(load_text("", "[sim]\nslippage_bps = nan\n"), "sim.slippage_bps: expected basis points in [0, 1000], found nan"));
}

TEST_CASE("malformed times are rejected", "[daemon][config]") {
    const auto r = load_fixture("bad_time.toml");
    REQUIRE(r.errors.size() == 2);
    CHECK(r.errors[0].message == at("bad_time.toml", "8:15") +
                                     "schedule.data_update: expected a time \"HH:MM\" (00:00 to 23:59), found string \"25:00\"");
    CHECK(r.errors[1].message == at("bad_time.toml", "9:11") +
                                     "schedule.signals: expected a time \"HH:MM\" (00:00 to 23:59), found string \"4pm\"");
    CHECK(has(load_text("", "[schedule]\nrebalance = 16:50:30\n"), "found time 16:50:30"));
    CHECK(has(load_text("", "[schedule]\nrebalance = 1650\n"), "found integer 1650"));
}

TEST_CASE("job times must be strictly increasing", "[daemon][config]") {
    const auto r = load_fixture("bad_time_order.toml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message ==
          at("bad_time_order.toml", "9:11") +
              "schedule.signals: signals at 16:20 must be later than data_update at 16:30 (jobs run data_update < "
              "signals < rebalance)");
    // Equal times, and a clash with a default.
    CHECK(has(load_text("", "[schedule]\nsignals = \"16:50\"\n"), ":7:11: schedule.signals: signals at 16:50 must be earlier than rebalance at 16:50 (the default)"));
    CHECK(load_text("", "[schedule]\ndata_update = \"07:00\"\nsignals = \"07:10\"\nrebalance = \"09:45\"\n").config);
}

TEST_CASE("bad enum values list the choices", "[daemon][config]") {
    const auto r = load_fixture("bad_enum.toml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message == at("bad_enum.toml", "1:8") + "mode: expected one of sim, paper, live; found \"papr\"");
    const auto m = load_text("", "[rebalance]\ncalendar = \"yearly\"\ndrift_mode = \"abs\"\n"
                                 "[sim]\nfill = \"open\"\nprice_field = \"adjclose\"\n"
                                 "[schedule]\ntimezone = \"UTC\"\n");
    CHECK(has(m, "rebalance.calendar: expected one of drift, daily, weekly, monthly, quarterly, annual; found \"yearly\""));
    CHECK(has(m, "rebalance.drift_mode: expected one of absolute, relative; found \"abs\""));
    CHECK(has(m, "sim.fill: expected one of next_open, close; found \"open\""));
    CHECK(has(m, "sim.price_field: expected one of close, adj_close; found \"adjclose\""));
    CHECK(has(m, "schedule.timezone: expected one of America/New_York; found \"UTC\""));
}

TEST_CASE("bad dates and an inverted window are rejected", "[daemon][config]") {
    const auto r = load_fixture("bad_date.toml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message ==
          at("bad_date.toml", "8:9") + "sim.start: expected a date \"YYYY-MM-DD\", found string \"2006-13-01\"");
    const auto o = load_fixture("bad_date_order.toml");
    REQUIRE(o.errors.size() == 1);
    CHECK(o.errors[0].message ==
          at("bad_date_order.toml", "9:7") + "sim.end: 2006-02-06 is before sim.start 2025-03-06; expected start <= end");
}

TEST_CASE("secrets in the file are rejected without echoing them", "[daemon][config]") {
    const auto r = load_fixture("bad_secret.toml");
    REQUIRE_FALSE(r.config);
    const std::string help =
        "secrets must not be in config.toml; set APCA_API_KEY_ID / APCA_API_SECRET_KEY / BALLAST_HEALTHCHECK_URL / "
        "BALLAST_WEBHOOK_URL in the environment or in the env_file";
    CHECK(has(r, at("bad_secret.toml", "2:1") + "api_key: " + help));
    CHECK(has(r, at("bad_secret.toml", "11:1") + "alerts.webhook_url: " + help));
    CHECK(all_messages(r).find("SHOULDNEVERBEPRINTED") == std::string::npos);

    // Every credential-looking name, wherever it is, whatever its type.
    const std::string value = "hunter2-do-not-print";
    for (const std::string key : {"key_id", "secret", "secret_key", "token", "password", "healthcheck_url",
                                  "webhook_url", "APCA_API_KEY_ID", "apca_api_secret_key", "my_token", "db_password"}) {
        const auto line = key + " = \"" + value + "\"\n";
        for (const std::string& doc : {line + kWeights, kWeights + line, kWeights + ("[sim]\n" + line)}) {
            const auto s = load_config_string(doc, "x.toml", {});
            INFO(doc);
            CHECK(has(s, key + ": secrets must not be in config.toml"));
            CHECK(all_messages(s).find(value) == std::string::npos);
        }
    }
    // Nor in a TOML syntax error (toml++ may quote the offending token).
    for (const std::string line : {"api_key = 123456789abc", "alpaca.secret = 1e4000", "password = 'abc"}) {
        const auto p = load_config_string(line + "\n", "x.toml", {});
        INFO(line);
        REQUIRE(p.errors.size() == 1);
        CHECK(p.errors[0].message.starts_with("x.toml:1:"));
        CHECK(p.errors[0].message.find("secrets must not be in config.toml") != std::string::npos);
        CHECK(p.errors[0].message.find(line.substr(line.find('=') + 2)) == std::string::npos);
    }
    // Not even as a wrong type or in an unknown table.
    const auto n = load_config_string(std::string(kWeights) + "[alpaca]\nsecret_key = 12345678\n", "x.toml", {});
    CHECK(all_messages(n).find("12345678") == std::string::npos);
}

TEST_CASE("paper and live need the Alpaca keys", "[daemon][config]") {
    const auto r = load_fixture("bad_paper_no_keys.toml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message ==
          at("bad_paper_no_keys.toml", "2:8") +
              "mode: mode \"paper\" needs APCA_API_KEY_ID and APCA_API_SECRET_KEY in the environment or in the "
              "env_file; not set: APCA_API_KEY_ID, APCA_API_SECRET_KEY");

    CHECK(load_fixture("bad_paper_no_keys.toml", kKeys).config);
    const auto half = load_text("mode = \"live\"\n", "", {{"APCA_API_KEY_ID", "PK1"}});
    REQUIRE(half.errors.size() == 1);
    CHECK(half.errors[0].message.ends_with("not set: APCA_API_SECRET_KEY"));
    CHECK(all_messages(half).find("PK1") == std::string::npos);
    // sim needs nothing.
    CHECK(load_text("mode = \"sim\"\n").config);
}

TEST_CASE("env file: keys come from it and the environment wins", "[daemon][config]") {
    const auto r = load_fixture("good_paper.toml");
    INFO(all_messages(r));
    REQUIRE(r.config);
    const auto& s = r.config->secrets;
    CHECK(s.alpaca_key_id == "PKTESTKEYID0000000000");
    CHECK(s.alpaca_secret_key == "test-secret-value-do-not-print");
    CHECK(s.healthcheck_url == "https://hc-ping.com/00000000-0000-0000-0000-000000000000");
    CHECK_FALSE(s.webhook_url);

    const auto e = load_fixture("good_paper.toml", {{"APCA_API_KEY_ID", "PKFROMENV"}, {"APCA_API_SECRET_KEY", ""},
                                                    {"BALLAST_WEBHOOK_URL", "https://hooks.example/x"}});
    REQUIRE(e.config);
    CHECK(e.config->secrets.alpaca_key_id == "PKFROMENV");
    CHECK(e.config->secrets.alpaca_secret_key == "test-secret-value-do-not-print");  // empty env does not hide it
    CHECK(e.config->secrets.webhook_url == "https://hooks.example/x");
}

TEST_CASE("env file: a missing file names its path", "[daemon][config]") {
    const auto r = load_fixture("bad_env_file_missing.toml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message == at("bad_env_file_missing.toml", "1:12") + "env_file: cannot read env file \"" +
                                     (kDir / "does_not_exist.env").string() + "\": No such file or directory");
}

TEST_CASE("env file: a malformed line is reported by number and not content", "[daemon][config]") {
    const auto r = load_fixture("bad_env_file_malformed.toml");
    REQUIRE(r.errors.size() == 2);
    const auto env_path = (kDir / "bad_malformed.env").string();
    CHECK(r.errors[0].message == env_path + ":2: expected KEY=VALUE");
    CHECK(r.errors[1].message == env_path + ":3: expected KEY=VALUE");
    CHECK(all_messages(r).find("SUPERSECRETVALUE123") == std::string::npos);
    CHECK(all_messages(r).find("unterminated") == std::string::npos);
}

TEST_CASE("env file syntax", "[daemon][config]") {
    const auto f = detail::parse_env_file(
        "# comment\n\n  # indented comment\nA=1\nexport B = two words \nC=\"quoted # not a comment\"\nD='single'\n"
        "E=\nF=a=b\r\nA=override\nbad line\n1X=3\nG=\"mismatch'\n=novalue\nexportH=1");
    CHECK(f.values.at("A") == "override");
    CHECK(f.values.at("B") == "two words");
    CHECK(f.values.at("C") == "quoted # not a comment");
    CHECK(f.values.at("D") == "single");
    CHECK(f.values.at("E").empty());
    CHECK(f.values.at("F") == "a=b");
    CHECK(f.values.at("exportH") == "1");
    CHECK(f.malformed_lines == std::vector<int>{11, 12, 13, 14});
}

TEST_CASE("a missing config file is one error naming it", "[daemon][config]") {
    const auto path = kDir / "does_not_exist.toml";
    const auto r = load_config(path, {});
    REQUIRE_FALSE(r.config);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message == path.string() + ": cannot read config file: No such file or directory");
    CHECK(load_config(kDir, {}).errors.at(0).message == kDir.string() + ": cannot read config file: is a directory");
}

TEST_CASE("a TOML syntax error is one error with line and column", "[daemon][config]") {
    const auto r = load_fixture("bad_syntax.toml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message.starts_with(at("bad_syntax.toml", "1:12")));
    const auto j = load_fixture("bad_not_toml.toml");
    REQUIRE(j.errors.size() == 1);
    CHECK(j.errors[0].message.starts_with(at("bad_not_toml.toml", "1:1")));
}

TEST_CASE("every bad fixture fails and every good one loads", "[daemon][config]") {
    for (const auto& entry : fs::directory_iterator(kDir)) {
        const auto name = entry.path().filename().string();
        if (entry.path().extension() != ".toml") continue;
        const auto r = load_config(entry.path(), {});
        INFO(name << "\n" << all_messages(r));
        if (name.starts_with("bad_")) {
            CHECK_FALSE(r.config);
            CHECK_FALSE(r.errors.empty());
        } else {
            CHECK(r.config);
        }
    }
}

TEST_CASE("the effective config redacts secrets and loads again", "[daemon][config]") {
    const auto r = load_fixture("good_paper.toml");
    REQUIRE(r.config);
    const auto text = render_effective_config(*r.config);
    CHECK(text.find("test-secret-value-do-not-print") == std::string::npos);
    CHECK(text.find("PKTESTKEYID0000000000") == std::string::npos);
    CHECK(text.find("hc-ping.com") == std::string::npos);
    CHECK(text.find("# APCA_API_SECRET_KEY = \"<set, redacted>\"") != std::string::npos);
    CHECK(text.find("# BALLAST_WEBHOOK_URL = \"<not set>\"") != std::string::npos);
    CHECK(text.find("VTI = 40\n") != std::string::npos);
    CHECK(text.find("cash_reserve = 0.5") != std::string::npos);
    CHECK(text.find("journal = \"" + (kDir / "state/paper.db").lexically_normal().string() + "\"") != std::string::npos);

    // Valid TOML that gives back the same configuration.
    const auto again = load_config_string(text, kDir / "rendered.toml", kKeys);
    INFO(text << "\n" << all_messages(again));
    REQUIRE(again.config);
    const auto& a = *again.config;
    const auto& b = *r.config;
    CHECK(a.mode == b.mode);
    CHECK(a.journal == b.journal);
    CHECK(a.env_file == b.env_file);
    CHECK(a.strategy.weights == b.strategy.weights);
    CHECK(a.rebalance.drift_threshold == b.rebalance.drift_threshold);
    CHECK(a.orders.planner.cash_reserve == b.orders.planner.cash_reserve);
    CHECK(a.risk.max_order_fraction == b.risk.max_order_fraction);
    CHECK(a.schedule.signals == b.schedule.signals);
    CHECK(a.sim.data_dir == b.sim.data_dir);
    CHECK(a.sim.state_file == b.sim.state_file);
    CHECK(a.sim.initial_cash == b.sim.initial_cash);
}

TEST_CASE("alpaca settings: https only, known feeds, paper never reaches the live API", "[daemon][config]") {
    const std::map<std::string, std::string> keys{{"APCA_API_KEY_ID", "id"}, {"APCA_API_SECRET_KEY", "secret"}};
    const auto dir = std::string(BALLAST_TEST_DATA_DIR) + "/config/";
    auto r = ballast::daemon::load_config(dir + "bad_paper_live_url.toml", keys);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message.find("bad_paper_live_url.toml:7:15: alpaca.trading_url: mode is \"paper\" but trading_url is the live API") != std::string::npos);
    r = ballast::daemon::load_config(dir + "bad_alpaca_url.toml", keys);
    REQUIRE(r.errors.size() == 2);
    CHECK(r.errors[0].message.find("alpaca.data_url: expected an https:// URL") != std::string::npos);
    CHECK(r.errors[1].message.find("alpaca.feed") != std::string::npos);
    // Defaults follow the mode.
    const auto paper = ballast::daemon::load_config_string("mode = \"paper\"\n[strategy.weights]\nVTI = 60\nTLT = 40\n",
                                                           "p.toml", keys);
    REQUIRE(paper.config);
    CHECK(paper.config->alpaca.trading_url == "https://paper-api.alpaca.markets");
    const auto live = ballast::daemon::load_config_string("mode = \"live\"\n[strategy.weights]\nVTI = 60\nTLT = 40\n",
                                                          "l.toml", keys);
    REQUIRE(live.config);
    CHECK(live.config->alpaca.trading_url == "https://api.alpaca.markets");
    CHECK(live.config->alpaca.rate_limit_per_minute == 190);
}

TEST_CASE("risk limits and circuit breakers: defaults, ranges and the effective config", "[daemon][config][risk]") {
    // Defaults: gross exposure 100%, price sanity, stop-loss and every breaker off; the
    // risk stage checks the planner's own cash reserve.
    auto r = load_text("");
    REQUIRE(r.config);
    CHECK(r.config->risk.max_gross_exposure == dec("1"));
    CHECK_FALSE(r.config->risk.price_sanity);
    CHECK_FALSE(r.config->risk.stop_loss);
    CHECK(r.config->risk.cash_reserve == dec("0.005"));
    CHECK_FALSE(r.config->breakers.max_daily_loss);
    CHECK_FALSE(r.config->breakers.max_drawdown);
    CHECK_FALSE(r.config->breakers.max_consecutive_rejections);
    const auto default_text = render_effective_config(*r.config);
    CHECK(default_text.find("max_gross_exposure_pct = 100\n") != std::string::npos);
    CHECK(default_text.find("# stop_loss_pct: not set (off)\n") != std::string::npos);
    CHECK(default_text.find("# max_consecutive_rejections: not set (off)\n") != std::string::npos);

    // Every key set.
    r = load_text("", "[orders]\ncash_reserve = 2\n[risk]\nmax_gross_exposure_pct = 150\nprice_sanity_pct = 10\n"
                      "stop_loss_pct = 12.5\nmax_daily_loss_pct = 5\nmax_drawdown_pct = 25.5\n"
                      "max_consecutive_rejections = 3\n");
    INFO(all_messages(r));
    REQUIRE(r.config);
    const auto& c = *r.config;
    CHECK(c.risk.max_gross_exposure == dec("1.5"));
    CHECK(c.risk.price_sanity == dec("0.1"));
    CHECK(c.risk.stop_loss == dec("0.125"));
    CHECK(c.risk.cash_reserve == dec("0.02"));
    CHECK(c.breakers.max_daily_loss.value() == Approx(0.05));
    CHECK(c.breakers.max_drawdown.value() == Approx(0.255));
    CHECK(c.breakers.max_consecutive_rejections == 3);
    const auto text = render_effective_config(c);
    CHECK(text.find("price_sanity_pct = 10\n") != std::string::npos);
    CHECK(text.find("stop_loss_pct = 12.5\n") != std::string::npos);
    CHECK(text.find("max_daily_loss_pct = 5\n") != std::string::npos);
    CHECK(text.find("max_drawdown_pct = 25.5\n") != std::string::npos);
    CHECK(text.find("max_consecutive_rejections = 3\n") != std::string::npos);
    const auto again = load_config_string(text, kDir / "rendered.toml", {});
    INFO(text << "\n" << all_messages(again));
    REQUIRE(again.config);
    CHECK(again.config->risk.max_gross_exposure == c.risk.max_gross_exposure);
    CHECK(again.config->risk.price_sanity == c.risk.price_sanity);
    CHECK(again.config->risk.stop_loss == c.risk.stop_loss);
    CHECK(again.config->breakers.max_daily_loss.value() == Approx(0.05));
    CHECK(again.config->breakers.max_drawdown.value() == Approx(0.255));
    CHECK(again.config->breakers.max_consecutive_rejections == 3);

    // Ranges, at and just past each boundary.
    const auto m = load_text("", "[risk]\nmax_gross_exposure_pct = 200.5\nprice_sanity_pct = 0\nstop_loss_pct = 100\n"
                                 "max_daily_loss_pct = -1\nmax_drawdown_pct = 100.01\nmax_consecutive_rejections = 0\n");
    CHECK(has(m, ":7:26: risk.max_gross_exposure_pct: expected a percentage in (0, 200], found 200.5"));
    CHECK(has(m, ":8:20: risk.price_sanity_pct: expected a percentage in (0, 100], found 0"));
    CHECK(has(m, ":9:17: risk.stop_loss_pct: expected a percentage in (0, 100), found 100"));
    CHECK(has(m, ":10:22: risk.max_daily_loss_pct: expected a percentage in (0, 100], found -1"));
    CHECK(has(m, ":11:20: risk.max_drawdown_pct: expected a percentage in (0, 100], found 100.01"));
    CHECK(has(m, ":12:30: risk.max_consecutive_rejections: expected an integer in 1..1000, found 0"));
    CHECK(m.errors.size() == 6);
    const auto ok = load_text("", "[risk]\nmax_gross_exposure_pct = 200\nprice_sanity_pct = 100\nstop_loss_pct = 99.99\n"
                                  "max_daily_loss_pct = 100\nmax_drawdown_pct = 0.01\nmax_consecutive_rejections = 1000\n");
    INFO(all_messages(ok));
    CHECK(ok.config);

    // Types and typos.
    CHECK(has(load_text("", "[risk]\nmax_consecutive_rejections = 2.5\n"),
              ":7:30: risk.max_consecutive_rejections: expected an integer, found float 2.5"));
    CHECK(has(load_text("", "[risk]\nstoploss_pct = 10\n"),
              ":7:1: risk.stoploss_pct: unknown key; did you mean 'stop_loss_pct'?"));
}

// ---------------------------------------------------------------------------------
// [strategy] kinds and [strategy.params]

#include "daemon/strategy_factory.hpp"

namespace {

LoadResult load_doc(const std::string& text) { return load_config_string(text, "/srv/s.toml", {}); }

// The message for `key` at line:column of /srv/s.toml, or "" when there is none.
std::string message_at(const LoadResult& r, const std::string& line_col, const std::string& key) {
    const std::string prefix = "/srv/s.toml:" + line_col + ": " + key + ": ";
    for (const auto& e : r.errors)
        if (e.message.rfind(prefix, 0) == 0) return e.message.substr(prefix.size());
    return "";
}

}  // namespace

TEST_CASE("strategy kind trend loads its params and builds the strategy", "[daemon][config][strategies]") {
    const auto r = load_doc("[strategy]\nname = \"trend-60-40\"\nkind = \"trend\"\n"
                            "[strategy.weights]\nSPY = 60\nTLT = 40\n"
                            "[strategy.params]\nsma_days = 150\nsafe_asset = \"IEF\"\n"
                            "[risk]\nmax_position_pct = 100\n");
    INFO(all_messages(r));
    REQUIRE(r.config);
    const auto& s = r.config->strategy;
    CHECK(s.kind == "trend");
    CHECK(s.trend.sma_days == 150);
    CHECK(s.trend.safe_asset == std::optional<std::string>("IEF"));
    CHECK(s.weights.at("SPY") == dec("0.6"));
    const auto strategy = make_strategy(s);
    CHECK(strategy->name() == "trend-60-40");
    CHECK(strategy->lookback() == 150);
    CHECK(strategy->universe() == std::vector<std::string>{"IEF", "SPY", "TLT"});
    // Defaults: 200 days, cash.
    const auto d = load_doc("[strategy]\nkind = \"trend\"\n[strategy.weights]\nSPY = 50\nTLT = 50\n");
    INFO(all_messages(d));
    REQUIRE(d.config);
    CHECK(d.config->strategy.trend.sma_days == 200);
    CHECK_FALSE(d.config->strategy.trend.safe_asset);
    CHECK(make_strategy(d.config->strategy)->universe() == std::vector<std::string>{"SPY", "TLT"});
}

TEST_CASE("strategy kinds dual_momentum and risk_parity load their universe and params",
          "[daemon][config][strategies]") {
    auto r = load_doc("[strategy]\nkind = \"dual_momentum\"\n[strategy.params]\n"
                      "universe = [\"SPY\", \"EFA\", \"AGG\"]\nlookback_days = 126\ntop_n = 2\n"
                      "absolute_threshold = -1.5\nsafe_asset = \"SHY\"\n[risk]\nmax_position_pct = 100\n");
    INFO(all_messages(r));
    REQUIRE(r.config);
    const auto& m = r.config->strategy.dual_momentum;
    CHECK(m.candidates == std::vector<std::string>{"SPY", "EFA", "AGG"});
    CHECK(m.lookback_days == 126);
    CHECK(m.top_n == 2);
    CHECK(m.absolute_threshold == Approx(-0.015));
    CHECK(m.safe_asset == std::optional<std::string>("SHY"));
    CHECK_FALSE(m.cash_proxy);
    CHECK(r.config->strategy.weights.empty());
    CHECK(make_strategy(r.config->strategy)->lookback() == 127);

    // top_n = 2 (50% each) fits the default 60% limit without a safe asset.
    r = load_doc("[strategy]\nkind = \"dual_momentum\"\n[strategy.params]\nuniverse = [\"SPY\", \"EFA\"]\ntop_n = 2\n"
                 "cash_proxy = \"BIL\"\n");
    INFO(all_messages(r));
    REQUIRE(r.config);
    CHECK(r.config->strategy.dual_momentum.lookback_days == 252);
    CHECK(r.config->strategy.dual_momentum.cash_proxy == std::optional<std::string>("BIL"));
    CHECK(make_strategy(r.config->strategy)->universe() == std::vector<std::string>{"BIL", "EFA", "SPY"});

    r = load_doc("[strategy]\nkind = \"risk_parity\"\n[strategy.params]\nuniverse = [\"VTI\", \"TLT\", \"GLD\", \"DBC\"]\n"
                 "vol_target = 10.0\n");
    INFO(all_messages(r));
    REQUIRE(r.config);
    const auto& p = r.config->strategy.risk_parity;
    CHECK(p.universe.size() == 4);
    CHECK(p.lookback_days == 63);
    CHECK(p.vol_target.value() == Approx(0.10));
    CHECK(make_strategy(r.config->strategy)->lookback() == 64);
}

TEST_CASE("strategy kind and params errors name file, line, column, key and value", "[daemon][config][strategies]") {
    // Unknown kind.
    auto r = load_doc("[strategy]\nkind = \"momentum\"\n[strategy.weights]\nSPY = 50\nTLT = 50\n");
    CHECK(message_at(r, "2:8", "strategy.kind") ==
          "expected one of fixed_weights, trend, dual_momentum, risk_parity; found \"momentum\"");
    CHECK(r.errors.size() == 1);

    // trend: range, type, ticker format, typo, another kind's key.
    r = load_doc("[strategy]\nkind = \"trend\"\n[strategy.weights]\nSPY = 60\nTLT = 40\n[strategy.params]\n"
                 "sma_days = 1\nsafe_asset = \"ief\"\nsma_day = 20\ntop_n = 2\n");
    INFO(all_messages(r));
    CHECK(r.errors.size() == 4);
    CHECK(message_at(r, "7:12", "strategy.params.sma_days") == "expected an integer in 2..1000, found 1");
    CHECK(message_at(r, "8:14", "strategy.params.safe_asset") ==
          "expected a ticker symbol of 1-10 uppercase characters A-Z 0-9 . -, found \"ief\" (did you mean 'IEF'?)");
    CHECK(message_at(r, "9:1", "strategy.params.sma_day") ==
          "unknown parameter; kind \"trend\" takes sma_days, safe_asset; did you mean 'sma_days'?");
    CHECK(message_at(r, "10:1", "strategy.params.top_n") ==
          "unknown parameter; kind \"trend\" takes sma_days, safe_asset (top_n belongs to kind \"dual_momentum\")");
    r = load_doc("[strategy]\nkind = \"trend\"\n[strategy.weights]\nSPY = 100\n[strategy.params]\nsma_days = \"200\"\n");
    CHECK(message_at(r, "6:12", "strategy.params.sma_days") == "expected an integer, found string \"200\"");
    r = load_doc("[strategy]\nkind = \"trend\"\n[strategy.params]\nsma_days = 100\n");
    CHECK(message_at(r, "1:1", "strategy.weights").find("missing; expected a [strategy.weights] table") == 0);

    // fixed_weights takes no params.
    r = load_doc("[strategy]\n[strategy.weights]\nSPY = 50\nTLT = 50\n[strategy.params]\nsma_days = 100\n");
    CHECK(message_at(r, "6:1", "strategy.params.sma_days") ==
          "unknown parameter; kind \"fixed_weights\" takes no parameters (sma_days belongs to kind \"trend\")");
    r = load_doc("[strategy]\nparams = 3\n[strategy.weights]\nSPY = 100\n");
    CHECK(message_at(r, "2:10", "strategy.params") == "expected a table, found integer 3");
}

TEST_CASE("dual_momentum and risk_parity errors: universe, weights, ranges, conflicts",
          "[daemon][config][strategies]") {
    // No universe; weights given instead.
    auto r = load_doc("[strategy]\nkind = \"dual_momentum\"\n[strategy.weights]\nSPY = 100\n");
    INFO(all_messages(r));
    CHECK(message_at(r, "1:1", "strategy.params.universe") ==
          "missing; kind \"dual_momentum\" expects [strategy.params] universe = [\"SPY\", \"EFA\", ...], the candidates");
    CHECK(message_at(r, "3:1", "strategy.weights") ==
          "not used by kind \"dual_momentum\"; list its symbols in strategy.params.universe instead");

    // Bad universes.
    r = load_doc("[strategy]\nkind = \"risk_parity\"\n[strategy.params]\nuniverse = []\n");
    CHECK(message_at(r, "4:12", "strategy.params.universe") == "expected at least one ticker symbol, found an empty array");
    r = load_doc("[strategy]\nkind = \"risk_parity\"\n[strategy.params]\nuniverse = \"SPY\"\n");
    CHECK(message_at(r, "4:12", "strategy.params.universe") ==
          "expected an array of ticker symbols (e.g. [\"SPY\", \"EFA\", \"AGG\"]), found string \"SPY\"");
    r = load_doc("[strategy]\nkind = \"risk_parity\"\n[strategy.params]\nuniverse = [\"SPY\", \"TLT\", \"SPY\", 3, \"b@d\"]\n");
    INFO(all_messages(r));
    CHECK(r.errors.size() == 3);
    CHECK(message_at(r, "4:27", "strategy.params.universe[2]") == "duplicate symbol \"SPY\" (first at column 13)");
    CHECK(message_at(r, "4:34", "strategy.params.universe[3]") ==
          "expected a ticker symbol of 1-10 uppercase characters A-Z 0-9 . -, found integer 3");
    CHECK(message_at(r, "4:37", "strategy.params.universe[4]").find("found \"b@d\"") != std::string::npos);

    // Ranges and conflicts.
    r = load_doc("[strategy]\nkind = \"dual_momentum\"\n[strategy.params]\nuniverse = [\"SPY\", \"EFA\"]\n"
                 "top_n = 3\nlookback_days = 0\nabsolute_threshold = -150\n");
    INFO(all_messages(r));
    CHECK(message_at(r, "5:9", "strategy.params.top_n") ==
          "expected at most the 2 symbols of strategy.params.universe, found 3");
    CHECK(message_at(r, "6:17", "strategy.params.lookback_days") == "expected an integer in 1..1000, found 0");
    CHECK(message_at(r, "7:22", "strategy.params.absolute_threshold") ==
          "expected a percentage in [-100, 1000], found -150");
    r = load_doc("[strategy]\nkind = \"dual_momentum\"\n[strategy.params]\nuniverse = [\"SPY\", \"EFA\"]\ntop_n = 2\n"
                 "absolute_threshold = 1\ncash_proxy = \"BIL\"\n");
    CHECK(message_at(r, "6:22", "strategy.params.absolute_threshold") ==
          "set either absolute_threshold or cash_proxy (the hurdle is then BIL's return over lookback_days), not both");
    r = load_doc("[strategy]\nkind = \"risk_parity\"\n[strategy.params]\nuniverse = [\"SPY\", \"EFA\"]\n"
                 "lookback_days = 1\nvol_target = 0\nvol_targte = 5\n");
    INFO(all_messages(r));
    CHECK(message_at(r, "5:17", "strategy.params.lookback_days") == "expected an integer in 2..1000, found 1");
    CHECK(message_at(r, "6:14", "strategy.params.vol_target") ==
          "expected an annualised volatility in percent in (0, 200], found 0");
    CHECK(message_at(r, "7:1", "strategy.params.vol_targte") ==
          "unknown parameter; kind \"risk_parity\" takes universe, lookback_days, vol_target; did you mean 'vol_target'?");
}

TEST_CASE("a strategy that can exceed risk.max_position_pct is rejected", "[daemon][config][strategies]") {
    auto r = load_doc("[strategy]\nkind = \"trend\"\n[strategy.weights]\nSPY = 60\nTLT = 40\n"
                      "[strategy.params]\nsafe_asset = \"IEF\"\n");
    INFO(all_messages(r));
    REQUIRE(r.errors.size() == 1);
    CHECK(message_at(r, "7:14", "strategy.params.safe_asset") ==
          "IEF receives every weight whose symbol is below its SMA (up to 100%), more than risk.max_position_pct 60% "
          "(the default); raise risk.max_position_pct to at least 100");
    // The default top_n = 1 puts everything into one pick.
    r = load_doc("[strategy]\nkind = \"dual_momentum\"\n[strategy.params]\nuniverse = [\"SPY\", \"EFA\"]\n"
                 "[risk]\nmax_position_pct = 80\n");
    INFO(all_messages(r));
    REQUIRE(r.errors.size() == 1);
    CHECK(message_at(r, "4:12", "strategy.params.top_n") ==
          "each of the top 1 picks gets 100% (top_n defaults to 1), more than risk.max_position_pct 80% (line 6); "
          "raise risk.max_position_pct to at least 100");
    r = load_doc("[strategy]\nkind = \"dual_momentum\"\n[strategy.params]\nuniverse = [\"SPY\", \"EFA\", \"AGG\"]\n"
                 "top_n = 3\nsafe_asset = \"SHY\"\n");
    REQUIRE(r.errors.size() == 1);
    CHECK(message_at(r, "6:14", "strategy.params.safe_asset").find("SHY receives every pick whose return is below the "
                                                                   "hurdle (up to 100%)") == 0);
}

TEST_CASE("rebalance calendar_day is first or last", "[daemon][config][strategies]") {
    auto r = load_text("", "[rebalance]\ncalendar = \"monthly\"\ncalendar_day = \"last\"\n");
    INFO(all_messages(r));
    REQUIRE(r.config);
    CHECK(r.config->rebalance.calendar_day == ballast::core::CalendarDay::last);
    CHECK(render_effective_config(*r.config).find("calendar_day = \"last\"\n") != std::string::npos);
    r = load_text("", "[rebalance]\ncalendar_day = \"end\"\n");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message == "/srv/ballast/config.toml:7:16: rebalance.calendar_day: expected one of first, last; found \"end\"");
    const auto d = load_text("");
    REQUIRE(d.config);
    CHECK(d.config->rebalance.calendar_day == ballast::core::CalendarDay::first);
}

TEST_CASE("the effective config renders each strategy kind and loads again", "[daemon][config][strategies]") {
    for (const std::string& text :
         {std::string("[strategy]\nkind = \"trend\"\n[strategy.weights]\nSPY = 60\nTLT = 40\n[strategy.params]\n"
                      "sma_days = 120\nsafe_asset = \"IEF\"\n[risk]\nmax_position_pct = 100\n"),
          std::string("[strategy]\nkind = \"trend\"\n[strategy.weights]\nSPY = 60\nTLT = 40\n"),
          std::string("[strategy]\nkind = \"dual_momentum\"\n[strategy.params]\nuniverse = [\"SPY\", \"EFA\"]\n"
                      "top_n = 2\nabsolute_threshold = 0.5\n"),
          std::string("[strategy]\nkind = \"dual_momentum\"\n[strategy.params]\nuniverse = [\"SPY\", \"EFA\"]\n"
                      "cash_proxy = \"BIL\"\nsafe_asset = \"AGG\"\nlookback_days = 200\n[risk]\nmax_position_pct = 100\n"),
          std::string("[strategy]\nkind = \"risk_parity\"\n[strategy.params]\nuniverse = [\"VTI\", \"TLT\"]\n"
                      "lookback_days = 21\nvol_target = 8\n"),
          std::string("[strategy]\nkind = \"risk_parity\"\n[strategy.params]\nuniverse = [\"VTI\", \"TLT\"]\n")}) {
        const auto r = load_doc(text);
        INFO(text << all_messages(r));
        REQUIRE(r.config);
        const auto rendered = render_effective_config(*r.config);
        const auto again = load_doc(rendered);
        INFO(rendered << all_messages(again));
        REQUIRE(again.config);
        const auto& a = r.config->strategy;
        const auto& b = again.config->strategy;
        CHECK(a.kind == b.kind);
        CHECK(a.weights == b.weights);
        CHECK(a.trend.sma_days == b.trend.sma_days);
        CHECK(a.trend.safe_asset == b.trend.safe_asset);
        CHECK(a.dual_momentum.candidates == b.dual_momentum.candidates);
        CHECK(a.dual_momentum.lookback_days == b.dual_momentum.lookback_days);
        CHECK(a.dual_momentum.top_n == b.dual_momentum.top_n);
        CHECK(a.dual_momentum.absolute_threshold == Approx(b.dual_momentum.absolute_threshold));
        CHECK(a.dual_momentum.cash_proxy == b.dual_momentum.cash_proxy);
        CHECK(a.dual_momentum.safe_asset == b.dual_momentum.safe_asset);
        CHECK(a.risk_parity.universe == b.risk_parity.universe);
        CHECK(a.risk_parity.lookback_days == b.risk_parity.lookback_days);
        CHECK(a.risk_parity.vol_target.has_value() == b.risk_parity.vol_target.has_value());
        if (a.risk_parity.vol_target) CHECK(*a.risk_parity.vol_target == Approx(*b.risk_parity.vol_target));
    }
}

TEST_CASE("the job deadline must leave time to poll sells and buys and cancel", "[daemon][config]") {
    const std::map<std::string, std::string> keys{{"APCA_API_KEY_ID", "id"}, {"APCA_API_SECRET_KEY", "secret"}};
    const auto r = ballast::daemon::load_config_string(
        "mode = \"paper\"\n[strategy.weights]\nVTI = 60\nTLT = 40\n[alpaca]\nfill_timeout_seconds = 300\n"
        "job_deadline_seconds = 600\n",
        "d.toml", keys);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message.find("d.toml:7:24: alpaca.job_deadline_seconds: 600 s leaves no time") == 0);
    CHECK(r.errors[0].message.find("at least 660") != std::string::npos);
}
