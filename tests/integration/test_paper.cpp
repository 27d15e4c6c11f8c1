// Paper mode end to end: the real `ballast` binary against `ballast-fake-alpaca` over
// TLS, with certificates made at test start.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include <SQLiteCpp/SQLiteCpp.h>
#include <nlohmann/json.hpp>

#include "../support/fake_alpaca_process.hpp"
#include "../support/process.hpp"
#include "../support/test_certs.hpp"

using ballast::test::FakeAlpacaProcess;
using ballast::test::run_ballast;
using ballast::test::shell_quote;
using ballast::test::TempDir;
using ballast::test::write_file;

namespace {

const char* kKeys = "APCA_API_KEY_ID=test-key APCA_API_SECRET_KEY=test-secret";

struct PaperSetup {
    TempDir dir;
    ballast::test::TestPki pki = ballast::test::make_test_pki(dir.path());
    std::filesystem::path journal = dir / "paper.db";
    std::filesystem::path config = dir / "paper.toml";

    void write_config(const std::string& url, const std::string& extra = "") {
        write_file(config, "mode = \"paper\"\njournal = \"" + journal.string() +
                               "\"\n[strategy.weights]\nVTI = 40\nTLT = 30\nGLD = 20\nDBC = 10\n"
                               "[alpaca]\ntrading_url = \"" + url + "\"\ndata_url = \"" + url + "\"\nca_file = \"" +
                               pki.ca_file.string() + "\"\nrequest_timeout_ms = 2000\nconnect_timeout_ms = 2000\n" +
                               extra);
    }
    ballast::test::ProcessResult once(const std::string& args = "--session 2025-03-06", const char* env = kKeys) {
        return run_ballast("once " + args + " --config " + shell_quote(config.string()), env);
    }
    int rows(const std::string& sql) {
        SQLite::Database db(journal.string(), SQLite::OPEN_READONLY);
        return db.execAndGet(sql).getInt();
    }
};

nlohmann::json stats(const FakeAlpacaProcess& fake) { return nlohmann::json::parse(fake.control("GET", "/_fake/stats")); }

}  // namespace

TEST_CASE("paper: a full chain rebalances a fresh account to the targets over TLS", "[integration][paper]") {
    PaperSetup s;
    FakeAlpacaProcess fake(s.dir.path(), s.pki.server_cert, s.pki.server_key, s.pki.ca_file, {"--today", "2025-03-06", "--time", "17:00"});
    s.write_config(fake.url());
    const auto r = s.once();
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(r.output.find("rebalance: succeeded") != std::string::npos);
    // Intents, broker ids, fills and the equity snapshot are journaled.
    CHECK(s.rows("SELECT count(*) FROM orders WHERE status = 'filled' AND broker_order_id IS NOT NULL") == 4);
    CHECK(s.rows("SELECT count(*) FROM order_events WHERE event = 'intent_recorded'") == 4);
    CHECK(s.rows("SELECT count(*) FROM equity_snapshots WHERE session_date = '2025-03-06'") == 1);
    // Every weight within a percentage point of its target, at the fake's prices.
    CHECK(s.rows("SELECT count(*) FROM v_positions") == 4);
    CHECK(s.rows("SELECT count(*) FROM position_snapshots WHERE"
                 " (symbol = 'VTI' AND abs(weight - 0.4) > 0.01) OR (symbol = 'TLT' AND abs(weight - 0.3) > 0.01) OR"
                 " (symbol = 'GLD' AND abs(weight - 0.2) > 0.01) OR (symbol = 'DBC' AND abs(weight - 0.1) > 0.01)") == 0);
    const auto st = stats(fake);
    CHECK(st["orders_submitted"] == 4);
    CHECK(st["max_requests_in_any_60s_window"].get<int>() <= 190);
    // Every HTTP attempt is journaled; no secret appears in the journal or the output.
    CHECK(s.rows("SELECT count(*) FROM health_events WHERE kind = 'http_attempt'") == st["requests_total"].get<int>());
    CHECK(s.rows("SELECT count(*) FROM health_events WHERE detail LIKE '%test-secret%'") == 0);
    CHECK(r.output.find("test-secret") == std::string::npos);
    // The same session again does nothing; the fake sees no new order.
    const auto again = s.once();
    CHECK(again.exit_code == 0);
    CHECK(stats(fake)["orders_submitted"] == 4);
}

TEST_CASE("paper: transient failures are retried and the call succeeds", "[integration][paper][faults]") {
    PaperSetup s;
    FakeAlpacaProcess fake(s.dir.path(), s.pki.server_cert, s.pki.server_key, s.pki.ca_file, {"--today", "2025-03-06", "--time", "17:00"});
    s.write_config(fake.url());
    fake.control("POST", "/_fake/faults", R"([{"method":"GET","path":"/v2/account","count":1,"action":"status","status":503},
        {"method":"GET","path":"/v2/account","count":1,"action":"status","status":429},
        {"method":"GET","path":"/v2/positions","count":1,"action":"reset"},
        {"method":"GET","path":"/v2/stocks/bars","count":1,"action":"status","status":502}])");
    const auto r = s.once();
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(s.rows("SELECT count(*) FROM orders WHERE status = 'filled'") == 4);
    CHECK(s.rows("SELECT count(*) FROM health_events WHERE kind = 'http_attempt' AND detail LIKE '%/v2/account attempt 2: HTTP 429%'") == 1);
    CHECK(s.rows("SELECT count(*) FROM health_events WHERE kind = 'http_attempt' AND detail LIKE '%/v2/stocks/bars attempt 2: HTTP 200%'") == 1);
    CHECK(stats(fake)["faults_pending"] == 0);
}

