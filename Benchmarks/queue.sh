#!/usr/bin/env bash
# Queue benchmark: the SQLite job queue with no-op jobs next to huey's SqliteHuey doing the same no-op work
# on the same machine, then the fixture corpus end to end through intake + queue + Worker, and the worker's
# overhead over the bare pipeline on the same files. It prints figures; it never fails on a slow result
# (only on a broken run).
#
#   Benchmarks/queue.sh                               # everything (about 3-4 minutes on 2 cores)
#   BENCH_REPEAT=5 BENCH_JOBS=20000 Benchmarks/queue.sh
#   (BENCH_BATCH, default 50: jobs per claim in the batched configuration, completed by concurrent calls)
#   BENCH_BIN=/path/to/bin Benchmarks/queue.sh        # another build's mediaworker-bench (before/after figures)
#   BENCH_SKIP_CORPUS=1 Benchmarks/queue.sh           # the no-op jobs only
#
# No-op jobs (pipeline bypassed): enqueue N jobs, then claim + complete them all (each call its own
# transaction), fresh database file in a temporary folder each run. Ours: `mediaworker-bench queue noop`
# (SQLiteJobQueue, WAL, the default `.normal` durability = synchronous=NORMAL). huey: Benchmarks/peers/huey_noop.py
# (SqliteHuey, WAL, synchronous=NORMAL set on its connections for the same durability; huey's own default,
# FULL, is shown once for reference), with huey's Consumer (worker_type='thread') and with a bare
# dequeue/execute loop. overall jobs/s = N / (enqueue + drain seconds); "concurrent" rows enqueue and drain
# at the same time (N / wall).
# Corpus: `mediaworker-bench queue corpus Fixtures` (see QueueBench.swift): bare pipeline vs Worker on the
# same files with the same number of threads (the cores), and a burst through intake for latencies.
#
# Steps: install missing tools -> swift build -c release (mediaworker-bench) -> venv with huey
# (.build-tools/bench-venv) -> BENCH_REPEAT (3) interleaved rounds of every no-op configuration, best each ->
# table and ratios -> corpus (BENCH_CORPUS_REPEAT (7) rounds inside one process, best of each) -> table.
# Logs: bench-out/queue/bench.log.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh
bench_out queue
REPEAT=${BENCH_REPEAT:-3}
JOBS=${BENCH_JOBS:-5000}
BATCH=${BENCH_BATCH:-50}
CORPUS_REPEAT=${BENCH_CORPUS_REPEAT:-7}
CORES=$(nproc)
HUEY_VERSION=${HUEY_VERSION:-3.5.4}
VENV=$ROOT/.build-tools/bench-venv

# ------------------------------------------------------------------------------------------- tools
missing=()
/usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
add_missing_debs libsqlite3-dev libopusfile-dev libvorbis-dev libmpg123-dev libmp3lame-dev libvips-dev libmagic-dev
install_missing "${missing[@]}"
if ! "$VENV/bin/python" -c "import huey, sys; sys.exit(huey.__version__ != '$HUEY_VERSION')" 2>/dev/null; then
  echo "== venv: $VENV with huey==$HUEY_VERSION"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "huey==$HUEY_VERSION"
fi
PY=$VENV/bin/python

if [ -n "${BENCH_BIN:-}" ]; then BIN=$BENCH_BIN; else build_release mediaworker-bench; fi
echo "== versions"
echo "cores: $CORES; $($PY -c 'import sys, sqlite3, huey; print(f"huey {huey.__version__} on Python {sys.version.split()[0]} (SQLite {sqlite3.sqlite_version})")');" \
  "ours: GRDB over libsqlite3 $(dpkg-query -W -f='${Version}' libsqlite3-0)"

# ------------------------------------------------------------------------------------------- no-op jobs
# run_cfg KEY CMD...: one run; keeps the RESULT line with the best overall_per_second in BEST[KEY].
declare -A BEST
run_cfg() {
  local key=$1 line o b
  shift
  "$@" --quiet >"$OUT/run.txt" 2>>"$LOG" || { echo "FAILED: $key: $*" >&2; cat "$OUT/run.txt" >&2; tail -n 20 "$LOG" >&2; exit 1; }
  cat "$OUT/run.txt" >>"$LOG"
  line=$(grep '^RESULT ' "$OUT/run.txt" | tail -n 1)
  o=$(sed 's/.*overall_per_second=\([0-9.]*\).*/\1/' <<<"$line")
  b=$(sed 's/.*overall_per_second=\([0-9.]*\).*/\1/' <<<"${BEST[$key]:-overall_per_second=0}")
  if awk -v o="$o" -v b="$b" 'BEGIN { exit !(o > b) }'; then BEST[$key]=$line; fi
}
field() { sed "s/.*[ ]$2=\([0-9.]*\).*/\1/" <<<"${BEST[$1]}"; }

