#!/usr/bin/env bash
# S3 against files on the same machine (issue #21): a release `mediaworker serve` (SQLite queue, 2 workers) with its
# blobs in files (DATA/blobs) or in a bucket of a real SeaweedFS (scripts/s3_server.sh: master, volume, filer and
# S3 gateway as separate processes on loopback, signatures enforced), measured from outside as the gateway and the
# desk use it. It prints figures; it never fails on a slow result (only on a broken run).
#
#   Benchmarks/s3.sh                               # about 3 minutes on 2 cores
#   BENCH_S3_ROUNDS=2 BENCH_S3_UPLOADS=200 Benchmarks/s3.sh
#
# 1. Upload -> final (Benchmarks/peers/http_upload.py, as in http.sh): the ~100 KB WhatsApp-like JPEG,
#    BENCH_S3_CONCURRENCY (8) concurrent loops of POST then GET /v1/jobs/{id} every 5 ms until final; p50/p99 of
#    first POST byte -> final state seen, and the server's createdAt -> finishedAt.
# 2. S3 requests per job: `mediaworker_s3_requests_total` from /metrics before and after the measured uploads,
#    divided by the uploads (the client's job polls never touch the store).
# 3. Media GETs under wrk (-t2 -c16, BENCH_S3_WRK_SECONDS (5) s) of a finished job's signed `original` URL, full and
#    Range: bytes=0-65535, with the media cache on (the default: final artifacts served from memory) and off
#    (MEDIAWORKER_MEDIA_CACHE_BYTES=0: every GET reads the store).
# BENCH_S3_ROUNDS (3) rounds, files and S3 alternating which goes first; the best of each figure is kept and every
# round is printed (the spread is the noise). The server, SeaweedFS, wrk and the client share the 2 cores.
# Outputs and logs: bench-out/s3/. RESULT lines at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh
bench_out s3
ROUNDS=${BENCH_S3_ROUNDS:-3}
UPLOADS=${BENCH_S3_UPLOADS:-300}
CONC=${BENCH_S3_CONCURRENCY:-8}
WRK_SECONDS=${BENCH_S3_WRK_SECONDS:-5}
PY=/usr/bin/python3
TOKEN=bench-token

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v vips >/dev/null || missing+=(libvips-tools)
install_missing "${missing[@]}"
[ -x .build-tools/venv/bin/weed ] || make .build-tools/venv/.ready >/dev/null
build_release mediaworker
echo "   tree: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- Sources Package.swift 2>/dev/null || echo ' + uncommitted changes')"

PHOTO=$OUT/whatsapp_100k.jpg
[ -s "$PHOTO" ] || vips thumbnail Fixtures/images/whatsapp_photo.jpg "$PHOTO[Q=70,strip]" 1200

S3DIR=$OUT/seaweedfs
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  bash scripts/s3_server.sh stop "$S3DIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT
rm -rf "$S3DIR"
mkdir -p "$S3DIR"
ENDPOINT=$(bash scripts/s3_server.sh start "$S3DIR" 2>>"$LOG")
echo "== SeaweedFS $(.build-tools/venv/bin/weed version 2>/dev/null | head -n 1 | awk '{print $3}'): $ENDPOINT"

# serve KIND CACHE_BYTES: starts `mediaworker serve` on a fresh store of KIND (files | s3); sets BASE and SERVER_PID.
serve() {
  local kind=$1 cache=$2 data=$OUT/data-$1-$RANDOM
  rm -rf "$data"
  mkdir -p "$data"
  local env=(MEDIAWORKER_TOKENS=$TOKEN MEDIAWORKER_SIGNING_KEYS=bench-signing-key-0123456789abcdef0123456789
             MEDIAWORKER_LOG_LEVEL=warning MEDIAWORKER_URL_TTL=86400 MEDIAWORKER_WORKERS=2 MEDIAWORKER_MEDIA_CACHE_BYTES=$cache)
  if [ "$kind" = s3 ]; then
    local bucket=bench-$RANDOM$RANDOM
    bash scripts/s3_server.sh bucket "$S3DIR" "$bucket" 2>>"$LOG"
    env+=(MEDIAWORKER_STORE=s3://$bucket/desk MEDIAWORKER_S3_ENDPOINT=$ENDPOINT AWS_ACCESS_KEY_ID="$(cat "$S3DIR/access_key")"
          AWS_SECRET_ACCESS_KEY="$(cat "$S3DIR/secret_key")")
  fi
  env "${env[@]}" "$BIN/mediaworker" serve --port 0 --data "$data" >"$OUT/serve.out" 2>>"$LOG" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 100); do grep -q '^listening on ' "$OUT/serve.out" && break; sleep 0.1; done
  BASE=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$OUT/serve.out")
  [ -n "$BASE" ] || { echo "FAILED: serve ($kind) did not start (see $LOG)" >&2; tail -n 20 "$LOG" >&2; exit 1; }
}
stop_serve() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}
s3_requests() { # -> the sum of mediaworker_s3_requests_total on $BASE
  curl -sf "$BASE/metrics" | awk '/^mediaworker_s3_requests_total/ { n += $NF } END { printf "%d", n }'
}
media_url() { # -> a finished job's signed original URL (path and query)
  local job id
  job=$(curl -sf -X POST -H "Authorization: Bearer $TOKEN" --data-binary @"$PHOTO" \
    "$BASE/v1/attachments?from=visitor&declaredType=image/jpeg&idempotencyKey=bench-media")
  id=$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$job")
  for _ in $(seq 200); do
    job=$(curl -sf -H "Authorization: Bearer $TOKEN" "$BASE/v1/jobs/$id")
    case $job in *'"state":"accepted"'*) break ;; esac
    sleep 0.05
  done
  $PY -c 'import json,sys; j=json.loads(sys.argv[1]); print(next(a["url"] for a in j["artifacts"] if a["role"] == "original"))' "$job"
}
declare -A BEST
keep() { # KEY VALUE higher|lower
  if [ -z "${BEST[$1]:-}" ] || awk -v t="$2" -v b="${BEST[$1]}" -v d="$3" 'BEGIN { exit !(d == "higher" ? t > b : t < b) }'; then
    BEST[$1]=$2
  fi
}
wrk_rps() { # URL [args] -> requests/s
  local out
  out=$(wrk -t2 -c16 "-d${WRK_SECONDS}s" "${@:2}" "$1" 2>&1)
  echo "$out" >>"$LOG"
  grep -qE 'Non-2xx|Socket errors' <<<"$out" && echo "   wrk: $(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ')" >&2
  awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out"
}

