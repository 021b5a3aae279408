import Crypto
import Foundation
import MediaQueue
import MediaStore

/// Takes an attachment in: stores the original, then enqueues its job — the one step the gateway's upload
/// and `mediaworker enqueue` share.
///
/// Order makes it crash-safe: the original is written (atomically, fsynced) before the job row exists, so a
/// queued job always has its bytes; a crash in between leaves only an orphan blob, never a job without one.
/// A repeated idempotency key never writes anything.
public struct AttachmentIntake: Sendable {
    public let queue: any JobQueue
    public let store: any BlobStore

    public init(queue: any JobQueue, store: any BlobStore) {
        self.queue = queue
        self.store = store
    }

    /// The role the original bytes are stored under.
    public static let originalRole = "original"

    public func submit(_ bytes: [UInt8], from: String, channel: String = "whatsapp", declaredType: String? = nil,
                       fileName: String? = nil, idempotencyKey: String? = nil, conversationId: String? = nil,
                       businessNumber: String? = nil, now: Date = Date()) throws -> EnqueueResult {
        let digest = SHA256.hash(data: bytes).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        let submission = NewJob(from: from, channel: channel, declaredType: declaredType, fileName: fileName,
                                idempotencyKey: idempotencyKey, conversationId: conversationId,
                                businessNumber: businessNumber, contentSHA256: digest, size: bytes.count)
        if let key = idempotencyKey, let seen = try existing(key: key, digest: digest) { return seen }
        let id = JobID.make(now: now)
        try store.put(jobID: id, role: Self.originalRole, bytes: bytes)
        let result: EnqueueResult
        do {
            result = try queue.enqueue(submission, id: id, now: now)
        } catch {
            // The commit may have landed before the connection broke (a PostgreSQL failover): the original goes
            // only when the queue answers that the job is not there. Unsure, an orphan blob is the safe side.
            if case .some(.none) = try? queue.job(id: id) { try? store.delete(jobID: id) }
            throw error
        }
        if result.job.id != id { try? store.delete(jobID: id) }  // lost a race on the same key
        return result
    }

    private func existing(key: String, digest: String) throws -> EnqueueResult? {
        // Cheap pre-check so a redelivered webhook does not rewrite 5 MB; the queue decides for real.
        for job in try queue.jobs(idempotencyKey: key) {
            return job.submission.contentSHA256 == digest ? .existing(job) : .conflict(job)
        }
        return nil
    }
}
