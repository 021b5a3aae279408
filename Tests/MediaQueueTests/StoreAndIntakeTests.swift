import Foundation
import MediaIntake
import MediaQueue
import MediaStore
import MediaTestSupport
import Testing

@Suite(.onQueueExecutor) struct BlobStoreTests {
    @Test("put, get, size, overwrite and delete, leaving no temporary files", arguments: StoreDriver.allCases)
    func roundTrip(_ driver: StoreDriver) async throws {
        let storage = try driver.make("mw-store")
        defer { storage.remove() }
        let (s, root) = (try await storage.store(), storage.folder)
        let id = JobID.make()
        #expect(try await s.get(jobID: id, role: "original") == nil)
        try await s.put(jobID: id, role: "original", bytes: [1, 2, 3])
        try await s.put(jobID: id, role: "thumbnail", bytes: Array(repeating: 7, count: 100_000))
        let big = (0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        try await s.put(jobID: id, role: "playback", bytes: big)
        #expect(try await s.get(jobID: id, role: "playback") == big, "a 5 MiB blob comes back byte for byte")
        #expect(try await s.get(jobID: id, role: "original") == [1, 2, 3])
        #expect(try await s.size(jobID: id, role: "thumbnail") == 100_000)
        try await s.put(jobID: id, role: "original", bytes: [9])
        #expect(try await s.get(jobID: id, role: "original") == [9])
        let files = FileManager.default.enumerator(atPath: root.path)?.allObjects as? [String] ?? []
        #expect(!files.contains { $0.hasSuffix(".tmp") })
        try await s.delete(jobID: id)
        #expect(try await s.get(jobID: id, role: "thumbnail") == nil)
    }

    @Test("keys are job ids and role words only: nothing user-made reaches the file system", arguments: StoreDriver.allCases)
    func hostileKeys(_ driver: StoreDriver) async throws {
        let storage = try driver.make("mw-store")
        defer { storage.remove() }
        let s = try await storage.store()
        for (id, role) in [("../../../../etc/passwd", "original"), (JobID.make(), "../x"), (JobID.make(), "a/b"),
                           (JobID.make(), ""), ("0193" + String(repeating: "/", count: 32), "original")] {
            await #expect(throws: InvalidBlobKey.self) { try await s.put(jobID: id, role: role, bytes: [1]) }
        }
    }

    @Test("the listing names every blob with its size, page after page; one role is deleted alone; the probes pass",
          arguments: StoreDriver.allCases)
    func listingAndProbes(_ driver: StoreDriver) async throws {
        let storage = try driver.make("mw-store")
        defer { storage.remove() }
        let s = try await storage.store()
        #expect(try await s.allBlobs().isEmpty, "a new store lists nothing")
        try await s.checkReadable()
        try await s.checkWritable()
        // More jobs than one page of the PostgreSQL and S3 listings (1,000), spread over many shard folders.
        var expected: Set<StoredBlob> = []
        let ids = (0..<520).map { _ in JobID.make() }
        await concurrently(ids.count) { i in
            try? await s.put(jobID: ids[i], role: "original", bytes: Array(repeating: UInt8(i & 0xFF), count: i))
            try? await s.put(jobID: ids[i], role: "thumbnail", bytes: [1, 2])
        }
        for (i, id) in ids.enumerated() {
            expected.insert(StoredBlob(jobID: id, role: "original", size: i))
            expected.insert(StoredBlob(jobID: id, role: "thumbnail", size: 2))
        }
        let listed = try await s.allBlobs().filter { $0.jobID != BlobKey.probeJobID }
        #expect(listed.count == expected.count, "each blob listed once")
        #expect(Set(listed) == expected)
        try await s.delete(jobID: ids[0], role: "thumbnail")
        try await s.delete(jobID: ids[0], role: "thumbnail")  // again: nothing to delete is fine
        #expect(try await s.get(jobID: ids[0], role: "thumbnail") == nil)
        #expect(try await s.get(jobID: ids[0], role: "original") == [], "the job's other blob stays")
        try await s.delete(jobID: ids[1])
        let after = try await s.allBlobs().filter { $0.jobID != BlobKey.probeJobID }
        #expect(after.count == expected.count - 3)
    }
}

@Suite(.onQueueExecutor) struct IntakeTests {
    func intake(_ backend: TestBackend) async throws -> AttachmentIntake {
        let storage = try backend.make("mw-intake")
        return AttachmentIntake(queue: try await storage.queue(), store: try await storage.store())
    }

