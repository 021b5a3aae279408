import Foundation
import Logging
import MediaIntake
import MediaPipeline
import MediaQueue
import MediaSQLite
import MediaStore
import MediaTestSupport
import MediaWorker
import Testing

/// A blob store whose artifact writes fail on purpose: the retryable error of a full disk or a lost mount.
final class FlakyStore: BlobStore, @unchecked Sendable {
    let inner: any BlobStore
    private var failuresLeft: Int
    /// Until then every read and write fails (an outage: the mount is gone, the disk is full).
    private var downUntil: Date?
    private let lock = NSLock()
    private(set) var failed = 0

    init(_ inner: any BlobStore, failures: Int = 0, downFor: TimeInterval? = nil) {
        self.inner = inner
        self.failuresLeft = failures
        self.downUntil = downFor.map { Date().addingTimeInterval($0) }
    }

    private func down() -> Bool {
        lock.withLock {
            guard let downUntil, Date() < downUntil else { return false }
            failed += 1
            return true
        }
    }

    /// Every read and write fails from now for `seconds`.
    func goDown(for seconds: TimeInterval) { lock.withLock { downUntil = Date().addingTimeInterval(seconds) } }

    func put(jobID: String, role: String, bytes: [UInt8]) async throws {
        if down() { throw InjectedFailure() }
        if role != ArtifactRole.original.rawValue {
            let fail = lock.withLock { () -> Bool in
                let fail = failuresLeft > 0
                if fail { failuresLeft -= 1; failed += 1 }
                return fail
            }
            if fail { throw InjectedFailure() }
        }
        try await inner.put(jobID: jobID, role: role, bytes: bytes)
    }
    func get(jobID: String, role: String) async throws -> [UInt8]? {
        if down() { throw InjectedFailure() }
        return try await inner.get(jobID: jobID, role: role)
    }
    func size(jobID: String, role: String) async throws -> Int? { try await inner.size(jobID: jobID, role: role) }
    func delete(jobID: String) async throws { try await inner.delete(jobID: jobID) }
    func delete(jobID: String, role: String) async throws { try await inner.delete(jobID: jobID, role: role) }
    func blobs(from cursor: String?) async throws -> BlobPage { try await inner.blobs(from: cursor) }
    func checkReadable() async throws {
        if down() { throw InjectedFailure() }
        try await inner.checkReadable()
    }
}

/// The pipeline with a codec that does not start for the first `failures` files (lame_init failing, say).
final class CodecStartsLate: AttachmentProcessor, @unchecked Sendable {
    let inner: any AttachmentProcessor
    private var failuresLeft: Int
    private let lock = NSLock()

    init(_ inner: any AttachmentProcessor, failures: Int) {
        self.inner = inner
        self.failuresLeft = failures
    }

    func process(_ bytes: [UInt8], facts: AttachmentFacts, timings: inout AttachmentPipeline.PhaseTimings) throws -> Outcome {
        let fail = lock.withLock { () -> Bool in
            guard failuresLeft > 0 else { return false }
            failuresLeft -= 1
            return true
        }
        if fail { throw PipelineError.codec("libmp3lame cannot start") }
        return try inner.process(bytes, facts: facts, timings: &timings)
    }

    func canProcess() -> Bool { true }
}

struct InjectedFailure: Error, CustomStringConvertible {
    var description: String { "injected store failure (No space left on device)" }
}

struct Harness {
    let storage: TestStorage
    let queue: any JobQueue
    let files: any BlobStore
    let intake: AttachmentIntake

    init(_ backend: TestBackend, s3: Bool = false, executor: BlockingCallExecutor = .sqlite) async throws {
        storage = try backend.make("mw-worker", s3: s3)
        queue = try await storage.queue(executor: executor)
        files = try await storage.store()
        intake = AttachmentIntake(queue: queue, store: files)
    }

