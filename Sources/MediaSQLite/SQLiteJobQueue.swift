import Foundation
import GRDB
import MediaQueue
import Synchronization

/// The embedded default: the queue in one SQLite file in WAL mode, shared safely by several processes
/// (SQLite serialises writers; every state change is one short IMMEDIATE transaction, and no transaction
/// is held while a job runs).
public final class SQLiteJobQueue: JobQueue, EventOutbox {
    let pool: DatabasePool
    /// Whether the last claim through this instance found a job: while work keeps coming, claims go straight
    /// to the write transaction; after an empty claim, a read checks first.
    private let busy = Mutex(true)

    /// The threads its calls run on (`BlockingCallExecutor.sqlite` unless given others): `JobQueue.executor`.
    public let executor: (any TaskExecutor)?
    let threads: any TaskExecutor

    /// A write transaction on the queue's threads (`executor`), where the worker already runs: its calls take no
    /// thread hop (GRDB's async API costs two per call, about doubling a no-op job's queue time in
    /// `Benchmarks/queue.sh`), and a wait for SQLite's lock (up to the 30 s busy timeout) blocks one of those threads,
    /// never the cooperative pool the HTTP service answers on.
    func write<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        try await withTaskExecutorPreference(threads) { try pool.write(body) }
    }

    /// A read on the queue's threads, like `write`.
    func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        try await withTaskExecutorPreference(threads) { try pool.read(body) }
    }

    /// `MEDIAWORKER_SQLITE_VACUUM_DELAY`'s default: an hour after an erasure its stale copies are gone from the file.
    public static let defaultReclaimDelay: Duration = .seconds(3600)

    /// How SQLite syncs commits to disk (`MEDIAWORKER_SQLITE_SYNCHRONOUS`).
    public enum Durability: String, Sendable, CaseIterable {
        /// A commit survives the process being killed; the last ones may be lost on power failure.
        case normal
        /// Every commit is fsynced: survives power failure, slower.
        case full
    }

    /// Whether final states write an outbox event (only when someone will receive them: a callback URL is set).
    let recordsEvents: Bool
    /// The file whose lock makes one process at a time the retention purger (`withPurgeLock`).
    let purgeLockPath: String
    /// How long after an erasure the file is rewritten without its stale copies (`reclaimErasedSpace`,
    /// `MEDIAWORKER_SQLITE_VACUUM_DELAY`).
    let reclaimDelay: Duration

    /// Opens (creating if needed) the database at `path` and applies pending migrations. With `recordsEvents`,
    /// every final state also writes its notification to the outbox in the same transaction; without, the
    /// outbox stays empty instead of growing by one undeliverable row per job.
    /// `threads`: where its calls block (threads that may block, never the cooperative pool).
    /// `reclaimDelay`: how long after an erasure the purge rewrites the file (`VACUUM`) to drop the stale copies
    /// b-tree rebuilds leave in unused page space (`MEDIAWORKER_SQLITE_VACUUM_DELAY`).
    public init(path: String, durability: Durability = .normal, recordsEvents: Bool = false,
                threads: BlockingCallExecutor = .sqlite, reclaimDelay: Duration = SQLiteJobQueue.defaultReclaimDelay) throws {
        self.recordsEvents = recordsEvents
        self.reclaimDelay = reclaimDelay
        self.purgeLockPath = path + ".purge-lock"
        self.threads = threads
        self.executor = threads
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")")
            // Deleted and overwritten content is zeroed in its page, so an erased file name or conversation id is not
            // left readable in the file's free space (docs/erasure.md).
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        pool = try SQLiteSchema.open(path: path, configuration: config)
        try SQLiteSchema.migrate(pool)
    }

    /// Writes the final-state event of `job` (as just updated) in the caller's transaction.
    static func recordFinal(_ db: Database, job: Job, now: Double) throws {
        let eventID = JobID.make(now: Date(timeIntervalSince1970: now))
        let payload = JobEventPayload.payload(eventID: eventID, job: job, at: Date(timeIntervalSince1970: now))
        try db.cachedStatement(sql: """
            INSERT INTO outbox (id, job_id, payload, created_at, attempts, next_attempt_at) VALUES (?, ?, ?, ?, 0, ?)
            """).execute(arguments: [eventID, job.id, payload, now, now])
    }

    public func claimEvents(limit: Int, lease: TimeInterval, now: Date) async throws -> [OutboxEvent] {
        let t = now.timeIntervalSince1970
        return try await write { db in
            let rows = try Row.fetchAll(db, sql: """
                UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1
                WHERE id IN (SELECT id FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= ?
                             ORDER BY next_attempt_at LIMIT ?)
                RETURNING id, job_id, payload, attempts, created_at
                """, arguments: [t + lease, t, limit])
            return rows.map { OutboxEvent(id: $0["id"], jobID: $0["job_id"], payload: $0["payload"], attempts: $0["attempts"],
                                          createdAt: Date(timeIntervalSince1970: $0["created_at"])) }
                .sorted { $0.id < $1.id }
        }
    }

    public func markDelivered(id: String, now: Date) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE outbox SET delivered_at = ?, last_error = NULL WHERE id = ?",
                           arguments: [now.timeIntervalSince1970, id])
        }
    }

    public func markFailed(id: String, error: String, retryAt: Date) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE id = ? AND delivered_at IS NULL",
                           arguments: [retryAt.timeIntervalSince1970, error, id])
        }
    }

    public func pendingEvents() async throws -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL") ?? 0 }
    }

    public func enqueue(_ new: NewJob, id: String, now: Date) async throws -> EnqueueResult {
        try await write { db in
            if let key = new.idempotencyKey,
               let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT \(JobColumn.all) FROM jobs WHERE idempotency_key = ?"),
                                          arguments: [key]) {
                let existing = try Self.job(row)
                return .repeated(existing, contentSHA256: new.contentSHA256)
            }
            try db.cachedStatement(sql: Self.insertSQL)
                .execute(arguments: StatementArguments(Self.submittedValues(new, id: id, now: now)) + [now.timeIntervalSince1970])
            return .created(Job(id: id, state: .queued, submission: new, attempts: 0, createdAt: now, startedAt: nil,
                                finishedAt: nil, runAfter: now, leaseOwner: nil, leaseExpiresAt: nil, lastError: nil,
                                outcomeJSON: nil, artifacts: []))
        }
    }

    /// The enqueue's INSERT: `JobColumn.submitted`, then the state, attempts and `run_after` (the caller's `now`).
    private static let insertSQL = """
        INSERT INTO jobs (\(JobColumn.submitted.names), state, attempts, run_after)
        VALUES (\(JobColumn.submitted.map { _ in "?" }.joined(separator: ", ")), 'queued', 0, ?)
        """

    /// The values of `JobColumn.submitted` for a new job, in that order.
    private static func submittedValues(_ new: NewJob, id: String, now: Date) -> [(any DatabaseValueConvertible)?] {
        JobColumn.submitted.map { column -> (any DatabaseValueConvertible)? in
            switch column {
            case .id: id
            case .sender: new.from.rawValue
            case .channel: new.channel.rawValue
            case .declaredType: new.declaredType
            case .fileName: new.fileName
            case .idempotencyKey: new.idempotencyKey
            case .conversationId: new.conversationId
            case .businessNumber: new.businessNumber
            case .contentSHA256: new.contentSHA256
            case .size: new.size
            case .createdAt: now.timeIntervalSince1970
            default: preconditionFailure("\(column.name) is not written at enqueue")
            }
        }
    }

    /// After an empty claim, a read first, without the write lock: idle workers polling an empty queue must not
    /// serialise behind each other or behind enqueues.
    private func nothingDue(_ t: Double) async throws -> Bool {
        guard !busy.withLock({ $0 }) else { return false }
        return try await !read { db in
            try Bool.fetchOne(db.cachedStatement(sql: """
                SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND run_after <= ?)
                    OR EXISTS (SELECT 1 FROM jobs WHERE state = 'running' AND lease_expires_at < ?)
                """), arguments: [t, t]) ?? false
        }
    }

    /// One claim inside the caller's write transaction: an expired lease first (or a burial), else the next queued job.
    private func claimOne(_ db: Database, worker: String, lease: TimeInterval, maxAttempts: Int, now t: Double) throws -> Job? {
        // Rescue first: a running job whose lease expired lost its worker.
        while let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT id, attempts FROM jobs WHERE state = 'running' AND lease_expires_at < ?
            ORDER BY lease_expires_at LIMIT 1
            """), arguments: [t]) {
            let id: String = row[0], attempts: Int = row[1]
            if attempts < maxAttempts { return try Self.take(db, id: id, worker: worker, lease: lease, now: t) }
            let dead = try Row.fetchOne(db.cachedStatement(sql: """
                UPDATE jobs SET state = 'dead', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL,
                    last_error = 'its worker lost the lease ' || attempts || ' times (killed or hung while processing)'
                WHERE id = ? RETURNING \(JobColumn.all)
                """), arguments: [t, id])
            if let dead, recordsEvents { try Self.recordFinal(db, job: try Self.job(dead), now: t) }
        }
        return try Row.fetchOne(db.cachedStatement(sql: """
            UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?, lease_expires_at = ?, started_at = ?
            WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_after <= ? ORDER BY run_after, id LIMIT 1)
            RETURNING \(JobColumn.all)
            """), arguments: [worker, t + lease, t, t]).map(Self.job)
    }

    /// Up to `limit` claims in one write transaction (one commit for the batch).
    public func claim(worker: String, limit: Int, lease: TimeInterval, maxAttempts: Int, now: Date) async throws -> [Job] {
        let t = now.timeIntervalSince1970
        if try await nothingDue(t) { return [] }
        let jobs = try await write { db in
            var jobs: [Job] = []
            while jobs.count < limit, let job = try claimOne(db, worker: worker, lease: lease, maxAttempts: maxAttempts, now: t) {
                jobs.append(job)
            }
            return jobs
        }
        busy.withLock { $0 = !jobs.isEmpty }
        return jobs
    }

    private static func take(_ db: Database, id: String, worker: String, lease: TimeInterval, now: Double) throws -> Job? {
        let row = try Row.fetchOne(db.cachedStatement(sql: """
            UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?, lease_expires_at = ?, started_at = ?
            WHERE id = ? RETURNING \(JobColumn.all)
            """), arguments: [worker, now + lease, now, id])
        return try row.map(job)
    }

    public func heartbeat(id: String, worker: String, lease: TimeInterval, now: Date) async throws -> Bool {
        try await write { db in
            try db.cachedStatement(sql: """
                UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?
                """).execute(arguments: [now.timeIntervalSince1970 + lease, id, worker])
            return db.changesCount == 1
        }
    }

    public func complete(id: String, worker: String, result: JobResult, now: Date) async throws -> Bool {
        try await write { db in try completeOne(db, id: id, worker: worker, result: result, now: now.timeIntervalSince1970) }
    }

    private func completeOne(_ db: Database, id: String, worker: String, result: JobResult, now: Double) throws -> Bool {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            UPDATE jobs SET state = ?, outcome = ?, artifacts = ?, finished_at = ?, lease_owner = NULL,
                lease_expires_at = NULL, last_error = NULL
            WHERE id = ? AND state = 'running' AND lease_owner = ?
            RETURNING \(JobColumn.all)
            """), arguments: [result.state.rawValue, result.outcomeJSON, StoredArtifact.columnText(result.artifacts), now, id, worker]) else { return false }
        if recordsEvents { try Self.recordFinal(db, job: try Self.job(row), now: now) }
        return true
    }

    public func fail(id: String, worker: String, error: String, retryAt: Date?, now: Date) async throws -> Bool {
        try await write { db in
            if let retryAt {
                try db.execute(sql: """
                    UPDATE jobs SET state = 'queued', run_after = ?, last_error = ?, lease_owner = NULL, lease_expires_at = NULL,
                        postponed = 0
                    WHERE id = ? AND state = 'running' AND lease_owner = ?
                    """, arguments: [retryAt.timeIntervalSince1970, error, id, worker])
            } else {
                guard let row = try Row.fetchOne(db, sql: """
                    UPDATE jobs SET state = 'dead', finished_at = ?, last_error = ?, lease_owner = NULL, lease_expires_at = NULL
                    WHERE id = ? AND state = 'running' AND lease_owner = ? RETURNING \(JobColumn.all)
                    """, arguments: [now.timeIntervalSince1970, error, id, worker]) else { return false }
                if recordsEvents { try Self.recordFinal(db, job: try Self.job(row), now: now.timeIntervalSince1970) }
                return true
            }
            return db.changesCount == 1
        }
    }

    public func postpone(id: String, worker: String, error: String, retryAt: Date, now: Date) async throws -> Bool {
        try await write { db in
            try db.execute(sql: """
                UPDATE jobs SET state = 'queued', run_after = ?, attempts = MAX(0, attempts - 1), last_error = ?,
                    lease_owner = NULL, lease_expires_at = NULL, postponed = CASE WHEN releases < \(JobQueueLimits.maxReleases) THEN 1 ELSE 0 END
                WHERE id = ? AND state = 'running' AND lease_owner = ?
                """, arguments: [retryAt.timeIntervalSince1970, error, id, worker])
            return db.changesCount == 1
        }
    }

    public func release(id: String, worker: String, now: Date) async throws -> Bool {
        try await write { db in
            // The attempt counted at claim time is given back: the job never really ran.
            try db.execute(sql: """
                UPDATE jobs SET state = 'queued', run_after = ?, attempts = MAX(0, attempts - 1), lease_owner = NULL,
                    lease_expires_at = NULL
                WHERE id = ? AND state = 'running' AND lease_owner = ?
                """, arguments: [now.timeIntervalSince1970, id, worker])
            return db.changesCount == 1
        }
    }

    public func hasPostponed(now: Date) async throws -> Bool {
        try await read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND postponed = 1 AND run_after > ?)
                """, arguments: [now.timeIntervalSince1970]) ?? false
        }
    }

    public func releasePostponed(now: Date) async throws -> Int {
        try await write { db in
            try db.execute(sql: """
                UPDATE jobs SET run_after = ?, postponed = 0, releases = releases + 1
                WHERE state = 'queued' AND postponed = 1 AND run_after > ?
                """, arguments: [now.timeIntervalSince1970, now.timeIntervalSince1970])
            return db.changesCount
        }
    }

    public func retry(id: String, now: Date) async throws -> Bool {
        try await write { db in
            try db.execute(sql: """
                UPDATE jobs SET state = 'queued', attempts = 0, run_after = ?, finished_at = NULL WHERE id = ? AND state = 'dead'
                """, arguments: [now.timeIntervalSince1970, id])
            return db.changesCount == 1
        }
    }

    public func job(id: String) async throws -> Job? {
        try await read { db in try Row.fetchOne(db, sql: "SELECT \(JobColumn.all) FROM jobs WHERE id = ?", arguments: [id]).map(Self.job) }
    }

    public func jobs(idempotencyKey: String) async throws -> [Job] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT \(JobColumn.all) FROM jobs WHERE idempotency_key = ?", arguments: [idempotencyKey]).map(Self.job)
        }
    }

    public func jobs(state: JobState?, limit: Int) async throws -> [Job] {
        try await read { db in
            let rows: [Row]
            if let state {
                rows = try Row.fetchAll(db, sql: "SELECT \(JobColumn.all) FROM jobs WHERE state = ? ORDER BY id DESC LIMIT ?",
                                        arguments: [state.rawValue, limit])
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT \(JobColumn.all) FROM jobs ORDER BY id DESC LIMIT ?", arguments: [limit])
            }
            return try rows.map(Self.job)
        }
    }

    public func activeCounts() async throws -> [JobState: Int] {
        // One range of the (state, run_after) index per state: the cost is the number of such jobs, not the
        // millions of final ones a GROUP BY over the table would read.
        try await read { db in
            var counts: [JobState: Int] = [:]
            for state in JobState.active {
                counts[state] = try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM jobs WHERE state = ?"),
                                                 arguments: [state.rawValue]) ?? 0
            }
            return counts
        }
    }

    public func counts() async throws -> [JobState: Int] {
        try await read { db in
            var counts: [JobState: Int] = [:]
            for state in JobState.allCases { counts[state] = 0 }
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state") {
                if let state = JobState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            return counts
        }
    }

    /// A job from a row of `JobColumn.all`, read by position (cheaper than by name on the hot path).
    static func job(_ row: Row) throws -> Job {
        func value<T: DatabaseValueConvertible>(_ c: JobColumn) -> T { row[c.rawValue] }
        func optional<T: DatabaseValueConvertible>(_ c: JobColumn) -> T? { row[c.rawValue] }
        func date(_ c: JobColumn) -> Date? { (row[c.rawValue] as Double?).map(Date.init(timeIntervalSince1970:)) }
        let stateName: String = value(.state)
        guard let state = JobState(rawValue: stateName) else {
            throw DatabaseError(message: "unknown job state \(stateName)")
        }
        return Job(
            id: value(.id), state: state,
            submission: NewJob(from: try Sender(column: "sender", value(.sender)),
                               channel: try MessagingChannel(column: "channel", value(.channel)),
                               declaredType: optional(.declaredType), fileName: optional(.fileName),
                               idempotencyKey: optional(.idempotencyKey), conversationId: optional(.conversationId),
                               businessNumber: optional(.businessNumber), contentSHA256: value(.contentSHA256), size: value(.size)),
            attempts: value(.attempts), createdAt: date(.createdAt) ?? Date(timeIntervalSince1970: 0),
            startedAt: date(.startedAt), finishedAt: date(.finishedAt),
            runAfter: date(.runAfter) ?? Date(timeIntervalSince1970: 0), leaseOwner: optional(.leaseOwner),
            leaseExpiresAt: date(.leaseExpiresAt), lastError: optional(.lastError), outcomeJSON: optional(.outcome),
            artifacts: try StoredArtifact.fromColumn(optional(.artifacts)), erasedAt: date(.erasedAt),
            erasure: (optional(.erasure) as String?).flatMap(ErasureKind.init(rawValue:)))
    }
}
