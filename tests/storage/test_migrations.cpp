#include <catch2/catch.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "storage/journal.hpp"
#include "../support/temp_dir.hpp"

using namespace ballast;
using storage::Journal;
using storage::JournalError;
using storage::OpenOptions;
using ballast::test::read_bytes;
using ballast::test::TempDir;

namespace {

int migration_files() {
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(BALLAST_MIGRATIONS_DIR)) {
        if (entry.path().extension() == ".sql") ++n;
    }
    return n;
}

std::set<std::string> objects(SQLite::Database& db, const char* type) {
    SQLite::Statement st(db, "SELECT name FROM sqlite_schema WHERE type = ? AND name NOT LIKE 'sqlite_%'");
    st.bind(1, type);
    std::set<std::string> out;
    while (st.executeStep()) out.insert(st.getColumn(0).getString());
    return out;
}

JournalError::Kind open_error_kind(const std::filesystem::path& path, const OpenOptions& options = {}) {
    try {
        Journal::open(path, options);
    } catch (const JournalError& e) {
        INFO(e.what());
        CHECK(std::string(e.what()).find(path.string()) != std::string::npos);
        return e.kind();
    }
    FAIL("expected a JournalError opening " << path);
    return JournalError::Kind::io;
}

// Rows valid from schema version 1 on.
void insert_v1_rows(SQLite::Database& db) {
    db.exec("INSERT INTO runs (id, command, mode, config_path, started_at) VALUES (1, 'once', 'sim', 'c.toml', "
            "'2025-03-06T21:00:00Z')");
    db.exec("INSERT INTO job_runs (id, run_id, session_date, job, status, started_at, finished_at, detail) VALUES "
            "(1, 1, '2025-03-06', 'rebalance', 'succeeded', '2025-03-06T21:00:00Z', '2025-03-06T21:01:00Z', '2 "
            "orders')");
    db.exec("INSERT INTO orders (id, client_order_id, job_run_id, session_date, leg, symbol, side, qty, ref_price, "
            "notional, status, filled_qty, filled_avg_price, created_at, updated_at) VALUES (1, 'c-1', 1, "
            "'2025-03-06', 0, 'VTI', 'buy', '4', '250.5', '1002', 'filled', '4', '250.25', "
            "'2025-03-06T21:00:00Z', '2025-03-06T21:00:05Z')");
    db.exec("INSERT INTO order_events (order_id, at, event, qty, price) VALUES (1, '2025-03-06T21:00:05Z', "
            "'filled', '4', '250.25')");
    db.exec("INSERT INTO equity_snapshots (id, job_run_id, session_date, at, cash, equity) VALUES "
            "(1, 1, '2025-03-06', '2025-03-06T21:05:00Z', '8998', '10000')");
    db.exec("INSERT INTO position_snapshots (snapshot_id, symbol, qty, price, market_value, weight) VALUES "
            "(1, 'VTI', '4', '250.5', '1002', 0.1002)");
}

}  // namespace

TEST_CASE("a fresh journal has every migration, WAL and foreign keys", "[storage][migrations]") {
    TempDir dir;
    const auto path = dir.file("fresh.db");
    auto j = Journal::open(path);

    const int n = migration_files();
    REQUIRE(n >= 2);
    CHECK(static_cast<int>(storage::embedded_migrations().size()) == n);
    CHECK(Journal::latest_version() == n);
    CHECK(j->schema_version() == n);
    CHECK(j->db().execAndGet("PRAGMA journal_mode").getString() == "wal");
    CHECK(j->db().execAndGet("PRAGMA foreign_keys").getInt() == 1);
    CHECK(j->db().execAndGet("PRAGMA synchronous").getInt() == 1);  // NORMAL
    CHECK(j->db().execAndGet("PRAGMA page_size").getInt() == Journal::kPageSize);
    CHECK(j->integrity_check() == "ok");

    const std::set<std::string> tables{"bars", "runs", "job_runs", "signals", "targets", "rebalance_decisions",
                                       "orders", "order_events", "equity_snapshots", "position_snapshots",
                                       "health_events", "control_flags", "control_events"};
    CHECK(objects(j->db(), "table") == tables);
    const std::set<std::string> views{"v_runs", "v_orders", "v_order_events", "v_equity", "v_positions",
                                      "v_targets"};
    CHECK(objects(j->db(), "view") == views);
    for (const auto& v : views) {
        INFO(v);
        CHECK_NOTHROW(j->db().exec("SELECT * FROM " + v));
    }

    // Reopening applies nothing.
    j.reset();
    auto again = Journal::open(path);
    CHECK(again->schema_version() == n);
    CHECK(again->migrate() == 0);
}

