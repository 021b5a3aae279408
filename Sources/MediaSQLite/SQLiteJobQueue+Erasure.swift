import Foundation
import GRDB
import MediaQueue

/// Erasure and retention on SQLite (the `JobErasure` contract). Tombstones keep `id`, `sender`, `channel`,
/// `idempotency_key` (so a resent upload finds the tombstone rather than being taken in again), `created_at` and the
/// erasure's own columns; every other field is cleared, and `secure_delete` zeroes the old bytes in their pages.
extension SQLiteJobQueue {
    /// What a tombstone keeps and clears: `?1` the erasure's time, `?2` its kind.
    static let tombstoneSet = """
        state = 'erased', erased_at = ?1, erasure = ?2, blobs_pending = 1,
        declared_type = NULL, file_name = NULL, conversation_id = NULL, business_number = NULL, content_sha256 = '',
        size = 0, outcome = NULL, artifacts = NULL, last_error = NULL, lease_owner = NULL, lease_expires_at = NULL,
        finished_at = NULL, started_at = NULL, postponed = 0
        """

    public func erase(_ selector: ErasureSelector, limit: Int, now: Date) async throws -> [String] {
        let t = now.timeIntervalSince1970, kind = selector.kind.rawValue, events = recordsEvents
        let reclaimSeconds = reclaimDelay.inSeconds
        return try await write { db in
            let ids = try Self.matching(db, selector, limit: limit, now: now)
            guard !ids.isEmpty else { return [] }
            let marks = ids.map { _ in "?" }.joined(separator: ", ")
            let rows = try Row.fetchAll(db, sql: """
                UPDATE jobs SET \(Self.tombstoneSet) WHERE id IN (\(marks)) AND state != 'erased' RETURNING \(JobColumn.all)
                """, arguments: StatementArguments([t, kind] as [any DatabaseValueConvertible]) + StatementArguments(ids))
            // The job's earlier events name its file; the gateway hears of the erasure instead.
            try db.execute(sql: "DELETE FROM outbox WHERE job_id IN (\(marks))", arguments: StatementArguments(ids))
            // The file keeps stale copies until it is rewritten: due `reclaimDelay` after the first erasure since the last.
            if !rows.isEmpty {
                try db.execute(sql: "UPDATE erasure_reclaim SET pending = pending + ?, due_at = COALESCE(due_at, ?) WHERE id = 1",
                               arguments: [rows.count, t + reclaimSeconds])
            }
            var erased: [String] = []
            for row in rows {
                let job = try Self.job(row)
                erased.append(job.id)
                if events {
                    let eventID = JobID.make(now: now)
                    try db.cachedStatement(sql: """
                        INSERT INTO outbox (id, job_id, payload, created_at, attempts, next_attempt_at) VALUES (?, ?, ?, ?, 0, ?)
                        """).execute(arguments: [eventID, job.id, JobEventPayload.erasedPayload(eventID: eventID, job: job, at: now), t, t])
                }
            }
            return erased
        }
    }

    /// Up to `limit` ids `selector` names that are not erased, each query answered from an index.
    private static func matching(_ db: Database, _ selector: ErasureSelector, limit: Int, now: Date) throws -> [String] {
        switch selector {
        case .job(let id):
            return try String.fetchAll(db, sql: "SELECT id FROM jobs WHERE id = ? AND state != 'erased'", arguments: [id])
        case .conversation(let conversation):
            return try String.fetchAll(db, sql: """
                SELECT id FROM jobs INDEXED BY jobs_conversation WHERE conversation_id = ? AND state != 'erased' LIMIT ?
                """, arguments: [conversation, limit])
        case .businessNumber(let number):
            return try String.fetchAll(db, sql: """
                SELECT id FROM jobs INDEXED BY jobs_business WHERE business_number = ? AND state != 'erased' LIMIT ?
                """, arguments: [number, limit])
        case .expired(let policy):
            var ids: [String] = []
            for rule in policy.rules(now: now) where ids.count < limit {
                let (sql, arguments) = expiredQuery(rule, listed: policy.listed, select: "id")
                ids += try String.fetchAll(db, sql: sql + " ORDER BY finished_at LIMIT ?",
                                           arguments: arguments + [limit - ids.count])
            }
            return ids
        }
    }

