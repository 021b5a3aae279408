#!/usr/bin/env bash
# PostgreSQL benchmark: the PostgreSQL queue with no-op jobs next to PgQueuer (PyPI) doing the same no-op
# work on the same server, with 1, 2 and 4 worker processes; then the realistic fixture mix through
# PostgreSQL vs through SQLite. It prints figures; it never fails on a slow result (only on a broken run).
#
#   Benchmarks/pg.sh                                   # everything (about 5 minutes on 2 cores)
#   BENCH_REPEAT=5 BENCH_JOBS=20000 Benchmarks/pg.sh
#   BENCH_BIN=/path/to/bin Benchmarks/pg.sh           # another build's mediaworker-bench (before/after figures)
#   BENCH_SKIP_CORPUS=1 Benchmarks/pg.sh              # the no-op jobs only
#
# Server: a throwaway PostgreSQL (Debian's, scripts/pg_server.sh) on loopback in a temporary folder, with
# its defaults kept: fsync and synchronous_commit on, so every commit is durable for both tools.
# No-op jobs, per worker-process count P, BENCH_REPEAT interleaved rounds, best of each:
#   ours      `mediaworker-bench pg noop` (PostgresBench.swift): N jobs enqueued one `enqueue` call each, as
#             uploads arrive, from 16 threads (concurrent calls share a statement and a commit: the queue's
#             group commit); then P processes × 2 threads
#             claim up to BENCH_BATCH jobs per statement (FOR UPDATE SKIP LOCKED) and complete them with one
#             `complete` call per job, all at once, as a worker's slots do: the driver groups concurrent completions
#             into shared statements (every completion durable before the next claim).
#   PgQueuer  Benchmarks/peers/pgqueuer_noop.py: N jobs enqueued 1,000 per call (its list API), then P processes each
#             running a QueueManager with batch_size=BENCH_BATCH (its completion log is flushed in batches,
#             every ~0.1 s); drain = release → its queue table empty (polled every 20 ms).
# drain jobs/s = N / drain seconds (the workers' side: what the P processes move); overall = N / (enqueue +
# drain). The enqueue methods differ (see above), so the drain ratio is the like-for-like one.
# Corpus: `mediaworker-bench queue corpus Fixtures` on SQLite + files and with --database-url (queue and blob
# table on the same PostgreSQL): worker jobs/s and end-to-end latency p50/p99 of a burst.
# Logs: bench-out/pg/bench.log.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh
bench_out pg
REPEAT=${BENCH_REPEAT:-3}
JOBS=${BENCH_JOBS:-20000}
BATCH=${BENCH_BATCH:-200}
PGQUEUER_VERSION=${PGQUEUER_VERSION:-1.6.0}
ASYNCPG_VERSION=${ASYNCPG_VERSION:-0.32.0}
VENV=$ROOT/.build-tools/bench-venv