    /// Submits each named fixture `times` times (keys `KEY:n`); the job ids with their fixtures.
    func submit(_ names: [String], times: Int, key: String) async throws -> [(String, FixtureManifest.Fixture)] {
        var ids: [(String, FixtureManifest.Fixture)] = []
        for n in 0..<(names.count * times) {
            let f = FixtureManifest.named(names[n % names.count])
            ids.append((try await intake.submit(try f.bytes(), from: f.from, idempotencyKey: "\(key):\(n)").job.id, f))
        }
        return ids
    }

    /// Every job ended as its fixture expects, in its first attempt (infrastructure failures use none).
    func expectFinalInOneAttempt(_ ids: [(String, FixtureManifest.Fixture)]) async throws {
        for (id, f) in ids {
            let job = try await #require(try await queue.job(id: id))
            #expect(job.state.rawValue == f.expect.status, "\(f.id): \(job.state) \(job.lastError ?? "")")
            #expect(job.attempts == 1, "\(f.id) used \(job.attempts) attempts")
        }
    }

    /// Runs a worker on `store` (and `through`, a queue in front of the real one) until every job is final (or
    /// `timeout`), then stops it.
    func drain(store: any BlobStore, settings: WorkerSettings, through: (any JobQueue)? = nil, timeout: TimeInterval = 120,
               logLevel: Logger.Level = .error) async throws {
        let processor = JobProcessor(pipeline: try AttachmentPipeline(), queue: through ?? queue, store: store, retry: settings.retry,
                                     outageWindow: settings.outageWindow)
        var logger = Logger(label: "test")
        logger.logLevel = logLevel
        let worker = Worker(processor: processor, settings: settings, logger: logger, id: "test-worker")
        let run = worker.started()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let c = try await queue.counts()
            if (c[.queued] ?? 0) + (c[.running] ?? 0) == 0 {
                await run.stop()
                return
            }
            try? await Task.sleep(for: .seconds(0.02))
        }
        await run.stop()
        Issue.record("jobs still pending after \(timeout) s: \(try await queue.counts())")
    }
}

