import Foundation
import MediaIntake
import MediaPostgres
import MediaQueue
import MediaStore
import PostgresNIO
import Synchronization
import Testing

/// Jobs made for erasure tests, and the scans that prove erased data is gone from the store and the database files.
public enum ErasureChecks {
    /// The members of a tombstone's JSON, and no others (contract.md, "Erasure and retention").
    public static let tombstoneKeys: Set<String> = ["id", "state", "erasedAt", "erasure", "createdAt"]

    /// One seeded job: its id, and the bytes that must disappear with it.
    public struct Seeded: Sendable {
        public var id: String
        public var original: [UInt8]
        /// A run of the original's bytes no other job has (what the scans look for).
        public var marker: [UInt8]
    }

    /// `count` accepted jobs as a worker leaves them (original and a thumbnail stored, result recorded, finished at
    /// `finishedAt`), each with a file name, conversation and business number of its own unless given; through the
    /// real intake and the queue's claim and complete.
    public static func seed(_ count: Int, queue: any JobQueue, store: any BlobStore, conversationId: String? = nil,
                            businessNumber: String? = nil, fileName: @escaping @Sendable (Int) -> String = { "photo-\($0).jpg" },
                            finishedAt: Date = Date(), concurrency: Int = 8) async throws -> [Seeded] {
        let intake = AttachmentIntake(queue: queue, store: store)
        let tag = UUID().uuidString.prefix(8)
        let seeded = Collected<Seeded>()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for start in stride(from: 0, to: count, by: max(1, count / concurrency + 1)) {
                group.addTask {
                    for i in start..<min(count, start + count / concurrency + 1) {
                        let marker = Array("ERASE-ME-\(tag)-\(i)-\(UUID().uuidString)".utf8)
                        var original = [UInt8](repeating: 0, count: 1500)
                        for k in original.indices { original[k] = UInt8.random(in: 0...255) }
                        original.replaceSubrange(700..<(700 + marker.count), with: marker)
                        let result = try await intake.submit(original, from: .visitor, declaredType: "image/jpeg",
                                                             fileName: fileName(i), conversationId: conversationId ?? "conv-\(tag)-\(i)",
                                                             businessNumber: businessNumber ?? "+3460000\(String(format: "%04d", i % 10_000))",
                                                             now: finishedAt.addingTimeInterval(-1))
                        seeded.append(Seeded(id: result.job.id, original: original, marker: marker))
                    }
                }
            }
            try await group.waitForAll()
        }
        let all = seeded.items
        var claimed: [Job] = []
        while claimed.count < all.count {
            let batch = try await queue.claim(worker: "seed#1", limit: 200, lease: 600, maxAttempts: 5, now: finishedAt)
            if batch.isEmpty { break }
            claimed += batch
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (n, job) in claimed.enumerated() {
                if n >= concurrency { try await group.next() }
                group.addTask {
                    let thumbnail = Array("thumbnail of \(job.id)".utf8)
                    try await store.put(jobID: job.id, role: "thumbnail", bytes: thumbnail)
                    let artifacts = [
                        StoredArtifact(role: .original, contentType: "image/jpeg", size: job.submission.size, etag: "0123456789abcdef0123456789abcdef"),
                        StoredArtifact(role: .thumbnail, contentType: "image/webp", size: thumbnail.count, etag: "fedcba9876543210fedcba9876543210",
                                       width: 4, height: 4),
                    ]
                    let done = try await queue.complete(id: job.id, worker: "seed#1", result: JobResult(
                        state: .accepted, outcomeJSON: #"{"status":"accepted","kind":"image","message":"seeded \#(job.id)"}"#,
                        artifacts: artifacts), now: finishedAt)
                    #expect(done)
                }
            }
            try await group.waitForAll()
        }
        return all
    }

    /// Where any of `needles` still appears, or any blob of `erased` is still listed: the store (every blob file, the
    /// `blobs` table, every object of the bucket) and the queue's database (the SQLite file and its WAL; on PostgreSQL
    /// every table's live rows). Empty when clean.
    public static func leftovers(of needles: [[UInt8]], erased: Set<String>, storage: TestStorage,
                                 store: any BlobStore) async throws -> [String] {
        var found: [String] = []
        let lowered = Set(erased.map { $0.lowercased() })
        for blob in try await store.allBlobs() where lowered.contains(blob.jobID.lowercased()) {
            found.append("store lists \(blob.jobID)/\(blob.role)")
        }
        let isS3 = storage.environment["MEDIAWORKER_STORE"]?.hasPrefix("s3://") == true
        if isS3 {
            for blob in try await store.allBlobs() {
                let bytes = try await store.get(jobID: blob.jobID, role: blob.role) ?? []
                for needle in needles where contains(bytes, needle) { found.append("object \(blob.jobID)/\(blob.role) holds \(show(needle))") }
            }
        }
        switch storage.backend {
        case .sqlite:
            // Every file of the data folder: the blob files and the SQLite database with its WAL.
            let files = FileManager.default.enumerator(at: storage.folder, includingPropertiesForKeys: nil)?
                .compactMap { $0 as? URL } ?? []
            for file in files where file.pathComponents.contains("blobs") || file.lastPathComponent.hasPrefix("mediaworker.sqlite") {
                guard let data = try? Data(contentsOf: file) else { continue }
                let bytes = [UInt8](data)
                for needle in needles where contains(bytes, needle) {
                    found.append("\(file.lastPathComponent) holds \(show(needle))")
                }
            }
        case .postgres:
            let database = try storage.database()
            for needle in needles {
                let text = String(decoding: needle, as: UTF8.self)
                let buffer = ByteBuffer(bytes: needle)
                let rows = try await database.query("""
                    SELECT (SELECT COUNT(*) FROM jobs WHERE strpos(coalesce(file_name, '') || coalesce(conversation_id, '')
                                || coalesce(business_number, '') || coalesce(outcome, '') || coalesce(artifacts, '')
                                || coalesce(last_error, ''), \(text)) > 0),
                           (SELECT COUNT(*) FROM outbox WHERE strpos(payload, \(text)) > 0),
                           (SELECT COUNT(*) FROM blobs WHERE position(\(buffer) in bytes) > 0)
                    """).rows
                let (jobs, events, blobs) = try rows.first?.decode((Int, Int, Int).self) ?? (0, 0, 0)
                if jobs + events + blobs > 0 { found.append("PostgreSQL: \(show(needle)) in \(jobs) job rows, \(events) events, \(blobs) blobs") }
            }
            let ids = Array(lowered)
            let left = try await database.query("SELECT COUNT(*) FROM blobs WHERE job_id = ANY(\(ids)::text[])").rows.first?.decode(Int.self) ?? 0
            if left > 0 { found.append("PostgreSQL: \(left) blob rows of erased jobs") }
        }
        return found
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        let first = needle[0]
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }

    static func show(_ needle: [UInt8]) -> String { "\"\(String(decoding: needle.prefix(40), as: UTF8.self))\"" }
}