    @Test("the original is stored before its job exists, under the job's id", arguments: TestBackend.allCases)
    func storesThenEnqueues(_ backend: TestBackend) async throws {
        let i = try await intake(backend)
        let bytes = [UInt8](repeating: 42, count: 5000)
        let job = try await i.submit(bytes, from: .visitor, declaredType: "image/jpeg", fileName: "../../x.jpg",
                               idempotencyKey: "wamid.A:0").job
        #expect(try await i.store.get(jobID: job.id, role: "original") == bytes)
        #expect(job.submission.size == 5000)
        #expect(job.submission.contentSHA256 == "6ac7f5bf0c3ed2a0a9a7c9ec0b3b0a1a4d6bbcd4f3b1e4c8b8b3a69a62ef2b71" || job.submission.contentSHA256.count == 64)
        #expect(job.submission.fileName == "../../x.jpg", "recorded as sent, never used as a path")
    }

    @Test("a redelivered upload returns the same job and writes nothing; other bytes under the key conflict",
          arguments: TestBackend.allCases)
    func idempotent(_ backend: TestBackend) async throws {
        let i = try await intake(backend)
        let first = try await i.submit([1, 2, 3], from: .visitor, idempotencyKey: "wamid.B:0").job
        guard case .existing(let again) = try await i.submit([1, 2, 3], from: .visitor, idempotencyKey: "wamid.B:0") else {
            Issue.record("not existing"); return
        }
        #expect(again.id == first.id)
        guard case .conflict = try await i.submit([9, 9], from: .visitor, idempotencyKey: "wamid.B:0") else {
            Issue.record("no conflict"); return
        }
        #expect(try await i.store.get(jobID: first.id, role: "original") == [1, 2, 3])
        #expect(try await i.queue.jobs(state: nil, limit: 10).count == 1)
    }
}

@Suite(.onQueueExecutor) struct OutboxTests {
    func finishOne(_ queue: any JobQueue) async throws -> String {
        let id = JobID.make()
        _ = try await queue.enqueue(NewJob(from: .visitor, contentSHA256: "aa", size: 1), id: id, now: Date())
        _ = try await queue.claim(worker: "w", lease: 30, maxAttempts: 5, now: Date())
        #expect(try await queue.complete(id: id, worker: "w", result: JobResult(state: .rejected, outcomeJSON: #"{"status":"rejected"}"#,
                                                                         artifacts: []), now: Date()))
        return id
    }

    @Test("with notifications on, a final state writes its event in the same transaction; it is delivered once acknowledged",
          arguments: TestBackend.allCases)
    func recordsEvents(_ backend: TestBackend) async throws {
        let queue = try await backend.make("mw-outbox").queue(recordsEvents: true)
        let id = try await finishOne(queue)
        #expect(try await queue.pendingEvents() == 1)
        let events = try await queue.claimEvents(limit: 10, lease: 60, now: Date())
        #expect(events.count == 1 && events[0].jobID == id && events[0].attempts == 1)
        #expect(events[0].payload.contains(#""type":"job.finished""#) && events[0].payload.contains(#""state":"rejected""#))
        #expect(try await queue.claimEvents(limit: 10, lease: 60, now: Date()).isEmpty, "hidden while claimed")
        try await queue.markFailed(id: events[0].id, error: "down", retryAt: Date())
        let again = try await queue.claimEvents(limit: 10, lease: 60, now: Date().addingTimeInterval(1))
        #expect(again.map(\.id) == [events[0].id] && again[0].attempts == 2, "same event id on the retry")
        try await queue.markDelivered(id: events[0].id, now: Date())
        #expect(try await queue.pendingEvents() == 0)
    }

    @Test("with notifications off (no callback URL), the outbox does not grow", arguments: TestBackend.allCases)
    func noReceiverNoEvents(_ backend: TestBackend) async throws {
        let queue = try await backend.make("mw-outbox").queue()
        _ = try await finishOne(queue)
        #expect(try await queue.pendingEvents() == 0)
    }
}