@Suite(.serialized, .onQueueExecutor) struct WorkerTests {
    @Test("every fixture through the queue ends in its expected final state, artifacts stored", arguments: TestBackend.allCases)
    func fixturesThroughQueue(_ backend: TestBackend) async throws {
        let h = try await Harness(backend)
        defer { h.storage.remove() }
        let fixtures = FixtureManifest.inProcess.filter { ($0.expect.playback?.durationMs ?? 0) <= 60_000 }
        var ids: [String: FixtureManifest.Fixture] = [:]
        for f in fixtures {
            let job = try await h.intake.submit(try f.bytes(), from: f.from, declaredType: f.declaredType,
                                          fileName: f.fileName, idempotencyKey: "fixture:\(f.id)").job
            ids[job.id] = f
        }
        var settings = WorkerSettings()
        settings.concurrency = 2
        try await h.drain(store: h.files, settings: settings)
        for (id, f) in ids {
            let job = try await #require(try await h.queue.job(id: id))
            #expect(job.state.rawValue == f.expect.status, "\(f.id): \(job.state) \(job.lastError ?? "")")
            #expect(job.attempts == 1)
            let outcome = job.outcomeJSON ?? ""
            if let reason = f.expect.reason { #expect(outcome.contains(#""reason":"\#(reason)""#), "\(f.id): \(outcome)") }
            if job.state == .accepted {
                #expect(try await h.files.get(jobID: id, role: "original") == (try f.bytes()))
                if case .some(.some(let t)) = f.expect.thumbnail {
                    let bytes = try await h.files.get(jobID: id, role: "thumbnail") ?? []
                    let webp = try #require(WebPInspector(bytes), "\(f.id): thumbnail missing or unreadable")
                    #expect(abs(webp.width - t.width) <= 1 && abs(webp.height - t.height) <= 1, "\(f.id)")
                }
                if let p = f.expect.playback {
                    #expect(JobChecks.playbackMatches(try await h.files.get(jobID: id, role: "playback") ?? [], p), "\(f.id): playback")
                }
            }
        }
    }

    @Test("store failures postpone the job with backoff, the attempt given back each time; it then succeeds", arguments: TestBackend.allCases)
    func retriesThenSucceeds(_ backend: TestBackend) async throws {
        let h = try await Harness(backend)
        defer { h.storage.remove() }
        let job = try await h.intake.submit(try await FixtureManifest.named("jpeg-whatsapp-photo").bytes(), from: .visitor).job
        let flaky = FlakyStore(h.files, failures: 2)
        var settings = WorkerSettings()
        settings.concurrency = 1
        settings.retry = RetryPolicy(maxAttempts: 5, base: 0.05, maximum: 1)
        try await h.drain(store: flaky, settings: settings)
        let done = try await #require(try await h.queue.job(id: job.id))
        #expect(done.state == .accepted)
        #expect(done.attempts == 1, "infrastructure failures use no attempt")
        #expect(flaky.failed == 2)
        #expect(try await h.files.get(jobID: job.id, role: "thumbnail") != nil)
    }

    @Test("a codec that does not start is retried, not a corrupt file: the job waits, then is processed", arguments: TestBackend.allCases)
    func codecStartIsRetried(_ backend: TestBackend) async throws {
        let h = try await Harness(backend)
        defer { h.storage.remove() }
        let job = try await h.intake.submit(try await FixtureManifest.named("ogg-opus-voice-note-15s").bytes(), from: .visitor).job
        let processor = JobProcessor(pipeline: CodecStartsLate(try AttachmentPipeline(), failures: 1), queue: h.queue, store: h.files,
                                     retry: RetryPolicy(maxAttempts: 5, base: 0.01, maximum: 0.05))
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let first = try await #require(try await h.queue.claim(worker: "w", lease: 30, maxAttempts: 5, now: Date()))
        #expect(await processor.run(first, worker: "w", logger: logger) == .postponed)
        let waiting = try await #require(try await h.queue.job(id: job.id))
        #expect(waiting.state == .queued)
        #expect(waiting.lastError?.contains("libmp3lame cannot start") == true)
        try await Task.sleep(for: .milliseconds(200))
        let second = try await #require(try await h.queue.claim(worker: "w", lease: 30, maxAttempts: 5, now: Date()))
        #expect(await processor.run(second, worker: "w", logger: logger) == .completed)
        let done = try await #require(try await h.queue.job(id: job.id))
        #expect(done.state == .accepted)
        #expect(done.artifacts.map(\.role) == [.original, .playback])
    }

    @Test("past the outage window, a job that keeps failing is dead after the maximum attempts, with the last error; retry brings it back",
          arguments: TestBackend.allCases)
    func deadAfterMaxAttempts(_ backend: TestBackend) async throws {
        let h = try await Harness(backend)
        defer { h.storage.remove() }
        let job = try await h.intake.submit(try await FixtureManifest.named("gif87a").bytes(), from: .visitor).job
        var settings = WorkerSettings()
        settings.concurrency = 1
        settings.outageWindow = .zero  // every failure counts (as for a job whose original is gone for good)
        settings.retry = RetryPolicy(maxAttempts: 3, base: 0.05, maximum: 1)
        let start = Date()
        try await h.drain(store: FlakyStore(h.files, failures: 1000), settings: settings)
        let dead = try await #require(try await h.queue.job(id: job.id))
        #expect(dead.state == .dead)
        #expect(dead.attempts == 3)
        #expect(dead.lastError?.contains("injected store failure") == true)
        // Two backoffs of 0.05 s and 0.1 s nominal (±50%) were waited.
        #expect(Date().timeIntervalSince(start) >= 0.075)
        #expect(try await h.queue.retry(id: job.id, now: Date()))
        try await h.drain(store: h.files, settings: settings)
        #expect(try await h.queue.job(id: job.id)?.state == .accepted)
    }

    @Test("a store outage under load: every job waits it out and ends in its final state, none dead, no attempt used",
          arguments: TestBackend.allCases)
    func storeOutage(_ backend: TestBackend) async throws {
        let h = try await Harness(backend)
        defer { h.storage.remove() }
        let ids = try await h.submit(["jpeg-whatsapp-photo", "png-palette", "gif87a", "pdf-text-3-pages", "ogg-opus-voice-note",
                                "html-declared-jpeg", "ogg-opus-voice-note-operator", "png-rgba-alpha"], times: 1, key: "outage")
        let flaky = FlakyStore(h.files, downFor: 2)
        var settings = WorkerSettings()
        settings.concurrency = 2
        settings.retry = RetryPolicy(maxAttempts: 2, base: 0.05, maximum: 0.4)
        try await h.drain(store: flaky, settings: settings)
        #expect(flaky.failed > ids.count, "the outage was hit (\(flaky.failed) failed calls)")
        try await h.expectFinalInOneAttempt(ids)
    }

    @Test("a database outage under load: claims, completions and postponements fail for 3 s; every job ends final, none dead, no attempt used",
          arguments: TestBackend.allCases)
    func databaseOutage(_ backend: TestBackend) async throws {
        let h = try await Harness(backend)
        defer { h.storage.remove() }
        let ids = try await h.submit(["jpeg-whatsapp-photo", "png-palette", "gif87a", "ogg-opus-voice-note", "html-declared-jpeg",
                                "ogg-opus-voice-note-operator"], times: 4, key: "db-outage")
        let outage = OutageQueue(h.queue)
        var settings = WorkerSettings()
        settings.concurrency = 2
        settings.retry = RetryPolicy(maxAttempts: 1, base: 0.05, maximum: 0.5)
        // The outage begins once work is under way (a few jobs done), and lasts 3 s.
        let queue = h.queue
        Task {
            while ((try? await queue.counts())?[.accepted] ?? 0) < 2 { try? await Task.sleep(for: .milliseconds(5)) }
            outage.goDown(for: 3)
        }
        try await h.drain(store: h.files, settings: settings, through: outage)
        #expect(outage.refused > 0, "the outage was met")
        try await h.expectFinalInOneAttempt(ids)
    }

    @Test("leases are fenced per claim: once another claim (even of the same process) took a job over, the first claim's result is refused",
          arguments: TestBackend.allCases)
    func fencedPerClaim(_ backend: TestBackend) async throws {
        let h = try await Harness(backend)
        defer { h.storage.remove() }
        let job = try await h.intake.submit(try await FixtureManifest.named("gif87a").bytes(), from: .visitor).job
        let first = try await #require(try await h.queue.claim(worker: "w#1", lease: 0.2, maxAttempts: 5, now: Date()))
        try? await Task.sleep(for: .seconds(0.3))
        let second = try await #require(try await h.queue.claim(worker: "w#2", lease: 30, maxAttempts: 5, now: Date()), "the expired lease is reclaimed")
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let processor = JobProcessor(pipeline: try AttachmentPipeline(), queue: h.queue, store: h.files, retry: RetryPolicy())
        #expect(await processor.run(first, worker: first.leaseOwner ?? "", logger: logger) == .leaseLost)
        #expect(try await h.queue.job(id: job.id)?.state == .running, "the stale claim changed nothing")
        #expect(await processor.run(second, worker: second.leaseOwner ?? "", logger: logger) == .completed)
        #expect(try await h.queue.job(id: job.id)?.state == .accepted)
        // The Worker claims under a new owner each time: WORKER-ID#n.
        for n in 0..<3 { _ = try await h.intake.submit(try await FixtureManifest.named("ogg-opus-voice-note-15s").bytes(), from: .visitor, idempotencyKey: "own:\(n)") }
        var settings = WorkerSettings()
        settings.concurrency = 1
        let worker = Worker(processor: processor, settings: settings, logger: logger, id: "fence-worker")
        let run = worker.started()
        var owner: String?
        for _ in 0..<2000 where owner == nil {
            owner = try await h.queue.jobs(state: .running, limit: 1).first?.leaseOwner
            try? await Task.sleep(for: .seconds(0.005))
        }
        await run.stop()
        #expect(owner?.hasPrefix("fence-worker#") == true, "claimed as \(owner ?? "nothing")")
    }

    @Test("stopping finishes the job in flight and claims nothing more", arguments: TestBackend.allCases)
    func gracefulStop(_ backend: TestBackend) async throws {
        let h = try await Harness(backend)
        defer { h.storage.remove() }
        for i in 0..<6 {
            _ = try await h.intake.submit(try await FixtureManifest.named("ogg-opus-voice-note-15s").bytes(), from: .visitor,
                                    idempotencyKey: "stop:\(i)")
        }
        var settings = WorkerSettings()
        settings.concurrency = 1
        settings.grace = .seconds(30)
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let worker = Worker(processor: JobProcessor(pipeline: try AttachmentPipeline(), queue: h.queue, store: h.files,
                                                    retry: settings.retry), settings: settings, logger: logger, id: "w")
        let run = worker.started()
        while try await h.queue.counts()[.running] == 0 { try? await Task.sleep(for: .milliseconds(5)) }
        await run.stop()
        let c = try await h.queue.counts()
        #expect(c[.running] == 0, "nothing left running")
        #expect(c[.accepted] == 1, "the job in flight finished")
        #expect(c[.queued] == 5, "nothing more was claimed")
    }
}

/// Uploads sent like the gateway sends them: each again (same idempotency key, after 0.5 s) until it is stored.
final class RetriedUploads: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [(id: String, fixture: FixtureManifest.Fixture)] = []
    private var refused = 0
    private var running = 0