    /// Final jobs of `rule` that ended before its cutoff (tombstones have no `finished_at`).
    private static func expiredQuery(_ rule: (number: String?, cutoff: Date), listed: [String], select: String)
        -> (String, StatementArguments) {
        let final = "state IN ('accepted', 'rejected', 'dead')"
        if let number = rule.number {
            return ("SELECT \(select) FROM jobs INDEXED BY jobs_retention WHERE business_number = ? AND finished_at < ? AND \(final)",
                    [number, rule.cutoff.timeIntervalSince1970])
        }
        let others = listed.isEmpty ? "" : " AND (business_number IS NULL OR business_number NOT IN (\(listed.map { _ in "?" }.joined(separator: ", "))))"
        return ("SELECT \(select) FROM jobs INDEXED BY jobs_finished WHERE finished_at < ? AND \(final)\(others)",
                StatementArguments([rule.cutoff.timeIntervalSince1970]) + StatementArguments(listed.sorted()))
    }

    public func tombstonesWithBlobs(limit: Int) async throws -> [String] {
        try await read { db in
            try String.fetchAll(db, sql: "SELECT id FROM jobs INDEXED BY jobs_blobs_pending WHERE blobs_pending = 1 ORDER BY id LIMIT ?",
                                arguments: [limit])
        }
    }

    public func blobsErased(ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        try await write { db in
            try db.execute(sql: """
                UPDATE jobs SET blobs_pending = 0 WHERE state = 'erased' AND id IN (\(ids.map { _ in "?" }.joined(separator: ", ")))
                """, arguments: StatementArguments(ids))
        }
    }

    public func oldestExpiry(_ policy: RetentionPolicy, now: Date) async throws -> Date? {
        try await read { db in
            var oldest: Date?
            for rule in policy.rules(now: now) {
                let (sql, arguments) = Self.expiredQuery(rule, listed: policy.listed, select: "MIN(finished_at)")
                guard let ended = try Double.fetchOne(db, sql: sql, arguments: arguments) else { continue }
                // It should have gone when its period, counted from its end, ran out.
                let expiry = Date(timeIntervalSince1970: ended).addingTimeInterval(now.timeIntervalSince(rule.cutoff))
                oldest = min(oldest ?? expiry, expiry)
            }
            return oldest
        }
    }

    public func erasedIDs(since: Date, limit: Int) async throws -> [String] {
        try await read { db in
            try String.fetchAll(db, sql: """
                SELECT id FROM jobs INDEXED BY jobs_erased WHERE state = 'erased' AND erased_at >= ? ORDER BY erased_at LIMIT ?
                """, arguments: [since.timeIntervalSince1970, limit])
        }
    }

    /// Checkpoints the WAL into the database file and truncates it: the WAL still holds the pages as they were
    /// before the erasure, and a plain checkpoint leaves old frames in the file until they are overwritten.
    /// Readers of other processes may keep it from completing (SQLITE_BUSY after the busy timeout): the next
    /// erasure batch checkpoints again.
    public func compactAfterErasure() async throws {
        try await withTaskExecutorPreference(threads) {
            try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        }
    }

    /// `VACUUM` once the first erasure since the last rewrite is `reclaimDelay` old, then the WAL truncated. It holds the
    /// write lock for as long as it copies the file (about a second per 100 MB here): uploads wait meanwhile, which is
    /// why it is delayed and batched rather than run after each erasure.
    public func reclaimErasedSpace(now: Date) async throws -> Bool {
        let state = try await read { db in
            try Row.fetchOne(db, sql: "SELECT pending, due_at FROM erasure_reclaim WHERE id = 1")
                .map { (pending: $0[0] as Int, due: $0[1] as Double?) }
        }
        guard let state, state.pending > 0, let due = state.due, due <= now.timeIntervalSince1970 else { return false }
        try await withTaskExecutorPreference(threads) {
            try pool.writeWithoutTransaction { db in try db.execute(sql: "VACUUM") }
        }
        // Erasures that came after the VACUUM (it held the write lock throughout) stay pending.
        try await write { db in
            try db.execute(sql: """
                UPDATE erasure_reclaim SET pending = MAX(0, pending - ?),
                    due_at = CASE WHEN pending - ? > 0 THEN due_at ELSE NULL END WHERE id = 1
                """, arguments: [state.pending, state.pending])
        }
        try await compactAfterErasure()
        return true
    }

    /// An exclusive `flock` on `DATABASE.purge-lock`, held while `body` runs; the kernel drops it if the process dies.
    public func withPurgeLock<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        let fd = open(purgeLockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DatabaseError(message: "cannot open \(purgeLockPath): errno \(errno)") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return nil }
        return try await body()
    }
}
