import Foundation
import Logging
import MediaIntake
import MediaPipeline
import MediaQueue
import MediaStore
import MediaTestSupport
import MediaWorker
import Testing

/// The pipeline, held at the start of a file until the test lets it go: a job that is running when it is erased.
final class HeldPipeline: AttachmentProcessor, @unchecked Sendable {
    let inner: any AttachmentProcessor
    let started = DispatchSemaphore(value: 0)
    let go = DispatchSemaphore(value: 0)

    init(_ inner: any AttachmentProcessor) { self.inner = inner }

    func process(_ bytes: [UInt8], facts: AttachmentFacts, timings: inout AttachmentPipeline.PhaseTimings) throws -> Outcome {
        started.signal()
        go.wait()
        return try inner.process(bytes, facts: facts, timings: &timings)
    }

    func canProcess() -> Bool { true }
}

@Suite(.serialized, .offCooperativePool) struct ErasureRaceTests {
    @Test("an erasure racing a running job: the worker's result is refused and what it stored after the erasure is deleted",
          arguments: [(TestBackend.sqlite, false), (.postgres, false), (.sqlite, true)])
    func racingWorker(_ backend: TestBackend, s3: Bool) async throws {
        let storage = try backend.make("mw-erase-race", s3: s3)
        defer { storage.remove() }
        let queue = try await storage.queue(), store = try await storage.store()
        let photo = try FixtureManifest.named("jpeg-whatsapp-photo").bytes()
        let id = try await AttachmentIntake(queue: queue, store: store).submit(photo, from: .visitor, fileName: "race-secret.jpg",
                                                                                 conversationId: "conv-race").job.id
        let job = try #require(try await queue.claim(worker: "w#1", limit: 1, lease: 60, maxAttempts: 5, now: Date()).first)
        let pipeline = HeldPipeline(try AttachmentPipeline())
        let processor = JobProcessor(pipeline: pipeline, queue: queue, store: store, retry: RetryPolicy())
        let run = Task { await processor.run(job, worker: "w#1", logger: Logger(label: "test")) }
        await Task.detached { pipeline.started.wait() }.value

        // Erased while the pipeline works on it: the original goes at once.
        let tombstone = try await JobEraser(queue: queue, store: store).erase(jobID: id)
        #expect(tombstone?.state == .erased)
        #expect(try await store.get(jobID: id, role: "original") == nil)
        pipeline.go.signal()
        // The worker then stores its thumbnail and tries to complete: refused, and its thumbnail deleted.
        #expect(await run.value == .leaseLost)
        let left = try await store.allBlobs().filter { $0.jobID.lowercased() == id.lowercased() }
        #expect(left.isEmpty, "\(left)")
        let final = try #require(try await queue.job(id: id))
        #expect(final.state == .erased && final.artifacts.isEmpty && final.submission.fileName == nil)
    }

    @Test("an erasure killed halfway (SIGKILL mid-batch) is finished by the next: every job erased once, no blob or name left",
          arguments: [(TestBackend.sqlite, false), (.postgres, false), (.postgres, true)])
    func killedHalfway(_ backend: TestBackend, s3: Bool) async throws {
        var storage = try backend.make("mw-erase-kill", s3: s3)
        defer { storage.remove() }
        storage.environment["MEDIAWORKER_ERASURE_BATCH"] = "5"
        storage.environment["MEDIAWORKER_SQLITE_VACUUM_DELAY"] = "0"
        let queue = try await storage.queue(), store = try await storage.store()
        let doomed = try await ErasureChecks.seed(1000, queue: queue, store: store, conversationId: "conv-kill",
                                                  fileName: { "kill-\($0)-secret.jpg" })
        let process = Process()
        process.executableURL = TestBinary.mediaworker
        process.arguments = ["jobs", "erase", "--conversation-id", "conv-kill", "--data", storage.folder.path]
        process.environment = ProcessInfo.processInfo.environment.merging(storage.environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Killed once some batches are in: tombstones written, more to come.
        var erasedAtKill = 0
        for _ in 0..<400 {
            erasedAtKill = try await queue.counts()[.erased] ?? 0
            if erasedAtKill >= 50 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        erasedAtKill = try await queue.counts()[.erased] ?? 0
        #expect(erasedAtKill > 0 && erasedAtKill < 1000, "killed halfway: \(erasedAtKill) of 1,000 erased")

        let again = try TestCLI.run(["jobs", "erase", "--conversation-id", "conv-kill"], on: storage)
        #expect(again.status == 0)
        #expect(again.json["erased"] as? Int == 1000 - erasedAtKill, "each job erased once: \(again.json)")
        #expect(try await queue.counts()[.erased] == 1000)
        #expect(try await queue.tombstonesWithBlobs(limit: 10).isEmpty)
        // The purge rewrites SQLite's file (the delay is 0 here); then nothing of the erased jobs is anywhere.
        _ = try await queue.withPurgeLock { try await queue.reclaimErasedSpace(now: Date()) }
        let left = try await ErasureChecks.leftovers(of: doomed.map(\.marker) + [Array("-secret.jpg".utf8), Array("conv-kill".utf8)],
                                                     erased: Set(doomed.map(\.id)), storage: storage, store: store)
        #expect(left.isEmpty, "\(left.prefix(10))")
        let repeated = try TestCLI.run(["jobs", "erase", "--conversation-id", "conv-kill"], on: storage)
        #expect(repeated.json["erased"] as? Int == 0)
    }
}
