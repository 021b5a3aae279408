import Foundation
import Logging
import MediaIntake
import MediaPipeline
import MediaQueue
import MediaStore
import MediaTestSupport
import MediaWorker
import Testing

/// A blob store whose artifact writes fail on purpose: the retryable error of a full disk or a lost mount.
final class FlakyStore: BlobStore, @unchecked Sendable {
    let inner: any BlobStore
    private var failuresLeft: Int
    /// Until then every read and write fails (an outage: the mount is gone, the disk is full).
    private let downUntil: Date?
    private let lock = NSLock()
    private(set) var failed = 0

    init(_ inner: any BlobStore, failures: Int = 0, downFor: TimeInterval? = nil) {
        self.inner = inner
        self.failuresLeft = failures
        self.downUntil = downFor.map { Date().addingTimeInterval($0) }
    }

    private func down() -> Bool {
        guard let downUntil, Date() < downUntil else { return false }
        lock.withLock { failed += 1 }
        return true
    }

    func put(jobID: String, role: String, bytes: [UInt8]) throws {
        if down() { throw InjectedFailure() }
        if role != AttachmentIntake.originalRole {
            lock.lock()
            let fail = failuresLeft > 0
            if fail { failuresLeft -= 1; failed += 1 }
            lock.unlock()
            if fail { throw InjectedFailure() }
        }
        try inner.put(jobID: jobID, role: role, bytes: bytes)
    }
    func get(jobID: String, role: String) throws -> [UInt8]? {
        if down() { throw InjectedFailure() }
        return try inner.get(jobID: jobID, role: role)
    }
    func size(jobID: String, role: String) throws -> Int? { try inner.size(jobID: jobID, role: role) }
    func delete(jobID: String) throws { try inner.delete(jobID: jobID) }
}

struct InjectedFailure: Error, CustomStringConvertible {
    var description: String { "injected store failure (No space left on device)" }
}

struct Harness {
    let storage: TestStorage
    let queue: any JobQueue
    let files: any BlobStore
    let intake: AttachmentIntake

    init(_ backend: TestBackend) throws {
        storage = try backend.make("mw-worker")
        queue = try storage.queue()
        files = try storage.store()
        intake = AttachmentIntake(queue: queue, store: files)
    }

    /// Submits each named fixture `times` times (keys `KEY:n`); the job ids with their fixtures.
    func submit(_ names: [String], times: Int, key: String) throws -> [(String, FixtureManifest.Fixture)] {
        try (0..<(names.count * times)).map { n in
            let f = FixtureManifest.named(names[n % names.count])
            return (try intake.submit(try f.bytes(), from: f.from.rawValue, idempotencyKey: "\(key):\(n)").job.id, f)
        }
    }

    /// Every job ended as its fixture expects, in its first attempt (infrastructure failures use none).
    func expectFinalInOneAttempt(_ ids: [(String, FixtureManifest.Fixture)]) throws {
        for (id, f) in ids {
            let job = try #require(try queue.job(id: id))
            #expect(job.state.rawValue == f.expect.status, "\(f.id): \(job.state) \(job.lastError ?? "")")
            #expect(job.attempts == 1, "\(f.id) used \(job.attempts) attempts")
        }
    }