OURS_CFGS=(ours_seq_1 ours_seq_2 ours_conc_2 ours_batch_2)
HUEY_CFGS=(huey_cons_1 huey_cons_2 huey_loop_1 huey_loop_2 huey_conc_2)
echo "== no-op jobs: $JOBS per run (enqueue, claim, complete), best of $REPEAT interleaved rounds;" \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$REPEAT"); do
  run_cfg ours_seq_1 "$BIN/mediaworker-bench" queue noop --jobs "$JOBS" --workers 1
  run_cfg huey_cons_1 "$PY" Benchmarks/peers/huey_noop.py --jobs "$JOBS" --workers 1 --mode consumer
  run_cfg ours_seq_2 "$BIN/mediaworker-bench" queue noop --jobs "$JOBS" --workers 2
  run_cfg huey_cons_2 "$PY" Benchmarks/peers/huey_noop.py --jobs "$JOBS" --workers 2 --mode consumer
  run_cfg huey_loop_1 "$PY" Benchmarks/peers/huey_noop.py --jobs "$JOBS" --workers 1 --mode loop
  run_cfg ours_conc_2 "$BIN/mediaworker-bench" queue noop --jobs "$JOBS" --workers 2 --concurrent
  run_cfg ours_batch_2 "$BIN/mediaworker-bench" queue noop --jobs "$JOBS" --workers 2 --batch "$BATCH"
  run_cfg huey_loop_2 "$PY" Benchmarks/peers/huey_noop.py --jobs "$JOBS" --workers 2 --mode loop
  run_cfg huey_conc_2 "$PY" Benchmarks/peers/huey_noop.py --jobs "$JOBS" --workers 2 --mode consumer --concurrent
  echo "  round $round: ours seq 1w $(field ours_seq_1 overall_per_second), seq 2w $(field ours_seq_2 overall_per_second)," \
    "concurrent 2w $(field ours_conc_2 overall_per_second), batched 2w $(field ours_batch_2 overall_per_second); huey consumer 1w $(field huey_cons_1 overall_per_second)," \
    "2w $(field huey_cons_2 overall_per_second), loop 1w $(field huey_loop_1 overall_per_second)," \
    "loop 2w $(field huey_loop_2 overall_per_second), concurrent 2w $(field huey_conc_2 overall_per_second) jobs/s (best so far)"
done
# huey's own default durability (synchronous=FULL: an fsync per commit), once, with a fifth of the jobs.
run_cfg huey_full_1 "$PY" Benchmarks/peers/huey_noop.py --jobs $((JOBS / 5)) --workers 1 --mode consumer --sync full

label() {
  case $1 in
    ours_seq_1) echo "ours: enqueue, then 1 thread claim+complete" ;;
    ours_seq_2) echo "ours: enqueue, then 2 threads claim+complete" ;;
    ours_conc_2) echo "ours: concurrent, 1 producer + 2 consumers" ;;
    ours_batch_2) echo "ours: enqueue, then 2 threads claim+complete $BATCH at a time" ;;
    huey_cons_1) echo "huey: enqueue, then Consumer(workers=1, thread)" ;;
    huey_cons_2) echo "huey: enqueue, then Consumer(workers=2, thread)" ;;
    huey_loop_1) echo "huey: enqueue, then 1 thread dequeue+execute" ;;
    huey_loop_2) echo "huey: enqueue, then 2 threads dequeue+execute" ;;
    huey_conc_2) echo "huey: concurrent, producer + Consumer(workers=2)" ;;
    huey_full_1) echo "huey: synchronous=FULL (its default), Consumer(1)" ;;
  esac
}
printf '%-52s %6s %10s %10s %10s %8s\n' "system / mode" jobs "enqueue/s" "drain/s" "overall/s" "vs ours"
OURS_BEST=ours_seq_1
for k in "${OURS_CFGS[@]}"; do
  awk -v a="$(field "$k" overall_per_second)" -v b="$(field "$OURS_BEST" overall_per_second)" 'BEGIN { exit !(a > b) }' && OURS_BEST=$k
done
for k in "${OURS_CFGS[@]}" "${HUEY_CFGS[@]}" huey_full_1; do
  awk -v l="$(label "$k")" -v n="$(field "$k" jobs)" -v e="$(field "$k" enqueue_per_second)" -v d="$(field "$k" drain_per_second)" \
    -v o="$(field "$k" overall_per_second)" -v ob="$(field "$OURS_BEST" overall_per_second)" -v key="$k" 'BEGIN {
    r = (key ~ /^ours/) ? "-" : sprintf("%.2fx", ob / o)
    printf "%-52s %6d %10.0f %10.0f %10.0f %8s\n", l, n, e, d, o, r }'
