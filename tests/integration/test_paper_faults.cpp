// Paper mode under injected faults: the real `ballast` binary against
// `ballast-fake-alpaca` over TLS, one fault class at a time. Each case checks what the
// journal's health events say about every attempt, what the fake saw, and that no order
// is sent twice or sent at all when a job fails.
#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

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

// A paper account on the fake, with short timeouts so that timeouts are quick to test.
struct FaultSetup {
    TempDir dir;
    ballast::test::TestPki pki = ballast::test::make_test_pki(dir.path());
    std::filesystem::path journal = dir / "faults.db";
    std::filesystem::path config = dir / "faults.toml";
    std::unique_ptr<FakeAlpacaProcess> fake;

    explicit FaultSetup(const std::string& alpaca_extra = "", std::vector<std::string> fake_args = {}) {
        fake_args.insert(fake_args.end(), {"--today", "2025-03-06", "--time", "10:00"});
        fake = std::make_unique<FakeAlpacaProcess>(dir.path(), pki.server_cert, pki.server_key, pki.ca_file, fake_args);
        write_file(config, "mode = \"paper\"\njournal = \"" + journal.string() +
                               "\"\n[strategy.weights]\nVTI = 40\nTLT = 30\nGLD = 20\nDBC = 10\n"
                               "[alpaca]\ntrading_url = \"" + fake->url() + "\"\ndata_url = \"" + fake->url() +
                               "\"\nca_file = \"" + pki.ca_file.string() +
                               "\"\nrequest_timeout_ms = 800\nconnect_timeout_ms = 2000\n" + alpaca_extra);
    }
    ballast::test::ProcessResult once(const std::string& args = "--session 2025-03-06", const char* env = kKeys) {
        return run_ballast("once " + args + " --config " + shell_quote(config.string()), env);
    }
    void faults(const std::string& json) { fake->control("POST", "/_fake/faults", json); }
    nlohmann::json stats() const { return nlohmann::json::parse(fake->control("GET", "/_fake/stats")); }
    std::string fake_log() const { return ballast::test::read_bytes(dir / "fake.log"); }

    int rows(const std::string& sql) const {
        SQLite::Database db(journal.string(), SQLite::OPEN_READONLY);
        return db.execAndGet(sql).getInt();
    }
    std::vector<std::string> texts(const std::string& sql) const {
        SQLite::Database db(journal.string(), SQLite::OPEN_READONLY);
        SQLite::Statement q(db, sql);
        std::vector<std::string> out;
        while (q.executeStep()) out.push_back(q.getColumn(0).getString());
        return out;
    }
    // The journaled attempts of METHOD PATH, in order, as "attempt N: ..." (the host,
    // which carries the random port, and the duration cut off).
    std::vector<std::string> attempts(const std::string& method, const std::string& path) const {
        std::vector<std::string> out;
        for (auto d : texts("SELECT detail FROM health_events WHERE kind = 'http_attempt' ORDER BY id")) {
            if (d.rfind(method + " ", 0) != 0) continue;
            const auto at = d.find(" " + path + " attempt ");
            if (at == std::string::npos) continue;
            d = d.substr(at + path.size() + 2);
            d = d.substr(0, d.rfind(" in "));
            out.push_back(d);
        }
        return out;
    }
    std::string all_health() const {
        std::string out;
        for (const auto& d : texts("SELECT kind || ': ' || coalesce(detail, '') FROM health_events ORDER BY id"))
            out += d + "\n";
        return out;
    }
};

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// What a clean run leaves at the fake: positions (symbol -> qty) through the trading API.
std::string positions_of(const FaultSetup& s) {
    SQLite::Database db(s.journal.string(), SQLite::OPEN_READONLY);
    SQLite::Statement q(db, "SELECT symbol || '=' || qty FROM v_positions ORDER BY symbol");
    std::string out;
    while (q.executeStep()) out += q.getColumn(0).getString() + " ";
    return out;
}

// The rebalance of a fresh 100k account at the fake's 2025-03-06 closes, from a clean run.
const std::string& clean_positions() {
    static const std::string positions = [] {
        FaultSetup s;
        const auto r = s.once();
        if (r.exit_code != 0) throw std::runtime_error("the clean reference run failed:\n" + r.output);
        return positions_of(s);
    }();
    return positions;
}

