#!/usr/bin/env bash
# HTTP benchmark: `mediaworker serve` (release) on loopback, measured from outside like the gateway and the
# desk use it. It prints figures; it never fails on a slow result (only on a broken run).
#
#   Benchmarks/http.sh                                    # about 4-5 minutes on 2 cores
#   BENCH_HTTP_ROUNDS=5 BENCH_HTTP_WRK_SECONDS=5 Benchmarks/http.sh
#   BENCH_HTTP_PERF=1 Benchmarks/http.sh                  # plus a perf profile of ours under wrk
#
# 1. Upload -> final state: a ~100 KB WhatsApp-like JPEG (Fixtures/images/whatsapp_photo.jpg re-encoded to
#    1200 px, quality 70, in bench-out/http/), BENCH_HTTP_CONCURRENCY (20) concurrent loops of
#    POST /v1/attachments?from=visitor (a unique idempotencyKey each) then GET /v1/jobs/{id} every
#    BENCH_HTTP_POLL_MS (5) ms until final (Benchmarks/peers/http_upload.py). Latency = first POST byte -> final
#    state seen by the client (polling granularity = the interval + one GET round trip, an upper bound);
#    server = the job's createdAt -> finishedAt (no polling bias, millisecond timestamps), split into
#    queued (createdAt -> startedAt) and run (startedAt -> finishedAt). BENCH_HTTP_UPLOADS (400) measured
#    uploads in total, spread over the rounds, each round after CONCURRENCY unmeasured ramp-up uploads; one
#    warm-up pass of 40 before round 1. A reference pass with 50 ms polling (100 uploads) shows what the
#    5 ms polling costs the server.
# 2. Media serving under wrk (-t2 -c32 -d BENCH_HTTP_WRK_SECONDS (10) s): a real signed URL of a finished
#    job's `original` (the same photo; MEDIAWORKER_URL_TTL one day) next to nginx (Debian package, config
#    Benchmarks/peers/nginx.conf.in: sendfile on, 2 workers, as the current user) serving the same bytes
#    from disk at the same path. (a) Range: bytes=0-65535, (b) full GET. wrk, the server and anything else
#    running share the same cores, so the figures are for the machine as a whole, not for a server alone.
#    Checked once with curl: both answer 206 with the same bytes, and 200 with the whole file.
# BENCH_HTTP_ROUNDS (3) interleaved rounds (uploads, then ours and nginx alternating which goes first);
# the best of each figure is kept, every round is printed so the spread (noise) is visible.
# Outputs and logs: bench-out/http/ (git-ignored). RESULT lines at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh
ROOT=$PWD
OUT=$ROOT/bench-out/http
ROUNDS=${BENCH_HTTP_ROUNDS:-3}
UPLOADS=${BENCH_HTTP_UPLOADS:-400}
CONC=${BENCH_HTTP_CONCURRENCY:-20}
POLL_MS=${BENCH_HTTP_POLL_MS:-5}
WRK_SECONDS=${BENCH_HTTP_WRK_SECONDS:-10}
OPEN_RATE=${BENCH_HTTP_OPEN_RATE:-10}     # uploads/s of the open-loop reference pass
OPEN_COUNT=${BENCH_HTTP_OPEN_COUNT:-60}
WRK_ARGS=(-t2 -c32 "-d${WRK_SECONDS}s")
PY=/usr/bin/python3
TOKEN=bench-token
LOG=$OUT/bench.log
mkdir -p "$OUT"
: >"$LOG"

# ------------------------------------------------------------------------------------------- tools
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v vips >/dev/null || missing+=(libvips-tools)
command -v curl >/dev/null || missing+=(curl)
install_missing "${missing[@]}"

echo "== load average at start: $(cut -d' ' -f1-3 /proc/loadavg); cores: $(nproc)"
# CPU busy on the machine over one second before anything of ours runs: what other work is going on.
busy_pct() {
  local a b
  a=($(head -n 1 /proc/stat)); sleep 1; b=($(head -n 1 /proc/stat))
  awk -v u="$(( b[1]+b[2]+b[3]+b[6]+b[7]+b[8] - a[1]-a[2]-a[3]-a[6]-a[7]-a[8] ))" \
      -v t="$(( b[1]+b[2]+b[3]+b[4]+b[5]+b[6]+b[7]+b[8] - a[1]-a[2]-a[3]-a[4]-a[5]-a[6]-a[7]-a[8] ))" \
      'BEGIN { printf "%.0f", 100 * u / t }'
}
echo "   CPU busy (all processes) over 1 s before start: $(busy_pct)% of $(nproc) cores"

