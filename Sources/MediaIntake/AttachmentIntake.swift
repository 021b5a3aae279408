import Crypto
import Foundation
import MediaDomain
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

    /// Stores and enqueues `bytes`, described by `attachment`.
    /// - Parameters:
    ///   - expectedSHA256: the SHA-256 the sender says the bytes have (64 hexadecimal digits, either case); when they
    ///     differ, a `checksum_mismatch` `Rejection` is thrown before anything is stored, queued or looked up by
    ///     idempotency key.
    ///   - contentSHA256: the bytes' SHA-256 in lower-case hex when the caller already computed it (the HTTP upload
    ///     hashes the body while it streams); nil to compute it here.
    public func submit(_ bytes: [UInt8], _ attachment: AttachmentMetadata, expectedSHA256: String? = nil,
                       contentSHA256: String? = nil, now: Date = Date()) async throws -> EnqueueResult {
        let digest = contentSHA256 ?? Self.sha256Hex(bytes)
        if let given = expectedSHA256 {
            let expected = Self.normalizedSHA256(given) ?? given
            if expected != digest { throw Rejection.checksumMismatch(expected: expected, actual: digest, size: bytes.count) }
        }
        let submission = NewJob(metadata: attachment, contentSHA256: digest, size: bytes.count)
        if let key = attachment.idempotencyKey, let seen = try await existing(key: key, digest: digest) { return seen }
        let id = JobID.make(now: now)
        try await store.put(jobID: id, role: ArtifactRole.original.rawValue, bytes: bytes)
        let result: EnqueueResult
        do {
            result = try await queue.enqueue(submission, id: id, now: now)
        } catch {
            // The commit may have landed before the connection broke (a PostgreSQL failover): the original goes
            // only when the queue answers that the job is not there. Unsure, an orphan blob is the safe side.
            if case .some(.none) = try? await queue.job(id: id) { try? await store.delete(jobID: id) }
            throw error
        }
        if result.job.id != id { try? await store.delete(jobID: id) }  // lost a race on the same key
        return result
    }

    /// `submit(_:_:…)` with the description spelled out field by field (the CLI, tests and benchmarks).
    public func submit(_ bytes: [UInt8], from: Sender, channel: MessagingChannel = .whatsapp, declaredType: String? = nil,
                       fileName: String? = nil, idempotencyKey: String? = nil, conversationId: String? = nil,
                       businessNumber: String? = nil, now: Date = Date()) async throws -> EnqueueResult {
        try await submit(bytes, AttachmentMetadata(from: from, channel: channel, declaredType: declaredType, fileName: fileName,
                                                   idempotencyKey: idempotencyKey, conversationId: conversationId,
                                                   businessNumber: businessNumber), now: now)
    }

    /// SHA-256 of `bytes` as 64 lower-case hexadecimal digits (the form jobs record and `sha256=` is compared in).
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        Hex.encode(SHA256.hash(data: bytes))
    }

    /// `text` as a SHA-256 in the form jobs record (lower case), or nil unless it is exactly 64 hexadecimal
    /// digits (either case: WhatsApp's media webhook gives them so). Nothing else is accepted: no prefix, no spaces.
    public static func normalizedSHA256(_ text: String) -> String? {
        let utf8 = Array(text.utf8)
        guard utf8.count == 64, utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0) }) else {
            return nil
        }
        return String(decoding: utf8.map { (0x41...0x46).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    private func existing(key: String, digest: String) async throws -> EnqueueResult? {
        // Cheap pre-check so a redelivered webhook does not rewrite 5 MB; the queue decides for real.
        for job in try await queue.jobs(idempotencyKey: key) {
            return .repeated(job, contentSHA256: digest)
        }
        return nil
    }
}
