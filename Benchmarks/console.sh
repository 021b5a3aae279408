#!/usr/bin/env bash
# Console benchmark: the operations console's reads with 1,000,000 jobs, on SQLite and on PostgreSQL.
# `mediaworker-bench console` (ConsoleBench.swift) inserts the jobs in bulk with one SQL statement (not through the
# pipeline) after the queue's own migrations, then times the overview (QueueOverview.read) and one jobs page per
# filter (state, rejection code, kind, business number, conversation id; first page and a deep keyset page),
# BENCH_CONSOLE_REPEAT (200) times each, and prints p50/p95/max. Target: p95 <= 50 ms for the overview and for every
# jobs page. It prints figures; it never fails on a slow result (only on a broken run).
#
#   Benchmarks/console.sh                        # both backends, about 2 minutes on 2 cores after the build
#   BENCH_CONSOLE_JOBS=100000 Benchmarks/console.sh
#
# PostgreSQL: a throwaway server (Debian's, scripts/pg_server.sh) on loopback in a temporary folder, defaults kept.
# Logs: bench-out/console/bench.log.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh
bench_out console
JOBS=${BENCH_CONSOLE_JOBS:-1000000}
REPEAT=${BENCH_CONSOLE_REPEAT:-200}

build_release mediaworker-bench

PG=$(mktemp -d /tmp/mediaworker-bench-console-pg.XXXXXX)
trap 'bash scripts/pg_server.sh stop "$PG" >/dev/null 2>&1; rm -rf "$PG"' EXIT
URL=$(bash scripts/pg_server.sh start "$PG" 2>>"$LOG")

echo "== console reads, $JOBS jobs, $REPEAT runs each (target: p95 <= 50 ms)"
for backend in sqlite postgresql; do
  args=(console --jobs "$JOBS" --repeat "$REPEAT")
  [ "$backend" = postgresql ] && args+=(--database-url "$URL")
  "$BIN/mediaworker-bench" "${args[@]}" 2>>"$LOG" | tee -a "$LOG" \
    || { echo "FAILED: console $backend (see $LOG)" >&2; tail -n 20 "$LOG" >&2; exit 1; }
done
