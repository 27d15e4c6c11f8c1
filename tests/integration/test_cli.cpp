// The `ballast` command line: exit codes, once/dry-run, halt/resume, run and SIGTERM,
// refusal of bad input. Each case runs the real binary.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <SQLiteCpp/SQLiteCpp.h>

#include "../support/process.hpp"

using ballast::test::run_ballast;
using ballast::test::shell_quote;
using ballast::test::TempDir;
using ballast::test::write_file;

namespace {

std::string fixture(const std::string& name) { return std::string(BALLAST_TEST_DATA_DIR) + "/config/" + name; }

int count_rows(const std::filesystem::path& db, const std::string& sql) {
    SQLite::Database d(db.string(), SQLite::OPEN_READONLY);
    return d.execAndGet(sql).getInt();
}

}  // namespace

TEST_CASE("check-config rejects each bad config with exit 78 and names the key", "[integration][cli][config]") {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"bad_unknown_key.toml", "rebalance.drift_treshold: unknown key; did you mean 'drift_threshold'?"},
        {"bad_unknown_table.toml", "rebalanse"},
        {"bad_wrong_type.toml", "rebalance.min_interval_days: expected an integer"},
        {"bad_weights_sum.toml", "strategy.weights: weights sum to 95.00%"},
        {"bad_weight_range.toml", "strategy.weights.VTI"},
        {"bad_negative_threshold.toml", "rebalance.drift_threshold"},
        {"bad_range_threshold.toml", "rebalance.drift_threshold"},
        {"bad_time.toml", "schedule.data_update"},
        {"bad_time_order.toml", "schedule.signals"},
        {"bad_duplicate_symbol.toml", "VTI"},
        {"bad_duplicate_symbol_case.toml", "strategy.weights.vti"},
        {"bad_enum.toml", "mode: expected one of sim, paper, live"},
        {"bad_secret.toml", "secrets must not be in config.toml"},
        {"bad_syntax.toml", "bad_syntax.toml:1:"},
        {"bad_missing_weights.toml", "strategy.weights"},
    };
    for (const auto& [file, needle] : cases) {
        const auto r = run_ballast("check-config --config " + shell_quote(fixture(file)));
        INFO(file << "\n" << r.output);
        CHECK(r.exit_code == 78);
        CHECK(r.output.find(needle) != std::string::npos);
        CHECK(r.output.find(file) != std::string::npos);  // the message names the file
    }
}

TEST_CASE("check-config prints the effective config with secrets redacted", "[integration][cli][config]") {
    const auto r = run_ballast("check-config --config " + shell_quote(fixture("good_paper.toml")),
                               "APCA_API_KEY_ID=PKTESTKEYID123 APCA_API_SECRET_KEY=very-secret-value-42");
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("<set, redacted>") != std::string::npos);
    CHECK(r.output.find("very-secret-value-42") == std::string::npos);
    CHECK(r.output.find("PKTESTKEYID123") == std::string::npos);
}

TEST_CASE("once runs today's chain in sim mode, once per session; dry run places nothing", "[integration][cli][once]") {
    TempDir dir;
    const auto journal = dir / "j.db";
    const auto config = dir / "config.toml";
    write_file(config, ballast::test::sim_config(journal, "fill = \"close\"\n"));
    const std::string base = "--config " + shell_quote(config.string());

    auto dry = run_ballast("once --dry-run --session 2025-03-06 " + base);
    INFO(dry.output);
    REQUIRE(dry.exit_code == 0);
    CHECK(dry.output.find("dry run") != std::string::npos);
    CHECK(count_rows(journal, "SELECT count(*) FROM orders WHERE status = 'dry_run'") == 4);
    CHECK(count_rows(journal, "SELECT count(*) FROM orders WHERE status <> 'dry_run'") == 0);
    CHECK(count_rows(journal, "SELECT count(*) FROM job_runs WHERE dry_run = 0") == 0);

    auto first = run_ballast("once --session 2025-03-06 " + base);
    INFO(first.output);
    REQUIRE(first.exit_code == 0);
    CHECK(first.output.find("rebalance: succeeded") != std::string::npos);
    CHECK(count_rows(journal, "SELECT count(*) FROM orders WHERE status = 'filled'") == 4);
    // The sim account persists next to the journal.
    CHECK(std::filesystem::exists(journal.string() + ".sim.json"));

    auto again = run_ballast("once --session 2025-03-06 " + base);
    INFO(again.output);
    CHECK(again.exit_code == 0);
    CHECK(again.output.find("nothing to do") != std::string::npos);
    CHECK(count_rows(journal, "SELECT count(*) FROM orders WHERE status = 'filled'") == 4);
    CHECK(count_rows(journal, "SELECT count(*) FROM job_runs WHERE dry_run = 0") == 3);

    // The next session holds: the portfolio is on target and 30 days have not passed.
    auto next = run_ballast("once " + base);  // defaults to the last session of the data
    INFO(next.output);
    CHECK(next.exit_code == 0);
    CHECK(next.output.find("2025-03-06") != std::string::npos);
}