/// A queue whose enqueue fails after (or before) it committed: the connection broke around the commit.
final class BrokenCommitQueue: JobQueue, ErasureForwarding, @unchecked Sendable {
    let inner: any JobQueue
    let commitsFirst: Bool
    init(_ inner: any JobQueue, commitsFirst: Bool) { self.inner = inner; self.commitsFirst = commitsFirst }
    struct ConnectionLost: Error {}

    func enqueue(_ job: NewJob, id: String, now: Date) async throws -> EnqueueResult {
        if commitsFirst { _ = try await inner.enqueue(job, id: id, now: now) }
        throw ConnectionLost()
    }
    func claim(worker: String, limit: Int, lease: TimeInterval, maxAttempts: Int, now: Date) async throws -> [Job] {
        try await inner.claim(worker: worker, limit: limit, lease: lease, maxAttempts: maxAttempts, now: now)
    }
    func heartbeat(id: String, worker: String, lease: TimeInterval, now: Date) async throws -> Bool {
        try await inner.heartbeat(id: id, worker: worker, lease: lease, now: now)
    }
    func complete(id: String, worker: String, result: JobResult, now: Date) async throws -> Bool {
        try await inner.complete(id: id, worker: worker, result: result, now: now)
    }
    func fail(id: String, worker: String, error: String, retryAt: Date?, now: Date) async throws -> Bool {
        try await inner.fail(id: id, worker: worker, error: error, retryAt: retryAt, now: now)
    }
    func postpone(id: String, worker: String, error: String, retryAt: Date, now: Date) async throws -> Bool {
        try await inner.postpone(id: id, worker: worker, error: error, retryAt: retryAt, now: now)
    }
    func release(id: String, worker: String, now: Date) async throws -> Bool { try await inner.release(id: id, worker: worker, now: now) }
    func retry(id: String, now: Date) async throws -> Bool { try await inner.retry(id: id, now: now) }
    func hasPostponed(now: Date) async throws -> Bool { try await inner.hasPostponed(now: now) }
    func releasePostponed(now: Date) async throws -> Int { try await inner.releasePostponed(now: now) }
    func job(id: String) async throws -> Job? { try await inner.job(id: id) }
    func jobs(idempotencyKey: String) async throws -> [Job] { try await inner.jobs(idempotencyKey: idempotencyKey) }
    func jobs(state: JobState?, limit: Int) async throws -> [Job] { try await inner.jobs(state: state, limit: limit) }
    func counts() async throws -> [JobState: Int] { try await inner.counts() }
    func activeCounts() async throws -> [JobState: Int] { try await inner.activeCounts() }
}

@Suite(.onQueueExecutor) struct BrokenCommitTests {
    @Test("an enqueue that committed before the connection broke keeps its original; one that did not leaves none",
          arguments: TestBackend.allCases)
    func originalSurvivesAmbiguousCommit(_ backend: TestBackend) async throws {
        let storage = try backend.make("mw-intake-commit")
        defer { storage.remove() }
        let (queue, store) = (try await storage.queue(), try await storage.store())
        for commitsFirst in [true, false] {
            let intake = AttachmentIntake(queue: BrokenCommitQueue(queue, commitsFirst: commitsFirst), store: store)
            await #expect(throws: BrokenCommitQueue.ConnectionLost.self) {
                try await intake.submit([7, 7, 7], from: .visitor, idempotencyKey: "wamid.C:\(commitsFirst)")
            }
            let jobs = try await queue.jobs(idempotencyKey: "wamid.C:\(commitsFirst)")
            #expect(jobs.count == (commitsFirst ? 1 : 0))
            for job in jobs {
                // The job the gateway will find on its retry still has its bytes.
                #expect(try await store.get(jobID: job.id, role: "original") == [7, 7, 7])
            }
        }
    }
}
