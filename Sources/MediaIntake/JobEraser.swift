import Foundation
import Logging
import MediaDomain
import MediaQueue
import MediaStore
import Metrics

/// Erases jobs: tombstones in the queue first (so nothing serves or completes them any more), then every blob of
/// every role, then the tombstones marked as without blobs — batch by batch, so an erasure of a whole conversation
/// never holds the database for long, and one cut short by a crash is finished by the next (`finishInterrupted`).
/// The one way `DELETE /v1/jobs/{id}`, `POST /v1/erasures`, the console and the retention purge erase.
public struct JobEraser: Sendable {
    public let queue: any JobQueue
    public let store: any BlobStore
    /// Jobs per transaction (`MEDIAWORKER_ERASURE_BATCH`).
    public var batch: Int
    /// Blob deletions at once (S3 answers each in a round trip).
    public var blobConcurrency: Int
    /// Told of every id erased, before its blobs go (a process's media cache drops them).
    public var onErased: @Sendable ([String]) -> Void
    let logger = Logger(label: "mediaworker.erasure")

    public init(queue: any JobQueue, store: any BlobStore, batch: Int = 500, blobConcurrency: Int = 8,
                onErased: @escaping @Sendable ([String]) -> Void = { _ in }) {
        self.queue = queue
        self.store = store
        self.batch = batch
        self.blobConcurrency = blobConcurrency
        self.onErased = onErased
    }

    /// Erases every job `selector` names; answers how many this call erased (0 when all already were).
    /// - Parameters:
    ///   - now: the clock of `erasedAt` and of retention cutoffs (tests step it).
    ///   - pause: a rest between batches, so that a long purge leaves the database to uploads.
    ///   - compactEachBatch: the database's clean-up (`compactAfterErasure`) after every batch, or left to the caller.
    ///   - limit: stop after about this many; nil: all.
    public func erase(_ selector: ErasureSelector, now: @Sendable () -> Date = { Date() }, pause: Duration = .zero,
                      compactEachBatch: Bool = true, limit: Int? = nil) async throws -> Int {
        _ = try await finishInterrupted()
        var total = 0
        while limit.map({ total < $0 }) ?? true {
            try Task.checkCancellation()
            let ids = try await queue.erase(selector, limit: batch, now: now())
            total += ids.count
            if !ids.isEmpty {
                onErased(ids)
                try await deleteBlobs(of: ids)
                Counter(label: "mediaworker_erased_total", dimensions: [("erasure", selector.kind.rawValue)]).increment(by: ids.count)
                if compactEachBatch { await compact() }
            }
            if ids.count < batch { break }
            if pause > .zero { try await Task.sleep(for: pause) }
        }
        return total
    }

    /// Erases one job (`DELETE /v1/jobs/{id}`): nil when there is no such job, else its tombstone. A repeat deletes
    /// the blobs again (nothing when they are gone), so a tombstone left by a crash is finished by asking again.
    public func erase(jobID: String, now: Date = Date()) async throws -> Job? {
        let ids = try await queue.erase(.job(jobID), limit: 1, now: now)
        guard let job = try await queue.job(id: jobID) else { return nil }
        guard job.state == .erased else { return job }  // not reached: erase makes every job it finds a tombstone
        onErased([jobID])
        try await deleteBlobs(of: [jobID])
        if !ids.isEmpty {
            Counter(label: "mediaworker_erased_total", dimensions: [("erasure", ErasureKind.request.rawValue)]).increment()
            await compact()
        }
        return job
    }

    /// Deletes the blobs of tombstones an erasure left (its process died between the two steps); answers how many.
    public func finishInterrupted() async throws -> Int {
        var total = 0
        while true {
            let ids = try await queue.tombstonesWithBlobs(limit: batch, now: Date())
            guard !ids.isEmpty else { return total }
            onErased(ids)
            try await deleteBlobs(of: ids)
            total += ids.count
            if ids.count < batch { return total }
        }
    }

    /// Every blob of `ids`, `blobConcurrency` jobs at a time; then the tombstones say so.
    func deleteBlobs(of ids: [String]) async throws {
        let store = self.store
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = ids.makeIterator(), running = 0
            while let id = next.next() {
                if running == blobConcurrency { try await group.next(); running -= 1 }
                group.addTask { try await store.delete(jobID: id) }
                running += 1
            }
            try await group.waitForAll()
        }
        try await queue.blobsErased(ids: ids, now: Date())
    }

    /// The database's own clean-up after a batch (SQLite: WAL checkpoint). A failure is logged: the next batch tries again.
    public func compact() async {
        do { try await queue.compactAfterErasure() } catch {
            logger.warning("could not checkpoint the database after an erasure; the next one tries again", metadata: ["error": "\(error)"])
        }
    }
}
