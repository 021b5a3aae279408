#!/usr/bin/env bash
# Erasure and retention (issue #22): a release `mediaworker serve` (2 workers) on SQLite + files and on PostgreSQL with
# its blob table, measured from outside as the gateway uses it. It prints figures; it never fails on a slow result
# (only on a broken run).
#
#   Benchmarks/erasure.sh                                  # about 6 minutes on 2 cores
#   BENCH_ERASE_PURGE_JOBS=20000 Benchmarks/erasure.sh     # a quicker run
#
# 1. Erasure on request: BENCH_ERASE_JOBS (10,000) finished jobs of one conversation, seeded with their blobs
#    (`mediaworker-bench erasure seed`), then one POST /v1/erasures {"conversationId":…}; jobs/s = jobs / its answer time.
# 2. Retention purge: BENCH_ERASE_PURGE_JOBS (100,000) jobs finished 40 days ago with their blobs. First the idle
#    upload latency: serve without retention, Benchmarks/peers/http_upload.py at BENCH_ERASE_RATE (10) uploads/s,
#    BENCH_ERASE_UPLOADS (300) uploads of the ~100 KB WhatsApp-like JPEG. Then serve again with MEDIAWORKER_RETENTION=30d
#    (the purge starts at once, in its default batches and pauses) and the same uploads while it runs. Purge jobs/s =
#    jobs / the time until `mediaworker_erased_total{erasure="retention"}` reaches them; upload p99 during / idle.
#    Upload = the POST's answer (what the gateway waits for); upload→final too.
# Outputs and logs: bench-out/erasure/. RESULT lines at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh
bench_out erasure
JOBS=${BENCH_ERASE_JOBS:-10000}
PURGE_JOBS=${BENCH_ERASE_PURGE_JOBS:-100000}
RATE=${BENCH_ERASE_RATE:-10}
UPLOADS=${BENCH_ERASE_UPLOADS:-300}
PY=/usr/bin/python3
TOKEN=bench-token

missing=()
command -v vips >/dev/null || missing+=(libvips-tools)
command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
install_missing "${missing[@]}"
build_release mediaworker mediaworker-bench
echo "   tree: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- Sources Package.swift 2>/dev/null || echo ' + uncommitted changes')"

PHOTO=$OUT/whatsapp_100k.jpg
[ -s "$PHOTO" ] || vips thumbnail Fixtures/images/whatsapp_photo.jpg "$PHOTO[Q=70,strip]" 1200

PGDIR=$OUT/postgres
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  bash scripts/pg_server.sh stop "$PGDIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT
rm -rf "$PGDIR"
PGURL=$(bash scripts/pg_server.sh start "$PGDIR" 2>>"$LOG" | tail -n 1)
echo "== PostgreSQL: $PGURL"

# fresh BACKEND: a new data folder (DATA) and, for postgres, a new schema (DBURL).
fresh() {
  DATA=$OUT/data-$1-$RANDOM
  rm -rf "$DATA"
  mkdir -p "$DATA"
  DBURL=""
  [ "$1" = postgres ] && DBURL="$PGURL?schema=bench_erase_$RANDOM$RANDOM"
  return 0
}
# seed N [--conversation C]: finished jobs and blobs in the current storage.
seed() {
  local n=$1
  shift
  local args=(erasure seed --jobs "$n" --data "$DATA" "$@")
  [ -n "$DBURL" ] && args+=(--url "$DBURL")
  "$BIN/mediaworker-bench" "${args[@]}" 2>>"$LOG" | tail -n 1
}
# serve [VAR=VALUE…]: `mediaworker serve` on the current storage; sets BASE and SERVER_PID.
serve() {
  local env=(MEDIAWORKER_TOKENS=$TOKEN MEDIAWORKER_SIGNING_KEYS=bench-signing-key-0123456789abcdef0123456789
             MEDIAWORKER_LOG_LEVEL=warning MEDIAWORKER_WORKERS=2 "$@")
  [ -n "$DBURL" ] && env+=(MEDIAWORKER_DATABASE_URL=$DBURL)
  env "${env[@]}" "$BIN/mediaworker" serve --port 0 --data "$DATA" >"$OUT/serve.out" 2>>"$LOG" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 300); do grep -q '^listening on ' "$OUT/serve.out" && break; sleep 0.1; done
  BASE=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$OUT/serve.out")
  [ -n "$BASE" ] || { echo "FAILED: serve did not start (see $LOG)" >&2; tail -n 20 "$LOG" >&2; exit 1; }
}
stop_serve() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}
erased_total() { # -> mediaworker_erased_total{erasure="retention"} on $BASE
  curl -sf "$BASE/metrics" | awk '/^mediaworker_erased_total\{erasure="retention"\}/ { n += $NF } END { printf "%d", n }'
}
uploads() { # -> the ROUND line of http_upload.py at $RATE uploads/s
  $PY Benchmarks/peers/http_upload.py --url "$BASE" --token "$TOKEN" --file "$PHOTO" --count "$UPLOADS" --warmup 10 \
    --concurrency 8 --rate "$RATE" --poll-ms 5 2>>"$LOG"
}
get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
declare -A R