TEST_CASE("migrations are numbered 1..N without gaps", "[storage][migrations]") {
    const auto& all = storage::embedded_migrations();
    for (std::size_t i = 0; i < all.size(); ++i) {
        INFO(all[i].name);
        CHECK(all[i].version == static_cast<int>(i) + 1);
        CHECK(all[i].name.substr(0, 4) == std::string(4 - std::to_string(i + 1).size(), '0') + std::to_string(i + 1));
        CHECK(std::filesystem::exists(std::filesystem::path(BALLAST_MIGRATIONS_DIR) / all[i].name));
    }
}

TEST_CASE("a journal upgrades from every earlier version and keeps its rows", "[storage][migrations]") {
    const int n = Journal::latest_version();
    for (int v = 1; v < n; ++v) {
        DYNAMIC_SECTION("from version " << v) {
            TempDir dir;
            const auto path = dir.file("old.db");
            {
                OpenOptions old;
                old.migrate_to = v;
                auto j = Journal::open(path, old);
                REQUIRE(j->schema_version() == v);
                insert_v1_rows(j->db());
            }
            auto j = Journal::open(path);
            CHECK(j->schema_version() == n);
            CHECK(j->db().execAndGet("SELECT COUNT(*) FROM orders").getInt() == 1);
            CHECK(j->db().execAndGet("SELECT filled_fraction FROM v_orders").getDouble() == 1.0);
            CHECK(j->db().execAndGet("SELECT last_event FROM v_orders").getString() == "filled");
            CHECK(j->db().execAndGet("SELECT detail FROM v_runs").getString() == "2 orders");
            CHECK(j->db().execAndGet("SELECT equity FROM v_equity").getDouble() == 10000.0);
            CHECK(j->db().execAndGet("SELECT symbol FROM v_positions").getString() == "VTI");

            auto orders = storage::OrderRepository(*j).for_session(core::Date::from_ymd(2025, 3, 6));
            REQUIRE(orders.size() == 1);
            CHECK(orders[0].filled_avg_price->to_string() == "250.25");
        }
    }
}

TEST_CASE("migrate stops at the requested version and goes on later", "[storage][migrations]") {
    TempDir dir;
    OpenOptions options;
    options.migrate = false;
    auto j = Journal::open(dir.file("stepwise.db"), options);
    CHECK(j->schema_version() == 0);
    CHECK(j->migrate(1) == 1);
    CHECK(j->schema_version() == 1);
    CHECK(j->migrate() == Journal::latest_version() - 1);
    CHECK(j->schema_version() == Journal::latest_version());
    CHECK_THROWS_AS(j->migrate(Journal::latest_version() + 1), JournalError);
}

TEST_CASE("a journal from a newer ballast is refused and left untouched", "[storage][migrations]") {
    TempDir dir;
    const auto path = dir.file("newer.db");
    const int newer = Journal::latest_version() + 5;
    {
        auto j = Journal::open(path);
        storage::HealthRepository(*j).record("2025-03-06T21:00:00Z", "test", "note", "before");
    }
    {
        SQLite::Database db(path, SQLite::OPEN_READWRITE);
        db.exec("PRAGMA user_version = " + std::to_string(newer));
    }
    // Everything is checkpointed into the main file once the last connection closes.
    REQUIRE_FALSE(std::filesystem::exists(path.string() + "-wal"));
    const std::string before = read_bytes(path);

    try {
        Journal::open(path);
        FAIL("expected newer_version");
    } catch (const JournalError& e) {
        CHECK(e.kind() == JournalError::Kind::newer_version);
        const std::string expected = "journal " + path.string() + " has schema version " + std::to_string(newer) +
                                     ", newer than this ballast supports (" +
                                     std::to_string(Journal::latest_version()) +
                                     "); refusing to open it (upgrade ballast or restore a backup)";
        CHECK(std::string(e.what()) == expected);
    }
    OpenOptions read_only;
    read_only.read_only = true;
    CHECK(open_error_kind(path, read_only) == JournalError::Kind::newer_version);

    CHECK(read_bytes(path) == before);
}

