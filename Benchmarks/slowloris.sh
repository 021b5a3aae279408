#!/usr/bin/env bash
# Slowloris benchmark: 2,000 loopback connections each dripping a request head one byte a second, while the gateway
# keeps uploading. It prints how uploads fared and how fast the server cut the slow connections; it never fails on
# a slow result (only on a broken run). Bounded: BENCH_SLOW_SECONDS (default 30) of attack, then everything stops.
#
#   Benchmarks/slowloris.sh
#   BENCH_SLOW_CONNECTIONS=4000 BENCH_SLOW_SECONDS=60 Benchmarks/slowloris.sh
#   BENCH_SLOW_KIND=body Benchmarks/slowloris.sh   # each sends a whole upload head, then drips its body a byte a second
#
# The server: a release `mediaworker serve` (SQLite + files, 2 workers) with its defaults
# (MEDIAWORKER_HTTP_HEADER_TIMEOUT=10, MEDIAWORKER_HTTP_BODY_TIMEOUT=10, MEDIAWORKER_HTTP_MIN_BODY_RATE=1024,
# MEDIAWORKER_HTTP_IDLE_TIMEOUT=60, MEDIAWORKER_HTTP_MAX_CONNECTIONS=4096).
# The attacker: one Python process; a connection the server closes is reopened at once (the attack never lets up).
# The gateway: one upload of the WhatsApp photo every 100 ms, each waited for until its job is final.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh
bench_out slowloris
missing=()
add_missing_debs libsqlite3-dev libopusfile-dev libvorbis-dev libmpg123-dev libmp3lame-dev libvips-dev libmagic-dev libseccomp-dev
install_missing "${missing[@]}"
build_release mediaworker

start_serve
KIND=${BENCH_SLOW_KIND:-head}
case "$KIND" in head|body) ;; *) echo "BENCH_SLOW_KIND must be head or body" >&2; exit 2 ;; esac
echo "== ${BENCH_SLOW_CONNECTIONS:-2000} slow connections (dripping a $KIND) for ${BENCH_SLOW_SECONDS:-30} s against $URL, uploads every 100 ms"
/usr/bin/python3 - "$URL" "$ROOT/Fixtures/images/whatsapp_photo.jpg" "${BENCH_SLOW_CONNECTIONS:-2000}" "${BENCH_SLOW_SECONDS:-30}" "$KIND" <<'PY'
import json, resource, selectors, socket, sys, threading, time, urllib.parse, urllib.request
url, photo, count, seconds, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 512), hard))
host, port = urllib.parse.urlparse(url).hostname, urllib.parse.urlparse(url).port
head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\nX-Padding: " + b"a" * 4000
# body: a whole upload head with the gateway's token (so nothing is answered before the body is in), then its body
# dripped; only the body rules (MEDIAWORKER_HTTP_BODY_TIMEOUT, MEDIAWORKER_HTTP_MIN_BODY_RATE) can cut it.
upload_head = (b"POST /v1/attachments?from=visitor HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\n"
               b"Authorization: Bearer bench\r\nContent-Length: 1000000\r\n\r\n")
stop = time.time() + seconds
lifetimes, opened = [], [0]

def open_one():
    s = socket.socket()
    s.setblocking(True)
    s.connect((host, port))
    if kind == "body":
        s.sendall(upload_head)
    s.setblocking(False)
    opened[0] += 1
    return [s, time.time(), 0]

conns = [open_one() for _ in range(count)]
def attack():
    while time.time() < stop:
        tick = time.time()
        for c in conns:
            s, born, sent = c
            try:
                s.send(b"x" if kind == "body" else head[sent % len(head):sent % len(head) + 1])
                c[2] += 1
            except OSError:  # closed by the server: count its life, reopen at once
                lifetimes.append(time.time() - born)
                s.close()
                try:
                    c[:] = open_one()
                except OSError:
                    pass
        time.sleep(max(0, 1 - (time.time() - tick)))
attacker = threading.Thread(target=attack)
attacker.start()

data = open(photo, "rb").read()
latencies, failures, n = [], 0, 0
while time.time() < stop:
    n += 1
    t0 = time.time()
    try:
        req = urllib.request.Request(f"{url}/v1/attachments?from=visitor&idempotencyKey=slow-{n}", data=data, method="POST",
                                     headers={"Authorization": "Bearer bench"})
        job = json.load(urllib.request.urlopen(req, timeout=30))
        while job["state"] not in ("accepted", "rejected", "dead"):
            time.sleep(0.02)
            job = json.load(urllib.request.urlopen(urllib.request.Request(f"{url}/v1/jobs/{job['id']}",
                                                   headers={"Authorization": "Bearer bench"}), timeout=30))
        if job["state"] != "accepted":
            failures += 1
        latencies.append(time.time() - t0)
    except Exception as error:  # noqa: BLE001 - every failure is counted, none stops the run
        failures += 1
    time.sleep(max(0, 0.1 - (time.time() - t0)))
attacker.join()
for c in conns:
    c[0].close()
latencies.sort()
p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")
lifetimes.sort()
l = lambda q: lifetimes[min(len(lifetimes) - 1, int(q * len(lifetimes)))] if lifetimes else float("nan")
print(f"uploads: {len(latencies)} ok, {failures} failed; upload → final p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms")
print(f"slow connections: {count} held open, {opened[0]} opened in all, {len(lifetimes)} cut by the server "
      f"after {l(0.5):.1f} s (median), {l(0.99):.1f} s (p99)")
print(f"RESULT mode=slowloris kind={kind} connections={count} seconds={seconds:g} uploads_ok={len(latencies)} uploads_failed={failures} "
      f"upload_p50_ms={p(0.5):.0f} upload_p99_ms={p(0.99):.0f} slow_cut={len(lifetimes)} slow_cut_median_s={l(0.5):.1f}")
PY
