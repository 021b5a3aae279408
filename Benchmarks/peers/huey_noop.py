"""huey's SqliteHuey doing the queue benchmark's no-op work (Benchmarks/queue.sh), printing the same figures
as `mediaworker-bench queue noop`.

    .build-tools/bench-venv/bin/python Benchmarks/peers/huey_noop.py --jobs N [--workers W] [--mode consumer|loop]
                                                            [--sync normal|full|off] [--concurrent]

A fresh SqliteHuey file in a new temporary folder (huey's defaults: WAL journal, autocommit, one connection
per thread). N calls of a no-op task enqueue N messages (pickled Task, one INSERT each), then:

  consumer  huey's own Consumer(workers=W, worker_type='thread', periodic=False) runs until the task has
            run N times (its worker threads loop dequeue -> execute; an empty queue makes them sleep with
            backoff, which a full queue never hits)
  loop      W plain threads loop `huey.dequeue()` -> `huey.execute(task)` until the queue is empty: the same
            calls without the consumer's machinery (huey's best case)

dequeue = a quick SELECT, then BEGIN EXCLUSIVE + SELECT + DELETE + COMMIT; execute = revoke check (a kv
SELECT), the call, and the DELETE of the task's revoke key (a write), then signals. The task returns None,
so no result is stored (huey's default store_none=False). --sync sets PRAGMA synchronous on every
connection: normal (default here, the same durability as mediaworker's `.normal`), full (what SqliteHuey
does when fsync is not given: SQLite's default), off. With --concurrent, enqueue and consumption overlap.

Last line: RESULT mode=… workers=W jobs=N enqueue_seconds=… drain_seconds=… enqueue_per_second=…
drain_per_second=… overall_per_second=…   (overall = N / (enqueue + drain), or N / wall with --concurrent)
"""

import argparse
import logging
import os
import shutil
import sys
import tempfile
import threading
import time

import huey
from huey import SqliteHuey
from huey.consumer import Consumer
from huey.storage import SqliteStorage


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--jobs", type=int, required=True)
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--mode", choices=["consumer", "loop"], default="consumer")
    p.add_argument("--sync", choices=["normal", "full", "off"], default="normal")
    p.add_argument("--concurrent", action="store_true")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    logging.getLogger("huey").setLevel(logging.WARNING)  # no handler is set up anyway; keep it cheap

    sync = {"normal": 1, "full": 2, "off": 0}[args.sync]

    class Storage(SqliteStorage):
        def _create_connection(self):
            conn = super()._create_connection()
            conn.execute("pragma synchronous=%d" % sync)
            return conn

    class Huey(SqliteHuey):
        storage_class = Storage

    folder = tempfile.mkdtemp(prefix="mw-bench-huey-")
    try:
        h = Huey("bench", filename=os.path.join(folder, "huey.db"))
        done = [0]
        lock = threading.Lock()
        all_done = threading.Event()
        n = args.jobs

        @h.task()
        def noop():
            with lock:
                done[0] += 1
                if done[0] == n:
                    all_done.set()

        def enqueue_all():
            for _ in range(n):
                noop()

        failures = []

        def loop_worker(producer_done):
            try:
                while True:
                    task = h.dequeue()
                    if task is None:
                        if producer_done is not None and not producer_done.is_set():
                            time.sleep(0.0002)
                            continue
                        if producer_done is not None:
                            task = h.dequeue()  # the producer may have finished just now
                            if task is not None:
                                h.execute(task)
                                continue
                        return
                    h.execute(task)
            except Exception as exc:  # pragma: no cover - reported below
                failures.append(repr(exc))

        def make_consumer():
            # Polls an empty queue every 1-10 ms (huey's defaults: 0.1 s doubling to 10 s), so a consumer
            # that started before the producer does not sleep through the benchmark.
            return Consumer(h, workers=args.workers, worker_type="thread", periodic=False,
                            check_worker_health=False, initial_delay=0.001, max_delay=0.01)

        def wait_and_stop(consumer):
            if not all_done.wait(600):
                failures.append(f"only {done[0]} of {n} tasks ran in 600 s")
            consumer.stop(graceful=True)

        def drain(producer_done=None):
            if args.mode == "consumer":
                consumer = make_consumer()
                # start() (not run()): the scheduler and worker threads, and signal handlers (main thread).
                consumer.start()
                wait_and_stop(consumer)
            else:
                threads = [threading.Thread(target=loop_worker, args=(producer_done,)) for _ in range(args.workers)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()

        if args.concurrent and args.mode == "consumer":
            consumer = make_consumer()
            t0 = time.perf_counter()
            consumer.start()
            enqueue_all()
            t1 = time.perf_counter()
            wait_and_stop(consumer)
            t2 = time.perf_counter()
            enqueue_s, drain_s, overall_s = t1 - t0, t2 - t0, t2 - t0
        elif args.concurrent:
            producer_done = threading.Event()
            t0 = time.perf_counter()
            drainer = threading.Thread(target=drain, args=(producer_done,))
            drainer.start()
            enqueue_all()
            t1 = time.perf_counter()
            producer_done.set()
            drainer.join()
            t2 = time.perf_counter()
            enqueue_s, drain_s, overall_s = t1 - t0, t2 - t0, t2 - t0
        else:
            t0 = time.perf_counter()
            enqueue_all()
            t1 = time.perf_counter()
            if h.pending_count() != n:
                sys.exit(f"expected {n} pending tasks, found {h.pending_count()}")
            drain()
            t2 = time.perf_counter()
            enqueue_s, drain_s, overall_s = t1 - t0, t2 - t1, t2 - t0
        if failures:
            sys.exit("huey run failed: " + "; ".join(failures[:3]))
        if done[0] != n or h.pending_count() != 0:
            sys.exit(f"huey ran {done[0]} of {n} tasks; {h.pending_count()} left")
        mode = ("concurrent-" if args.concurrent else "") + args.mode
        if not args.quiet:
            print(f"huey {huey.__version__} SqliteHuey ({args.mode}, synchronous={args.sync}, WAL): {n} jobs, "
                  f"{args.workers} workers: enqueue {enqueue_s:.3f} s, drain {drain_s:.3f} s")
        print(f"RESULT mode={mode} workers={args.workers} jobs={n} sync={args.sync} enqueue_seconds={enqueue_s:.4f} "
              f"drain_seconds={drain_s:.4f} enqueue_per_second={n / enqueue_s:.1f} drain_per_second={n / drain_s:.1f} "
              f"overall_per_second={n / overall_s:.1f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
