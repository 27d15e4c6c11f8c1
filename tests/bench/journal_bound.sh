#!/bin/sh
# What SQLite itself needs to write a backtest's journal: every row of JOURNAL (e.g. the one
# `bench_backtest 500 5000 file JOURNAL` keeps) inserted again into a new journal built by
# the embedded migrations, in one transaction, as INSERT ... SELECT (a WHERE clause keeps
# SQLite from copying records wholesale, so every row is encoded, checked and indexed as
# an insert is). Prints SQLite's own times, once with the schema's CHECK constraints and
# once without (PRAGMA ignore_check_constraints). No binding, no statements of ours, no
# second commit: a lower bound for any writer of these rows with this schema.
#   tests/bench/journal_bound.sh JOURNAL
set -eu
src=${1:?usage: journal_bound.sh JOURNAL}
[ -f "$src" ] || { echo "journal_bound.sh: no journal at $src" >&2; exit 66; }
here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tables="runs job_runs signals targets rebalance_decisions orders order_events equity_snapshots position_snapshots health_events control_flags control_events"
for checks in OFF ON; do
    db="$tmp/copy-$checks.db"
    cat "$here"/migrations/*.sql | sqlite3 "$db"
    {
        echo "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
        echo "PRAGMA ignore_check_constraints = $checks;"
        echo "ATTACH '$src' AS src;"
        echo ".timer on"
        echo "BEGIN;"
        for t in $tables; do echo "INSERT INTO main.$t SELECT * FROM src.$t WHERE 1 = 1 + 0 * random();"; done
        echo "COMMIT;"
    } | sqlite3 "$db" > "$tmp/out-$checks.txt"
    rows=$(for t in $tables; do sqlite3 "$db" "SELECT count(*) FROM $t"; done | awk '{ n += $1 } END { print n }')
    total=$(grep '^Run Time' "$tmp/out-$checks.txt" | awk '{ r += $4 } END { printf "%.3f", r }')
    commit=$(grep '^Run Time' "$tmp/out-$checks.txt" | tail -1 | awk '{ printf "%.3f", $4 }')
    case $checks in OFF) what="with the CHECK constraints";; ON) what="without CHECK constraints";; esac
    echo "journal rows written again, $what: $rows rows in $total s wall (of which the commit $commit s)"
done