TEST_CASE("paper: retries exhausted fail the job cleanly and trade nothing", "[integration][paper][faults]") {
    PaperSetup s;
    FakeAlpacaProcess fake(s.dir.path(), s.pki.server_cert, s.pki.server_key, s.pki.ca_file, {"--today", "2025-03-06", "--time", "17:00"});
    s.write_config(fake.url(), "max_attempts = 3\n");
    fake.control("POST", "/_fake/faults", R"({"method":"GET","path":"/v2/stocks/bars","count":10,"action":"status","status":500})");
    const auto r = s.once();
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK(r.output.find("gave up after 3 attempts") != std::string::npos);
    CHECK(s.rows("SELECT count(*) FROM job_runs WHERE job = 'data-update' AND status = 'failed'") == 1);
    CHECK(s.rows("SELECT count(*) FROM orders") == 0);
    CHECK(stats(fake)["requests_by_path"]["/v2/stocks/bars"] == 3);
}

TEST_CASE("paper: bad keys give a clear error and no retry", "[integration][paper][faults]") {
    PaperSetup s;
    FakeAlpacaProcess fake(s.dir.path(), s.pki.server_cert, s.pki.server_key, s.pki.ca_file, {"--today", "2025-03-06", "--time", "17:00"});
    s.write_config(fake.url());
    const auto r = s.once("--session 2025-03-06", "APCA_API_KEY_ID=test-key APCA_API_SECRET_KEY=wrong-secret-value");
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK(r.output.find("401") != std::string::npos);
    CHECK(r.output.find("APCA_API_SECRET_KEY") != std::string::npos);
    CHECK(r.output.find("wrong-secret-value") == std::string::npos);
    const auto st = stats(fake);
    CHECK(st["requests_total"] == 1);  // the first call failed and was not retried
}

TEST_CASE("paper: TLS refuses a certificate for another host and an untrusted CA", "[integration][paper][tls]") {
    PaperSetup s;
    {
        FakeAlpacaProcess fake(s.dir.path(), s.pki.wrong_host_cert, s.pki.wrong_host_key, s.pki.ca_file);
        s.write_config(fake.url());
        const auto r = s.once();
        INFO(r.output);
        CHECK(r.exit_code == 1);
        CHECK(r.output.find("host name") != std::string::npos);
    }
    std::filesystem::remove(s.journal);  // the failed session above is recorded: start afresh
    {
        FakeAlpacaProcess fake(s.dir.path(), s.pki.untrusted_cert, s.pki.untrusted_key, s.pki.ca_file);
        s.write_config(fake.url());
        const auto r = s.once();
        INFO(r.output);
        CHECK(r.exit_code == 1);
        CHECK(r.output.find("verify failed") != std::string::npos);
    }
    CHECK(s.rows("SELECT count(*) FROM orders") == 0);
}

TEST_CASE("live mode needs an explicit confirmation", "[integration][paper][live]") {
    PaperSetup s;
    write_file(s.config, "mode = \"live\"\njournal = \"" + s.journal.string() +
                             "\"\n[strategy.weights]\nVTI = 60\nTLT = 40\n[alpaca]\ntrading_url = \"https://localhost:1\"\n");
    const auto r = s.once("", kKeys);
    INFO(r.output);
    CHECK(r.exit_code == 78);
    CHECK(r.output.find("--live") != std::string::npos);
    CHECK(r.output.find("BALLAST_LIVE=1") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(s.journal));
}

TEST_CASE("paper: docs/examples/paper-local.toml rebalances a fresh account by the broker's clock",
          "[integration][paper]") {
    PaperSetup s;
    FakeAlpacaProcess fake(s.dir.path(), s.pki.server_cert, s.pki.server_key, s.pki.ca_file, {"--today", "2025-03-06", "--time", "17:00"});
    // The shipped example, with this test's port, CA and journal.
    std::ifstream in(std::string(BALLAST_TEST_DATA_DIR) + "/../../docs/examples/paper-local.toml");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(text.find("https://localhost:8443") != std::string::npos);
    auto replace_all = [&](const std::string& from, const std::string& to) {
        for (auto p = text.find(from); p != std::string::npos; p = text.find(from, p + to.size())) text.replace(p, from.size(), to);
    };
    replace_all("https://localhost:8443", fake.url());
    replace_all("../../fake-alpaca-tls/cert.pem", s.pki.ca_file.string());
    replace_all("../../paper-local.db", s.journal.string());
    write_file(s.config, text);
    const auto r = s.once("");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(s.rows("SELECT count(*) FROM orders WHERE status = 'filled'") == 4);
    CHECK(stats(fake)["orders_submitted"] == 4);
}

