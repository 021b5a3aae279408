// mediaworker-bench pg: the PostgreSQL queue with no-op jobs, driven by several worker processes, for
// Benchmarks/pg.sh (which runs PgQueuer on the same server beside it). A program that prints figures.
//
//   mediaworker-bench pg noop --url URL --jobs N [--processes P] [--workers W] [--batch B] [--enqueue-threads T]
//                             [--repeat R] [--quiet]
//
// Per run: the schema `bench_noop` is dropped and made again (migrations); N jobs are enqueued one `enqueue`
// call per job, as uploads arrive, from T threads (default 16; concurrent calls through the one queue share a
// statement and a commit, the queue's group commit); then P child processes
// (`mediaworker-bench pg drain`) connect, and once all are connected they are told to start at the same moment:
// each runs W tasks looping claim(limit: B) → complete each of those B at once (one `complete` call per job, as a
// worker's slots do; the driver groups concurrent completions into shared statements) until a claim finds nothing.
// Every job must end accepted. Printed: enqueue jobs/s, drain jobs/s (N / time from "start" to the last child's
// exit), overall = N / (enqueue + drain seconds).
//
//   RESULT tool=mediaworker processes=P workers=W batch=B jobs=N enqueue_seconds=… drain_seconds=…
//          enqueue_per_second=… drain_per_second=… overall_per_second=…

import ArgumentParser
import Foundation
import Logging
import MediaPostgres
import MediaQueue
import PostgresNIO
import Synchronization