void require_clean_rebalance(FaultSetup& s, const ballast::test::ProcessResult& r) {
    INFO(r.output);
    INFO(s.all_health());
    REQUIRE(r.exit_code == 0);
    CHECK(has(r.output, "rebalance: succeeded"));
    CHECK(s.rows("SELECT count(*) FROM orders WHERE status = 'filled' AND broker_order_id IS NOT NULL") == 4);
    const auto st = s.stats();
    CHECK(st["orders_submitted"] == 4);
    CHECK(st["faults_pending"] == 0);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// 1. One transient fault on a GET: attempt 1 fails as expected, attempt 2 succeeds.

TEST_CASE("paper faults: one transient fault on a GET is retried once and the rebalance completes",
          "[integration][paper][faults]") {
    struct Case {
        const char* name;
        const char* method;
        const char* path;
        std::string fault;     // the fault's JSON
        std::string attempt1;  // what the journal says of attempt 1 (a part of it)
    };
    const std::vector<Case> cases = {
        {"timeout", "GET", "/v2/account", R"({"method":"GET","path":"/v2/account","action":"timeout"})",
         "timed out waiting for the response (request timeout 800 ms)"},
        {"reset", "GET", "/v2/account", R"({"method":"GET","path":"/v2/account","action":"reset"})",
         "connection closed by the server"},
        {"truncate", "GET", "/v2/stocks/bars", R"({"method":"GET","path":"/v2/stocks/bars","action":"truncate"})",
         "in the middle of the response"},
        {"slow past the timeout", "GET", "/v2/stocks/bars",
         R"({"method":"GET","path":"/v2/stocks/bars","action":"slow","delay_ms":1500})",
         "timed out waiting for the response (request timeout 800 ms)"},
        {"500", "GET", "/v2/account", R"({"method":"GET","path":"/v2/account","action":"status","status":500})",
         "HTTP 500"},
        {"502", "GET", "/v2/stocks/bars", R"({"method":"GET","path":"/v2/stocks/bars","action":"status","status":502})",
         "HTTP 502"},
        {"503", "GET", "/v2/account", R"({"method":"GET","path":"/v2/account","action":"status","status":503})",
         "HTTP 503"},
        {"504", "GET", "/v2/stocks/bars", R"({"method":"GET","path":"/v2/stocks/bars","action":"status","status":504})",
         "HTTP 504"},
        {"429", "GET", "/v2/account", R"({"method":"GET","path":"/v2/account","action":"status","status":429})",
         "HTTP 429"},
    };
    for (const auto& c : cases) {
        SECTION(c.name) {
            FaultSetup s;
            s.faults(c.fault);
            const auto r = s.once();
            require_clean_rebalance(s, r);
            const auto a = s.attempts(c.method, c.path);
            INFO(s.all_health());
            // GET /v2/account is called again at the rebalance; that call is clean.
            REQUIRE(a.size() >= 2);
            CHECK(has(a[0], "attempt 1: "));
            CHECK(has(a[0], c.attempt1));
            CHECK(a[1] == "attempt 2: HTTP 200");
            for (std::size_t i = 2; i < a.size(); ++i) CHECK(a[i] == "attempt 1: HTTP 200");
            CHECK(s.stats()["requests_by_path"][c.path] == static_cast<int>(a.size()));
            CHECK_FALSE(has(r.output, "test-secret"));
        }
    }
}

TEST_CASE("paper faults: a slow answer within the timeout succeeds at the first attempt", "[integration][paper][faults]") {
    FaultSetup s;
    s.faults(R"({"method":"GET","path":"/v2/stocks/bars","action":"slow","delay_ms":300})");
    const auto r = s.once();
    require_clean_rebalance(s, r);
    CHECK(s.attempts("GET", "/v2/stocks/bars") == std::vector<std::string>{"attempt 1: HTTP 200"});
}

TEST_CASE("paper faults: a 200 with a malformed body fails the job at once and trades nothing",
          "[integration][paper][faults]") {
    FaultSetup s;
    s.faults(R"({"method":"GET","path":"/v2/account","action":"malformed"})");
    const auto r = s.once();
    INFO(r.output);
    INFO(s.all_health());
    CHECK(r.exit_code == 1);
    CHECK(has(r.output, "GET /v2/account"));  // the error names the endpoint
    CHECK(s.attempts("GET", "/v2/account") == std::vector<std::string>{"attempt 1: HTTP 200"});  // not retried
    CHECK(s.rows("SELECT count(*) FROM job_runs WHERE job = 'data-update' AND status = 'failed'") == 1);
    CHECK(s.rows("SELECT count(*) FROM orders") == 0);
    CHECK(s.stats()["orders_submitted"] == 0);
    CHECK(s.stats()["requests_by_path"]["/v2/account"] == 1);
}

// ---------------------------------------------------------------------------------------
// 2. A lost answer to POST /v2/orders never leads to a duplicate order.

TEST_CASE("paper faults: a lost answer to an order submit is retried and leads to no duplicate",
          "[integration][paper][faults]") {
    struct Case {
        const char* name;
        std::string fault;
        const char* attempt1;  // what the journal says of the submit's attempt 1
        int duplicates;        // 422 "client_order_id must be unique" answers expected
    };
    const std::vector<Case> cases = {
        {"timeout after the order was placed", R"({"method":"POST","path":"/v2/orders","action":"timeout"})",
         "timed out waiting for the response", 1},
        {"reset before the order was placed", R"({"method":"POST","path":"/v2/orders","action":"reset"})",
         "closed the kept-alive connection before answering; POST not resent", 0},
        {"reset after the order was placed", R"({"method":"POST","path":"/v2/orders","action":"reset","apply":true})",
         "closed the kept-alive connection before answering; POST not resent", 1},
        {"truncated answer after the order was placed", R"({"method":"POST","path":"/v2/orders","action":"truncate"})",
         "in the middle of the response", 1},
        {"503 before the order was placed",
         R"({"method":"POST","path":"/v2/orders","action":"status","status":503})", "HTTP 503", 0},
        {"500 after the order was placed",
         R"({"method":"POST","path":"/v2/orders","action":"status","status":500,"apply":true})", "HTTP 500", 1},
    };
    const std::string expected_positions = clean_positions();
    for (const auto& c : cases) {
        SECTION(c.name) {
            FaultSetup s;
            s.faults(c.fault);
            const auto r = s.once();
            require_clean_rebalance(s, r);
            INFO(s.fake_log());
            const auto st = s.stats();
            INFO(st.dump());
            // Four distinct client_order_ids reached the broker, each placed once.
            CHECK(s.rows("SELECT count(DISTINCT client_order_id) FROM orders") == 4);
            CHECK(st["duplicate_client_order_ids_rejected"] == c.duplicates);
            CHECK(positions_of(s) == expected_positions);
            const auto a = s.attempts("POST", "/v2/orders");
            REQUIRE(a.size() == 5);
            CHECK(has(a[0], "attempt 1: "));
            CHECK(has(a[0], c.attempt1));
            CHECK(a[1] == (c.duplicates ? "attempt 2: HTTP 422" : "attempt 2: HTTP 200"));
        }
    }
}

TEST_CASE("paper faults: a malformed answer to an order submit is looked up and the rebalance goes on",
          "[integration][paper][faults]") {
    // The order was placed but its answer is unreadable: not retried (a retry could not
    // tell more than a lookup); the order is fetched by its client_order_id at once, and
    // the remaining orders are sent. No order is placed twice.
    FaultSetup s;
    s.faults(R"({"method":"POST","path":"/v2/orders","action":"malformed"})");
    const auto r = s.once();
    INFO(r.output);
    INFO(s.all_health());
    CHECK(r.exit_code == 0);
    CHECK(has(r.output, "the broker has the order, continuing"));
    const auto st = s.stats();
    INFO(st.dump());
    CHECK(st["orders_submitted"] == 4);
    CHECK(st["duplicate_client_order_ids_rejected"] == 0);
    CHECK(st["requests_by_path"]["/v2/orders:by_client_order_id"].get<int>() >= 1);
    CHECK(s.rows("SELECT count(*) FROM orders WHERE status = 'filled' AND broker_order_id IS NOT NULL") == 4);
    CHECK(s.rows("SELECT count(*) FROM job_runs WHERE status = 'failed'") == 0);
}

// ---------------------------------------------------------------------------------------
// 3. Retries exhausted: the job fails cleanly, nothing is traded, the message counts.

TEST_CASE("paper faults: retries exhausted on each fault class fail the job cleanly", "[integration][paper][faults]") {
    struct Case {
        const char* name;
        std::string fault;
        const char* last;  // the last outcome, as the error names it
    };
    const std::vector<Case> cases = {
        {"timeout", R"({"method":"GET","path":"/v2/account","count":3,"action":"timeout"})", "last: timeout"},
        {"reset", R"({"method":"GET","path":"/v2/account","count":3,"action":"reset"})", "last: network error"},
        {"503", R"({"method":"GET","path":"/v2/account","count":3,"action":"status","status":503})", "last: HTTP 503"},
    };
    for (const auto& c : cases) {
        SECTION(c.name) {
            FaultSetup s("max_attempts = 3\n");
            s.faults(c.fault);
            const auto r = s.once();
            INFO(r.output);
            INFO(s.all_health());
            CHECK(r.exit_code == 1);
            CHECK(has(r.output, "gave up after 3 attempts"));
            CHECK(has(r.output, c.last));
            CHECK(has(r.output, "/v2/account"));
            CHECK(s.rows("SELECT count(*) FROM job_runs WHERE job = 'data-update' AND status = 'failed'") == 1);
            CHECK(s.rows("SELECT count(*) FROM job_runs WHERE job = 'data-update' AND error LIKE '%gave up after 3 "
                         "attempts%'") == 1);
            CHECK(s.rows("SELECT count(*) FROM orders") == 0);
            CHECK(s.attempts("GET", "/v2/account").size() == 3);
            const auto st = s.stats();
            CHECK(st["requests_by_path"]["/v2/account"] == 3);
            CHECK(st["orders_submitted"] == 0);
            CHECK(st["faults_pending"] == 0);
        }
    }
}

// ---------------------------------------------------------------------------------------
// 4. Circuit breaker.

TEST_CASE("paper faults: the circuit breaker opens after 5 failures and fails fast", "[integration][paper][faults]") {
    FaultSetup s("max_attempts = 10\n");
    s.faults(R"({"method":"GET","path":"/v2/account","count":100,"action":"status","status":503})");
    const auto r = s.once();
    INFO(r.output);
    INFO(s.all_health());
    CHECK(r.exit_code == 1);
    CHECK(has(r.output, "circuit breaker open"));
    CHECK(s.rows("SELECT count(*) FROM health_events WHERE kind = 'circuit_breaker' AND detail LIKE '%closed -> open%'") ==
          1);
    // Five attempts reached the fake; the sixth failed fast without a request.
    CHECK(s.attempts("GET", "/v2/account").size() == 5);
    const auto st = s.stats();
    CHECK(st["requests_total"] == 5);
    CHECK(st["faults_pending"] == 95);
    CHECK(s.rows("SELECT count(*) FROM orders") == 0);
    CHECK(s.rows("SELECT count(*) FROM job_runs WHERE job = 'data-update' AND status = 'failed' AND error LIKE "
                 "'%circuit breaker open%'") == 1);
}

TEST_CASE("paper faults: the circuit breaker half-opens after the cool-down and recovers",
          "[integration][paper][faults]") {
    // 429s carry Retry-After: 1, so every retry waits at least 1 s: longer than the
    // 500 ms cool-down. Five failures open the breaker; the sixth attempt is a probe that
    // fails (open again); the seventh is a probe that succeeds (closed).
    FaultSetup s("max_attempts = 10\nbreaker_cooldown_ms = 500\n");
    s.faults(R"([{"method":"GET","path":"/v2/account","count":4,"action":"status","status":503},
                 {"method":"GET","path":"/v2/account","count":2,"action":"status","status":429}])");
    const auto r = s.once();
    require_clean_rebalance(s, r);
    const auto breaker =
        s.texts("SELECT detail FROM health_events WHERE kind = 'circuit_breaker' ORDER BY id");
    // Every state change is journaled: open, half-open (probe), open again, half-open, closed.
    REQUIRE(breaker.size() == 5);
    CHECK(has(breaker[0], "closed -> open"));
    CHECK(has(breaker[1], "open -> half_open"));
    CHECK(has(breaker[2], "half_open -> open"));
    CHECK(has(breaker[3], "open -> half_open"));
    CHECK(has(breaker[4], "half_open -> closed"));
    const auto a = s.attempts("GET", "/v2/account");
    REQUIRE(a.size() >= 7);
    CHECK(a[5] == "attempt 6: HTTP 429");
    CHECK(a[6] == "attempt 7: HTTP 200");
}