build_release mediaworker
BIN=$BIN/mediaworker
echo "   tree: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- Sources Package.swift 2>/dev/null || echo ' + uncommitted changes in Sources/Package.swift')"

# ------------------------------------------------------------------------------------------- input
PHOTO=$OUT/whatsapp_100k.jpg
if [ ! -s "$PHOTO" ]; then
  vips thumbnail Fixtures/images/whatsapp_photo.jpg "$PHOTO[Q=70,strip]" 1200
fi
PHOTO_BYTES=$(stat -c %s "$PHOTO")
echo "== input: $PHOTO ($(vipsheader -f width "$PHOTO")x$(vipsheader -f height "$PHOTO"), $PHOTO_BYTES bytes)"

# ------------------------------------------------------------------------------------------- servers
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

DATA=$OUT/data
rm -rf "$DATA"
mkdir -p "$DATA"
MEDIAWORKER_TOKENS=$TOKEN MEDIAWORKER_SIGNING_KEYS=bench-signing-key-0123456789abcdef0123456789 MEDIAWORKER_LOG_LEVEL=warning \
  MEDIAWORKER_URL_TTL=86400 "$BIN" serve --port 0 --data "$DATA" >"$OUT/serve.out" 2>>"$LOG" &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for _ in $(seq 100); do grep -q '^listening on ' "$OUT/serve.out" && break; sleep 0.1; done
BASE=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$OUT/serve.out")
[ -n "$BASE" ] || { echo "FAILED: the server did not start (see $LOG)" >&2; tail -n 20 "$LOG" >&2; exit 1; }
echo "== ours: $BASE (pid $SERVER_PID; MEDIAWORKER_WORKERS default = cores)"

# A finished job's signed `original` URL for the media benchmark.
job=$(curl -sf -X POST -H "Authorization: Bearer $TOKEN" --data-binary @"$PHOTO" \
  "$BASE/v1/attachments?from=visitor&declaredType=image/jpeg&fileName=IMG-20261125-WA0001.jpg&idempotencyKey=bench-media")
JOB_ID=$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$job")
for _ in $(seq 200); do
  job=$(curl -sf -H "Authorization: Bearer $TOKEN" "$BASE/v1/jobs/$JOB_ID")
  case $job in *'"state":"accepted"'*) break ;; esac
  sleep 0.05