TEST_CASE("once holds and exits 1 when the session has no data", "[integration][cli][once]") {
    TempDir dir;
    const auto journal = dir / "j.db";
    const auto config = dir / "config.toml";
    write_file(config, ballast::test::sim_config(journal));
    // 2026-01-05 is a trading day after the bundled data ends.
    const auto r = run_ballast("once --session 2026-01-05 --config " + shell_quote(config.string()));
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK(r.output.find("no bar for") != std::string::npos);
    CHECK(count_rows(journal, "SELECT count(*) FROM job_runs WHERE job = 'data-update' AND status = 'failed'") == 1);
    CHECK(count_rows(journal, "SELECT count(*) FROM job_runs WHERE status = 'skipped'") == 2);
    CHECK(count_rows(journal, "SELECT count(*) FROM orders") == 0);
}

TEST_CASE("halt stops trading until resume, across processes", "[integration][cli][halt]") {
    TempDir dir;
    const auto journal = dir / "j.db";
    const auto config = dir / "config.toml";
    write_file(config, ballast::test::sim_config(journal, "fill = \"close\"\n"));
    const std::string base = "--config " + shell_quote(config.string());
    REQUIRE(run_ballast("halt --reason 'testing the kill switch' " + base).exit_code == 0);
    auto r = run_ballast("once --session 2025-03-05 " + base);
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("halted") != std::string::npos);
    CHECK(count_rows(journal, "SELECT count(*) FROM orders") == 0);
    CHECK(count_rows(journal, "SELECT count(*) FROM rebalance_decisions WHERE reason LIKE '%testing the kill switch%'") == 1);
    REQUIRE(run_ballast("resume " + base).exit_code == 0);
    r = run_ballast("once --session 2025-03-06 " + base);
    CHECK(r.exit_code == 0);
    CHECK(count_rows(journal, "SELECT count(*) FROM orders WHERE status = 'filled'") == 4);
}

