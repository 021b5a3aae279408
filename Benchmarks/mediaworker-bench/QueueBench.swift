// mediaworker-bench queue: how fast the SQLite job queue moves jobs, and what the worker costs over the bare
// pipeline. A program that prints figures, never a timed test; Benchmarks/queue.sh runs it next to huey.
//
//   mediaworker-bench queue noop --jobs N [--workers W] [--concurrent] [--repeat R] [--quiet]
//   mediaworker-bench queue corpus DIR [--workers W] [--repeat R] [--quiet]
//
// noop: the pipeline is bypassed. A fresh `SQLiteJobQueue` file in a new temporary folder (WAL, the default
// `.normal` durability = `PRAGMA synchronous = NORMAL`: no fsync per commit, a commit survives the process
// being killed) gets N jobs enqueued one by one from one thread (`NewJob` with a fixed digest, straight
// into the `JobQueue`: no blob store), then W OS threads each loop claim → complete (accepted, "{}", "[]")
// until the queue is empty. Each call is its own transaction, as in the worker. Printed: enqueue jobs/s,
// drain jobs/s (claim + complete) and overall jobs/s = N / (enqueue + drain seconds). With --concurrent
// the producer and the W consumers run at the same time (overall = N / wall seconds); consumers that find
// the queue empty before the producer is done sleep 0.2 ms and claim again. Every job must end accepted.
//
//   RESULT mode=sequential workers=1 jobs=20000 enqueue_seconds=… drain_seconds=… enqueue_per_second=…
//          drain_per_second=… overall_per_second=…
//
// corpus --database-url URL: the worker and end-to-end rounds run on PostgreSQL (queue + blob table, schema
// bench_corpus dropped before each run) instead of SQLite + files; the bare rounds are the same.
// corpus: the fixtures listed in DIR/fixtures.json (accepted and rejected alike, with their sender,
// declared type, file name and `derive.appendBytes`), except audio notes longer than 60 s. Per round, in
// this order (fresh queue, blob store and temporary folder each time):
//   bare      W OS threads take the files from a shared counter: read the input file, `AttachmentPipeline.process`,
//             write the artifacts (not the original) to a `FileBlobStore` (fsync + rename, as the worker does).
//   worker    every file through `AttachmentIntake` (FileBlobStore + queue) first, untimed; then a `Worker`
//             with W slots starts; wall = start → the last job's finishedAt.
//   end2end   a `Worker` with W slots is started idle; every file goes through `AttachmentIntake` in a
//             burst (wake() after each); per job latency = its enqueue time (the `now` given to submit, stored
//             as createdAt) → finishedAt; jobs/s = jobs / (first enqueue → last finishedAt).
// An untimed bare pass warms up first. Worker overhead = (worker wall − bare wall) / bare wall, best round of each;
// also the median over rounds of each round's own (worker − bare) / bare, which is steadier on a shared machine. libvips runs with its default
// concurrency in both (the worker never sets it). The worker logs one line per job (swift-log, stderr, info),
// as in production.

import ArgumentParser
import Foundation
import Logging
import MediaIntake
import MediaPipeline
import MediaPostgres
import MediaQueue
import MediaSQLite
import MediaStore
import MediaWorker
import Synchronization

