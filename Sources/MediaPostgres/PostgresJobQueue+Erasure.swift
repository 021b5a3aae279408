import Foundation
import Logging
import MediaQueue
import PostgresNIO

/// Erasure and retention on PostgreSQL (the `JobErasure` contract). Tombstones keep what SQLite's keep. The old row
/// versions an UPDATE leaves are PostgreSQL's to reclaim (autovacuum); no query can read them.
extension PostgresJobQueue {
    public func erase(_ selector: ErasureSelector, limit: Int, now: Date) async throws -> [String] {
        let (timeout, logger, events) = (database.queryTimeout, logger, recordsEvents)
        let picks = Self.matching(selector, limit: limit, now: now)
        return try await database.transaction { connection in
            // The rows are locked in id order (a worker completing one of them is waited for, never skipped: an
            // erasure that skipped a row would answer done with the row still there).
            var ids: [String] = []
            for pick in picks where ids.count < limit {
                var q = pick
                q.sql += " ORDER BY id LIMIT \(limit - ids.count) FOR UPDATE"
                ids += try await connection.run(q, timeout: timeout, logger: logger).rows.map { try $0.decode(String.self) }
            }
            guard !ids.isEmpty else { return [] }
            // `erased_at` on the server's clock, which every process's media cache reads against (`erasedIDs`). SET reads
            // the row as it was: a job that was running gets its blobs deleted once more later. The idempotency key is
            // kept only as its digest.
            let recheck = now.addingTimeInterval(JobErasureLimits.runningRecheck)
            var update: PostgresQuery = """
                UPDATE jobs SET state = 'erased', erased_at = statement_timestamp(), erasure = \(selector.kind.rawValue), blobs_pending = 1,
                    blobs_recheck_at = CASE WHEN state = 'running' THEN \(recheck) END,
                    idempotency_key = 'erased:' || encode(sha256(convert_to(idempotency_key, 'UTF8')), 'hex'),
                    declared_type = NULL, file_name = NULL, conversation_id = NULL, business_number = NULL, content_sha256 = '',
                    size = 0, outcome = NULL, artifacts = NULL, last_error = NULL, lease_owner = NULL, lease_expires_at = NULL,
                    finished_at = NULL, started_at = NULL, postponed = 0
                WHERE id = ANY(\(ids)::text[]) AND state <> 'erased'
                RETURNING
                """
            update.sql += " " + JobColumn.all
            let jobs = try await connection.run(update, timeout: timeout, logger: logger).rows.map(Self.job)
            // The job's earlier events name its file; the gateway hears of the erasure instead.
            try await connection.run("DELETE FROM outbox WHERE job_id = ANY(\(ids)::text[])", timeout: timeout, logger: logger)
            if events {
                for job in jobs {
                    let eventID = JobID.make(now: now)
                    let payload = JobEventPayload.erasedPayload(eventID: eventID, job: job, at: now)
                    try await connection.run("""
                        INSERT INTO outbox (id, job_id, payload, created_at, attempts, next_attempt_at)
                        VALUES (\(eventID), \(job.id), \(payload), \(now), 0, \(now))
                        """, timeout: timeout, logger: logger)
                }
            }
            return jobs.map(\.id)
        }
    }

    /// The SELECTs of the ids `selector` names (not erased), without ORDER BY and LIMIT.
    private static func matching(_ selector: ErasureSelector, limit: Int, now: Date) -> [PostgresQuery] {
        switch selector {
        case .job(let id):
            return ["SELECT id FROM jobs WHERE id = \(id) AND state <> 'erased'"]
        case .conversation(let conversation):
            return ["SELECT id FROM jobs WHERE conversation_id = \(conversation) AND state <> 'erased'"]
        case .businessNumber(let number):
            return ["SELECT id FROM jobs WHERE business_number = \(number) AND state <> 'erased'"]
        case .expired(let policy):
            return policy.rules(now: now).map { expiredQuery($0, listed: policy.listed, select: "id") }
        }
    }

