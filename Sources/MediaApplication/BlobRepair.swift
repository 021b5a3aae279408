import Foundation
import MediaDomain
import MediaQueue
import MediaStore

/// `mediaworker blobs verify` and `mediaworker blobs gc`, on any queue and any store: what jobs name against what
/// the store holds.
///
/// A job names its original (every job, from intake on) and, once accepted, its artifacts, each with its size.
public struct BlobRepair: Sendable {
    public let queue: any JobQueue & ConsoleQueries
    public let store: any BlobStore

    public init(queue: any JobQueue & ConsoleQueries, store: any BlobStore) {
        self.queue = queue
        self.store = store
    }

    public init(_ storage: Storage) throws {
        guard let queue = storage.queue as? any JobQueue & ConsoleQueries else {
            throw SettingsError(key: "MEDIAWORKER_DATABASE_URL", "this queue driver cannot list its jobs")
        }
        self.init(queue: queue, store: storage.store)
    }

    /// A blob a job names that is missing or has another size.
    public struct Problem: Sendable, Equatable {
        public var jobID: String
        public var role: String
        public var expectedSize: Int
        /// Nil: missing.
        public var foundSize: Int?
    }

    public struct Verification: Sendable {
        public var jobs = 0
        public var blobs = 0
        public var problems: [Problem] = []
    }

    /// Every blob every job names exists, with its size. Jobs are read newest first, a page at a time.
    /// Erased jobs (tombstones) and jobs whose original was never stored (none: intake stores it first) name nothing.
    public func verify(pageSize: Int = 500) async throws -> Verification {
        var result = Verification()
        // First the store itself: a bucket that does not exist, or credentials it refuses, is one clear error, not a
        // report of every blob missing (an S3 HEAD answers a missing bucket as it answers a missing key: 404, no body).
        try await store.checkReadable()
        try await forEachJob(pageSize: pageSize) { job in
            result.jobs += 1
            for (role, size) in Self.named(job) {
                result.blobs += 1
                let found = try await store.size(jobID: job.id, role: role)
                if found != size { result.problems.append(Problem(jobID: job.id, role: role, expectedSize: size, foundSize: found)) }
            }
        }
        return result
    }

    /// A blob no job names: its job is unknown, or final without that role.
    public struct Orphan: Sendable, Hashable {
        public var blob: StoredBlob
        /// `unknown_job` or `unnamed_role`.
        public var why: String
    }

    public struct Collection: Sendable {
        public var scanned = 0
        public var orphans: [Orphan] = []
        public var bytes = 0
        /// Orphans left because they are younger than `minimumAge` (an upload between its PUT and its enqueue).
        public var tooYoung = 0
        public var deleted = 0
        /// Orphans found, then kept: their job named them when read again just before the delete.
        public var kept = 0
    }

    /// Finds (and unless `dryRun`, deletes) blobs no job names. A blob of an unknown job is only taken when its job id's
    /// time (ids are time-ordered) is older than `minimumAge`, so an upload whose original is stored but whose job is
    /// not yet committed is never taken; blobs of queued or running jobs are never touched.
    public func collect(dryRun: Bool, minimumAge: TimeInterval = 3600, now: Date = Date(), pageSize: Int = 500) async throws -> Collection {
        var jobs: [String: (final: Bool, roles: Set<String>)] = [:]
        try await forEachJob(pageSize: pageSize) { job in
            jobs[job.id] = (job.state.isFinal, Set(Self.named(job).map(\.role)))
        }
        var result = Collection()
        var cursor: String?
        repeat {
            let page = try await store.blobs(from: cursor)
            for blob in page.blobs where blob.jobID != BlobKey.probeJobID {
                result.scanned += 1
                let why: String
                if let job = jobs[blob.jobID] {
                    guard job.final, !job.roles.contains(blob.role) else { continue }
                    why = "unnamed_role"
                } else {
                    why = "unknown_job"
                    // Its job may be on its way: an upload between its store write and its commit.
                    if let created = JobID.createdAt(blob.jobID), now.timeIntervalSince(created) < minimumAge {
                        result.tooYoung += 1
                        continue
                    }
                }
                result.orphans.append(Orphan(blob: blob, why: why))
                result.bytes += blob.size
            }
            cursor = page.next
        } while cursor != nil
        if !dryRun {
            for orphan in result.orphans {
                // Read again just before: a dead job retried since the jobs were read may name the blob now, and an
                // upload's job may have been committed.
                if let job = try await queue.job(id: orphan.blob.jobID) {
                    guard job.state.isFinal, !Self.named(job).contains(where: { $0.role == orphan.blob.role }) else {
                        result.kept += 1
                        continue
                    }
                }
                try await store.delete(jobID: orphan.blob.jobID, role: orphan.blob.role)
                result.deleted += 1
            }
        }
        return result
    }

    /// The blobs a job names, with their sizes.
    static func named(_ job: Job) -> [(role: String, size: Int)] {
        // A tombstone names nothing: every blob of an erased job is a leftover.
        guard job.state != .erased else { return [] }
        var named = [(ArtifactRole.original.rawValue, job.submission.size)]
        for artifact in job.artifacts where artifact.role != .original { named.append((artifact.role.rawValue, artifact.size)) }
        return named
    }

    func forEachJob(pageSize: Int, _ body: (Job) async throws -> Void) async throws {
        var before: String?
        while true {
            let page = try await queue.jobs(matching: JobFilter(), before: before, limit: pageSize)
            for job in page { try await body(job) }
            guard page.count == pageSize, let last = page.last else { return }
            before = last.id
        }
    }
}
