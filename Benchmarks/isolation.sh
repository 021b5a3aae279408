#!/usr/bin/env bash
# Isolation benchmark: what decoding in sandboxed helper processes costs, and what it saves the service.
# It prints figures; it never fails on a slow result (only on a broken run).
#
#   Benchmarks/isolation.sh                 # about 2 minutes on 2 cores
#   BENCH_REPEAT=7 BENCH_KILLS=50 Benchmarks/isolation.sh
#
# 1. `mediaworker-bench isolation Fixtures` (see IsolationBench.swift): the fixture corpus through the Worker with
#    the pipeline in-process vs in helper processes, interleaved rounds, the overhead; helper crash → replacement.
# 2. A release `mediaworker serve` (SQLite + files, 2 workers) takes every corpus fixture over HTTP while this
#    script samples /proc every 20 ms: the peak RSS (VmHWM) of the serve process itself, and of each helper.
# Logs and data: bench-out/isolation/.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh
bench_out isolation
REPEAT=${BENCH_REPEAT:-5}
KILLS=${BENCH_KILLS:-20}

missing=()
add_missing_debs libsqlite3-dev libopusfile-dev libvorbis-dev libmpg123-dev libmp3lame-dev libvips-dev libmagic-dev libseccomp-dev
install_missing "${missing[@]}"
# BENCH_BIN=/path/to/bin: another build's mediaworker and mediaworker-bench (before/after figures).
if [ -n "${BENCH_BIN:-}" ]; then BIN=$BENCH_BIN; else build_release mediaworker mediaworker-bench; fi

echo "== overhead and crash recovery (mediaworker-bench isolation, $REPEAT rounds, $KILLS kills)"
"$BIN/mediaworker-bench" isolation Fixtures --repeat "$REPEAT" --kills "$KILLS" --helper "$BIN/mediaworker" 2>>"$LOG" | tee "$OUT/isolation.txt"

echo "== serve: peak memory of the service and of its helpers over the corpus"
start_serve
/usr/bin/python3 - "$URL" "$SERVE" "$ROOT/Fixtures" <<'PY'
import json, os, sys, threading, time, urllib.request
url, serve, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
manifest = json.load(open(os.path.join(root, "fixtures.json")))["fixtures"]
# The corpus the isolation benchmark uses, minus the over-size file (refused with 413 before its body is read).
fixtures = [f for f in manifest if "settings" not in f and "derive" not in f
            and (f["expect"].get("playback") or {}).get("durationMs", 0) <= 60000]

def hwm(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0

def descendants(pid):
    found, todo = [pid], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = open(f"/proc/{p}/task/{p}/children").read().split()
        except OSError:
            kids = []
        found += kids
        todo += kids
    return found

peaks = {"serve": 0, "helpers": {}}
done = False
def sample():
    while not done:
        peaks["serve"] = max(peaks["serve"], hwm(serve))
        for task in os.listdir(f"/proc/{serve}/task"):
            try:
                children = open(f"/proc/{serve}/task/{task}/children").read().split()
            except OSError:
                continue
            for child in children:
                # A helper runs inside bubblewrap: the child is bubblewrap, the helper its descendant.
                peaks["helpers"][child] = max([peaks["helpers"].get(child, 0)] + [hwm(p) for p in descendants(child)])
        time.sleep(0.02)
threading.Thread(target=sample, daemon=True).start()

ids = []
for n, f in enumerate(fixtures):
    data = open(os.path.join(root, f["file"]), "rb").read() + bytes((f.get("derive") or {}).get("appendBytes", 0))
    req = urllib.request.Request(f"{url}/v1/attachments?from={f['from']}&idempotencyKey=bench-{n}", data=data, method="POST",
                                 headers={"Authorization": "Bearer bench"})
    ids.append(json.load(urllib.request.urlopen(req))["id"])
start = time.time()
left = set(ids)
while left and time.time() - start < 300:
    for i in list(left):
        req = urllib.request.Request(f"{url}/v1/jobs/{i}", headers={"Authorization": "Bearer bench"})
        if json.load(urllib.request.urlopen(req))["state"] in ("accepted", "rejected", "dead"):
            left.discard(i)
    time.sleep(0.05)
done = True
time.sleep(0.05)
helpers = sorted(peaks["helpers"].values(), reverse=True)
mb = lambda b: f"{b / 1048576:.1f}"
print(f"{len(ids)} jobs, {len(left)} not final; serve (parent) peak RSS {mb(peaks['serve'])} MB; "
      f"{len(helpers)} helper processes, peak RSS each: max {mb(helpers[0] if helpers else 0)} MB, "
      f"median {mb(helpers[len(helpers) // 2] if helpers else 0)} MB")
print(f"RESULT mode=serve_memory jobs={len(ids)} serve_peak_rss_mb={mb(peaks['serve'])} helpers={len(helpers)} "
      f"helper_peak_rss_mb_max={mb(helpers[0] if helpers else 0)}")
PY
