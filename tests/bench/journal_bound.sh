#!/bin/sh
# What SQLite itself needs to write a backtest's journal: every row of JOURNAL (e.g. the one
# `bench_backtest 500 5000 file JOURNAL` keeps) inserted again into a new journal built by
# the embedded migrations, in one transaction, as INSERT ... SELECT (a WHERE clause keeps
# SQLite from copying records wholesale, so every row is encoded, checked and indexed as
# an insert is). No binding, no statements of ours, no second commit: a lower bound for
# any writer of these rows with this schema. Prints SQLite's own times for four settings:
# the journal's own (WAL, synchronous = NORMAL, foreign keys enforced) and the same with
# foreign keys not enforced and synchronous = OFF, each with and without the schema's
# CHECK constraints (PRAGMA ignore_check_constraints).
#   tests/bench/journal_bound.sh JOURNAL
set -eu
src=${1:?usage: journal_bound.sh JOURNAL}
[ -f "$src" ] || { echo "journal_bound.sh: no journal at $src" >&2; exit 66; }
here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tables="runs job_runs signals targets rebalance_decisions orders order_events equity_snapshots position_snapshots health_events control_flags control_events"
for settings in "ON NORMAL" "OFF OFF"; do
    set -- $settings
    fk=$1 sync=$2
    for checks in OFF ON; do
        db="$tmp/copy-$fk-$checks.db"
        # The page size a new journal gets (storage::Journal::kPageSize), then the schema.
        { echo "PRAGMA page_size = 16384;"; cat "$here"/migrations/*.sql; } | sqlite3 "$db"
        {
            echo "PRAGMA journal_mode = WAL; PRAGMA synchronous = $sync; PRAGMA foreign_keys = $fk;"
            echo "PRAGMA ignore_check_constraints = $checks;"
            echo "ATTACH '$src' AS src;"
            echo ".timer on"
            echo "BEGIN;"
            for t in $tables; do echo "INSERT INTO main.$t SELECT * FROM src.$t WHERE 1 = 1 + 0 * random();"; done
            echo "COMMIT;"
        } | sqlite3 "$db" > "$tmp/out.txt"
        rows=$(for t in $tables; do sqlite3 "$db" "SELECT count(*) FROM $t"; done | awk '{ n += $1 } END { print n }')
        total=$(grep '^Run Time' "$tmp/out.txt" | awk '{ r += $4 } END { printf "%.3f", r }')
        commit=$(grep '^Run Time' "$tmp/out.txt" | tail -1 | awk '{ printf "%.3f", $4 }')
        case $checks in OFF) what="CHECKs on ";; ON) what="CHECKs off";; esac
        case $fk in ON) how="foreign keys on,  synchronous = NORMAL";; OFF) how="foreign keys off, synchronous = OFF   ";; esac
        echo "journal rows written again, $how, $what: $rows rows in $total s wall (of which the commit $commit s)"
        rm -f "$db" "$db-wal" "$db-shm"
    done
done