    /// Final jobs of `rule` that ended before its cutoff (tombstones have no `finished_at`).
    private static func expiredQuery(_ rule: (number: String?, cutoff: Date), listed: [String], select: String) -> PostgresQuery {
        var q: PostgresQuery = "SELECT \(unescaped: select) FROM jobs WHERE finished_at < \(rule.cutoff) AND state IN ('accepted', 'rejected', 'dead')"
        if let number = rule.number {
            q.sql += " AND business_number = $\(q.binds.count + 1)"
            q.binds.append(number)
        } else if !listed.isEmpty {
            q.sql += " AND (business_number IS NULL OR NOT business_number = ANY($\(q.binds.count + 1)::text[]))"
            q.binds.append(listed)
        }
        return q
    }

    public func tombstonesWithBlobs(limit: Int, now: Date) async throws -> [String] {
        try await database.query("""
            SELECT id FROM jobs WHERE blobs_pending = 1
            UNION SELECT id FROM jobs WHERE blobs_recheck_at IS NOT NULL AND blobs_recheck_at <= \(now)
            ORDER BY id LIMIT \(limit)
            """).rows.map { try $0.decode(String.self) }
    }

    public func blobsErased(ids: [String], now: Date) async throws {
        guard !ids.isEmpty else { return }
        try await database.query("""
            UPDATE jobs SET blobs_pending = 0, blobs_recheck_at = CASE WHEN blobs_recheck_at > \(now) THEN blobs_recheck_at END
            WHERE state = 'erased' AND id = ANY(\(ids)::text[])
            """)
    }

    public func oldestExpiry(_ policy: RetentionPolicy, now: Date) async throws -> Date? {
        var oldest: Date?
        for rule in policy.rules(now: now) {
            let q = Self.expiredQuery(rule, listed: policy.listed, select: "MIN(finished_at)")
            guard let ended = try await database.query(q).rows.first?.decode(Date?.self) else { continue }
            let expiry = ended.addingTimeInterval(now.timeIntervalSince(rule.cutoff))
            oldest = min(oldest ?? expiry, expiry)
        }
        return oldest
    }

    /// On the server's clock: `erased_at` is written from it, and `asOf` read from it.
    public func erasedIDs(since: Date, limit: Int) async throws -> (ids: [String], asOf: Date) {
        let row = try await database.query("""
            SELECT statement_timestamp(), COALESCE(array_agg(id), '{}') FROM (
                SELECT id FROM jobs WHERE state = 'erased' AND erased_at >= \(since) ORDER BY erased_at LIMIT \(limit)) AS erased
            """).rows.first
        guard let (asOf, ids) = try row?.decode((Date, [String]).self) else { return ([], Date()) }
        return (ids, asOf)
    }

    /// Nothing to do here: the rows are updated and deleted; PostgreSQL's (auto)vacuum reclaims the old versions.
    public func compactAfterErasure() async throws {}

    /// Nothing here: PostgreSQL's own vacuum reclaims old row versions; see docs/erasure.md.
    public func reclaimErasedSpace(now: Date) async throws -> Bool { false }

    /// A session advisory lock on one pooled connection, held while `body` runs (on other connections) and let go
    /// of afterwards; a process that dies loses its connection and with it the lock.
    public func withPurgeLock<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        let name = "mediaworker.purge.\(database.location.schema ?? "public")"
        let (timeout, logger) = (database.queryTimeout, logger)
        return try await database.withConnection { connection in
            let held = try await connection.run("SELECT pg_try_advisory_lock(hashtext(\(name)))", timeout: timeout, logger: logger)
                .rows.first?.decode(Bool.self) ?? false
            guard held else { return nil }
            // The connection goes back to the pool: the session lock must be let go of, or the connection closed.
            @Sendable func unlock() async {
                if (try? await connection.run("SELECT pg_advisory_unlock(hashtext(\(name)))", timeout: timeout, logger: logger)) == nil {
                    let closing: EventLoopFuture<Void> = connection.close()
                    _ = closing
                }
            }
            do {
                let value = try await body()
                await unlock()
                return value
            } catch {
                await unlock()
                throw error
            }
        }
    }
}