# ------------------------------------------------------------------------------------------- tools
missing=()
/usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
add_missing_debs postgresql libsqlite3-dev libopusfile-dev libvorbis-dev libmpg123-dev libmp3lame-dev libvips-dev libmagic-dev
install_missing "${missing[@]}"
[ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv "$VENV"
if ! "$VENV/bin/python" -c "import pgqueuer, sys; from importlib.metadata import version; sys.exit(version('pgqueuer') != '$PGQUEUER_VERSION')" 2>/dev/null; then
  echo "== venv: $VENV with pgqueuer==$PGQUEUER_VERSION"
  "$VENV/bin/pip" install -q "pgqueuer==$PGQUEUER_VERSION" "asyncpg==$ASYNCPG_VERSION" uvloop
fi
if [ -n "${BENCH_BIN:-}" ]; then BIN=$BENCH_BIN; else build_release mediaworker-bench; fi

PG=$(mktemp -d /tmp/mediaworker-bench-pg.XXXXXX)
trap 'bash scripts/pg_server.sh stop "$PG" >/dev/null 2>&1; rm -rf "$PG"' EXIT
URL=$(bash scripts/pg_server.sh start "$PG" 2>>"$LOG")
echo "== server: PostgreSQL $(psql "$URL" -Atc 'show server_version') at $URL" \
  "(fsync $(psql "$URL" -Atc 'show fsync'), synchronous_commit $(psql "$URL" -Atc 'show synchronous_commit'));" \
  "PgQueuer $PGQUEUER_VERSION on Python $("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')"

# ------------------------------------------------------------------------------------------- no-op
declare -A DRAIN ENQ OVERALL
keep_best() {  # keep_best KEY DRAIN_PER_S ENQUEUE_PER_S OVERALL_PER_S
  if [ -z "${DRAIN[$1]:-}" ] || awk -v a="$2" -v b="${DRAIN[$1]}" 'BEGIN { exit !(a > b) }'; then
    DRAIN[$1]=$2; ENQ[$1]=$3; OVERALL[$1]=$4
  fi
}
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
for round in $(seq "$REPEAT"); do
  for P in 1 2 4; do
    echo "== round $round: $P worker process(es), $JOBS jobs"
    line=$("$BIN/mediaworker-bench" pg noop --url "$URL" --jobs "$JOBS" --processes "$P" --workers 2 --batch "$BATCH" --quiet 2>>"$LOG" | grep '^RESULT') \
      || { echo "FAILED: ours P=$P (see $LOG)" >&2; tail -n 20 "$LOG" >&2; exit 1; }
    echo "$line" >>"$LOG"
    keep_best "ours-$P" "$(field drain_per_second <<<"$line")" "$(field enqueue_per_second <<<"$line")" "$(field overall_per_second <<<"$line")"
    json=$("$VENV/bin/python" Benchmarks/peers/pgqueuer_noop.py --dsn "$URL" --jobs "$JOBS" --workers "$P" --batch-size "$BATCH" 2>>"$LOG" | tail -n 1) \
      || { echo "FAILED: PgQueuer P=$P (see $LOG)" >&2; tail -n 20 "$LOG" >&2; exit 1; }
    echo "$json" >>"$LOG"
    read -r d e o < <("$VENV/bin/python" -c 'import json, sys; r = json.loads(sys.argv[1]); print(r["jobs_per_s_drain"], r["jobs"] / r["enqueue_s"], r["jobs_per_s_overall"])' "$json")
    keep_best "pgq-$P" "$d" "$e" "$o"
  done
done

echo
echo "No-op jobs on PostgreSQL ($JOBS per run, best of $REPEAT interleaved rounds; claim batch $BATCH for both)"
printf '%-10s | %14s | %14s | %7s | %16s | %16s | %14s | %14s\n' "processes" "ours drain/s" "PgQueuer drain/s" "ratio" \
  "ours enqueue/s" "PgQ enqueue/s" "ours overall/s" "PgQ overall/s"
for P in 1 2 4; do
  printf '%-10s | %14.0f | %16.0f | %6.2fx | %16.0f | %16.0f | %14.0f | %14.0f\n' "$P" "${DRAIN[ours-$P]}" "${DRAIN[pgq-$P]}" \
    "$(awk -v a="${DRAIN[ours-$P]}" -v b="${DRAIN[pgq-$P]}" 'BEGIN { print a / b }')" \
    "${ENQ[ours-$P]}" "${ENQ[pgq-$P]}" "${OVERALL[ours-$P]}" "${OVERALL[pgq-$P]}"
done
echo "(ours enqueue: one enqueue call per job from 16 threads, group-committed; PgQueuer: 1,000 jobs per statement)"

# ------------------------------------------------------------------------------------------- corpus
[ -n "${BENCH_SKIP_CORPUS:-}" ] && exit 0
echo
echo "== corpus: Fixtures through the worker, SQLite + files vs PostgreSQL (queue + blob table)"
sqlite=$("$BIN/mediaworker-bench" queue corpus Fixtures --repeat 3 --quiet 2>>"$LOG" | grep '^RESULT')
postgres=$("$BIN/mediaworker-bench" queue corpus Fixtures --repeat 3 --quiet --database-url "$URL" 2>>"$LOG" | grep '^RESULT')
echo "$sqlite" >>"$LOG"
echo "$postgres" >>"$LOG"
printf '%-10s | %10s | %12s | %10s | %10s\n' "backend" "worker j/s" "end2end j/s" "p50 ms" "p99 ms"
for line in "$sqlite" "$postgres"; do
  printf '%-10s | %10s | %12s | %10s | %10s\n' "$(field backend <<<"$line")" "$(field worker_per_second <<<"$line")" \
    "$(field end2end_per_second <<<"$line")" "$(field latency_p50_ms <<<"$line")" "$(field latency_p99_ms <<<"$line")"
done