done
MEDIA_PATH=$($PY -c '
import json, sys
job = json.loads(sys.argv[1])
assert job["state"] == "accepted", job
print(next(a["url"] for a in job["artifacts"] if a["role"] == "original"))' "$job")

NGX=$OUT/nginx
rm -rf "$NGX"
mkdir -p "$NGX/tmp" "$NGX/root/v1/media/$JOB_ID"
cp "$PHOTO" "$NGX/root/v1/media/$JOB_ID/original"
NGX_PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
USER_LINE=""
[ "$(id -u)" -ne 0 ] || USER_LINE="user $(id -un) $(id -gn);"
sed -e "s|@USER_LINE@|$USER_LINE|" -e "s|@WORKERS@|$(nproc)|" -e "s|@PREFIX@|$NGX|g" -e "s|@PORT@|$NGX_PORT|" \
  -e "s|@ROOT@|$NGX/root|" Benchmarks/peers/nginx.conf.in >"$NGX/nginx.conf"
/usr/sbin/nginx -p "$NGX" -e "$NGX/error.log" -c "$NGX/nginx.conf" -g 'daemon off;' 2>>"$LOG" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$NGX_PORT/" && break; sleep 0.1; done
echo "== nginx $(/usr/sbin/nginx -v 2>&1 | cut -d/ -f2): http://127.0.0.1:$NGX_PORT ($(nproc) workers, sendfile on)"
OURS_URL=$BASE$MEDIA_PATH
NGINX_URL=http://127.0.0.1:$NGX_PORT$MEDIA_PATH
echo "   URL (same path and query on both): $MEDIA_PATH"

# One curl check: 206 with the same bytes (the first 64 KiB of the photo), and 200 with the whole file.
for who in ours nginx; do
  url=$OURS_URL; [ $who = ours ] || url=$NGINX_URL
  r=$(curl -s -o "$OUT/range_$who.bin" -D "$OUT/range_$who.headers" -w '%{http_code} %{size_download} %{size_header}' \
    -H 'Range: bytes=0-65535' "$url")
  f=$(curl -s -o "$OUT/full_$who.bin" -w '%{http_code} %{size_download} %{size_header}' "$url")
  echo "   curl $who: range -> $r; full -> $f   (status bytes header-bytes)"
  [ "${r%% *}" = 206 ] && [ "${f%% *}" = 200 ] || { echo "FAILED: $who status" >&2; exit 1; }
  head -c 65536 "$PHOTO" | cmp -s - "$OUT/range_$who.bin" || { echo "FAILED: $who range bytes differ" >&2; exit 1; }
  cmp -s "$PHOTO" "$OUT/full_$who.bin" || { echo "FAILED: $who full bytes differ" >&2; exit 1; }
done
cmp -s "$OUT/range_ours.bin" "$OUT/range_nginx.bin" && echo "   both: 206, identical 65536 bytes; 200, identical $PHOTO_BYTES bytes"

# ------------------------------------------------------------------------------------------- runners
TICK=$(getconf CLK_TCK)
cpu_ticks() { # PID... -> user+system clock ticks of the processes (a gone process counts 0)
  local p t=0 f
  for p in "$@"; do
    f=($(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null || echo x x x x x x x x x x x 0 0))
    t=$(( t + f[11] + f[12] ))
  done
  echo "$t"
}
# Noise meter: CPU used by processes other than ours (server, nginx, and this script's children: wrk, the
# client) between two marks, from /proc/stat minus our own ticks. Printed per round as cores in use.
mark() { # -> "machine_busy machine_total ours"
  local c s
  c=($(head -n 1 /proc/stat))
  s=($(sed 's/.*) //' /proc/$$/stat))
  echo "$(( c[1]+c[2]+c[3]+c[6]+c[7]+c[8] )) $(( c[1]+c[2]+c[3]+c[4]+c[5]+c[6]+c[7]+c[8] ))" \
    "$(( $(cpu_ticks "$SERVER_PID" "$NGINX_PID" $(pgrep -P "$NGINX_PID")) + s[13] + s[14] ))"
}
others() { # MARK0 MARK1 -> cores used by other processes in between
  awk -v a="$1" -v b="$2" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " ")
    o = (y[1] - x[1]) - (y[3] - x[3]); if (o < 0) o = 0; printf "%.2f", n * o / (y[2] - x[2]) }'
}
upload_round() { # NAME COUNT WARMUP POLL_MS [client args] -> appends the ROUND line to $OUT/upload_NAME.txt
  local line c0 c1
  c0=$(cpu_ticks "$SERVER_PID")
  line=$($PY Benchmarks/peers/http_upload.py --url "$BASE" --token "$TOKEN" --file "$PHOTO" --count "$2" \
    --warmup "$3" --concurrency "$CONC" --poll-ms "$4" "${@:5}" --dump "$OUT/upload_$1.lat" 2>>"$LOG") \
    || { echo "FAILED: upload round $1 (see $LOG)" >&2; tail -n 5 "$LOG" >&2; exit 1; }
  c1=$(cpu_ticks "$SERVER_PID")
  # Server CPU per job: every upload of the round (ramp-up ones too) is final when the client exits; the
  # polling GETs are included.
  line="$line server_cpu_ms_per_job=$(awk -v c=$((c1 - c0)) -v t="$TICK" -v n=$(($2 + $3)) 'BEGIN { printf "%.1f", 1000 * c / t / n }')"
  echo "$line" >>"$OUT/upload_$1.txt"
  echo "$line"
}
declare -A RPS LAT CPUREQ
wrk_run() { # KEY URL [wrk header args] -> best requests/s in RPS[KEY]; server CPU per request in CPUREQ[KEY]
  local key=$1 url=$2 out rps lat err c0 c1 pids cpu
  shift 2
  if [[ $key == ours* ]]; then pids=("$SERVER_PID"); else pids=("$NGINX_PID" $(pgrep -P "$NGINX_PID")); fi
  c0=$(cpu_ticks "${pids[@]}")
  out=$(wrk "${WRK_ARGS[@]}" "$@" "$url" 2>&1) || { echo "FAILED: wrk $key: $out" >&2; exit 1; }
  c1=$(cpu_ticks "${pids[@]}")
  echo "--- wrk $key $*" >>"$LOG"
  echo "$out" >>"$LOG"
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  lat=$(awk '$1 == "Latency" { print $2 }' <<<"$out")
  err=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ' | tr '\n' ' ' || true)
  [ -z "$err" ] || echo "   wrk $key: $err" >&2
  # server CPU microseconds per request (wrk's request count = req/s x duration, close enough)
  cpu=$(awk -v c=$((c1 - c0)) -v t="$TICK" -v r="$rps" -v d="$WRK_SECONDS" 'BEGIN { printf "%.0f", 1e6 * c / t / (r * d) }')
  printf '   %-12s %10.0f req/s  avg latency %-8s server CPU %s us/req\n' "$key" "$rps" "$lat" "$cpu"
  echo "$key $rps $cpu" >>"$OUT/wrk_rounds.txt"
  if [ -z "${RPS[$key]:-}" ] || awk -v t="$rps" -v b="${RPS[$key]}" 'BEGIN { exit !(t > b) }'; then
    RPS[$key]=$rps
    LAT[$key]=$lat
    CPUREQ[$key]=$cpu
  fi
}