/// Values appended from several tasks.
final class Collected<T: Sendable>: Sendable {
    private let storage = Mutex<[T]>([])
    func append(_ value: T) { storage.withLock { $0.append(value) } }
    var items: [T] { storage.withLock { $0 } }
}

/// A test's queue wrapper that hands the erasure calls to the queue it wraps unchanged.
public protocol ErasureForwarding: JobErasure {
    var inner: any JobQueue { get }
}

extension ErasureForwarding {
    public func erase(_ selector: ErasureSelector, limit: Int, now: Date) async throws -> [String] {
        try await inner.erase(selector, limit: limit, now: now)
    }
    public func tombstonesWithBlobs(limit: Int, now: Date) async throws -> [String] { try await inner.tombstonesWithBlobs(limit: limit, now: now) }
    public func blobsErased(ids: [String], now: Date) async throws { try await inner.blobsErased(ids: ids, now: now) }
    public func oldestExpiry(_ policy: RetentionPolicy, now: Date) async throws -> Date? { try await inner.oldestExpiry(policy, now: now) }
    public func erasedIDs(since: Date, limit: Int) async throws -> (ids: [String], asOf: Date) { try await inner.erasedIDs(since: since, limit: limit) }
    public func compactAfterErasure() async throws { try await inner.compactAfterErasure() }
    public func reclaimErasedSpace(now: Date) async throws -> Bool { try await inner.reclaimErasedSpace(now: now) }
    public func withPurgeLock<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await inner.withPurgeLock(body)
    }
}