enum QueueBench {
    struct Command: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "queue",
            abstract: "The SQLite job queue with no-op jobs, and the worker over the bare pipeline (Benchmarks/queue.sh).",
            subcommands: [Noop.self, Corpus.self]
        )
    }

    struct Noop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "N no-op jobs through a fresh SQLite queue: enqueue, then claim + complete (or both at once)."
        )

        @Option(help: "No-op jobs per run.", transform: positive)
        var jobs: Int

        @Option(help: "Consumer threads (default: the cores).", transform: positive)
        var workers = ProcessInfo.processInfo.activeProcessorCount

        @Flag(help: "Enqueue and drain at the same time.")
        var concurrent = false

        @Option(help: "Claim up to this many jobs per call and complete them in one call (default: 1, every call its own transaction).",
                transform: positive)
        var batch = 1

        @Option(name: .customLong("repeat"), help: "Runs; the best one is reported (default: 1).", transform: positive)
        var repeats = 1

        @Flag(help: "Only the RESULT lines.")
        var quiet = false

        func run() async throws { try await bench("queue") { try await QueueBench.noop(self) } }
    }

    struct Corpus: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The fixtures in DIR/fixtures.json: the bare pipeline, the Worker, and end to end through intake."
        )

        @Argument(help: "The fixture folder (its fixtures.json lists the files).")
        var directory: String

        @Option(help: "Threads of the bare rounds and worker slots (default: the cores).", transform: positive)
        var workers = ProcessInfo.processInfo.activeProcessorCount

        @Option(name: .customLong("repeat"), help: "Rounds; the best one is reported (default: 3).", transform: positive)
        var repeats = 3

        @Option(name: .customLong("database-url"),
                help: ArgumentHelp("Run the worker rounds with the queue and blobs on this PostgreSQL (schema bench_corpus, dropped each run).",
                                   valueName: "url"))
        var databaseURL: String?

        @Flag(help: "Only the RESULT lines.")
        var quiet = false

        func run() async throws { try await bench("queue") { try await QueueBench.corpus(self) } }
    }

    // ------------------------------------------------------------------------------------------- helpers

    /// A new empty folder under the temporary directory (removed by the caller).
    static func temporaryFolder(_ tag: String) throws -> String {
        var template = Array((NSTemporaryDirectory() + "/mw-bench-\(tag)-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw Usage(description: "cannot create a temporary folder")
        }
        return String(cString: made)
    }

    static func remove(_ folder: String) { try? FileManager.default.removeItem(atPath: folder) }

    /// Runs `body(index)` for 0..<count as concurrent tasks and waits for all of them (the queue's callers: its
    /// contract is `async`), on `executor` when given: the queue's (`JobQueue.executor`), as the worker's tasks do.
    static func onTasks(_ count: Int, on executor: (any TaskExecutor)? = nil, _ body: @escaping @Sendable (Int) async -> Void) async {
        await withTaskExecutorPreference(executor) {
            await withTaskGroup(of: Void.self) { group in
                for t in 0..<count { group.addTask { await body(t) } }
            }
        }
    }

    /// Starts `count` OS threads running `body(index)` and waits for all of them.
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let finished = DispatchSemaphore(value: 0)
        for t in 0..<count {
            let thread = Thread {
                body(t)
                finished.signal()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        for _ in 0..<count { finished.wait() }
    }

    /// Nearest-rank percentile of sorted values.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count, max(1, rank)) - 1]
    }

    // ------------------------------------------------------------------------------------------- noop

    static let digest = String(repeating: "ab", count: 32)

    struct NoopRun {
        var enqueue = 0.0, drain = 0.0, wall = 0.0
        /// Sequential mode: seconds spent inside claim() and complete(), summed over the consumer threads.
        var claim = 0.0, complete = 0.0
    }

    static func noop(_ options: Noop) async throws -> Int32 {
        let n = options.jobs, w = options.workers
        let repeats = options.repeats
        if !options.quiet {
            print("mediaworker-bench queue noop: \(n) jobs, \(w) consumer threads, \(options.concurrent ? "enqueue and drain concurrently" : "enqueue, then drain"); "
                  + "SQLite WAL, durability .normal (synchronous=NORMAL), fresh file in a temporary folder; repeat=\(repeats)")
        }
        var best: NoopRun?
        func overall(_ r: NoopRun) -> Double { options.concurrent ? r.wall : r.enqueue + r.drain }
        for round in 1...repeats {
            let r = options.concurrent ? try await noopConcurrent(jobs: n, workers: w, batch: options.batch) : try await noopSequential(jobs: n, workers: w, batch: options.batch)
            if !options.quiet {
                print("run \(round): enqueue \(fmt(r.enqueue)) s, drain \(fmt(r.drain)) s, overall \(fmt(overall(r))) s "
                      + "= \(fmt(Double(n) / overall(r), 0)) jobs/s")
            }
            if best == nil || overall(r) < overall(best!) { best = r }
        }
        let b = best!
        print("RESULT mode=\(options.concurrent ? "concurrent" : "sequential") workers=\(w) batch=\(options.batch) jobs=\(n) "
              + "enqueue_seconds=\(fmt(b.enqueue, 4)) drain_seconds=\(fmt(b.drain, 4)) "
              + "enqueue_per_second=\(fmt(Double(n) / b.enqueue, 1)) drain_per_second=\(fmt(Double(n) / b.drain, 1)) "
              + "overall_per_second=\(fmt(Double(n) / overall(b), 1))"
              + (options.concurrent ? "" : " claim_us=\(fmt(b.claim / Double(n) * 1e6, 1)) complete_us=\(fmt(b.complete / Double(n) * 1e6, 1)) "
                 + "enqueue_us=\(fmt(b.enqueue / Double(n) * 1e6, 1))"))
        return 0
    }

    static func newJob() -> NewJob { NewJob(from: .visitor, channel: .whatsapp, contentSHA256: digest, size: 1) }
    static let noopResult = JobResult(state: .accepted, outcomeJSON: "{}", artifacts: [])

    /// Claims and completes until a claim finds nothing; returns how many it completed, and the seconds this
    /// thread spent inside claim and inside complete. With `batch` > 1, each claim takes up to `batch` jobs and
    /// their results are recorded by concurrent `complete` calls, as a worker's slots do (one transaction each).
    static func drainLoop(_ queue: SQLiteJobQueue, worker: String, batch: Int, producerDone: (@Sendable () -> Bool)? = nil) async throws
        -> (done: Int, claim: Double, complete: Double) {
        var done = 0
        var claimSeconds = 0.0, completeSeconds = 0.0
        func claimSome() async throws -> [Job] {
            try await queue.claim(worker: worker, limit: batch, lease: 30, maxAttempts: 5, now: Date())
        }
        func completeAll(_ jobs: [Job]) async throws {
            let held = try await completeConcurrently(queue, jobs, worker: worker)
            guard held == jobs.count else { throw Usage(description: "complete refused for \(jobs.count - held) jobs") }
        }
        while true {
            let c0 = now()
            let jobs = try await claimSome()
            let c1 = now()
            claimSeconds += c1 - c0
            guard !jobs.isEmpty else {
                if let producerDone, !producerDone() {
                    try await Task.sleep(for: .microseconds(200))
                    continue
                }
                // Re-check once: the producer may have finished between our empty claim and its flag.
                if producerDone != nil {
                    let again = try await claimSome()
                    if !again.isEmpty {
                        try await completeAll(again)
                        done += again.count
                        continue
                    }
                }
                return (done, claimSeconds, completeSeconds)
            }
            try await completeAll(jobs)
            completeSeconds += now() - c1
            done += jobs.count
        }
    }

    /// Completes `jobs` (no-op results), one `complete` call each, all at once; how many still held their lease.
    static func completeConcurrently(_ queue: any JobQueue, _ jobs: [Job], worker: String) async throws -> Int {
        if jobs.count == 1 { return try await queue.complete(id: jobs[0].id, worker: worker, result: noopResult, now: Date()) ? 1 : 0 }
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            for job in jobs { group.addTask { try await queue.complete(id: job.id, worker: worker, result: noopResult, now: Date()) } }
            var held = 0
            for try await ok in group where ok { held += 1 }
            return held
        }
    }

    static func verify(_ queue: SQLiteJobQueue, jobs: Int, completed: Int) async throws {
        let counts = try await queue.counts()
        guard completed == jobs, counts[.accepted] == jobs else {
            throw Usage(description: "expected \(jobs) accepted jobs, got \(completed) completed and counts \(counts)")
        }
    }

    static func noopSequential(jobs n: Int, workers w: Int, batch: Int) async throws -> NoopRun {
        let folder = try temporaryFolder("noop")
        defer { remove(folder) }
        let queue = try SQLiteJobQueue(path: folder + "/queue.sqlite")
        var r = NoopRun()
        let job = newJob()
        let t0 = now()
        // From the queue's executor, like the worker: no hop per call (an HTTP upload pays one).
        try await withTaskExecutorPreference(queue.executor) {
            for _ in 0..<n {
                let stamp = Date()
                _ = try await queue.enqueue(job, id: JobID.make(now: stamp), now: stamp)
            }
        }
        let t1 = now()
        let completed = Atomic<Int>(0)
        let failure = Mutex<String?>(nil)
        let spent = Mutex<(Double, Double)>((0, 0))
        await onTasks(w, on: queue.executor) { t in
            do {
                let d = try await drainLoop(queue, worker: "bench-\(t)", batch: batch)
                completed.wrappingAdd(d.done, ordering: .relaxed)
                spent.withLock { $0.0 += d.claim; $0.1 += d.complete }
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
        }
        let t2 = now()
        if let f = failure.withLock({ $0 }) { throw Usage(description: f) }
        try await verify(queue, jobs: n, completed: completed.load(ordering: .relaxed))
        r.enqueue = t1 - t0
        r.drain = t2 - t1
        r.wall = t2 - t0
        (r.claim, r.complete) = spent.withLock { $0 }
        return r
    }

    static func noopConcurrent(jobs n: Int, workers w: Int, batch: Int) async throws -> NoopRun {
        let folder = try temporaryFolder("noop")
        defer { remove(folder) }
        let queue = try SQLiteJobQueue(path: folder + "/queue.sqlite")
        let producerDone = Atomic<Bool>(false)
        let completed = Atomic<Int>(0)
        let failure = Mutex<String?>(nil)
        let enqueueEnd = Mutex<Double>(0)
        let job = newJob()
        let t0 = now()
        await onTasks(w + 1, on: queue.executor) { t in
            do {
                if t == w {
                    for _ in 0..<n {
                        let stamp = Date()
                        _ = try await queue.enqueue(job, id: JobID.make(now: stamp), now: stamp)
                    }
                    enqueueEnd.withLock { $0 = now() }
                    producerDone.store(true, ordering: .releasing)
                } else {
                    let d = try await drainLoop(queue, worker: "bench-\(t)", batch: batch) { producerDone.load(ordering: .acquiring) }
                    completed.wrappingAdd(d.done, ordering: .relaxed)
                }
            } catch {
                failure.withLock { $0 = "\(error)" }
                producerDone.store(true, ordering: .releasing)
            }
        }
        let t2 = now()
        if let f = failure.withLock({ $0 }) { throw Usage(description: f) }
        try await verify(queue, jobs: n, completed: completed.load(ordering: .relaxed))
        let t1 = enqueueEnd.withLock { $0 }
        return NoopRun(enqueue: t1 - t0, drain: t2 - t0, wall: t2 - t0)
    }

    // ------------------------------------------------------------------------------------------- corpus

    /// One fixture to push through: its bytes (derived when the manifest says so) and the facts sent with it.
    struct Input: Sendable {
        var id: String
        var path: String
        var bytes: [UInt8]
        var from: Sender
        var declaredType: String?
        var fileName: String?
        var expected: String
    }

    /// The fixtures of DIR/fixtures.json, minus audio over 60 s and the decoder attacks (fixtures with their own
    /// settings); also returns what was left out.
    static func loadFixtures(_ directory: String) throws -> (used: [Input], skipped: [String]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/fixtures.json"))
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let list = root["fixtures"] as? [[String: Any]] else {
            throw Usage(description: "\(directory)/fixtures.json: no fixtures list")
        }
        var used: [Input] = [], skipped: [String] = []
        for f in list {
            guard let id = f["id"] as? String, let file = f["file"] as? String, let expect = f["expect"] as? [String: Any],
                  let status = expect["status"] as? String else { throw Usage(description: "malformed fixture \(f)") }
            if f["settings"] != nil {
                skipped.append("\(id) (a decoder attack or a 392 MB decode: run through helpers only)")
                continue
            }
            if let playback = expect["playback"] as? [String: Any], let ms = playback["durationMs"] as? Int, ms > 60_000 {
                skipped.append("\(id) (\(ms / 1000) s of audio)")
                continue
            }
            var bytes = try readFile(directory + "/" + file)
            if let derive = f["derive"] as? [String: Any], let extra = derive["appendBytes"] as? Int {
                bytes += [UInt8](repeating: 0, count: extra)
            }
            guard let from = Sender(rawValue: f["from"] as? String ?? "visitor") else { throw Usage(description: "\(id): bad sender") }
            used.append(Input(id: id, path: file, bytes: bytes, from: from, declaredType: f["declaredType"] as? String,
                              fileName: f["fileName"] as? String, expected: status))
        }
        return (used, skipped)
    }

    static func corpus(_ options: Corpus) async throws -> Int32 {
        let repeats = options.repeats
        let w = options.workers
        let (inputs, skipped) = try loadFixtures(options.directory)
        guard !inputs.isEmpty else { throw Usage(description: "no fixtures") }
        let settings = try PipelineSettings(environment: ProcessInfo.processInfo.environment)
        let pipeline = try AttachmentPipeline(settings: settings)
        var logger = Logger(label: "mediaworker.bench", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .info
        let totalBytes = inputs.reduce(0) { $0 + $1.bytes.count }
        if !options.quiet {
            let accepted = inputs.filter { $0.expected == "accepted" }.count
            print("mediaworker-bench queue corpus: \(inputs.count) jobs from \(options.directory)/fixtures.json "
                  + "(\(accepted) expected accepted, \(inputs.count - accepted) rejected; \(fmt(Double(totalBytes) / 1_048_576, 1)) MiB), "
                  + "\(w) worker slots / bare threads, repeat=\(repeats); "
                  + (options.databaseURL == nil ? "SQLite WAL, durability .normal" : "PostgreSQL queue and blob table"))
            print("used: " + inputs.map(\.id).joined(separator: " "))
            print("left out: " + (skipped.isEmpty ? "none" : skipped.joined(separator: ", ")))
        }
        // The bare pipeline reads real files: write each input (derived ones included) once, untimed.
        let inputsFolder = try temporaryFolder("inputs")
        defer { remove(inputsFolder) }
        let paths = try inputs.enumerated().map { i, input in
            let p = inputsFolder + "/\(i)"
            try writeFile(p, input.bytes)
            return p
        }

        // One untimed pass first: libvips, poppler and the page cache warm up outside every measured run.
        _ = try await bareRun(pipeline: pipeline, inputs: inputs, paths: paths, threads: w)

        var bestBare = Double.infinity, bestWorker = Double.infinity, bestE2E = Double.infinity
        var bestE2ELatencies: [Double] = []
        var paired: [Double] = []  // each round's own overhead (worker vs the bare run just before it)
        for round in 1...repeats {
            let bare = try await bareRun(pipeline: pipeline, inputs: inputs, paths: paths, threads: w)
            let worker = try await workerRun(pipeline: pipeline, inputs: inputs, slots: w, logger: logger, burst: false, databaseURL: options.databaseURL)
            let e2e = try await workerRun(pipeline: pipeline, inputs: inputs, slots: w, logger: logger, burst: true, databaseURL: options.databaseURL)
            let l = e2e.latencies.sorted()
            if !options.quiet {
                print("run \(round): bare \(fmt(bare)) s, worker \(fmt(worker.wall)) s (+\(fmt(100 * (worker.wall - bare) / bare, 1)) %), "
                      + "end to end \(fmt(e2e.wall)) s, latency p50 \(fmt(percentile(l, 50) * 1000, 0)) ms p99 \(fmt(percentile(l, 99) * 1000, 0)) ms")
            }
            paired.append((worker.wall - bare) / bare)
            bestBare = min(bestBare, bare)
            bestWorker = min(bestWorker, worker.wall)
            if e2e.wall < bestE2E { bestE2E = e2e.wall; bestE2ELatencies = l }
        }
        let n = Double(inputs.count)
        let overhead = (bestWorker - bestBare) / bestBare
        let medianPaired = percentile(paired.sorted(), 50)
        if !options.quiet {
            print("best: bare \(fmt(bestBare)) s = \(fmt(n / bestBare, 1)) jobs/s; worker \(fmt(bestWorker)) s = \(fmt(n / bestWorker, 1)) jobs/s "
                  + "(overhead \(fmt(100 * overhead, 1)) %, median of the rounds' own \(fmt(100 * medianPaired, 1)) %); end to end \(fmt(bestE2E)) s = \(fmt(n / bestE2E, 1)) jobs/s")
        }
        print("RESULT mode=corpus backend=\(options.databaseURL == nil ? "sqlite" : "postgres") jobs=\(inputs.count) workers=\(w) repeat=\(repeats) bare_seconds=\(fmt(bestBare, 4)) "
              + "worker_seconds=\(fmt(bestWorker, 4)) overhead_percent=\(fmt(100 * overhead, 2)) "
              + "overhead_percent_median_paired=\(fmt(100 * medianPaired, 2)) "
              + "end2end_seconds=\(fmt(bestE2E, 4)) end2end_per_second=\(fmt(n / bestE2E, 2)) worker_per_second=\(fmt(n / bestWorker, 2)) "
              + "bare_per_second=\(fmt(n / bestBare, 2)) latency_p50_ms=\(fmt(percentile(bestE2ELatencies, 50) * 1000, 1)) "
              + "latency_p99_ms=\(fmt(percentile(bestE2ELatencies, 99) * 1000, 1)) "
              + "latency_max_ms=\(fmt((bestE2ELatencies.last ?? .nan) * 1000, 1))")
        return 0
    }

    /// The pipeline alone, `threads` files at a time, each processed on a thread of its own as the worker does
    /// (`CodecThread`): read + process + store artifacts. Returns wall seconds.
    static func bareRun(pipeline: AttachmentPipeline, inputs: [Input], paths: [String], threads: Int) async throws -> Double {
        let folder = try temporaryFolder("bare")
        defer { remove(folder) }
        let store = try FileBlobStore(root: URL(fileURLWithPath: folder))
        let ids = inputs.map { _ in JobID.make() }  // where each file's artifacts go (made untimed)
        let next = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        let start = now()
        await onTasks(threads) { _ in
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= inputs.count { break }
                let input = inputs[i]
                do {
                    let bytes = try readFile(paths[i])
                    let facts = AttachmentFacts(from: input.from, declaredType: input.declaredType, fileName: input.fileName,
                                                channel: .whatsapp)
                    let outcome = try await CodecThread.run { try pipeline.process(bytes, facts: facts) }
                    let status: String
                    switch outcome {
                    case .accepted(let accepted):
                        status = "accepted"
                        for artifact in accepted.artifacts where artifact.role != .original {
                            try await store.put(jobID: ids[i], role: artifact.role.rawValue, bytes: artifact.bytes)
                        }
                    case .rejected:
                        status = "rejected"
                    }
                    if status != input.expected { failures.withLock { $0.append("\(input.id): \(status), expected \(input.expected)") } }
                } catch {
                    failures.withLock { $0.append("\(input.id): \(error)") }
                }
            }
        }
        let elapsed = now() - start
        let f = failures.withLock { $0 }
        guard f.isEmpty else { throw Usage(description: "bare run: " + f.joined(separator: "; ")) }
        return elapsed
    }

    struct WorkerRun {
        var wall: Double
        var latencies: [Double]
    }

    /// Through intake + queue + `Worker`. burst false: everything enqueued first (untimed), then the worker
    /// starts; wall = start → last finishedAt. burst true: the worker runs first, then everything is enqueued;
    /// wall = first enqueue → last finishedAt, latencies = createdAt → finishedAt per job.
    static func workerRun(pipeline: any AttachmentProcessor, inputs: [Input], slots: Int, logger: Logger, burst: Bool,
                          databaseURL: String? = nil) async throws -> WorkerRun {
        let folder = try temporaryFolder(burst ? "e2e" : "worker")
        defer { remove(folder) }
        let queue: any JobQueue, store: any BlobStore
        if let databaseURL {
            try await PostgresBench.admin(databaseURL, "DROP SCHEMA IF EXISTS bench_corpus CASCADE")
            let database = try PostgresDatabase(
                location: try PostgresLocation(url: databaseURL + (databaseURL.contains("?") ? "&" : "?") + "schema=bench_corpus"),
                maxConnections: slots + 4, logger: logger)
            database.start()
            queue = try await PostgresJobQueue(database: database, logger: logger)
            store = try await PostgresBlobStore(database: database, migrated: true)
        } else {
            queue = try SQLiteJobQueue(path: folder + "/queue.sqlite")
            store = try FileBlobStore(root: URL(fileURLWithPath: folder))
        }
        let intake = AttachmentIntake(queue: queue, store: store)
        var settings = WorkerSettings()
        settings.concurrency = slots
        let processor = JobProcessor(pipeline: pipeline, queue: queue, store: store, retry: settings.retry)
        let worker = Worker(processor: processor, settings: settings, logger: logger, id: "bench-\(burst ? "e2e" : "worker")")
        var expected: [String: String] = [:]
        func submitAll() async throws {
            for input in inputs {
                let result = try await intake.submit(input.bytes, from: input.from, channel: .whatsapp,
                                               declaredType: input.declaredType, fileName: input.fileName, now: Date())
                guard case .created(let job) = result else { throw Usage(description: "\(input.id): not created: \(result)") }
                expected[job.id] = input.expected
                if burst { worker.wake() }
            }
        }
        let start: Date
        let running: Task<Void, Never>
        if burst {
            running = Task { await worker.run() }
            try await Task.sleep(for: .milliseconds(50))  // let the claim loop reach its idle wait
            start = Date()
            try await submitAll()
        } else {
            try await submitAll()
            start = Date()
            running = Task { await worker.run() }
        }
        // Wait until every job is final (polled; the figures come from the stored timestamps, not from here).
        let deadline = Date().addingTimeInterval(300)
        while true {
            let counts = try await queue.counts()
            let final = (counts[.accepted] ?? 0) + (counts[.rejected] ?? 0) + (counts[.dead] ?? 0)
            if final == inputs.count { break }
            if Date() > deadline { worker.requestStop(); await running.value; throw Usage(description: "jobs not final after 300 s: \(counts)") }
            try await Task.sleep(for: .milliseconds(10))
        }
        worker.requestStop()
        await running.value
        let jobs = try await queue.jobs(state: nil, limit: inputs.count + 10)
        var latencies: [Double] = [], last = start
        var wrong: [String] = []
        for job in jobs {
            guard let finished = job.finishedAt else { throw Usage(description: "job \(job.id) has no finishedAt") }
            if job.state.rawValue != expected[job.id] {
                wrong.append("\(job.submission.fileName ?? job.id): \(job.state.rawValue), expected \(expected[job.id] ?? "?") \(job.lastError ?? "")")
            }
            latencies.append(finished.timeIntervalSince(job.createdAt))
            last = max(last, finished)
        }
        guard wrong.isEmpty, jobs.count == inputs.count else {
            throw Usage(description: "worker run: \(jobs.count) jobs; " + wrong.joined(separator: "; "))
        }
        return WorkerRun(wall: last.timeIntervalSince(start), latencies: latencies)
    }
}