TEST_CASE("a newer version still in the WAL is refused without a checkpoint", "[storage][migrations]") {
    TempDir dir;
    const auto path = dir.file("newer-wal.db");
    const auto wal = path.string() + "-wal";
    Journal::open(path);
    {
        // Leave the version change in the WAL, as a crashed newer ballast would.
        SQLite::Database db(path, SQLite::OPEN_READWRITE);
        sqlite3_db_config(db.getHandle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
        db.exec("PRAGMA user_version = " + std::to_string(Journal::latest_version() + 1));
    }
    REQUIRE(std::filesystem::exists(wal));
    const std::string main_before = read_bytes(path);
    const std::string wal_before = read_bytes(wal);

    CHECK(open_error_kind(path) == JournalError::Kind::newer_version);
    CHECK(read_bytes(path) == main_before);
    CHECK(read_bytes(wal) == wal_before);
}

TEST_CASE("a file that is not a database is reported as corrupt", "[storage][migrations]") {
    TempDir dir;
    const auto path = dir.file("garbage.db");
    {
        std::ofstream out(path, std::ios::binary);
        for (int i = 0; i < 200; ++i) out << "this is not a database, just text line " << i << "\n";
    }
    const std::string before = read_bytes(path);
    CHECK(open_error_kind(path) == JournalError::Kind::corrupt);
    CHECK(read_bytes(path) == before);

    const auto tiny = dir.file("tiny.db");
    std::ofstream(tiny) << "hello\n";
    CHECK(open_error_kind(tiny) == JournalError::Kind::corrupt);
}

TEST_CASE("a missing journal with create = false is an io error", "[storage][migrations]") {
    TempDir dir;
    const auto path = dir.file("missing.db");
    OpenOptions no_create;
    no_create.create = false;
    CHECK(open_error_kind(path, no_create) == JournalError::Kind::io);
    OpenOptions read_only;
    read_only.read_only = true;
    CHECK(open_error_kind(path, read_only) == JournalError::Kind::io);
    CHECK_FALSE(std::filesystem::exists(path));

    CHECK(open_error_kind(dir.file("no-such-dir") / "j.db") == JournalError::Kind::io);
}

TEST_CASE("a failing migration rolls back and leaves the previous version", "[storage][migrations]") {
    TempDir dir;
    const auto path = dir.file("failing.db");
    OpenOptions v1;
    v1.migrate_to = 1;
    auto j = Journal::open(path, v1);
    // 0002 creates v_runs, then trips over this table on v_orders.
    j->db().exec("CREATE TABLE v_orders (x)");

    try {
        j->migrate();
        FAIL("expected the migration to fail");
    } catch (const JournalError& e) {
        const std::string what = e.what();
        CHECK(what.find("0002_views.sql") != std::string::npos);
        CHECK(what.find(path.string()) != std::string::npos);
        CHECK(what.find("v_orders") != std::string::npos);
    }
    CHECK(j->schema_version() == 1);
    CHECK(j->db().execAndGet("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'v_runs'").getInt() == 0);
    // The connection is usable and out of any transaction.
    CHECK(j->db().execAndGet("SELECT COUNT(*) FROM runs").getInt() == 0);
    j.reset();

    CHECK_THROWS_AS(Journal::open(path), JournalError);
    OpenOptions no_migrate;
    no_migrate.migrate = false;
    auto reopened = Journal::open(path, no_migrate);
    reopened->db().exec("DROP TABLE v_orders");
    CHECK(reopened->migrate() == 1);
    CHECK(reopened->schema_version() == Journal::latest_version());
}

TEST_CASE("a read-only journal reads but does not migrate or write", "[storage][migrations]") {
    TempDir dir;
    const auto path = dir.file("ro.db");
    {
        OpenOptions v1;
        v1.migrate_to = 1;
        Journal::open(path, v1);
    }
    OpenOptions read_only;
    read_only.read_only = true;
    auto j = Journal::open(path, read_only);
    CHECK(j->schema_version() == 1);
    storage::HealthRepository health(*j);
    CHECK(health.count("x") == 0);
    CHECK_THROWS_AS(health.record("2025-03-06T21:00:00Z", "test", "x", ""), JournalError);
}

TEST_CASE("storage::Transaction commits or rolls back", "[storage][migrations]") {
    TempDir dir;
    auto j = Journal::open(dir.file("tx.db"));
    storage::HealthRepository health(*j);
    {
        storage::Transaction tx(*j);
        health.record("2025-03-06T21:00:00Z", "test", "kept", "");
        tx.commit();
    }
    {
        storage::Transaction tx(*j);
        health.record("2025-03-06T21:00:00Z", "test", "dropped", "");
    }
    CHECK(health.count("kept") == 1);
    CHECK(health.count("dropped") == 0);
}

TEST_CASE("an in-memory journal has every migration", "[storage][migrations]") {
    auto j = ballast::storage::Journal::open(":memory:");
    CHECK(j->schema_version() == ballast::storage::Journal::latest_version());
    CHECK(j->db().execAndGet("SELECT count(*) FROM sqlite_master WHERE name = 'v_orders'").getInt() == 1);
}

TEST_CASE("a journal made with another page size keeps it, and takes writes", "[storage][migrations]") {
    TempDir dir;
    const auto path = dir.file("small-pages.db");
    {
        SQLite::Database db(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        db.exec("PRAGMA page_size = 4096");
        db.exec("PRAGMA journal_mode = WAL");
        db.exec("CREATE TABLE t (x)");  // an earlier journal's first table fixes its page size
        db.exec("DROP TABLE t");
    }
    auto j = Journal::open(path);
    CHECK(j->db().execAndGet("PRAGMA page_size").getInt() == 4096);
    CHECK(j->schema_version() == Journal::latest_version());
    insert_v1_rows(j->db());
    CHECK(j->db().execAndGet("SELECT count(*) FROM orders").getInt() == 1);
    CHECK(j->integrity_check() == "ok");
    j.reset();
    CHECK(Journal::open(path)->db().execAndGet("PRAGMA page_size").getInt() == 4096);
}