TEST_CASE("a journal from a newer ballast is refused and left untouched", "[integration][cli][journal]") {
    TempDir dir;
    const auto journal = dir / "j.db";
    const auto config = dir / "config.toml";
    write_file(config, ballast::test::sim_config(journal));
    {
        SQLite::Database db(journal.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        db.exec("CREATE TABLE future(x); PRAGMA user_version = 999;");
    }
    const auto before = std::filesystem::file_size(journal);
    const auto r = run_ballast("once --session 2025-03-06 --config " + shell_quote(config.string()));
    INFO(r.output);
    CHECK(r.exit_code == 74);
    CHECK(r.output.find("newer") != std::string::npos);
    CHECK(std::filesystem::file_size(journal) == before);
    CHECK(count_rows(journal, "PRAGMA user_version") == 999);
}

TEST_CASE("bad price data and bad arguments exit with their codes", "[integration][cli]") {
    TempDir dir;
    std::filesystem::create_directories(dir / "data");
    for (const char* s : {"VTI", "TLT", "GLD", "DBC"})
        std::filesystem::copy_file(std::string(BALLAST_DATA_DIR) + "/" + s + ".csv", dir / "data" / (std::string(s) + ".csv"));
    // Corrupt one row of GLD.
    write_file(dir / "data" / "GLD.csv", "Date,Open,High,Low,Close,Volume,Adj Close\n2020-01-02,1,2,0.5,1.5,100,1.4\n2020-01-03,1,2,0.5,oops,100,1.4\n");
    const auto config = dir / "config.toml";
    write_file(config, "mode = \"sim\"\njournal = \"j.db\"\n[strategy.weights]\nVTI = 40\nTLT = 30\nGLD = 20\nDBC = 10\n[sim]\ndata_dir = \"data\"\n");
    auto r = run_ballast("demo --quiet --config " + shell_quote(config.string()) + " --journal " + shell_quote((dir / "d.db").string()));
    INFO(r.output);
    CHECK(r.exit_code == 65);
    CHECK(r.output.find("GLD.csv:3: Close: 'oops' is not a number") != std::string::npos);

    r = run_ballast("demo --from 2024-02-30 --config " + shell_quote(config.string()));
    CHECK(r.exit_code == 64);
    r = run_ballast("frobnicate");
    CHECK(r.exit_code == 64);
    r = run_ballast("once --session 2025-03-08 --config " + shell_quote(config.string()));  // a Saturday
    CHECK(r.exit_code == 64);
    r = run_ballast("check-config --config " + shell_quote((dir / "missing.toml").string()));
    CHECK(r.exit_code == 78);
}

TEST_CASE("run stops cleanly on SIGTERM", "[integration][cli][run]") {
    TempDir dir;
    const auto journal = dir / "j.db";
    const auto config = dir / "config.toml";
    write_file(config, ballast::test::sim_config(journal));
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const std::string cfg = config.string();
        const std::string out = (dir / "run.log").string();
        std::freopen(out.c_str(), "w", stderr);
        ::execl(BALLAST_BINARY, BALLAST_BINARY, "run", "--config", cfg.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    // Wait until the daemon has opened its journal and is waiting for the next job.
    for (int i = 0; i < 100 && !std::filesystem::exists(journal); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    // While it runs, no other ballast may trade from the same journal.
    const auto second = run_ballast("once --session 2025-03-06 --config " + shell_quote(config.string()));
    CHECK(second.exit_code == 75);
    CHECK(second.output.find("in use by another ballast process") != std::string::npos);
    ::kill(pid, SIGTERM);
    int status = 0;
    const auto start = std::chrono::steady_clock::now();
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() - start > std::chrono::seconds(20)) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            FAIL("ballast run did not stop within 20 s of SIGTERM");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(count_rows(journal, "SELECT count(*) FROM runs WHERE command = 'run' AND status = 'stopped'") == 1);
}

TEST_CASE("a symbol dropped from the targets is valued and sold in full", "[integration][cli][once]") {
    TempDir dir;
    const auto journal = dir / "j.db";
    const auto config = dir / "config.toml";
    auto write = [&](const std::string& weights) {
        write_file(config, "mode = \"sim\"\njournal = \"" + journal.string() + "\"\n[strategy.weights]\n" + weights +
                               "[rebalance]\nmin_interval_days = 0\n[sim]\nfill = \"close\"\ndata_dir = \"" +
                               std::string(BALLAST_DATA_DIR) + "\"\n");
    };
    write("VTI = 40\nTLT = 30\nGLD = 20\nDBC = 10\n");
    const std::string base = "--config " + shell_quote(config.string());
    REQUIRE(run_ballast("once --session 2025-03-05 " + base).exit_code == 0);
    write("VTI = 50\nTLT = 30\nGLD = 20\n");
    const auto r = run_ballast("once --session 2025-03-06 " + base);
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(count_rows(journal, "SELECT count(*) FROM orders WHERE symbol = 'DBC' AND side = 'sell' AND session_date = '2025-03-06'"
                              " AND status = 'filled' AND qty = (SELECT qty FROM orders WHERE symbol = 'DBC' AND side = 'buy')") == 1);
    CHECK(count_rows(journal, "SELECT count(*) FROM v_positions WHERE symbol = 'DBC' AND CAST(qty AS REAL) > 0") == 0);
    // Going back to an earlier session is refused.
    CHECK(run_ballast("once --session 2025-03-04 " + base).exit_code == 64);
}

TEST_CASE("a gap in the market data holds the chain and says where", "[integration][cli][data]") {
    TempDir dir;
    std::filesystem::create_directories(dir / "data");
    for (const char* s : {"VTI", "TLT", "GLD", "DBC"})
        std::filesystem::copy_file(std::string(BALLAST_DATA_DIR) + "/" + s + ".csv", dir / "data" / (std::string(s) + ".csv"));
    // Drop 2025-03-04 from TLT.
    {
        std::ifstream in(dir / "data" / "TLT.csv");
        std::string text, line;
        while (std::getline(in, line))
            if (line.rfind("2025-03-04,", 0) != 0) text += line + "\n";
        write_file(dir / "data" / "TLT.csv", text);
    }
    const auto journal = dir / "j.db";
    const auto config = dir / "config.toml";
    write_file(config, "mode = \"sim\"\njournal = \"j.db\"\n[strategy.weights]\nVTI = 40\nTLT = 30\nGLD = 20\nDBC = 10\n"
                       "[sim]\ndata_dir = \"data\"\nfill = \"close\"\n");
    const auto r = run_ballast("once --session 2025-03-06 --config " + shell_quote(config.string()));
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK(r.output.find("gap in the market data: no bar for TLT on 2025-03-04") != std::string::npos);
    CHECK(count_rows(journal, "SELECT count(*) FROM orders") == 0);
    CHECK(count_rows(journal, "SELECT count(*) FROM health_events WHERE kind = 'job_failed' AND detail LIKE '%gap%'") == 1);
}

TEST_CASE("a drawdown breaker halts across restarts until resume", "[integration][cli][risk]") {
    TempDir dir;
    const auto journal = dir / "j.db";
    const auto config = dir / "config.toml";
    // A 0.1% drawdown limit trips on the first down day after the portfolio is built.
    write_file(config, ballast::test::sim_config(journal, "fill = \"close\"\n") + "[risk]\nmax_drawdown_pct = 0.1\n");
    const std::string base = "--config " + shell_quote(config.string());
    std::string tripped_on;
    for (const char* session : {"2025-02-03", "2025-02-04", "2025-02-05", "2025-02-06", "2025-02-07", "2025-02-10",
                                "2025-02-11", "2025-02-12", "2025-02-13", "2025-02-14"}) {
        const auto r = run_ballast("once --session " + std::string(session) + " " + base);
        INFO(r.output);
        REQUIRE(r.exit_code == 0);
        if (r.output.find("circuit breaker drawdown tripped") != std::string::npos) {
            tripped_on = session;
            break;
        }
    }
    REQUIRE_FALSE(tripped_on.empty());
    CHECK(count_rows(journal, "SELECT count(*) FROM control_flags WHERE name = 'halt' AND set_by = 'risk:drawdown'") == 1);
    // A new process is still halted.
    const auto next = run_ballast("once --session 2025-02-18 " + base);
    INFO(next.output);
    CHECK(next.output.find("halted since") != std::string::npos);
    CHECK(count_rows(journal, "SELECT count(*) FROM orders WHERE session_date >= '" + tripped_on + "'") == 0);
    // resume clears it.
    const auto resumed = run_ballast("resume " + base);
    CHECK(resumed.exit_code == 0);
    CHECK(resumed.output.find("drawdown") != std::string::npos);
    CHECK(count_rows(journal, "SELECT count(*) FROM control_flags WHERE name = 'halt'") == 0);
}

TEST_CASE("the version names the memory allocator the binary runs with, the one the build chose", "[integration][cli]") {
    const auto r = run_ballast("--version");
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find(std::string("ballast ") + BALLAST_VERSION) != std::string::npos);
    // Reported from what is loaded (tcmalloc answers tc_version()), not from the build's setting.
    const std::string expected = std::string(BALLAST_MALLOC_NAME) == "tcmalloc" ? "memory allocator: tcmalloc (gperftools "
                                                                                : "memory allocator: system malloc";
    CHECK(r.output.find(expected) != std::string::npos);
}