TEST_CASE("config: breaker_cooldown_ms out of range is refused", "[integration][paper][faults]") {
    TempDir dir;
    write_file(dir / "c.toml", "mode = \"paper\"\njournal = \"" + (dir / "j.db").string() +
                                   "\"\n[strategy.weights]\nVTI = 60\nTLT = 40\n[alpaca]\nbreaker_cooldown_ms = 5\n");
    const auto r = run_ballast("check-config --config " + shell_quote((dir / "c.toml").string()), kKeys);
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK(has(r.output, "breaker_cooldown_ms"));
}

// ---------------------------------------------------------------------------------------
// 6. Bad keys: 401 on the trading API, 403 on the data API; never retried, never shown.

TEST_CASE("paper faults: wrong keys give a clear error, no retry and no secret anywhere",
          "[integration][paper][faults]") {
    const char* wrong = "APCA_API_KEY_ID=test-key APCA_API_SECRET_KEY=wrong-secret-value-0123";
    SECTION("401 from the trading API") {
        FaultSetup s;
        const auto r = s.once("--session 2025-03-06", wrong);
        INFO(r.output);
        CHECK(r.exit_code == 1);
        CHECK(has(r.output, "GET /v2/account: HTTP 401"));
        CHECK(has(r.output, "check APCA_API_KEY_ID and APCA_API_SECRET_KEY"));
        CHECK(s.attempts("GET", "/v2/account") == std::vector<std::string>{"attempt 1: HTTP 401"});
        CHECK(s.stats()["requests_total"] == 1);
        CHECK(s.rows("SELECT count(*) FROM orders") == 0);
        CHECK_FALSE(has(r.output, "wrong-secret-value"));
        CHECK_FALSE(has(ballast::test::read_bytes(s.journal), "wrong-secret-value"));
        CHECK_FALSE(has(s.fake_log(), "wrong-secret-value"));
    }
    SECTION("403 from the data API") {
        // The trading API takes the key; the data host refuses it (a key without data access).
        FaultSetup s;
        s.faults(R"({"method":"GET","path":"/v2/stocks/bars","action":"status","status":403})");
        const auto r = s.once();
        INFO(r.output);
        CHECK(r.exit_code == 1);
        CHECK(has(r.output, "GET /v2/stocks/bars: HTTP 403"));
        CHECK(has(r.output, "the keys are missing or not allowed here"));
        CHECK(s.attempts("GET", "/v2/stocks/bars") == std::vector<std::string>{"attempt 1: HTTP 403"});
        CHECK(s.stats()["requests_by_path"]["/v2/stocks/bars"] == 1);
        CHECK(s.rows("SELECT count(*) FROM orders") == 0);
        CHECK_FALSE(has(r.output, "test-secret"));
        CHECK_FALSE(has(ballast::test::read_bytes(s.journal), "test-secret"));
        CHECK_FALSE(has(s.fake_log(), "test-secret"));
    }
}

