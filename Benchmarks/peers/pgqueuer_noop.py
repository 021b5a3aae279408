"""PgQueuer (PostgreSQL job queue for Python) doing the queue benchmark's no-op work against a real
PostgreSQL server (e.g. one started by scripts/pg_server.sh), printing one JSON line.

    .build-tools/bench-venv/bin/python Benchmarks/peers/pgqueuer_noop.py --dsn URL --jobs N --workers P
        [--concurrent] [--batch-size B] [--enqueue-batch E] [--durability durable|balanced|volatile]

Needs `pip install pgqueuer asyncpg` in the venv (written against pgqueuer 1.6.0 / asyncpg 0.32; when run
by a python without pgqueuer, it re-runs itself with .build-tools/bench-venv/bin/python if that exists).

A clean run each time: PgQueuer's schema is dropped (Queries.uninstall, when present) and installed again
(Queries.install = `pgq install`, default durability `durable`: every table logged), then PgQueuer's
recommended autovacuum settings are applied (Queries.optimize_autovacuum = `pgq autovac`).

P worker PROCESSES (multiprocessing, spawn) each open one asyncpg connection (the docs recommend a direct
connection, not a pool, for a QueueManager), register the entrypoint `noop` (an async function that does
nothing) on a QueueManager and, once every worker is connected and the parent says go, run
QueueManager.run(batch_size=B (200 by default), mode=continuous) on uvloop (as `pgq run` does). Process start-up and
connecting are outside the timings (reported as worker_startup_s).

How PgQueuer records completion: a dequeue claims up to B queued rows (FOR UPDATE SKIP LOCKED, status
-> 'picked'); after a job's function returns, (job, 'successful') goes into a JobStatusLogBuffer that is
flushed when it holds B entries or every ~0.1 s; a flush is one statement that DELETEs the rows from the
queue table and INSERTs them into pgqueuer_log with status 'successful'. So a job is complete (durably,
with fsync/synchronous_commit on) when its row has left the queue table, and that is what the parent
polls (`SELECT count(*)` of the queue table every --poll seconds, 20 ms by default). At the end the
script checks that pgqueuer_log holds N 'successful' rows.

Without --concurrent: the N jobs are enqueued first (Queries.enqueue with lists, E jobs per call, one
statement each: enqueue_s), then the workers are released and drain_s runs until the queue table is
empty. overall = N / (enqueue_s + drain_s). With --concurrent the workers are released first and the
enqueue runs at the same time: drain_s is then the wall time from release until all N are complete and
both rates are N / wall (enqueue_s is still the enqueue's own time).

Workers get SIGTERM at the end, which sets the QueueManager's shutdown event (as `pgq run` does): run()
returns after flushing its buffers, and each worker reports how many jobs it ran (per_worker_jobs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import sys
import time

VENV_PYTHON = os.path.join(  # Benchmarks/peers -> the repository
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".build-tools", "bench-venv", "bin", "python"
)

try:
    import asyncpg
    import pgqueuer
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.models import Job
    from pgqueuer.qm import QueueManager
    from pgqueuer.queries import Queries
except ImportError:  # pragma: no cover - re-run with the bench venv
    if os.path.exists(VENV_PYTHON) and os.path.realpath(sys.executable) != os.path.realpath(VENV_PYTHON):
        os.execv(VENV_PYTHON, [VENV_PYTHON, *sys.argv])
    sys.exit("pgqueuer_noop: needs pgqueuer and asyncpg (pip install pgqueuer asyncpg)")

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

ENTRYPOINT = "noop"


def run_async(coro):
    return uvloop.run(coro) if uvloop is not None else asyncio.run(coro)


# ---------------------------------------------------------------------------------------------- worker


async def worker_main(dsn: str, batch_size: int, max_concurrent: int | None, ready, go, results) -> None:
    conn = await asyncpg.connect(dsn=dsn)
    qm = QueueManager(Queries(AsyncpgDriver(conn)))
    done = 0

    @qm.entrypoint(ENTRYPOINT)
    async def noop(job: Job) -> None:
        nonlocal done
        done += 1

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, qm.shutdown.set)
    ready.set()
    await loop.run_in_executor(None, go.wait)
    if not qm.shutdown.is_set():
        await qm.run(batch_size=batch_size, max_concurrent_tasks=max_concurrent)
    results.put((os.getpid(), done))
    await conn.close()


def worker_process(dsn: str, batch_size: int, max_concurrent: int | None, ready, go, results) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop (SIGTERM)
    run_async(worker_main(dsn, batch_size, max_concurrent, ready, go, results))


# ---------------------------------------------------------------------------------------------- parent


async def reset_schema(conn) -> Queries:
    queries = Queries(AsyncpgDriver(conn))
    if await queries.schema_is_installed():
        await queries.uninstall()
    await queries.install()
    await queries.optimize_autovacuum()
    return queries


async def enqueue_all(queries: Queries, jobs: int, batch: int) -> float:
    t0 = time.perf_counter()
    left = jobs
    while left > 0:
        n = min(batch, left)
        await queries.enqueue([ENTRYPOINT] * n, [None] * n, [0] * n)
        left -= n
    return time.perf_counter() - t0


async def wait_empty(conn, table: str, poll: float, enqueued: asyncio.Future | None, deadline: float) -> None:
    """Returns once the queue table is empty (and, with `enqueued`, the enqueue has finished)."""
    while True:
        if enqueued is None or enqueued.done():
            if enqueued is not None and enqueued.exception() is not None:
                raise enqueued.exception()
            if await conn.fetchval(f"SELECT count(*) FROM {table}") == 0:
                return
        if time.monotonic() > deadline:
            raise TimeoutError("jobs not completed before --timeout")
        await asyncio.sleep(poll)


async def bench(args, go) -> dict:
    producer = await asyncpg.connect(dsn=args.dsn)
    queries = await reset_schema(producer)
    settings = queries.qbe.settings.qualified
    poller = await asyncpg.connect(dsn=args.dsn)
    deadline = time.monotonic() + args.timeout
    try:
        if args.concurrent:
            t0 = time.perf_counter()
            go.set()
            enqueued = asyncio.ensure_future(enqueue_all(queries, args.jobs, args.enqueue_batch))
            await wait_empty(poller, settings.queue_table, args.poll, enqueued, deadline)
            wall = time.perf_counter() - t0
            enqueue_s, drain_s = enqueued.result(), wall
            overall = args.jobs / wall
        else:
            enqueue_s = await enqueue_all(queries, args.jobs, args.enqueue_batch)
            queued = await poller.fetchval(f"SELECT count(*) FROM {settings.queue_table}")
            if queued != args.jobs:
                raise RuntimeError(f"{queued} jobs queued, expected {args.jobs}")
            t0 = time.perf_counter()
            go.set()
            await wait_empty(poller, settings.queue_table, args.poll, None, deadline)
            drain_s = time.perf_counter() - t0
            overall = args.jobs / (enqueue_s + drain_s)
        successful = await poller.fetchval(
            f"SELECT count(*) FROM {settings.queue_table_log} WHERE status = 'successful'"
        )
    finally:
        await poller.close()
        await producer.close()
    return {
        "enqueue_s": round(enqueue_s, 4),
        "drain_s": round(drain_s, 4),
        "jobs_per_s_drain": round(args.jobs / drain_s, 1),
        "jobs_per_s_overall": round(overall, 1),
        "logged_successful": successful,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dsn", required=True, help="postgres://… URL of the database to use (its PgQueuer schema is reset)")
    ap.add_argument("--jobs", type=int, required=True)
    ap.add_argument("--workers", type=int, default=1, help="worker processes")
    ap.add_argument("--concurrent", action="store_true", help="enqueue while the workers drain")
    ap.add_argument("--batch-size", type=int, default=200, help="QueueManager.run batch_size (jobs per dequeue "
                    "and per completion flush; PgQueuer's default is 10; 200 was the best on 2 cores)")
    ap.add_argument("--max-concurrent-tasks", type=int, default=0,
                    help="QueueManager.run max_concurrent_tasks per worker (0 = unlimited, the default; else >= 2 x batch)")
    ap.add_argument("--enqueue-batch", type=int, default=1000, help="jobs per Queries.enqueue call (one statement)")
    ap.add_argument("--durability", choices=["durable", "balanced", "volatile"], default="durable",
                    help="PgQueuer table durability at install (default durable: all tables logged)")
    ap.add_argument("--poll", type=float, default=0.02, help="seconds between the parent's queue-count polls")
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args()
    if args.jobs <= 0 or args.workers <= 0 or args.enqueue_batch <= 0 or args.batch_size <= 0:
        ap.error("--jobs, --workers, --batch-size and --enqueue-batch must be positive")
    if args.max_concurrent_tasks and args.max_concurrent_tasks < 2 * args.batch_size:
        ap.error("--max-concurrent-tasks must be at least twice --batch-size")
    # Read by PgQueuer's settings (once per process; spawned workers inherit it).
    os.environ["PGQUEUER_DURABILITY"] = args.durability

    ctx = mp.get_context("spawn")
    go = ctx.Event()
    results = ctx.Queue()
    readies = [ctx.Event() for _ in range(args.workers)]
    t_spawn = time.perf_counter()
    procs = [
        ctx.Process(
            target=worker_process,
            args=(args.dsn, args.batch_size, args.max_concurrent_tasks or None, ready, go, results),
            daemon=False,
        )
        for ready in readies
    ]
    # The schema must exist before workers verify it (QueueManager.run starts with verify_structure),
    # and workers only run after `go`, so reset it while they start up.
    for p in procs:
        p.start()
    out: dict = {}
    rc = 0
    try:
        for ready, p in zip(readies, procs):
            while not ready.wait(0.1):
                if not p.is_alive():
                    raise RuntimeError(f"worker {p.pid} exited during start-up (code {p.exitcode})")
        startup = time.perf_counter() - t_spawn
        out = run_async(bench(args, go))
        out["worker_startup_s"] = round(startup, 3)
    except BaseException as e:  # report, then stop the workers below
        print(f"pgqueuer_noop: {type(e).__name__}: {e}", file=sys.stderr)
        rc = 1
    finally:
        go.set()
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM)
        per_worker = []
        for p in procs:
            p.join(30)
            if p.is_alive():
                print(f"pgqueuer_noop: worker {p.pid} did not stop on SIGTERM; killing it", file=sys.stderr)
                p.kill()
                p.join()
                rc = 1
        while not results.empty():
            per_worker.append(results.get_nowait()[1])
    if rc:
        return rc
    if out["logged_successful"] != args.jobs:
        print(f"pgqueuer_noop: pgqueuer_log has {out['logged_successful']} successful jobs, expected {args.jobs}",
              file=sys.stderr)
        rc = 1
    line = {
        "tool": "pgqueuer",
        "version": pgqueuer.__version__,
        "jobs": args.jobs,
        "workers": args.workers,
        "concurrent": args.concurrent,
        "enqueue_s": out["enqueue_s"],
        "drain_s": out["drain_s"],
        "jobs_per_s_drain": out["jobs_per_s_drain"],
        "jobs_per_s_overall": out["jobs_per_s_overall"],
        "batch_size": args.batch_size,
        "max_concurrent_tasks": args.max_concurrent_tasks,
        "enqueue_batch": args.enqueue_batch,
        "durability": args.durability,
        "worker_startup_s": out["worker_startup_s"],
        "per_worker_jobs": sorted(per_worker, reverse=True),
    }
    print(json.dumps(line), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
