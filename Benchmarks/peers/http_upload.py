#!/usr/bin/env python3
"""Upload -> final-state latency client for Benchmarks/http.sh (standard library only).

CONCURRENCY threads, each with its own keep-alive connection, loop: POST /v1/attachments?from=visitor (a unique
idempotencyKey each) with the photo, then GET /v1/jobs/{id} every POLL_MS until the state is final
(accepted, rejected, dead). Latency = just before the first byte of the POST is written -> the response that
shows the final state has been read. That includes up to one polling interval plus one GET round trip of
bias, so it is an upper bound of the real latency with the polling granularity as its resolution. The job
JSON's createdAt -> finishedAt (server clock, millisecond timestamps) has no polling bias.

The HTTP/1.1 client is a minimal one over a socket (Content-Length and chunked bodies): http.client's header
parsing (email.parser) costs more CPU per request than the server does, and the client shares the cores with
the server. Client CPU seconds are printed so that cost stays visible.

Prints one line: `ROUND key=value ...` (milliseconds unless named otherwise).
"""
import argparse
import json
import os
import resource
import socket
import sys
import threading
import time
import uuid
from datetime import datetime

FINAL = {"accepted", "rejected", "dead"}


class Conn:
    def __init__(self, host, port):
        self.addr = (host, port)
        self.sock = None
        self.buf = b""

    def _connect(self):
        self.sock = socket.create_connection(self.addr)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by the server")
        self.buf += data

    def _read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def request(self, head, body=b""):
        """Sends one request (head: bytes ending in CRLFCRLF); returns (status, headers dict, body bytes)."""
        if self.sock is None:
            self._connect()
        self.sock.sendall(head + body if len(body) < 16384 else head)
        if len(body) >= 16384:
            self.sock.sendall(body)
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            self._fill()
        raw, self.buf = self.buf[:i], self.buf[i + 4:]
        lines = raw.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower()] = v.strip()
        if b"content-length" in headers:
            data = self._read_exact(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while True:
                size = int(self._read_line().split(b";")[0], 16)
                if size == 0:
                    while self._read_line():
                        pass
                    break
                parts.append(self._read_exact(size))
                self._read_exact(2)
            data = b"".join(parts)
        else:
            data = b""
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, headers, data

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def pct(values, p):
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--token", required=True)
    ap.add_argument("--file", required=True)
    ap.add_argument("--count", type=int, default=400, help="measured uploads")
    ap.add_argument("--warmup", type=int, default=40, help="uploads before the measured ones (not counted)")
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--poll-ms", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=0.0,
                    help="open loop: start uploads at this many per second (at most CONCURRENCY in flight); "
                         "0 = closed loop, each thread starts its next upload when the last one is final")
    ap.add_argument("--dump", help="append one line `e2e_ms server_ms` per measured upload to this file")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds a job may take before it counts as an error")
    args = ap.parse_args()

    host, port = args.url.split("//", 1)[1].rstrip("/").split(":")
    port = int(port)
    body = open(args.file, "rb").read()
    run = uuid.uuid4().hex[:12]
    poll_s = args.poll_ms / 1000

    def post_head(key):
        return (f"POST /v1/attachments?from=visitor&declaredType=image/jpeg&fileName=IMG-20261125-WA0001.jpg"
                f"&idempotencyKey={key}&channel=whatsapp HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {args.token}\r\nContent-Type: image/jpeg\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()

    lock = threading.Lock()
    counter = {"next": 0}
    results = []  # (e2e_s, post_s, server_s, polls, poll_rtt_sum_s, state)
    errors = []
    total = args.warmup + args.count
    barrier = threading.Barrier(args.concurrency + 1)
    clock = {"start": 0.0}
    late = []  # open loop: how late each measured upload started against its schedule (all threads busy)

    def one(conn, key):
        t0 = time.perf_counter()
        status, _, data = conn.request(post_head(key), body)
        t_post = time.perf_counter()
        if status not in (200, 202):
            raise RuntimeError(f"POST {status}: {data[:200]!r}")
        job = json.loads(data)
        head = (f"GET /v1/jobs/{job['id']} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {args.token}\r\n\r\n").encode()
        polls, rtt = 0, 0.0
        while job["state"] not in FINAL:
            time.sleep(poll_s)
            p0 = time.perf_counter()
            status, _, data = conn.request(head)
            rtt += time.perf_counter() - p0
            polls += 1
            if status != 200:
                raise RuntimeError(f"GET {status}: {data[:200]!r}")
            # Cheap check first; parse only the final answer (the client shares the cores with the server).
            if b'"state":"queued"' in data[:200] or b'"state":"running"' in data[:200]:
                if time.perf_counter() - t0 > args.timeout:
                    raise RuntimeError(f"job {job['id']} not final after {args.timeout} s")
                continue
            job = json.loads(data)
        t1 = time.perf_counter()
        nan = float("nan")
        server = ts(job["finishedAt"]) - ts(job["createdAt"]) if "finishedAt" in job else nan
        queued = ts(job["startedAt"]) - ts(job["createdAt"]) if "startedAt" in job else nan
        return (t1 - t0, t_post - t0, server, polls, rtt, job["state"], t0, t1, queued)

    def worker():
        conn = Conn(host, port)
        barrier.wait()
        while True:
            with lock:
                i = counter["next"]
                counter["next"] += 1
            if i >= total:
                break
            if args.rate > 0:
                due = clock["start"] + i / args.rate
                now = time.perf_counter()
                if due > now:
                    time.sleep(due - now)
                elif i >= args.warmup:
                    with lock:
                        late.append(now - due)
            try:
                r = one(conn, f"bench-{run}-{i}")
                if i >= args.warmup:
                    with lock:
                        results.append(r)
            except Exception as e:  # noqa: BLE001 - counted and printed, the run goes on
                conn.close()
                with lock:
                    errors.append(repr(e))
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    clock["start"] = time.perf_counter()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    end = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    # Throughput window: the first measured POST -> the last measured final state. Warm-up jobs still in
    # flight overlap its start, which keeps the concurrency at its steady level; the drain at the end
    # (fewer than CONCURRENCY in flight) is inside it, a small underestimate.
    wall = (max(r[7] for r in results) - min(r[6] for r in results)) if results else float("nan")

    e2e = [r[0] * 1000 for r in results]
    post = [r[1] * 1000 for r in results]
    server = [r[2] * 1000 for r in results]
    queued = [r[8] * 1000 for r in results]
    running = [(r[2] - r[8]) * 1000 for r in results]
    polls = sum(r[3] for r in results)
    rtt = sum(r[4] for r in results)
    states = {}
    for r in results:
        states[r[5]] = states.get(r[5], 0) + 1
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    fields = {
        "n": len(results), "errors": len(errors),
        "wall_s": f"{wall:.3f}", "jobs_per_s": f"{len(results) / wall:.1f}",
        "e2e_p50": f"{pct(e2e, 50):.1f}", "e2e_p99": f"{pct(e2e, 99):.1f}", "e2e_max": f"{max(e2e, default=0):.1f}",
        "server_p50": f"{pct(server, 50):.1f}", "server_p99": f"{pct(server, 99):.1f}",
        "queued_p50": f"{pct(queued, 50):.1f}", "queued_p99": f"{pct(queued, 99):.1f}",
        "run_p50": f"{pct(running, 50):.1f}", "run_p99": f"{pct(running, 99):.1f}",
        "post_p50": f"{pct(post, 50):.1f}", "post_p99": f"{pct(post, 99):.1f}",
        "polls_per_job": f"{polls / max(1, len(results)):.1f}",
        "poll_rtt_ms": f"{1000 * rtt / max(1, polls):.2f}",
        "started_late": len(late), "late_max_ms": f"{1000 * max(late, default=0):.1f}",
        "client_cpu_s": f"{cpu:.2f}", "client_cores": f"{cpu / (end - start):.2f}",
        "states": ",".join(f"{k}:{v}" for k, v in sorted(states.items())),
    }
    if args.dump:
        with open(args.dump, "a") as f:
            for a, b in zip(e2e, server):
                f.write(f"{a:.2f} {b:.1f}\n")
    print("ROUND " + " ".join(f"{k}={v}" for k, v in fields.items()), flush=True)
    for e in errors[:5]:
        print(f"error: {e}", file=sys.stderr)
    return 1 if errors or not results else 0


if __name__ == "__main__":
    sys.exit(main())