for backend in sqlite postgres; do
  echo "== $backend"
  # 1. On request.
  fresh "$backend"
  echo "   seeded: $(seed "$JOBS" --conversation c-bench --age-days 1)"
  serve
  t0=$(date +%s.%N)
  answer=$(curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    --data '{"conversationId":"c-bench"}' "$BASE/v1/erasures")
  t1=$(date +%s.%N)
  stop_serve
  erased=$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["erased"])' "$answer")
  [ "$erased" = "$JOBS" ] || { echo "FAILED: erased $erased of $JOBS" >&2; exit 1; }
  R[${backend}_request]=$(awk -v n="$JOBS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
  R[${backend}_request_s]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  echo "   POST /v1/erasures: $JOBS jobs in ${R[${backend}_request_s]} s = ${R[${backend}_request]} jobs/s"

  # 2. Retention purge, uploads idle then during it.
  fresh "$backend"
  echo "   seeded: $(seed "$PURGE_JOBS")"
  serve
  idle=$(uploads)
  stop_serve
  serve MEDIAWORKER_RETENTION=30d
  t0=$(date +%s.%N)
  during=$(uploads)
  done_at=""
  for _ in $(seq 3600); do
    if [ "$(erased_total)" -ge "$PURGE_JOBS" ]; then done_at=$(date +%s.%N); break; fi
    sleep 0.25
  done
  [ -n "$done_at" ] || { echo "FAILED: the purge did not finish" >&2; exit 1; }
  purged_during=$(erased_total)
  stop_serve
  if [ "$backend" = sqlite ]; then
    # What MEDIAWORKER_SQLITE_VACUUM_DELAY defers: the rewrite of the file once the purge is over (uploads wait meanwhile).
    R[vacuum]=$($PY -c 'import sqlite3,sys,time,os; p=sys.argv[1]; s=os.path.getsize(p); d=sqlite3.connect(p, isolation_level=None); t=time.time(); d.execute("VACUUM"); print(f"{time.time()-t:.2f} s for {s/1e6:.0f} MB")' "$DATA/mediaworker.sqlite")
    echo "   VACUUM after the purge: ${R[vacuum]}"
  fi
  R[${backend}_purge]=$(awk -v n="$PURGE_JOBS" -v a="$t0" -v b="$done_at" 'BEGIN { printf "%.0f", n / (b - a) }')
  R[${backend}_purge_s]=$(awk -v a="$t0" -v b="$done_at" 'BEGIN { printf "%.1f", b - a }')
  for k in post_p50 post_p99 e2e_p50 e2e_p99 errors; do
    R[${backend}_idle_$k]=$(get "$k" "$idle")
    R[${backend}_during_$k]=$(get "$k" "$during")
  done
  echo "   purge: $PURGE_JOBS jobs in ${R[${backend}_purge_s]} s = ${R[${backend}_purge]} jobs/s (counter $purged_during)"
  printf '   uploads at %s/s: idle POST p50 %s p99 %s ms, upload->final p50 %s p99 %s ms (errors %s)\n' "$RATE" \
    "${R[${backend}_idle_post_p50]}" "${R[${backend}_idle_post_p99]}" "${R[${backend}_idle_e2e_p50]}" "${R[${backend}_idle_e2e_p99]}" \
    "${R[${backend}_idle_errors]}"
  printf '   uploads at %s/s: during the purge POST p50 %s p99 %s ms, upload->final p50 %s p99 %s ms (errors %s)\n' "$RATE" \
    "${R[${backend}_during_post_p50]}" "${R[${backend}_during_post_p99]}" "${R[${backend}_during_e2e_p50]}" \
    "${R[${backend}_during_e2e_p99]}" "${R[${backend}_during_errors]}"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
for backend in sqlite postgres; do
  echo "RESULT erasure backend=$backend request_jobs=$JOBS request_jobs_per_s=${R[${backend}_request]}" \
    "purge_jobs=$PURGE_JOBS purge_jobs_per_s=${R[${backend}_purge]}" \
    "upload_post_p99_idle_ms=${R[${backend}_idle_post_p99]} upload_post_p99_purge_ms=${R[${backend}_during_post_p99]}" \
    "post_p99_ratio=$(ratio "${R[${backend}_during_post_p99]}" "${R[${backend}_idle_post_p99]}")x" \
    "upload_final_p99_idle_ms=${R[${backend}_idle_e2e_p99]} upload_final_p99_purge_ms=${R[${backend}_during_e2e_p99]}" \
    "final_p99_ratio=$(ratio "${R[${backend}_during_e2e_p99]}" "${R[${backend}_idle_e2e_p99]}")x"
done
echo "RESULT erasure sqlite_vacuum=\"${R[vacuum]}\""