// ---------------------------------------------------------------------------------------
// 5. Rate limit. The window is 60 s at both ends, so proving the client-side limit
// takes one run of more requests than the limit, whose last requests wait ~60 s.

TEST_CASE("paper faults: the client-side rate limit keeps every 60 s window under the limit",
          "[integration][paper][faults][rate]") {
    // A run makes more than 8 trading-API requests and a few market-data ones (the fake
    // serves both APIs and counts them together; ballast limits each API on its own, as
    // Alpaca does). With a limit of 8 per API the trading requests past the 8th wait for
    // the window (~61 s). The fake allows 10, so without the client-side limit it would
    // answer 429.
    FaultSetup s("rate_limit_per_minute = 8\n", {"--rate-limit", "10"});
    const auto r = s.once();
    require_clean_rebalance(s, r);
    const auto st = s.stats();
    INFO(st.dump());
    int data = 0;
    for (const auto& [path, n] : st["requests_by_path"].items())
        if (path.rfind("/v2/stocks/", 0) == 0) data += n.get<int>();
    const int trading = st["requests_total"].get<int>() - data;
    REQUIRE(trading > 8);
    REQUIRE(data <= 8);
    CHECK(st["max_requests_in_any_60s_window"].get<int>() <= 8 + data);
    CHECK(s.rows("SELECT count(*) FROM health_events WHERE kind = 'http_attempt' AND detail LIKE '%HTTP 429%'") == 0);
    CHECK_FALSE(has(s.fake_log(), "-> 429"));
}