enum PostgresBench {
    struct Command: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pg",
            abstract: "The PostgreSQL queue with no-op jobs, drained by several worker processes (Benchmarks/pg.sh).",
            subcommands: [Noop.self, Drain.self]
        )
    }

    struct Noop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "N jobs enqueued one per call, then drained by P child processes (`pg drain`) started together."
        )

        @Option(help: ArgumentHelp("The PostgreSQL server (the schema bench_noop is dropped and made again each run).",
                                   valueName: "url"))
        var url: String

        @Option(help: "Jobs per run.", transform: positive)
        var jobs: Int

        @Option(help: "Worker processes draining the queue (default: 1).", transform: positive)
        var processes = 1

        @Option(help: "Threads per worker process (default: 2).", transform: positive)
        var workers = 2

        @Option(help: "Jobs per claim and per completion call (default: 50).", transform: positive)
        var batch = 50

        @Option(name: .customLong("enqueue-threads"), help: "Threads enqueueing, one call per job (default: 16).", transform: positive)
        var enqueueThreads = 16

        @Option(name: .customLong("repeat"), help: "Runs; the best one is reported (default: 1).", transform: positive)
        var repeats = 1

        @Flag(help: "Only the RESULT line.")
        var quiet = false

        /// The URL with the benchmark's own schema.
        var benchURL: String { url + (url.contains("?") ? "&" : "?") + "schema=bench_noop" }

        func run() async throws { try await bench("pg") { try await PostgresBench.noop(self) } }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A child of `pg noop`: connects, says ready, waits for a line on stdin, then drains the queue."
        )

        @Option(help: ArgumentHelp("The queue's PostgreSQL URL (with its schema).", valueName: "url"))
        var url: String

        @Option(help: "Threads claiming and completing (default: 2).", transform: positive)
        var workers = 2

        @Option(help: "Jobs per claim and per completion call (default: 50).", transform: positive)
        var batch = 50

        func run() async throws { try await bench("pg") { try await PostgresBench.drain(self) } }
    }

    static func open(_ url: String, connections: Int) async throws -> PostgresJobQueue {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let database = try PostgresDatabase(location: try PostgresLocation(url: url), maxConnections: connections, logger: logger)
        database.start()
        return try await PostgresJobQueue(database: database, logger: logger)
    }

    /// Runs one statement on a connection of its own (schema set-up), then closes it.
    static func admin(_ url: String, _ sql: PostgresQuery) async throws {
        let database = try PostgresDatabase(location: try PostgresLocation(url: url), maxConnections: 1)
        database.start()
        defer { Task { await database.shutdown() } }
        try await database.query(sql)
    }

    struct Run { var enqueue = 0.0, drain = 0.0 }

    static func noop(_ options: Noop) async throws -> Int32 {
        if !options.quiet {
            print("mediaworker-bench pg noop: \(options.jobs) jobs enqueued one per call from \(options.enqueueThreads) threads, "
                  + "then \(options.processes) worker processes × \(options.workers) threads claiming up to \(options.batch) at a time; "
                  + "repeat=\(options.repeats)")
        }
        var best: Run?
        for round in 1...options.repeats {
            let r = try await noopRound(options)
            if !options.quiet {
                print("run \(round): enqueue \(fmt(r.enqueue)) s, drain \(fmt(r.drain)) s = \(fmt(Double(options.jobs) / r.drain, 0)) jobs/s drained")
            }
            if best == nil || r.enqueue + r.drain < best!.enqueue + best!.drain { best = r }
        }
        let b = best!, n = Double(options.jobs)
        print("RESULT tool=mediaworker processes=\(options.processes) workers=\(options.workers) batch=\(options.batch) "
              + "jobs=\(options.jobs) enqueue_seconds=\(fmt(b.enqueue, 4)) drain_seconds=\(fmt(b.drain, 4)) "
              + "enqueue_per_second=\(fmt(n / b.enqueue, 1)) drain_per_second=\(fmt(n / b.drain, 1)) "
              + "overall_per_second=\(fmt(n / (b.enqueue + b.drain), 1))")
        return 0
    }

    static func noopRound(_ options: Noop) async throws -> Run {
        // A clean schema each run.
        try await admin(options.url, "DROP SCHEMA IF EXISTS bench_noop CASCADE")
        let queue = try await open(options.benchURL, connections: options.enqueueThreads)
        let job = NewJob(from: .visitor, channel: .whatsapp, contentSHA256: QueueBench.digest, size: 1)
        let next = Atomic<Int>(0)
        let failure = Mutex<String?>(nil)
        let t0 = now()
        await QueueBench.onTasks(options.enqueueThreads) { _ in
            while next.wrappingAdd(1, ordering: .relaxed).oldValue < options.jobs {
                do {
                    let stamp = Date()
                    _ = try await queue.enqueue(job, id: JobID.make(now: stamp), now: stamp)
                } catch {
                    failure.withLock { $0 = "\(error)" }
                    return
                }
            }
        }
        let t1 = now()
        if let f = failure.withLock({ $0 }) { throw Usage(description: f) }

        // Children connect first, then all start together when told on stdin.
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        var children: [(Process, Pipe, Pipe)] = []
        for _ in 0..<options.processes {
            let p = Process(), input = Pipe(), output = Pipe()
            p.executableURL = me
            p.arguments = ["pg", "drain", "--url", options.benchURL, "--workers", "\(options.workers)", "--batch", "\(options.batch)"]
            p.standardInput = input
            p.standardOutput = output
            try p.run()
            children.append((p, input, output))
        }
        for (_, _, output) in children {
            let line = readLine(output.fileHandleForReading)
            guard line == "ready" else { throw Usage(description: "drain child: \(line)") }
        }
        let t2 = now()
        for (_, input, _) in children { input.fileHandleForWriting.write(Data("go\n".utf8)) }
        var completed = 0
        for (p, _, output) in children {
            let line = readLine(output.fileHandleForReading)
            p.waitUntilExit()
            guard p.terminationStatus == 0, let n = Int(line.split(separator: " ").last ?? "") else {
                throw Usage(description: "drain child failed: \(line)")
            }
            completed += n
        }
        let t3 = now()
        let counts = try await queue.counts()
        guard completed == options.jobs, counts[.accepted] == options.jobs else {
            throw Usage(description: "expected \(options.jobs) accepted, children completed \(completed), counts \(counts)")
        }
        await queue.database.shutdown()
        return Run(enqueue: t1 - t0, drain: t3 - t2)
    }

    static func readLine(_ handle: FileHandle) -> String {
        var bytes = Data()
        while true {
            guard let byte = try? handle.read(upToCount: 1), !byte.isEmpty else { break }
            if byte[0] == 0x0A { break }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A child: W tasks claim up to B jobs and complete them all at once, until the queue is empty.
    static func drain(_ options: Drain) async throws -> Int32 {
        let queue = try await open(options.url, connections: options.workers)
        // Open every connection before the start signal.
        await QueueBench.onTasks(options.workers) { _ in _ = try? await queue.counts() }
        FileHandle.standardOutput.write(Data("ready\n".utf8))
        _ = Swift.readLine()
        let completed = Atomic<Int>(0)
        let failure = Mutex<String?>(nil)
        let pid = getpid()
        let spent = Mutex<(claim: Double, complete: Double, calls: Int)>((0, 0, 0))
        let start = now()
        await QueueBench.onTasks(options.workers) { t in
            let worker = "bench-\(pid)-\(t)"
            do {
                while true {
                    let c0 = now()
                    let jobs = try await queue.claim(worker: worker, limit: options.batch, lease: 30, maxAttempts: 5, now: Date())
                    let c1 = now()
                    if jobs.isEmpty { return }
                    // One `complete` call per job, all at once (a worker's slots): the queue groups them into shared
                    // statements.
                    let held = try await QueueBench.completeConcurrently(queue, jobs, worker: worker)
                    let c2 = now()
                    spent.withLock { $0.claim += c1 - c0; $0.complete += c2 - c1; $0.calls += 1 }
                    guard held == jobs.count else { throw Usage(description: "completions refused") }
                    completed.wrappingAdd(held, ordering: .relaxed)
                }
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
        }
        if let f = failure.withLock({ $0 }) { throw Usage(description: f) }
        let (claim, complete, calls) = spent.withLock { $0 }
        FileHandle.standardError.write(Data("drain \(getpid()): \(fmt(now() - start, 3)) s, \(calls) batches, in claim \(fmt(claim, 3)) s, in complete \(fmt(complete, 3)) s (summed over threads)\n".utf8))
        FileHandle.standardOutput.write(Data("completed \(completed.load(ordering: .relaxed))\n".utf8))
        return 0
    }
}
