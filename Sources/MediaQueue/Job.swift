import Foundation
@_exported import MediaDomain
import MediaJSON

/// Where a job is in its life. `accepted`, `rejected`, `dead` and `erased` are final.
public enum JobState: String, Sendable, Codable, CaseIterable {
    /// Waiting to be claimed once `runAfter` has passed: new, released, or back after an error (JSON `retryAt`).
    case queued
    /// Claimed by a worker that holds its lease.
    case running
    /// The pipeline accepted the file; artifacts are stored.
    case accepted
    /// The pipeline rejected the file (a final, expected outcome with a code).
    case rejected
    /// Retries exhausted; `lastError` says why. `mediaworker jobs retry ID` re-queues it.
    case dead
    /// Erased on request or at the end of its retention period: a tombstone with no personal data and no blob
    /// (docs/erasure.md). Final from any state; nothing brings it back.
    case erased

    public var isFinal: Bool { self == .accepted || self == .rejected || self == .dead || self == .erased }

    /// The states an operator watches live (`activeCounts`): waiting, in work, and given up on.
    public static let active: [JobState] = [.queued, .running, .dead]
}

/// What the gateway submits: the facts of one attachment (its bytes go to the blob store).
@dynamicMemberLookup
public struct NewJob: Sendable, Equatable {
    public var metadata: AttachmentMetadata
    /// SHA-256 of the bytes, hex; decides whether a repeated idempotency key is the same upload.
    public var contentSHA256: String
    public var size: Int

    public init(from: Sender, channel: MessagingChannel = .whatsapp, declaredType: String? = nil, fileName: String? = nil,
                idempotencyKey: String? = nil, conversationId: String? = nil, businessNumber: String? = nil,
                contentSHA256: String, size: Int) {
        self.init(metadata: AttachmentMetadata(from: from, channel: channel, declaredType: declaredType, fileName: fileName,
                                               idempotencyKey: idempotencyKey, conversationId: conversationId,
                                               businessNumber: businessNumber),
                  contentSHA256: contentSHA256, size: size)
    }

    public init(metadata: AttachmentMetadata, contentSHA256: String, size: Int) {
        self.metadata = metadata
        self.contentSHA256 = contentSHA256
        self.size = size
    }

    public subscript<T>(dynamicMember field: WritableKeyPath<AttachmentMetadata, T>) -> T {
        get { metadata[keyPath: field] }
        set { metadata[keyPath: field] = newValue }
    }
}

/// One job as stored.
public struct Job: Sendable, Equatable {
    public var id: String
    public var state: JobState
    public var submission: NewJob
    /// Claims so far; counted when a job is claimed.
    public var attempts: Int
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// Earliest time a queued job may be claimed (backoff after an error).
    public var runAfter: Date
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    public var lastError: String?
    /// The pipeline's outcome (JSON object) once final.
    public var outcomeJSON: String?
    /// The stored artifacts once accepted (empty before, and for a rejected job).
    public var artifacts: [StoredArtifact]
    /// When the job was erased, and why (`erased` jobs only).
    public var erasedAt: Date?
    public var erasure: ErasureKind?

    public init(id: String, state: JobState, submission: NewJob, attempts: Int, createdAt: Date, startedAt: Date?,
                finishedAt: Date?, runAfter: Date, leaseOwner: String?, leaseExpiresAt: Date?, lastError: String?,
                outcomeJSON: String?, artifacts: [StoredArtifact], erasedAt: Date? = nil, erasure: ErasureKind? = nil) {
        self.id = id
        self.state = state
        self.submission = submission
        self.attempts = attempts
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.runAfter = runAfter
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
        self.lastError = lastError
        self.outcomeJSON = outcomeJSON
        self.artifacts = artifacts
        self.erasedAt = erasedAt
        self.erasure = erasure
    }

    /// The job as docs/jobs.md's `GET /v1/jobs/{id}` shows it. `artifactURL` gives each artifact's signed URL
    /// (the HTTP service): the artifacts then show it instead of their `etag`. Without it (the CLI, the outbox's
    /// events) they show as stored.
    public func json(artifactURL: ((StoredArtifact) -> String)? = nil) -> JSONValue {
        if state == .erased {
            // A tombstone: what the contract lets stay, nothing a person could be found by.
            return .object([
                ("id", .string(id)), ("state", .string(state.rawValue)),
                ("erasedAt", .string(Self.timestamp(erasedAt ?? createdAt))),
                ("erasure", .string((erasure ?? .request).rawValue)),
                ("createdAt", .string(Self.timestamp(createdAt))),
            ])
        }
        var m: [(String, JSONValue)] = [
            ("id", .string(id)), ("state", .string(state.rawValue)),
            ("from", .string(submission.from.rawValue)), ("channel", .string(submission.channel.rawValue)),
        ]
        func optional(_ key: String, _ value: String?) { if let value { m.append((key, .string(value))) } }
        optional("declaredType", submission.declaredType)
        optional("fileName", submission.fileName)
        optional("conversationId", submission.conversationId)
        optional("businessNumber", submission.businessNumber)
        optional("idempotencyKey", submission.idempotencyKey)
        m.append(("size", .int(submission.size)))
        m.append(("attempts", .int(attempts)))
        m.append(("createdAt", .string(Self.timestamp(createdAt))))
        if let startedAt { m.append(("startedAt", .string(Self.timestamp(startedAt)))) }
        if let finishedAt { m.append(("finishedAt", .string(Self.timestamp(finishedAt)))) }
        if state == .queued && attempts > 0 { m.append(("retryAt", .string(Self.timestamp(runAfter)))) }
        optional("lastError", lastError)
        if let outcomeJSON { m.append(("outcome", .raw(outcomeJSON))) }
        m.append(("artifacts", .array(artifacts.map { a in
            artifactURL.map { a.json(url: $0(a)) } ?? a.json(etag: true)
        })))
        return .object(m)
    }

    /// RFC 3339 in UTC with milliseconds.
    public static func timestamp(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var t = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ n: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, n - s.count)) + s }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ms % 1000), 3))Z"
    }
}

/// What a repeated enqueue found.
public enum EnqueueResult: Sendable, Equatable {
    /// A new job (HTTP 202).
    case created(Job)
    /// The idempotency key was seen with the same bytes: the existing job (HTTP 200).
    case existing(Job)
    /// The idempotency key was seen with other bytes (HTTP 409).
    case conflict(Job)

    public var job: Job {
        switch self {
        case .created(let j), .existing(let j), .conflict(let j): return j
        }
    }
}

/// The final result a worker records for a job.
public struct JobResult: Sendable, Equatable {
    public var state: JobState
    public var outcomeJSON: String
    public var artifacts: [StoredArtifact]

    public init(state: JobState, outcomeJSON: String, artifacts: [StoredArtifact]) {
        precondition(state == .accepted || state == .rejected, "a result is accepted or rejected")
        self.state = state
        self.outcomeJSON = outcomeJSON
        self.artifacts = artifacts
    }
}

extension JobID {
    /// A new id for a job created `now`.
    public static func make(now: Date = Date()) -> String {
        make(millisecondsSince1970: UInt64(max(0, now.timeIntervalSince1970 * 1000)))
    }
}

extension EnqueueResult {
    /// What an upload with an idempotency key already seen gets: that job when the bytes are the same, or when it
    /// was erased (its tombstone no longer knows its bytes, and an erased upload is not taken in again under the same
    /// key); a conflict otherwise.
    public static func repeated(_ job: Job, contentSHA256: String) -> EnqueueResult {
        job.state == .erased || job.submission.contentSHA256 == contentSHA256 ? .existing(job) : .conflict(job)
    }
}