    /// Sends `fixture` under `key` on a thread of its own, from `start` on, until stored (or `deadline`).
    func send(_ fixture: FixtureManifest.Fixture, key: String, through intake: AttachmentIntake, at start: Date, until deadline: Date) {
        lock.withLock { running += 1 }
        Task { [self] in
            try? await Task.sleep(for: .seconds(max(0, start.timeIntervalSinceNow)))
            var id: String?
            while id == nil && Date() < deadline {
                do {
                    id = try await intake.submit(try await fixture.bytes(), from: fixture.from, declaredType: fixture.declaredType,
                                           idempotencyKey: key).job.id
                } catch {
                    lock.withLock { refused += 1 }
                    try? await Task.sleep(for: .seconds(0.5))
                }
            }
            lock.withLock {
                if let id { stored.append((id, fixture)) }
                running -= 1
            }
        }
    }

    var done: Bool { lock.withLock { running == 0 } }
    var jobs: [(String, FixtureManifest.Fixture)] { lock.withLock { stored.map { ($0.id, $0.fixture) } } }
    /// Sends that failed (the database was away) and were sent again.
    var refusals: Int { lock.withLock { refused } }
}

/// The SQLite database itself out of reach for 60 s under load (another process holds every lock of the file:
/// `SQLiteLockout`), with uploads arriving meanwhile. A suite of its own, so its minute of waiting overlaps the
/// other suites: it waits with `Task.sleep`, and what blocks runs on threads of its own, never on the test pool.
@Suite struct SQLiteOutageTests {
    static let outage: TimeInterval = 60
    static let fixtures = ["jpeg-whatsapp-photo", "png-palette", "gif87a", "ogg-opus-voice-note", "html-declared-jpeg",
                           "ogg-opus-voice-note-operator"]