namespace {

// A market-hours schedule: the chain of a session trades on the previous session's bars.
const char* kMorning = "[schedule]\ndata_update = \"09:35\"\nsignals = \"09:40\"\nrebalance = \"09:45\"\n";

void write_morning_config(PaperSetup& s, const std::string& url, const std::string& weights,
                          const std::string& alpaca_extra = "") {
    write_file(s.config, "mode = \"paper\"\njournal = \"" + s.journal.string() + "\"\n[strategy.weights]\n" + weights +
                             "[rebalance]\nmin_interval_days = 0\n[risk]\nmax_order_pct = 100\nmax_position_pct = 100\n" + kMorning + "[alpaca]\ntrading_url = \"" + url +
                             "\"\ndata_url = \"" + url + "\"\nca_file = \"" + s.pki.ca_file.string() + "\"\n" +
                             alpaca_extra);
}

}  // namespace

TEST_CASE("paper, market open: sells fill before any buy is sized, from the cash they raised",
          "[integration][paper][execution]") {
    PaperSetup s;
    FakeAlpacaProcess fake(s.dir.path(), s.pki.server_cert, s.pki.server_key, s.pki.ca_file,
                           {"--today", "2025-03-06", "--time", "10:00"});
    write_morning_config(s, fake.url(), "VTI = 60\nTLT = 40\n");
    REQUIRE(s.once("--session 2025-03-05").exit_code == 0);
    // Now all of it moves to GLD/DBC: two sells, then buys. Sells fill only after two polls.
    fake.control("POST", "/_fake/orders", R"({"mode":"delayed","polls":2})");
    write_morning_config(s, fake.url(), "GLD = 50\nDBC = 50\n");
    const auto r = s.once("--session 2025-03-06");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    // The session's chain used the previous session's bars.
    CHECK(s.rows("SELECT count(*) FROM job_runs WHERE session_date = '2025-03-06' AND job = 'data-update'"
                 " AND detail LIKE '%through 2025-03-05%'") == 1);
    CHECK(s.rows("SELECT count(*) FROM orders WHERE session_date = '2025-03-06' AND side = 'sell' AND status = 'filled'") == 2);
    CHECK(s.rows("SELECT count(*) FROM orders WHERE session_date = '2025-03-06' AND side = 'buy' AND status = 'filled'") == 2);
    // Every sell's fill is journaled before the first buy's intent.
    CHECK(s.rows("SELECT count(*) FROM order_events f JOIN orders s ON f.order_id = s.id,"
                 " order_events i JOIN orders b ON i.order_id = b.id"
                 " WHERE s.session_date = '2025-03-06' AND s.side = 'sell' AND f.event = 'filled'"
                 " AND b.session_date = '2025-03-06' AND b.side = 'buy' AND i.event = 'intent_recorded' AND i.id < f.id") == 0);
    CHECK(fake.control("GET", "/_fake/stats").find("\"orders_submitted\":6") != std::string::npos);
}

TEST_CASE("paper, market open: a sell still open at the deadline is canceled, buys use the real cash",
          "[integration][paper][execution]") {
    PaperSetup s;
    FakeAlpacaProcess fake(s.dir.path(), s.pki.server_cert, s.pki.server_key, s.pki.ca_file,
                           {"--today", "2025-03-06", "--time", "10:00"});
    write_morning_config(s, fake.url(), "VTI = 60\nTLT = 40\n");
    REQUIRE(s.once("--session 2025-03-05").exit_code == 0);
    fake.control("POST", "/_fake/orders", R"({"mode":"partial","fraction":0.5})");
    write_morning_config(s, fake.url(), "VTI = 100\n", "fill_timeout_seconds = 2\n");
    const auto r = s.once("--session 2025-03-06");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    // The TLT sell half filled, then was canceled at the deadline, with both events journaled.
    CHECK(s.rows("SELECT count(*) FROM orders WHERE session_date = '2025-03-06' AND symbol = 'TLT' AND side = 'sell'"
                 " AND status = 'canceled' AND CAST(filled_qty AS REAL) > 0") == 1);
    CHECK(s.rows("SELECT count(*) FROM order_events e JOIN orders o ON e.order_id = o.id WHERE o.symbol = 'TLT'"
                 " AND o.session_date = '2025-03-06' AND e.event = 'partially_filled'") == 1);
    // The buy was sized from the cash the half-filled sell raised: the fake did not refuse it
    // for buying power (it also half filled, and was canceled at the deadline in turn).
    CHECK(s.rows("SELECT count(*) FROM orders WHERE session_date = '2025-03-06' AND side = 'buy' AND status = 'rejected'") == 0);
    CHECK(s.rows("SELECT count(*) FROM orders WHERE session_date = '2025-03-06' AND side = 'buy' AND symbol = 'VTI'"
                 " AND status = 'canceled' AND CAST(filled_qty AS REAL) > 0") == 1);
    CHECK(s.rows("SELECT count(*) FROM orders WHERE status NOT IN ('filled', 'canceled', 'rejected', 'denied')") == 0);
}