    /// Runs a worker on `store` (and `through`, a queue in front of the real one) until every job is final (or
    /// `timeout`), then stops it.
    func drain(store: any BlobStore, settings: WorkerSettings, through: (any JobQueue)? = nil, timeout: TimeInterval = 120) throws {
        let processor = JobProcessor(pipeline: try MediaPipeline(), queue: through ?? queue, store: store, retry: settings.retry,
                                     outageWindow: settings.outageWindow)
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let worker = Worker(processor: processor, settings: settings, logger: logger, id: "test-worker")
        worker.start()
        defer { worker.stop() }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let c = try queue.counts()
            if (c[.queued] ?? 0) + (c[.running] ?? 0) == 0 { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        Issue.record("jobs still pending after \(timeout) s: \(try queue.counts())")
    }
}

@Suite(.serialized) struct WorkerTests {
    @Test("every fixture through the queue ends in its expected final state, artifacts stored", arguments: TestBackend.allCases)
    func fixturesThroughQueue(_ backend: TestBackend) throws {
        let h = try Harness(backend)
        defer { h.storage.remove() }
        let fixtures = FixtureManifest.inProcess.filter { ($0.expect.playback?.durationMs ?? 0) <= 60_000 }
        var ids: [String: FixtureManifest.Fixture] = [:]
        for f in fixtures {
            let job = try h.intake.submit(try f.bytes(), from: f.from.rawValue, declaredType: f.declaredType,
                                          fileName: f.fileName, idempotencyKey: "fixture:\(f.id)").job
            ids[job.id] = f
        }
        var settings = WorkerSettings()
        settings.concurrency = 2
        try h.drain(store: h.files, settings: settings)
        for (id, f) in ids {
            let job = try #require(try h.queue.job(id: id))
            #expect(job.state.rawValue == f.expect.status, "\(f.id): \(job.state) \(job.lastError ?? "")")
            #expect(job.attempts == 1)
            let outcome = job.outcomeJSON ?? ""
            if let reason = f.expect.reason { #expect(outcome.contains(#""reason":"\#(reason)""#), "\(f.id): \(outcome)") }
            if job.state == .accepted {
                #expect(try h.files.get(jobID: id, role: "original") == (try f.bytes()))
                if case .some(.some(let t)) = f.expect.thumbnail {
                    let bytes = try h.files.get(jobID: id, role: "thumbnail") ?? []
                    let webp = try #require(WebPInspector(bytes), "\(f.id): thumbnail missing or unreadable")
                    #expect(abs(webp.width - t.width) <= 1 && abs(webp.height - t.height) <= 1, "\(f.id)")
                }
                if let p = f.expect.playback {
                    #expect(JobChecks.playbackMatches(try h.files.get(jobID: id, role: "playback") ?? [], p), "\(f.id): playback")
                }
            }
        }
    }

    @Test("store failures postpone the job with backoff, the attempt given back each time; it then succeeds", arguments: TestBackend.allCases)
    func retriesThenSucceeds(_ backend: TestBackend) throws {
        let h = try Harness(backend)
        defer { h.storage.remove() }
        let job = try h.intake.submit(try FixtureManifest.named("jpeg-whatsapp-photo").bytes(), from: "visitor").job
        let flaky = FlakyStore(h.files, failures: 2)
        var settings = WorkerSettings()
        settings.concurrency = 1
        settings.retry = RetryPolicy(maxAttempts: 5, base: 0.05, maximum: 1)
        try h.drain(store: flaky, settings: settings)
        let done = try #require(try h.queue.job(id: job.id))
        #expect(done.state == .accepted)
        #expect(done.attempts == 1, "infrastructure failures use no attempt")
        #expect(flaky.failed == 2)
        #expect(try h.files.get(jobID: job.id, role: "thumbnail") != nil)
    }

    @Test("past the outage window, a job that keeps failing is dead after the maximum attempts, with the last error; retry brings it back",
          arguments: TestBackend.allCases)
    func deadAfterMaxAttempts(_ backend: TestBackend) throws {
        let h = try Harness(backend)
        defer { h.storage.remove() }
        let job = try h.intake.submit(try FixtureManifest.named("gif87a").bytes(), from: "visitor").job
        var settings = WorkerSettings()
        settings.concurrency = 1
        settings.outageWindow = 0  // every failure counts (as for a job whose original is gone for good)
        settings.retry = RetryPolicy(maxAttempts: 3, base: 0.05, maximum: 1)
        let start = Date()
        try h.drain(store: FlakyStore(h.files, failures: 1000), settings: settings)
        let dead = try #require(try h.queue.job(id: job.id))
        #expect(dead.state == .dead)
        #expect(dead.attempts == 3)
        #expect(dead.lastError?.contains("injected store failure") == true)
        // Two backoffs of 0.05 s and 0.1 s nominal (±50%) were waited.
        #expect(Date().timeIntervalSince(start) >= 0.075)
        #expect(try h.queue.retry(id: job.id, now: Date()))
        try h.drain(store: h.files, settings: settings)
        #expect(try h.queue.job(id: job.id)?.state == .accepted)
    }

    @Test("a store outage under load: every job waits it out and ends in its final state, none dead, no attempt used",
          arguments: TestBackend.allCases)
    func storeOutage(_ backend: TestBackend) throws {
        let h = try Harness(backend)
        defer { h.storage.remove() }
        let ids = try h.submit(["jpeg-whatsapp-photo", "png-palette", "gif87a", "pdf-text-3-pages", "ogg-opus-voice-note",
                                "html-declared-jpeg", "ogg-opus-voice-note-operator", "png-rgba-alpha"], times: 1, key: "outage")
        let flaky = FlakyStore(h.files, downFor: 2)
        var settings = WorkerSettings()
        settings.concurrency = 2
        settings.retry = RetryPolicy(maxAttempts: 2, base: 0.05, maximum: 0.4)
        try h.drain(store: flaky, settings: settings)
        #expect(flaky.failed > ids.count, "the outage was hit (\(flaky.failed) failed calls)")
        try h.expectFinalInOneAttempt(ids)
    }

    @Test("a database outage under load: claims, completions and postponements fail for 3 s; every job ends final, none dead, no attempt used",
          arguments: TestBackend.allCases)
    func databaseOutage(_ backend: TestBackend) throws {
        let h = try Harness(backend)
        defer { h.storage.remove() }
        let ids = try h.submit(["jpeg-whatsapp-photo", "png-palette", "gif87a", "ogg-opus-voice-note", "html-declared-jpeg",
                                "ogg-opus-voice-note-operator"], times: 4, key: "db-outage")
        let outage = OutageQueue(h.queue)
        var settings = WorkerSettings()
        settings.concurrency = 2
        settings.retry = RetryPolicy(maxAttempts: 1, base: 0.05, maximum: 0.5)
        // The outage begins once work is under way (a few jobs done), and lasts 3 s.
        let trigger = Thread {
            while ((try? h.queue.counts())?[.accepted] ?? 0) < 2 { Thread.sleep(forTimeInterval: 0.005) }
            outage.goDown(for: 3)
        }
        trigger.start()
        try h.drain(store: h.files, settings: settings, through: outage)
        #expect(outage.refused > 0, "the outage was met")
        try h.expectFinalInOneAttempt(ids)
    }

    @Test("leases are fenced per claim: once another claim (even of the same process) took a job over, the first claim's result is refused",
          arguments: TestBackend.allCases)
    func fencedPerClaim(_ backend: TestBackend) throws {
        let h = try Harness(backend)
        defer { h.storage.remove() }
        let job = try h.intake.submit(try FixtureManifest.named("gif87a").bytes(), from: "visitor").job
        let first = try #require(try h.queue.claim(worker: "w#1", lease: 0.2, maxAttempts: 5, now: Date()))
        Thread.sleep(forTimeInterval: 0.3)
        let second = try #require(try h.queue.claim(worker: "w#2", lease: 30, maxAttempts: 5, now: Date()), "the expired lease is reclaimed")
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let processor = JobProcessor(pipeline: try MediaPipeline(), queue: h.queue, store: h.files, retry: RetryPolicy())
        #expect(processor.run(first, worker: first.leaseOwner ?? "", logger: logger) == .leaseLost)
        #expect(try h.queue.job(id: job.id)?.state == .running, "the stale claim changed nothing")
        #expect(processor.run(second, worker: second.leaseOwner ?? "", logger: logger) == .completed)
        #expect(try h.queue.job(id: job.id)?.state == .accepted)
        // The Worker claims under a new owner each time: WORKER-ID#n.
        for n in 0..<3 { _ = try h.intake.submit(try FixtureManifest.named("ogg-opus-voice-note-15s").bytes(), from: "visitor", idempotencyKey: "own:\(n)") }
        var settings = WorkerSettings()
        settings.concurrency = 1
        let worker = Worker(processor: processor, settings: settings, logger: logger, id: "fence-worker")
        worker.start()
        defer { worker.stop() }
        var owner: String?
        for _ in 0..<2000 where owner == nil {
            owner = try h.queue.jobs(state: .running, limit: 1).first?.leaseOwner
            Thread.sleep(forTimeInterval: 0.005)
        }
        #expect(owner?.hasPrefix("fence-worker#") == true, "claimed as \(owner ?? "nothing")")
    }

    @Test("stopping finishes the job in flight and claims nothing more", arguments: TestBackend.allCases)
    func gracefulStop(_ backend: TestBackend) throws {
        let h = try Harness(backend)
        defer { h.storage.remove() }
        for i in 0..<6 {
            _ = try h.intake.submit(try FixtureManifest.named("ogg-opus-voice-note-15s").bytes(), from: "visitor",
                                    idempotencyKey: "stop:\(i)")
        }
        var settings = WorkerSettings()
        settings.concurrency = 1
        settings.grace = 30
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let worker = Worker(processor: JobProcessor(pipeline: try MediaPipeline(), queue: h.queue, store: h.files,
                                                    retry: settings.retry), settings: settings, logger: logger, id: "w")
        worker.start()
        while try h.queue.counts()[.running] == 0 { Thread.sleep(forTimeInterval: 0.005) }
        worker.stop()
        let c = try h.queue.counts()
        #expect(c[.running] == 0, "nothing left running")
        #expect(c[.accepted] == 1, "the job in flight finished")
        #expect(c[.queued] == 5, "nothing more was claimed")
    }
}