    @Test("SQLite locked by another process for 60 s under load, uploads arriving meanwhile: every job final, none dead, none lost, no attempt used")
    func databaseLocked() async throws {
        // Threads of its own: for a minute every call to this SQLite file blocks the thread it runs on.
        let h = try await Harness(.sqlite, executor: BlockingCallExecutor(name: "sqlite-outage", threads: 16))
        defer { h.storage.remove() }
        let begin = Date()
        let before = try await h.submit(Self.fixtures, times: 4, key: "before")
        // Never injects anything: counts the worker's queue calls that the real database failed.
        let watched = OutageQueue(h.queue)
        var settings = WorkerSettings()
        settings.concurrency = 2
        // Longer than the outage: no heartbeat lands meanwhile, and a job in flight must keep its lease through it.
        settings.lease = .seconds(120)
        // One attempt only: a job that used a second one (a lost lease, a counted failure) would end dead.
        settings.retry = RetryPolicy(maxAttempts: 1, base: 0.05, maximum: 2)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let processor = JobProcessor(pipeline: try AttachmentPipeline(), queue: watched, store: h.files, retry: settings.retry,
                                     outageWindow: settings.outageWindow)
        let worker = Worker(processor: processor, settings: settings, logger: logger, id: "sqlite-outage")
        let run = worker.started()
        defer { worker.requestStop() }

        // The outage begins once work is under way, and lasts 60 s; an upload arrives every 6 s meanwhile. Every wait
        // is bounded: the test ends within about 2.5 minutes whatever happens.
        while (try await h.queue.counts()[.accepted] ?? 0) < 2 {
            guard Date().timeIntervalSince(begin) < 20 else { Issue.record("the worker did not start"); return }
            try await Task.sleep(for: .milliseconds(10))
        }
        let lockout = try SQLiteLockout(databasePath: h.storage.folder.appendingPathComponent("mediaworker.sqlite").path)
        defer { lockout.end() }
        let down = Date()
        let during = RetriedUploads()
        for i in 0..<10 {
            during.send(FixtureManifest.named(Self.fixtures[i % Self.fixtures.count]), key: "during:\(i)", through: h.intake,
                        at: down.addingTimeInterval(Double(i) * 6), until: down.addingTimeInterval(Self.outage + 50))
        }
        try await Task.sleep(for: .seconds(Self.outage - Date().timeIntervalSince(down)))
        let failedDuring = watched.failures
        lockout.end()
        let up = Date()

        // Afterwards: every upload stored, every job final within 60 s.
        var counts: [JobState: Int] = [:]
        while Date().timeIntervalSince(up) < 60 {
            if during.done, let c = try? await h.queue.counts() {
                counts = c
                if (c[.queued] ?? 0) + (c[.running] ?? 0) == 0 { break }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let drained = Date()
        print("sqlite outage: \(Int(up.timeIntervalSince(down))) s locked, every job final \(Int(drained.timeIntervalSince(up))) s later, " +
              "\(Int(drained.timeIntervalSince(begin))) s in all; \(failedDuring) worker calls and \(during.refusals) uploads failed meanwhile")
        #expect(up.timeIntervalSince(down) >= Self.outage)
        #expect(failedDuring > 0, "the worker met the outage")
        #expect(during.refusals >= 5, "uploads arrived while the database was locked and were refused (\(during.refusals))")
        #expect(during.done && during.jobs.count == 10, "every upload sent during the outage was stored (\(during.jobs.count))")
        #expect((counts[.queued] ?? 0) + (counts[.running] ?? 0) == 0, "jobs still pending: \(counts)")
        #expect(counts[.dead, default: 0] == 0, "no job died of the outage: \(counts)")
        #expect(counts.values.reduce(0, +) == before.count + 10, "one job per upload, none lost: \(counts)")
        for i in 0..<10 { #expect(try await h.queue.jobs(idempotencyKey: "during:\(i)").count == 1) }
        try await h.expectFinalInOneAttempt(before + during.jobs)
    }
}
