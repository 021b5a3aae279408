import Foundation
import Logging
import MediaDomain
import MediaIntake
import MediaPipeline
import MediaQueue
import MediaStore
import MediaTestSupport
import MediaWorker
import Testing

/// `mediaworker blobs verify` and `mediaworker blobs gc` on the three stores, run as a user runs them (the built
/// binary, the storage settings in its environment).
@Suite(.onQueueExecutor) struct BlobRepairTests {
    func run(_ arguments: [String], _ storage: TestStorage) throws -> TestCLI.Run {
        try TestCLI.run(arguments, on: storage)
    }

    @Test("verify finds a missing artifact; gc --dry-run names only unnamed blobs old enough; gc deletes them", arguments: StoreDriver.allCases)
    func repair(_ driver: StoreDriver) async throws {
        let storage = try driver.make("mw-repair")
        defer { storage.remove() }
        let queue = try await storage.queue(), store = try await storage.store()
        let intake = AttachmentIntake(queue: queue, store: store)
        var ids: [String] = []
        for name in ["jpeg-whatsapp-photo", "ogg-opus-voice-note", "html-declared-jpeg"] {
            let f = FixtureManifest.named(name)
            ids.append(try await intake.submit(try f.bytes(), from: f.from).job.id)
        }
        let processor = JobProcessor(pipeline: try AttachmentPipeline(), queue: queue, store: store, retry: RetryPolicy())
        var logger = Logger(label: "test")
        logger.logLevel = .error
        while let job = try await queue.claim(worker: "w", lease: 30, maxAttempts: 5, now: Date()) {
            await processor.run(job, worker: job.leaseOwner ?? "w", logger: logger)
        }
        let photo = try #require(try await queue.job(id: ids[0]))
        #expect(photo.state == .accepted && !photo.artifacts.isEmpty)

        let clean = try run(["blobs", "verify"], storage)
        #expect(clean.status == 0)
        #expect(clean.json["jobs"] as? Int == 3 && clean.json["problems"] as? Int == 0, "\(clean.json)")

        // Left over: an original whose job never committed (two hours old), a stray role beside an accepted job's
        // artifacts, and a fresh original whose job may still be on its way (never taken).
        let old = JobID.make(now: Date().addingTimeInterval(-7200))
        try await store.put(jobID: old, role: "original", bytes: [1, 2, 3])
        try await store.put(jobID: ids[0], role: "stray", bytes: [4])
        try await store.put(jobID: JobID.make(), role: "original", bytes: [5])
        // A queued job's blobs are never taken, whatever their age.
        let queued = try await intake.submit(try FixtureManifest.named("gif87a").bytes(), from: .visitor).job.id
        try await store.put(jobID: queued, role: "thumbnail", bytes: [6])

        let dry = try run(["blobs", "gc", "--dry-run"], storage)
        #expect(dry.status == 0)
        #expect(dry.json["orphans"] as? Int == 2 && dry.json["tooYoung"] as? Int == 1 && dry.json["deleted"] as? Int == 0, "\(dry.json)")
        let named = Set(((dry.json["details"] as? [[String: Any]]) ?? []).map { "\($0["jobId"] ?? "")/\($0["role"] ?? "")/\($0["why"] ?? "")" })
        #expect(named == ["\(old)/original/unknown_job", "\(ids[0])/stray/unnamed_role"])
        #expect(try await store.get(jobID: old, role: "original") == [1, 2, 3], "a dry run deletes nothing")

        // An artifact gone missing.
        let thumbnail = try #require(photo.artifacts.first { $0.role != .original })
        try await store.delete(jobID: ids[0], role: thumbnail.role.rawValue)
        let broken = try run(["blobs", "verify"], storage)
        #expect(broken.status == 5)
        let problem = try #require((broken.json["details"] as? [[String: Any]])?.first)
        #expect(problem["jobId"] as? String == ids[0] && problem["role"] as? String == thumbnail.role.rawValue)
        #expect(problem["foundSize"] is NSNull && problem["expectedSize"] as? Int == thumbnail.size)

        let gc = try run(["blobs", "gc"], storage)
        #expect(gc.status == 0 && gc.json["deleted"] as? Int == 2, "\(gc.json)")
        #expect(try await store.get(jobID: old, role: "original") == nil)
        #expect(try await store.get(jobID: ids[0], role: "stray") == nil)
        #expect(try await store.get(jobID: ids[0], role: "original") != nil, "named blobs stay")
        #expect(try await store.get(jobID: queued, role: "thumbnail") == [6])
        #expect(try run(["blobs", "gc", "--dry-run"], storage).json["orphans"] as? Int == 0)
    }

    @Test("verify against an S3 bucket that does not exist: one error (exit 1, no report), not every blob reported missing")
    func missingBucket() async throws {
        var storage = try StoreDriver.s3.make("mw-repair-nobucket")
        defer { storage.remove() }
        let queue = try await storage.queue(), store = try await storage.store()
        let f = FixtureManifest.named("jpeg-whatsapp-photo")
        _ = try await AttachmentIntake(queue: queue, store: store).submit(try f.bytes(), from: f.from)
        let clean = try run(["blobs", "verify"], storage)
        #expect(clean.status == 0 && clean.json["blobs"] as? Int == 1, "\(clean.json)")
        storage.environment["MEDIAWORKER_STORE"] = "s3://mw-no-such-bucket-\(UInt32.random(in: 0...UInt32.max))"
        let missing = try run(["blobs", "verify"], storage)
        #expect(missing.status == 1, "a configuration error, not exit 5")
        #expect(missing.json.isEmpty, "no report: \(missing.json)")
    }

    @Test("a tombstone names no blob: verify passes after an erasure, and gc takes what a worker left after it", arguments: StoreDriver.allCases)
    func tombstones(_ driver: StoreDriver) async throws {
        let storage = try driver.make("mw-repair-erased")
        defer { storage.remove() }
        let queue = try await storage.queue(), store = try await storage.store()
        let seeded = try await ErasureChecks.seed(3, queue: queue, store: store, finishedAt: Date().addingTimeInterval(-7200))
        #expect(try await JobEraser(queue: queue, store: store).erase(jobID: seeded[0].id)?.state == .erased)
        let verified = try run(["blobs", "verify"], storage)
        #expect(verified.status == 0 && verified.json["problems"] as? Int == 0, "\(verified.json)")
        // A worker that died after storing an artifact of the job it lost to the erasure.
        try await store.put(jobID: seeded[0].id, role: "thumbnail", bytes: [7])
        let gc = try run(["blobs", "gc", "--min-age", "0"], storage)
        #expect(gc.json["deleted"] as? Int == 1, "\(gc.json)")
        #expect(try await store.allBlobs().filter { $0.jobID == seeded[0].id }.isEmpty)
        #expect(try await store.get(jobID: seeded[1].id, role: "original") == seeded[1].original)
    }
}