done
echo "vs ours = best ours overall ($(label "$OURS_BEST")) / that row's overall (above 1: ours is faster)."
echo "ours per job (sequential, 1 thread): enqueue $(field ours_seq_1 enqueue_us) us, claim $(field ours_seq_1 claim_us) us," \
  "complete $(field ours_seq_1 complete_us) us (time inside each call)"

HUEY_BEST=huey_cons_1
for k in "${HUEY_CFGS[@]}"; do
  awk -v a="$(field "$k" overall_per_second)" -v b="$(field "$HUEY_BEST" overall_per_second)" 'BEGIN { exit !(a > b) }' && HUEY_BEST=$k
done
verdict() { # VALUE TARGET
  awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t ? sprintf("target >= %g: met", t) : sprintf("target >= %g: MISSED by %.0f%%", t, 100 * (1 - v / t))) }'
}
ob=$(field "$OURS_BEST" overall_per_second)
echo "ours best overall: $ob jobs/s ($(label "$OURS_BEST")): $(verdict "$ob" 5000)"
ratio_line() { # LABEL OURS_KEY HUEY_KEY
  local r
  r=$(awk -v a="$(field "$2" overall_per_second)" -v b="$(field "$3" overall_per_second)" 'BEGIN { printf "%.2f", a / b }')
  printf '%-72s %6sx  %s\n' "$1" "$r" "$(verdict "$r" 3)"
  echo "RESULT ratio_${2}_vs_${3}=$r" >>"$LOG"
}
echo "ratios (ours overall / huey overall):"
ratio_line "same shape, 1 worker thread: ours vs huey Consumer(workers=1)" ours_seq_1 huey_cons_1
ratio_line "same shape, 2 worker threads: ours vs huey Consumer(workers=2)" ours_seq_2 huey_cons_2
ratio_line "concurrent, 2 consumers: ours vs huey Consumer(workers=2)" ours_conc_2 huey_conc_2
ratio_line "batched claims (as an idle Worker's slots claim together), 2 threads vs huey Consumer(2)" ours_batch_2 huey_cons_2
ratio_line "best vs best: $(label "$OURS_BEST") vs $(label "$HUEY_BEST")" "$OURS_BEST" "$HUEY_BEST"
echo "RESULT ours_overall_per_second=$ob huey_best_overall_per_second=$(field "$HUEY_BEST" overall_per_second)"

# ------------------------------------------------------------------------------------------- corpus
[ -n "${BENCH_SKIP_CORPUS:-}" ] && exit 0
echo "== fixture corpus through the queue: $CORES worker slots vs the bare pipeline on $CORES threads," \
  "best of $CORPUS_REPEAT rounds; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN/mediaworker-bench" queue corpus "$ROOT/Fixtures" --workers "$CORES" --repeat "$CORPUS_REPEAT" >"$OUT/corpus.txt" 2>>"$LOG" \
  || { echo "FAILED: queue corpus" >&2; cat "$OUT/corpus.txt" >&2; tail -n 20 "$LOG" >&2; exit 1; }
cat "$OUT/corpus.txt" >>"$LOG"
grep -E '^(mediaworker-bench|left out|run [0-9])' "$OUT/corpus.txt" | fold -s -w 160
echo "used: $(grep '^used: ' "$OUT/corpus.txt" | cut -d' ' -f2- | wc -w) fixtures (ids in $OUT/corpus.txt)"
line=$(grep '^RESULT ' "$OUT/corpus.txt")
f() { sed "s/.*[ ]$1=\([0-9.-]*\).*/\1/" <<<"$line"; }
printf '%-58s %9s %8s\n' "run" "wall s" "jobs/s"
printf '%-58s %9.3f %8.1f\n' "bare pipeline (read + process + store artifacts)" "$(f bare_seconds)" "$(f bare_per_second)"
printf '%-58s %9.3f %8.1f\n' "Worker on a pre-filled queue (start -> last finished)" "$(f worker_seconds)" "$(f worker_per_second)"
printf '%-58s %9.3f %8.1f\n' "end to end: intake burst -> last finished" "$(f end2end_seconds)" "$(f end2end_per_second)"
echo "enqueue -> finished latency (burst of $(f jobs) jobs into an idle worker): p50 $(f latency_p50_ms) ms," \
  "p99 $(f latency_p99_ms) ms, max $(f latency_max_ms) ms"
awk -v o="$(f overhead_percent)" -v m="$(f overhead_percent_median_paired)" 'BEGIN {
  printf "worker overhead over the bare pipeline (best worker vs best bare): %.1f %%: %s\n", o,
    (o <= 10 ? "target <= 10%: met" : sprintf("target <= 10%%: MISSED by %.1f points", o - 10))
  printf "  median of the rounds (each worker run vs the bare run just before it): %.1f %%: %s\n", m,
    (m <= 10 ? "target <= 10%: met" : sprintf("target <= 10%%: MISSED by %.1f points", m - 10)) }'
echo "$line"