# ------------------------------------------------------------------------------------------- rounds
rm -f "$OUT"/upload_*.txt "$OUT"/upload_*.lat "$OUT/wrk_rounds.txt"
PER_ROUND=$(( (UPLOADS + ROUNDS - 1) / ROUNDS ))
echo "== warm-up: 40 uploads"
$PY Benchmarks/peers/http_upload.py --url "$BASE" --token "$TOKEN" --file "$PHOTO" --count 40 --warmup 0 \
  --concurrency "$CONC" --poll-ms "$POLL_MS" >/dev/null 2>>"$LOG"
wrk -t2 -c32 -d2s "$OURS_URL" >/dev/null 2>&1
echo "== $ROUNDS interleaved rounds: $PER_ROUND uploads x $CONC concurrent (poll ${POLL_MS} ms), then wrk ${WRK_ARGS[*]}"
NOISE=()
for round in $(seq "$ROUNDS"); do
  echo "-- round $round (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  m0=$(mark)
  upload_round poll "$PER_ROUND" "$CONC" "$POLL_MS"
  upload_round poll50 100 "$CONC" 50
  upload_round open "$OPEN_COUNT" 5 "$POLL_MS" --rate "$OPEN_RATE"
  order=(ours nginx); [ $((round % 2)) -eq 1 ] || order=(nginx ours)
  for what in range full; do
    for who in "${order[@]}"; do
      url=$OURS_URL; [ "$who" = ours ] || url=$NGINX_URL
      if [ "$what" = range ]; then wrk_run "${who}_range" "$url" -H 'Range: bytes=0-65535'
      else wrk_run "${who}_full" "$url"; fi
    done
  done
  NOISE+=("$(others "$m0" "$(mark)")")
  echo "   other processes (not ours, wrk or the client) used ${NOISE[-1]} of $(nproc) cores on average this round"
done
echo "== load average at end: $(cut -d' ' -f1-3 /proc/loadavg); other processes' CPU by round (cores): ${NOISE[*]}"