PER_ROUND=$(( (UPLOADS + ROUNDS - 1) / ROUNDS ))
echo "== $ROUNDS rounds: $PER_ROUND uploads x $CONC concurrent each, then wrk -t2 -c16 ${WRK_SECONDS}s (cache on, then off)"
for round in $(seq "$ROUNDS"); do
  order=(files s3); [ $((round % 2)) -eq 1 ] || order=(s3 files)
  for kind in "${order[@]}"; do
    serve "$kind" $((64 << 20))
    $PY Benchmarks/peers/http_upload.py --url "$BASE" --token "$TOKEN" --file "$PHOTO" --count 20 --warmup 0 \
      --concurrency "$CONC" --poll-ms 5 >/dev/null 2>>"$LOG"
    r0=$(s3_requests)
    line=$($PY Benchmarks/peers/http_upload.py --url "$BASE" --token "$TOKEN" --file "$PHOTO" --count "$PER_ROUND" \
      --warmup "$CONC" --concurrency "$CONC" --poll-ms 5 2>>"$LOG") || { echo "FAILED: uploads ($kind)" >&2; exit 1; }
    r1=$(s3_requests)
    per_job=$(awk -v a="$r0" -v b="$r1" -v n=$((PER_ROUND + CONC)) 'BEGIN { printf "%.2f", (b - a) / n }')
    get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
    url=$BASE$(media_url)
    cached_full=$(wrk_rps "$url"); cached_range=$(wrk_rps "$url" -H 'Range: bytes=0-65535')
    stop_serve
    serve "$kind" 0
    url=$BASE$(media_url)
    raw_full=$(wrk_rps "$url"); raw_range=$(wrk_rps "$url" -H 'Range: bytes=0-65535')
    stop_serve
    printf '   round %d %-5s upload->final p50 %6s ms p99 %6s ms (server p50 %s p99 %s)  %5s jobs/s  S3 requests/job %s  GET full %s/%s req/s, range %s/%s (cache on/off)\n' \
      "$round" "$kind" "$(get e2e_p50)" "$(get e2e_p99)" "$(get server_p50)" "$(get server_p99)" "$(get jobs_per_s)" "$per_job" \
      "$cached_full" "$raw_full" "$cached_range" "$raw_range"
    keep "${kind}_p50" "$(get e2e_p50)" lower
    keep "${kind}_p99" "$(get e2e_p99)" lower
    keep "${kind}_rate" "$(get jobs_per_s)" higher
    keep "${kind}_full" "$cached_full" higher
    keep "${kind}_range" "$cached_range" higher
    keep "${kind}_rawfull" "$raw_full" higher
    keep "${kind}_rawrange" "$raw_range" higher
    BEST[${kind}_requests]=$per_job
  done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "== best of $ROUNDS rounds"
for kind in files s3; do
  echo "RESULT s3bench store=$kind upload_final_p50_ms=${BEST[${kind}_p50]} p99_ms=${BEST[${kind}_p99]} jobs_per_s=${BEST[${kind}_rate]}" \
    "s3_requests_per_job=${BEST[${kind}_requests]} get_full_rps=${BEST[${kind}_full]} get_range_rps=${BEST[${kind}_range]}" \
    "uncached_full_rps=${BEST[${kind}_rawfull]} uncached_range_rps=${BEST[${kind}_rawrange]}"
done
echo "RESULT s3bench s3_vs_files p50=$(ratio "${BEST[s3_p50]}" "${BEST[files_p50]}")x p99=$(ratio "${BEST[s3_p99]}" "${BEST[files_p99]}")x" \
  "uncached_full=$(ratio "${BEST[s3_rawfull]}" "${BEST[files_rawfull]}")x uncached_range=$(ratio "${BEST[s3_rawrange]}" "${BEST[files_rawrange]}")x"
