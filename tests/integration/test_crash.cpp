// Crash safety: kill -9 the real `ballast` at each step of a rebalance against the fake
// Alpaca, restart it, and compare with one clean run. The kill comes from the test hook
// BALLAST_CRASH_AT=<point>[:<n>] (SIGKILL at the n-th time the process reaches it).
#include <catch2/catch.hpp>

#include <map>

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

struct Account {
    std::map<std::string, std::string> positions;  // symbol -> qty (exact text)
    int orders_submitted = 0;
    int duplicates_rejected = 0;
};

// One scenario: a clean first rebalance into VTI/TLT, then a second one into GLD/DBC
// (two sells, then two buys) during which the process may be killed.
struct Scenario {
    TempDir dir;
    ballast::test::TestPki pki = ballast::test::make_test_pki(dir.path());
    std::filesystem::path journal = dir / "j.db";
    std::filesystem::path config = dir / "c.toml";
    FakeAlpacaProcess fake{dir.path(), pki.server_cert, pki.server_key, pki.ca_file,
                           {"--today", "2025-03-06", "--time", "10:00"}};

    void write(const std::string& weights) {
        write_file(config, "mode = \"paper\"\njournal = \"" + journal.string() + "\"\n[strategy.weights]\n" + weights +
                               "[rebalance]\nmin_interval_days = 0\n[risk]\nmax_order_pct = 100\nmax_position_pct = 100\n"
                               "[alpaca]\ntrading_url = \"" + fake.url() + "\"\ndata_url = \"" + fake.url() +
                               "\"\nca_file = \"" + pki.ca_file.string() + "\"\nfill_timeout_seconds = 30\n");
    }
    ballast::test::ProcessResult once(const std::string& session, const std::string& crash = "") {
        const std::string env = std::string(kKeys) + (crash.empty() ? "" : " BALLAST_CRASH_AT=" + crash);
        return run_ballast("once --session " + session + " --config " + shell_quote(config.string()), env);
    }
    void prepare() {
        write("VTI = 60\nTLT = 40\n");
        const auto r = once("2025-03-05");
        INFO(r.output);
        REQUIRE(r.exit_code == 0);
        write("GLD = 50\nDBC = 50\n");
    }
    Account account() const {
        Account a;
        for (const auto& p : nlohmann::json::parse(fake.get_api("/v2/positions")))
            a.positions[p["symbol"].get<std::string>()] = p["qty"].get<std::string>();
        const auto st = nlohmann::json::parse(fake.control("GET", "/_fake/stats"));
        a.orders_submitted = st["orders_submitted"].get<int>();
        a.duplicates_rejected = st["duplicate_client_order_ids_rejected"].get<int>();
        return a;
    }
    int rows(const std::string& sql) const {
        SQLite::Database db(journal.string(), SQLite::OPEN_READONLY);
        return db.execAndGet(sql).getInt();
    }
    std::string integrity() const {
        SQLite::Database db(journal.string(), SQLite::OPEN_READONLY);
        return db.execAndGet("PRAGMA integrity_check").getString();
    }
};

}  // namespace

TEST_CASE("crash safety: kill -9 at every step of a rebalance, restart, same result as a clean run",
          "[integration][crash]") {
    // The clean reference.
    Scenario clean;
    clean.prepare();
    const auto r = clean.once("2025-03-06");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    const Account expected = clean.account();
    REQUIRE(expected.positions.size() == 2);  // GLD and DBC only
    REQUIRE(expected.orders_submitted == 2 + 4);

    // Legs 0-1 are the sells, 2-3 the buys; "n" counts the times the point is reached.
    for (const char* point : {"after-intent:1", "after-submit:1", "after-intent:2", "after-submit:2",
                              "between-sells-and-buys:1", "while-polling:1", "after-intent:3", "after-submit:3",
                              "after-submit:4"}) {
        DYNAMIC_SECTION("killed at " << point) {
            Scenario s;
            s.prepare();
            if (std::string(point).rfind("while-polling", 0) == 0)
                s.fake.control("POST", "/_fake/orders", R"({"mode":"delayed","polls":2})");
            const auto killed = s.once("2025-03-06", point);
            INFO(killed.output);
            CHECK(killed.exit_code == 128 + 9);  // SIGKILL
            // Restart (a restart also switches the fake back to immediate fills).
            if (std::string(point).rfind("while-polling", 0) == 0)
                s.fake.control("POST", "/_fake/orders", R"({"mode":"immediate"})");
            const auto restarted = s.once("2025-03-06");
            INFO(restarted.output);
            CHECK(restarted.exit_code == 0);
            const Account got = s.account();
            CHECK(got.positions == expected.positions);
            CHECK(got.orders_submitted == expected.orders_submitted);  // no duplicate order at the broker
            CHECK(s.rows("SELECT count(*) FROM orders WHERE status NOT IN"
                         " ('filled', 'canceled', 'expired', 'rejected', 'denied')") == 0);
            CHECK(s.rows("SELECT count(*) FROM job_runs WHERE status = 'running'") == 0);
            CHECK(s.integrity() == "ok");
        }
    }
}