# ------------------------------------------------------------------------------------------- tables
echo
echo "== 1. upload -> final state, ~$((PHOTO_BYTES / 1000)) KB JPEG, $CONC concurrent; best of $ROUNDS rounds per figure (ms)"
$PY - "$OUT" "$ROUNDS" "$POLL_MS" "$OPEN_RATE" <<'EOF'
import sys
out, rounds, poll, open_rate = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def rows(name):
    return [dict(kv.split("=", 1) for kv in line.split()[1:]) for line in open(f"{out}/upload_{name}.txt")]
def pct(v, p):
    v = sorted(v); k = max(0, min(len(v) - 1, -(-p * len(v) // 100) - 1)); return v[k]
def best(rs, key, hi=False):
    vals = [float(r[key]) for r in rs]
    return max(vals) if hi else min(vals)
def spread(rs, key):
    vals = [float(r[key]) for r in rs]
    return f"{min(vals):g}-{max(vals):g}"
cols = ("e2e_p50", "e2e_p99", "server_p50", "server_p99", "queued_p50", "run_p50", "post_p50", "jobs_per_s", "server_cpu_ms_per_job")
print(f"{'':36} {'e2e p50':>8} {'e2e p99':>8} {'srv p50':>8} {'srv p99':>8} {'queue p50':>9} {'run p50':>8} {'POST p50':>8} {'jobs/s':>7} {'CPU ms/job':>10}")
for name, label in (("poll", f"poll {poll} ms: best of {rounds} rounds"), ("poll50", "reference, poll 50 ms: best"),
                    ("open", f"open loop {open_rate}/s, poll {poll} ms: best")):
    rs = rows(name)
    vals = [best(rs, c, hi=(c == "jobs_per_s")) for c in cols]
    print(f"{label:36} " + " ".join(f"{v:{w}.1f}" for v, w in zip(vals, (8, 8, 8, 8, 9, 8, 8, 7, 10))))
    lat = [tuple(map(float, l.split())) for l in open(f"{out}/upload_{name}.lat")]
    e2e, srv = [l[0] for l in lat], [l[1] for l in lat]
    print(f"{'  all ' + str(len(lat)) + ' measured uploads pooled':36} {pct(e2e,50):8.1f} {pct(e2e,99):8.1f} {pct(srv,50):8.1f} {pct(srv,99):8.1f}")
    print(f"  rounds (min-max): e2e p50 {spread(rs,'e2e_p50')}, p99 {spread(rs,'e2e_p99')}; server p50 {spread(rs,'server_p50')};"
          f" jobs/s {spread(rs,'jobs_per_s')}; polls/job {spread(rs,'polls_per_job')}; GET round trip {spread(rs,'poll_rtt_ms')} ms")
rs = rows("poll")
p50, p99 = best(rs, "e2e_p50"), best(rs, "e2e_p99")
s50, s99 = best(rs, "server_p50"), best(rs, "server_p99")
print(f"target e2e p50 <= 40 ms: {'met' if p50 <= 40 else 'MISSED'} ({p50:g}); p99 <= 150 ms: {'met' if p99 <= 150 else 'MISSED'} ({p99:g})"
      f"   [server-side: p50 {s50:g} ({'met' if s50 <= 40 else 'missed'}), p99 {s99:g} ({'met' if s99 <= 150 else 'missed'})]")
print(f"polling granularity = {poll} ms sleep + one GET round trip ({best(rs, 'poll_rtt_ms'):.2f} ms at best): the e2e figures"
      f" are upper bounds with that resolution; client CPU {max(float(r['client_cores']) for r in rs):.2f} cores at most")
print("srv = createdAt -> finishedAt from the job JSON (ms timestamps, no polling bias); queue = createdAt -> startedAt;")
print("run = startedAt -> finishedAt; CPU ms/job = server user+system CPU per upload, polling GETs included.")
print("The target rows are the closed loop (20 uploads always in flight: the server is saturated, so latency ~ 20 / throughput).")
print(f"The open-loop row starts {open_rate} uploads/s (up to {rows('open')[0]['n']} per round, at most CONCURRENCY in flight;"
      f" started late: {max(int(r['started_late']) for r in rows('open'))}): latency without a standing queue.")
print(f"RESULT upload_e2e_p50_ms={p50:g} upload_e2e_p99_ms={p99:g} upload_server_p50_ms={s50:g} upload_server_p99_ms={s99:g}"
      f" upload_jobs_per_s={best(rs,'jobs_per_s',True):g} upload_server_cpu_ms_per_job={best(rs,'server_cpu_ms_per_job'):g}")
EOF

echo
echo "== 2. media serving, $PHOTO_BYTES-byte original, wrk ${WRK_ARGS[*]} (wrk and the servers share $(nproc) cores); best of $ROUNDS rounds"
printf '%-26s %11s %12s %7s %-26s %13s %13s %17s\n' "request" "ours req/s" "nginx req/s" "ratio" "target ours >= 0.5x nginx" \
  "ours lat avg" "nginx lat avg" "CPU us/req o / n"
for what in range full; do
  label="(a) Range: bytes=0-65535"; [ $what = range ] || label="(b) full GET (200)"
  awk -v l="$label" -v o="${RPS[ours_$what]}" -v n="${RPS[nginx_$what]}" -v lo="${LAT[ours_$what]}" -v ln="${LAT[nginx_$what]}" \
    -v co="${CPUREQ[ours_$what]}" -v cn="${CPUREQ[nginx_$what]}" 'BEGIN {
    r = o / n
    printf "%-26s %11.0f %12.0f %6.2fx %-26s %13s %13s %17s\n", l, o, n, r, (r >= 0.5 ? "met" : "MISSED"), lo, ln, co " / " cn }'
done
for key in ours_range nginx_range ours_full nginx_full; do
  printf '   %-12s req/s by round: %s\n' "$key" "$(awk -v k="$key" '$1 == k { printf "%.0f ", $2 }' "$OUT/wrk_rounds.txt")"
done
echo "CPU us/req = user+system CPU of the server processes (ours; nginx master + workers) per request served,"
echo "less sensitive to other load than req/s. wrk itself takes a large share of the 2 cores in both runs."

awk -v a="${RPS[ours_range]}" -v b="${RPS[nginx_range]}" -v c="${RPS[ours_full]}" -v d="${RPS[nginx_full]}" 'BEGIN {
  printf "RESULT media_range_ours_rps=%.0f media_range_nginx_rps=%.0f media_range_ratio=%.2f\n", a, b, a / b
  printf "RESULT media_full_ours_rps=%.0f media_full_nginx_rps=%.0f media_full_ratio=%.2f\n", c, d, c / d }'
echo "RESULT noise_other_cores_by_round=$(IFS=,; echo "${NOISE[*]}")"

# ------------------------------------------------------------------------------------------- profile
if [ "${BENCH_HTTP_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
  echo
  echo "== perf: ours under wrk (Range: bytes=0-65535), 8 s, self time by symbol"
  wrk -t2 -c32 -d10s -H 'Range: bytes=0-65535' "$OURS_URL" >/dev/null 2>&1 &
  WRK_PID=$!
  sleep 1
  perf record -F 499 -g -p "$SERVER_PID" -o "$OUT/perf.data" -- sleep 8 >/dev/null 2>>"$LOG"
  wait "$WRK_PID" || true
  DEMANGLE=$(dirname "$SWIFT")/swift-demangle
  demangle() { if [ -x "$DEMANGLE" ]; then "$DEMANGLE" --simplified; else cat; fi; }
  perf report -i "$OUT/perf.data" --no-children --sort dso,sym --stdio 2>>"$LOG" | grep -E '^ +[0-9]' \
    | demangle | cut -c1-150 | head -n 25 || true
  echo "-- inclusive (self + callees) for chosen frames:"
  perf report -i "$OUT/perf.data" --children --sort sym --stdio 2>>"$LOG" | grep -E '^ +[0-9]' \
    | demangle \
    | grep -E '\] (specialized )?(MediaHTTPService\.media|FileBlobStore\.get|SignedMediaURL\.verify|NIOThreadPool\.runIfActive|__GI___writev|JSONValue\.parse|static ContentDisposition\.header|specialized ByteBufferAllocator\.buffer|specialized _copyCollectionToContiguousArray|BetterHTTPParser\.feedInput|MediaHTTPService\.artifact)' \
    | awk '!seen[$0]++' | cut -c1-150 | head -n 20 || true
fi
