import Foundation
import MediaJSON

/// Why a job was erased (`erasure` in its tombstone).
public enum ErasureKind: String, Sendable, Codable, CaseIterable {
    /// The gateway or an operator asked (a visitor's right to erasure).
    case request
    /// Its retention period ran out (`MEDIAWORKER_RETENTION`, `MEDIAWORKER_RETENTION_BY_NUMBER`).
    case retention
}

/// How long final jobs are kept: a default, and periods of their own for some business numbers. A job with no
/// period (no default, and its number not listed) is kept.
public struct RetentionPolicy: Sendable, Equatable {
    /// For every number not listed in `byNumber`, and jobs without a number; nil: kept.
    public var period: Duration?
    /// Business number (E.164) → its period.
    public var byNumber: [String: Duration]
    /// Business numbers whose jobs are kept whatever `period` says.
    public var kept: Set<String>

    public init(period: Duration? = nil, byNumber: [String: Duration] = [:], kept: Set<String> = []) {
        self.period = period
        self.byNumber = byNumber
        self.kept = kept
    }

    /// The numbers `period` does not apply to, sorted.
    public var listed: [String] { Set(byNumber.keys).union(kept).sorted() }

    /// Whether any job ever expires.
    public var isEmpty: Bool { period == nil && byNumber.isEmpty }

    /// The rules as the drivers query them, each answered from an index on `(business_number, finished_at)` or
    /// `finished_at`: jobs that ended before `cutoff`, of `number` (nil: every number not listed, and none).
    public func rules(now: Date) -> [(number: String?, cutoff: Date)] {
        var rules = byNumber.sorted { $0.key < $1.key }.map { (number: Optional($0.key), cutoff: now.addingTimeInterval(-$0.value.inSeconds)) }
        if let period { rules.append((number: nil, cutoff: now.addingTimeInterval(-period.inSeconds))) }
        return rules
    }
}

/// Which jobs an erasure takes.
public enum ErasureSelector: Sendable, Equatable {
    /// One job (`DELETE /v1/jobs/{id}`, the console).
    case job(String)
    /// Every job of a visitor's conversation (`POST /v1/erasures`).
    case conversation(String)
    /// Every job of a business number (`POST /v1/erasures`).
    case businessNumber(String)
    /// Final jobs past their retention period.
    case expired(RetentionPolicy)

    /// What the tombstones of this erasure say.
    public var kind: ErasureKind {
        if case .expired = self { return .retention }
        return .request
    }
}

/// The erasure half of the queue contract (docs/erasure.md). Every driver keeps these rules:
/// - `erase` turns jobs into tombstones in one transaction per batch: state `erased`, `erasedAt`, `erasure`, and
///   every personal field gone (file name, declared type, conversation id, business number, content hash, outcome,
///   artifacts, last error), lease dropped — so the worker of a running job is refused at its next heartbeat or
///   completion — and the job's earlier events removed from the outbox (their payloads name the file), replaced by a
///   `job.erased` event when events are recorded;
/// - a tombstone is marked as still having blobs until `blobsErased` says they are deleted, so an erasure whose
///   process dies between the two is finished by the next one (`tombstonesWithBlobs`);
/// - nothing else ever changes a tombstone.
public protocol JobErasure: Sendable {
    /// Erases up to `limit` jobs `selector` names that are not erased yet; answers their ids (their blobs must now be
    /// deleted, then `blobsErased` called). Fewer than `limit`: no more match.
    func erase(_ selector: ErasureSelector, limit: Int, now: Date) async throws -> [String]

    /// Tombstones whose blobs are not known to be deleted yet (an erasure cut short), up to `limit`.
    func tombstonesWithBlobs(limit: Int) async throws -> [String]

    /// The blobs of these tombstones are deleted.
    func blobsErased(ids: [String]) async throws

    /// When the job longest past its retention period should have been erased; nil when none is past it.
    func oldestExpiry(_ policy: RetentionPolicy, now: Date) async throws -> Date?

    /// Jobs erased at or after `since` (on the erasing process's clock), up to `limit`, so a process's media cache can
    /// drop what another process erased.
    func erasedIDs(since: Date, limit: Int) async throws -> [String]

    /// After a batch of erasures: leaves none of the removed data in the database's files where the database can
    /// see to it (SQLite: the WAL is checkpointed and truncated; its pages were zeroed by `secure_delete`).
    func compactAfterErasure() async throws

    /// Rewrites the database's files once an erasure's `reclaimDelay` has passed, where the database leaves stale
    /// copies a query cannot see but a reader of the file can (SQLite: b-tree pages rebuilt by earlier inserts and
    /// updates keep old copies of rows in their unused space, and index pages keep old keys as dividers; `VACUUM`
    /// rewrites the file without them). Answers whether it rewrote anything. The purge runs it, under the purge lock.
    func reclaimErasedSpace(now: Date) async throws -> Bool

    /// Runs `body` unless another process is running one under the same lock (then nil): one retention purge at a
    /// time across every process of a deployment. The lock goes with the process that holds it.
    func withPurgeLock<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T?
}

extension JobEventPayload {
    /// `{"id":…,"type":"job.erased","createdAt":…,"job":{tombstone}}`.
    public static func erasedPayload(eventID: String, job: Job, at: Date) -> String {
        JSONValue.object([
            ("id", .string(eventID)), ("type", .string("job.erased")),
            ("createdAt", .string(Job.timestamp(at))), ("job", job.json()),
        ]).serialized()
    }
}
