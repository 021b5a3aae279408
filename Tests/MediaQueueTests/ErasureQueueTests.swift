import Foundation
import MediaIntake
import MediaQueue
import MediaStore
import MediaTestSupport
import Testing

/// The erasure half of the queue contract (`JobErasure`), on both drivers.
@Suite(.onQueueExecutor) struct ErasureQueueTests {
    @Test("a queued, a running and a final job become tombstones; a repeat erases nothing; the running job's worker is refused",
          arguments: TestBackend.allCases)
    func tombstones(_ backend: TestBackend) async throws {
        let storage = try backend.make("mw-erase")
        defer { storage.remove() }
        let queue = try await storage.queue(), store = try await storage.store()
        let intake = AttachmentIntake(queue: queue, store: store)
        func submit(_ n: Int) async throws -> String {
            try await intake.submit(Array("bytes \(n)".utf8), from: .visitor, declaredType: "image/png", fileName: "secret-\(n).png",
                                    idempotencyKey: "wamid.E:\(n)", conversationId: "conv-E", businessNumber: "+34600000001").job.id
        }
        let running = try await submit(0)
        let claimed = try await queue.claim(worker: "w#1", limit: 1, lease: 60, maxAttempts: 5, now: Date())
        #expect(claimed.map(\.id) == [running])
        let final = try await submit(1)
        let worker = try #require(try await queue.claim(worker: "w#2", limit: 1, lease: 60, maxAttempts: 5, now: Date()).first)
        #expect(try await queue.complete(id: final, worker: "w#2", result: JobResult(
            state: .accepted, outcomeJSON: #"{"status":"accepted","message":"secret"}"#,
            artifacts: [StoredArtifact(role: .original, contentType: "image/png", size: 7)]), now: Date()))
        #expect(worker.id == final)
        let queued = try await submit(2)

        let now = Date()
        var erased: [String] = []
        for id in [queued, running, final] { erased += try await queue.erase(.job(id), limit: 1, now: now) }
        #expect(erased == [queued, running, final])
        for id in erased {
            let job = try #require(try await queue.job(id: id))
            #expect(job.state == .erased && job.erasure == .request)
            #expect(abs((job.erasedAt ?? .distantPast).timeIntervalSince(now)) < 5, "the queue's clock (PostgreSQL: the server's)")
            guard case .object(let members) = job.json() else { Issue.record("not an object"); continue }
            #expect(Set(members.map(\.0)) == ErasureChecks.tombstoneKeys, "the tombstone shows nothing else")
            #expect(job.submission.fileName == nil && job.submission.conversationId == nil && job.submission.businessNumber == nil
                    && job.submission.declaredType == nil && job.outcomeJSON == nil && job.artifacts.isEmpty && job.lastError == nil
                    && job.submission.contentSHA256.isEmpty && job.leaseOwner == nil)
        }
        // The running job's worker: its lease is gone with the erasure.
        #expect(try await !queue.heartbeat(id: running, worker: "w#1", lease: 60, now: Date()))
        #expect(try await !queue.complete(id: running, worker: "w#1", result: JobResult(state: .rejected, outcomeJSON: "{}", artifacts: []),
                                          now: Date()))
        #expect(try await !queue.fail(id: running, worker: "w#1", error: "x", retryAt: nil, now: Date()))
        #expect(try await queue.job(id: running)?.state == .erased)
        // Nothing claims a tombstone, nothing retries one.
        #expect(try await queue.claim(worker: "w#3", limit: 10, lease: 60, maxAttempts: 5, now: Date().addingTimeInterval(3600)).isEmpty)
        #expect(try await !queue.retry(id: final, now: Date()))
        // Repeats and other selectors find nothing left.
        #expect(try await queue.erase(.job(final), limit: 1, now: Date()).isEmpty)
        #expect(try await queue.erase(.conversation("conv-E"), limit: 100, now: Date()).isEmpty)
        #expect(try await queue.erase(.businessNumber("+34600000001"), limit: 100, now: Date()).isEmpty)
        // The blobs are the eraser's to delete: until it says so, the tombstones say they may exist.
        #expect(Set(try await queue.tombstonesWithBlobs(limit: 10, now: Date())) == Set(erased))
        try await queue.blobsErased(ids: erased, now: Date())
        // The job that was running is listed again once its worker can no longer be writing (its artifacts may have
        // landed after the deletion); the others are done.
        #expect(try await queue.tombstonesWithBlobs(limit: 10, now: Date()).isEmpty)
        let later = Date().addingTimeInterval(JobErasureLimits.runningRecheck + 1)
        #expect(try await queue.tombstonesWithBlobs(limit: 10, now: later) == [running])
        try await queue.blobsErased(ids: [running], now: later)
        #expect(try await queue.tombstonesWithBlobs(limit: 10, now: later.addingTimeInterval(3600)).isEmpty)
        let look = try await queue.erasedIDs(since: now.addingTimeInterval(-10), limit: 10)
        #expect(Set(look.ids) == Set(erased))
        #expect(try await queue.erasedIDs(since: look.asOf.addingTimeInterval(1), limit: 10).ids.isEmpty)
        // The key is kept only as its digest (it can carry the visitor's number), which still finds the tombstone.
        #expect(try await queue.job(id: final)?.submission.idempotencyKey == JobErasureLimits.erasedKey("wamid.E:1"))
        #expect(try await queue.jobs(idempotencyKey: "wamid.E:1").map(\.id) == [final])
        // The same upload again (its idempotency key): the tombstone, not a new job and not a conflict.
        let again = try await intake.submit(Array("bytes 1".utf8), from: .visitor, idempotencyKey: "wamid.E:1")
        #expect(again == .existing(try #require(try await queue.job(id: final))))
        #expect(try await queue.counts()[.erased] == 3)
    }

    @Test("a job's earlier events are removed with it and a job.erased event is recorded", arguments: TestBackend.allCases)
    func events(_ backend: TestBackend) async throws {
        let storage = try backend.make("mw-erase-events")
        defer { storage.remove() }
        let queue = try await storage.queue(recordsEvents: true), store = try await storage.store()
        let seeded = try await ErasureChecks.seed(2, queue: queue, store: store, conversationId: "conv-events")
        #expect(try await queue.pendingEvents() == 2)
        let first = try await queue.claimEvents(limit: 1, lease: 60, now: Date())
        try await queue.markDelivered(id: first[0].id, now: Date())
        #expect(try await queue.erase(.conversation("conv-events"), limit: 10, now: Date()).count == 2)
        let events = try await queue.claimEvents(limit: 10, lease: 60, now: Date().addingTimeInterval(1))
        #expect(Set(events.map(\.jobID)) == Set(seeded.map(\.id)))
        for event in events {
            #expect(event.payload.contains(#""type":"job.erased""#) && event.payload.contains(#""state":"erased""#))
            #expect(!event.payload.contains("conv-events") && !event.payload.contains("photo-"), "no personal data in the event")
        }
        #expect(try await queue.pendingEvents() == 2, "the two erasure events only: the finished events, delivered or not, are gone")
    }

    @Test("retention on a test clock: the default period, a number's own period, a kept number; the oldest expiry",
          arguments: TestBackend.allCases)
    func retention(_ backend: TestBackend) async throws {
        let storage = try backend.make("mw-retention")
        defer { storage.remove() }
        let queue = try await storage.queue(), store = try await storage.store()
        let t0 = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 1000).rounded() * 1000)
        let plain = try await ErasureChecks.seed(3, queue: queue, store: store, finishedAt: t0)
        let long = try await ErasureChecks.seed(2, queue: queue, store: store, businessNumber: "+33100000000", finishedAt: t0)
        let kept = try await ErasureChecks.seed(2, queue: queue, store: store, businessNumber: "+34600000099", finishedAt: t0)
        let day: Double = 86_400
        let policy = RetentionPolicy(period: .seconds(30 * day), byNumber: ["+33100000000": .seconds(90 * day)],
                                     kept: ["+34600000099"])
        // A job still queued is never expired, whatever its age.
        let waiting = try await AttachmentIntake(queue: queue, store: store).submit(Array("waiting".utf8), from: .visitor,
                                                                                    now: t0.addingTimeInterval(-400 * day)).job.id

        #expect(try await queue.oldestExpiry(policy, now: t0.addingTimeInterval(29 * day)) == nil)
        #expect(try await queue.erase(.expired(policy), limit: 100, now: t0.addingTimeInterval(29 * day)).isEmpty)
        let overdue = try #require(try await queue.oldestExpiry(policy, now: t0.addingTimeInterval(31 * day)))
        #expect(abs(overdue.timeIntervalSince(t0.addingTimeInterval(30 * day))) < 1, "due 30 days after it ended")

        let first = try await queue.erase(.expired(policy), limit: 2, now: t0.addingTimeInterval(31 * day))
        let second = try await queue.erase(.expired(policy), limit: 100, now: t0.addingTimeInterval(31 * day))
        #expect(first.count == 2, "batches of the limit")
        #expect(Set(first + second) == Set(plain.map(\.id)))
        for id in first + second { #expect(try await queue.job(id: id)?.erasure == .retention) }

        let later = try await queue.erase(.expired(policy), limit: 100, now: t0.addingTimeInterval(91 * day))
        #expect(Set(later) == Set(long.map(\.id)))
        #expect(try await queue.erase(.expired(policy), limit: 100, now: t0.addingTimeInterval(3650 * day)).isEmpty)
        #expect(try await queue.oldestExpiry(policy, now: t0.addingTimeInterval(3650 * day)) == nil)
        for s in kept { #expect(try await queue.job(id: s.id)?.state == .accepted) }
        #expect(try await queue.job(id: waiting)?.state == .queued)
        // Without a default period, only the listed numbers expire.
        #expect(try await queue.erase(.expired(RetentionPolicy(byNumber: ["+34600000099": .seconds(day)])), limit: 100,
                                      now: t0.addingTimeInterval(2 * day)).count == 2)
    }

    @Test("one purge at a time: a second holder of the purge lock is refused until the first lets go", arguments: TestBackend.allCases)
    func purgeLock(_ backend: TestBackend) async throws {
        let storage = try backend.make("mw-purge-lock")
        defer { storage.remove() }
        let a = try await storage.queue(), b = try await storage.queue()
        let inner = try await a.withPurgeLock { () -> Bool? in try await b.withPurgeLock { true } }
        #expect(inner == .some(nil), "held by the first")
        #expect(try await b.withPurgeLock { 7 } == 7, "free again afterwards")
    }
}
