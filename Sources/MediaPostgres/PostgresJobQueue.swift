import Foundation
import Logging
import MediaQueue
import NIOCore
import PostgresNIO
import Synchronization

/// The queue contract on PostgreSQL, for several servers and workers on several machines.
///
/// Every state change is one short statement (no transaction is held while a job runs); a claim locks the
/// rows it takes with `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait for each other or take the
/// same job. Enqueues and releases `NOTIFY` a channel that idle workers `LISTEN` on; workers still poll
/// (with backoff) in case a notification is lost, e.g. while the server restarts.
///
/// Lease times come from the server's clock: lease expiry, run-after times and the test for an expired lease are
/// computed in SQL from `statement_timestamp()`, the one clock every worker shares, so a worker whose own clock is
/// skewed can neither take a live lease (its clock ahead) nor keep a dead one or have its own lapse at once (behind).
/// The callers' `now` only records when things happened (`created_at`, `started_at`, `finished_at`: the caller's
/// clock, as on SQLite) and turns a `retryAt` into a delay (`retryAt − now`), which is counted from the server's clock.
public final class PostgresJobQueue: JobQueue, EventOutbox, Sendable {
    /// Where the times that decide who may run a job (lease expiry, run-after) come from.
    public enum Clock: Sendable, Equatable {
        /// The server's clock (`statement_timestamp()`): the default, and the only one for production.
        case server
        /// Tests only: the server's clock moved by the caller's `now − epoch`. Tests that step a synthetic clock
        /// (t0, t0 + 20 s, …) see leases expire and retry times pass without waiting, while every lease and retry time
        /// is still computed and compared in SQL from the server's clock (a real second passing also counts).
        case serverShifted(epoch: Date)
    }

    public let database: PostgresDatabase
    /// The clock of lease expiry and run-after times (`.server` outside tests).
    public let clock: Clock
    let recordsEvents: Bool
    let logger: Logger
    /// The NOTIFY channel (one per schema, so deployments sharing a database do not wake each other).
    let channel: String
    /// Wakes this process's workers on the channel's notifications, once one asked (`onJobsAvailable`).
    private let listener = Mutex<JobNotificationListener?>(nil)
    /// When this instance last looked for jobs to bury.
    private let buryClock = Mutex(Date.distantPast)

    /// Connects, applies pending migrations (safe when several processes start at once). With
    /// `recordsEvents`, final states also write their notification to the outbox in the same transaction.
    public init(database: PostgresDatabase, recordsEvents: Bool = false, clock: Clock = .server,
                logger: Logger = Logger(label: "mediaworker.postgres")) async throws {
        self.database = database
        self.clock = clock
        self.recordsEvents = recordsEvents
        self.logger = logger
        channel = "mediaworker_jobs" + (database.location.schema.map { "_" + $0 } ?? "")
        try await PostgresSchema.migrate(database, logger: logger)
    }

    /// `JobColumn.all` qualified with the table, for statements that join it (made once, not per claim).
    static let qualifiedColumns = JobColumn.all(qualifiedBy: "jobs")

    /// A job from a row of `JobColumn.all`, read by position.
    static func job(_ row: PostgresRow) throws -> Job {
        let r = row.makeRandomAccess()
        func value<T: PostgresDecodable>(_ c: JobColumn, _ type: T.Type = T.self) throws -> T { try r[c.rawValue].decode(T.self) }
        let stateName: String = try value(.state)
        guard let state = JobState(rawValue: stateName) else { throw PostgresFailure("unknown job state \(stateName)") }
        return Job(
            id: try value(.id), state: state,
            submission: NewJob(from: try Sender(column: "sender", value(.sender)),
                               channel: try MessagingChannel(column: "channel", value(.channel)),
                               declaredType: try value(.declaredType), fileName: try value(.fileName),
                               idempotencyKey: try value(.idempotencyKey), conversationId: try value(.conversationId),
                               businessNumber: try value(.businessNumber), contentSHA256: try value(.contentSHA256),
                               size: try value(.size)),
            attempts: try value(.attempts), createdAt: try value(.createdAt), startedAt: try value(.startedAt),
            finishedAt: try value(.finishedAt), runAfter: try value(.runAfter),
            leaseOwner: try value(.leaseOwner), leaseExpiresAt: try value(.leaseExpiresAt),
            lastError: try value(.lastError), outcomeJSON: try value(.outcome),
            artifacts: try StoredArtifact.fromColumn(value(.artifacts)), erasedAt: try value(.erasedAt),
            erasure: try (value(.erasure) as String?).flatMap(ErasureKind.init(rawValue:)))
    }

    /// How far the scheduling clock is from the server's for a caller whose clock says `now`, seconds (0 but in tests).
    private func shift(_ now: Date) -> Double {
        switch clock {
        case .server: return 0
        case .serverShifted(let epoch): return now.timeIntervalSince(epoch)
        }
    }

    /// The SQL expression of the current time for lease and run-after arithmetic: the server's clock (statement
    /// start), shifted in tests. Never the caller's clock.
    private func serverNow(_ now: Date) -> String {
        let s = shift(now)
        return s == 0 ? "statement_timestamp()" : "(statement_timestamp() + (\(String(format: "%.6f", s)))::float8 * interval '1 second')"
    }

    /// The SQL expression of a retry time given on the caller's clock: as far from the server's clock as it was from
    /// the caller's `now`.
    private func runAfter(_ retryAt: Date, now: Date) -> String {
        let delay = retryAt.timeIntervalSince(now)
        return "(\(serverNow(now)) + (\(String(format: "%.6f", delay.isFinite ? delay : 0)))::float8 * interval '1 second')"
    }

    private func jobs(_ query: PostgresQuery) async throws -> [Job] {
        try await database.query(query).rows.map(Self.job)
    }

    // MARK: jobs

    /// One upload waiting to be inserted (group commit).
    struct PendingEnqueue: Sendable {
        let job: NewJob, id: String, now: Date
    }

    /// Most uploads one INSERT statement takes (12 parameters each).
    static let enqueueBatchLimit = 500
    /// Concurrent uploads, inserted together (`GroupCommit`).
    private let enqueues = GroupCommit<PendingEnqueue, EnqueueResult>(limit: PostgresJobQueue.enqueueBatchLimit)

    /// Group commit: while one caller's INSERT is running, concurrent callers queue up; when it ends, the next of
    /// them inserts everything that queued meanwhile in one statement and one commit. A lone caller inserts alone at
    /// once. Each caller returns only once its own row is committed.
    public func enqueue(_ new: NewJob, id: String, now: Date) async throws -> EnqueueResult {
        try await enqueues.submit(PendingEnqueue(job: new, id: id, now: now)) { await insertEach($0) }
    }

    /// Inserts a batch in one statement; when that statement fails for a batch of several, each upload is tried
    /// alone, so one bad row fails only its own caller. Every upload gets its own result.
    private func insertEach(_ batch: [PendingEnqueue]) async -> [Result<EnqueueResult, any Error>] {
        do {
            return try await insert(batch)
        } catch {
            guard batch.count > 1 else { return [.failure(error)] }
            var results: [Result<EnqueueResult, any Error>] = []
            for p in batch { results.append((try? await insert([p]).first) ?? .failure(error)) }
            return results
        }
    }

    /// `JobColumn.submitted`'s names, and each read from the VALUES list with its column's type.
    private static let submittedNames = JobColumn.submitted.names
    private static let submittedCasts = JobColumn.submitted.map { column in
        switch column {
        case .size: "size::bigint"
        case .createdAt: "created_at::timestamptz"
        default: "\(column.name)::text"
        }
    }.joined(separator: ", ")

    /// One statement: insert every job whose key is new, and wake listening workers (delivered at commit);
    /// the others are looked up by their key. `created_at` is the caller's clock; `run_after` the server's.
    private func insert(_ batch: [PendingEnqueue]) async throws -> [Result<EnqueueResult, any Error>] {
        let perRow = JobColumn.submitted.count + 1  // and the clock shift
        var binds = PostgresBindings(capacity: batch.count * perRow + 1)
        var values: [String] = []
        for p in batch {
            let n = binds.count
            values.append("(" + (1...perRow).map { "$\(n + $0)" }.joined(separator: ", ") + ")")
            for column in JobColumn.submitted {
                switch column {
                case .id: binds.append(p.id)
                case .sender: binds.append(p.job.from.rawValue)
                case .channel: binds.append(p.job.channel.rawValue)
                case .declaredType: binds.append(p.job.declaredType)
                case .fileName: binds.append(p.job.fileName)
                case .idempotencyKey: binds.append(p.job.idempotencyKey)
                case .conversationId: binds.append(p.job.conversationId)
                case .businessNumber: binds.append(p.job.businessNumber)
                case .contentSHA256: binds.append(p.job.contentSHA256)
                case .size: binds.append(p.job.size)
                case .createdAt: binds.append(p.now)
                default: preconditionFailure("\(column.name) is not written at enqueue")
                }
            }
            binds.append(shift(p.now))
        }
        binds.append(channel)
        let sql = """
            WITH input (\(Self.submittedNames), shift) AS (VALUES \(values.joined(separator: ", "))),
            inserted AS (
                INSERT INTO jobs (\(Self.submittedNames), state, attempts, run_after)
                SELECT \(Self.submittedCasts), 'queued', 0, statement_timestamp() + shift::float8 * interval '1 second'
                FROM input
                ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                RETURNING *
            )
            SELECT \(JobColumn.all), pg_notify($\(binds.count)::text, '') FROM inserted
            """
        // In an explicit transaction: an autocommit statement reports CommandComplete before its implicit commit,
        // so a server stopped in between (a restart, a failover) could acknowledge uploads it never kept — seen once
        // in the scale-out run as a 202 whose job did not exist. COMMIT answers only once the rows are durable.
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        let (logger, timeout) = (logger, database.queryTimeout)
        let rows = try await database.transaction { try await $0.run(query, timeout: timeout, logger: logger).rows }
        var created: [String: Result<Job, any Error>] = [:]
        for row in rows {
            let id = try? row.makeRandomAccess()[0].decode(String.self)
            if let id { created[id] = Result { try Self.job(row) } }
        }
        var results: [Result<EnqueueResult, any Error>] = []
        for p in batch {
            if let job = created[p.id] {
                results.append(job.map(EnqueueResult.created))
                continue
            }
            do {
                guard let key = p.job.idempotencyKey, let existing = try await jobs(idempotencyKey: key).first else {
                    throw PostgresFailure("enqueue of \(p.id) inserted nothing and found no job with its key")
                }
                results.append(.success(.repeated(existing, contentSHA256: p.job.contentSHA256)))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }

    /// Claims up to `limit` jobs in one statement: expired leases first (their worker died), then queued jobs
    /// in `run_after` order. Rows another worker is claiming at the same moment are skipped, not waited for.
    /// Leases are granted, and found expired, by the server's clock.
    public func claim(worker: String, limit: Int, lease: TimeInterval, maxAttempts: Int, now: Date) async throws -> [Job] {
        let server = serverNow(now)
        var q: PostgresQuery = """
            WITH lost AS (
                SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < \(unescaped: server) AND attempts < \(maxAttempts)
                ORDER BY lease_expires_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
            ), ready AS (
                SELECT id FROM jobs WHERE state = 'queued' AND run_after <= \(unescaped: server)
                ORDER BY run_after, id LIMIT \(limit) FOR UPDATE SKIP LOCKED
            ), picked AS (
                SELECT id FROM lost UNION ALL SELECT id FROM ready LIMIT \(limit)
            )
            UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, lease_owner = \(worker),
                lease_expires_at = \(unescaped: server) + \(lease)::float8 * interval '1 second', started_at = \(now)
            FROM picked WHERE jobs.id = picked.id
            RETURNING
            """
        q.sql += " " + Self.qualifiedColumns
        let claimed = try await jobs(q).sorted { $0.runAfter == $1.runAfter ? $0.id < $1.id : $0.runAfter < $1.runAfter }
        // Burials run when the queue looks idle, and at least every 10 s of claims on a queue that never is
        // (so a job whose workers keep dying cannot stay `running` behind a full queue).
        let buryDue = buryClock.withLock { last in
            guard claimed.count < limit || now.timeIntervalSince(last) >= 10 || now < last else { return false }
            last = now
            return true
        }
        if buryDue {
            // The claim is committed: a failure here must not lose the claimed jobs.
            do { try await buryLostJobs(maxAttempts: maxAttempts, now: now) } catch {
                logger.warning("could not bury jobs whose workers keep dying; next idle claim retries", metadata: ["error": "\(error)"])
            }
        }
        return claimed
    }

    /// A running job whose lease expired after its last attempt lost its worker every time: dead, not claimed again.
    /// Checked when a claim comes back short (the queue is idle), which keeps it off the busy path.
    private func buryLostJobs(maxAttempts: Int, now: Date) async throws {
        var q: PostgresQuery = """
            UPDATE jobs SET state = 'dead', finished_at = \(now), lease_owner = NULL, lease_expires_at = NULL,
                last_error = 'its worker lost the lease ' || attempts || ' times (killed or hung while processing)'
            WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < \(unescaped: serverNow(now))
                             AND attempts >= \(maxAttempts)
                         FOR UPDATE SKIP LOCKED)
            RETURNING
            """
        q.sql += " " + JobColumn.all
        if recordsEvents {
            try await database.transaction { [self, q] connection in
                for row in try await connection.run(q, timeout: database.queryTimeout, logger: logger).rows {
                    try await recordFinal(connection, job: try Self.job(row), now: now)
                }
            }
        } else {
            try await database.query(q)
        }
    }

    public func heartbeat(id: String, worker: String, lease: TimeInterval, now: Date) async throws -> Bool {
        try await database.query("""
            UPDATE jobs SET lease_expires_at = \(unescaped: serverNow(now)) + \(lease)::float8 * interval '1 second'
            WHERE id = \(id) AND state = 'running' AND lease_owner = \(worker)
            """).metadata.rows == 1
    }

    /// One completion waiting for its UPDATE (group commit).
    struct PendingCompletion: Sendable {
        let id: String, worker: String, result: JobResult, now: Date
    }

    /// Most completions one UPDATE takes.
    static let completionBatchLimit = 500
    /// Concurrent completions (a worker's slots, several workers of one process), updated together (`GroupCommit`).
    private let completions = GroupCommit<PendingCompletion, Bool>(limit: PostgresJobQueue.completionBatchLimit)

    /// Group commit, as `enqueue`: completions that arrive while another's UPDATE runs share the next statement
    /// and its commit (River's completer, inside the driver). Each caller returns once its own row is committed.
    public func complete(id: String, worker: String, result: JobResult, now: Date) async throws -> Bool {
        try await completions.submit(PendingCompletion(id: id, worker: worker, result: result, now: now)) { await completeEach($0) }
    }

    /// Completes a batch in one statement. A batch that names a job twice is completed one by one (each answer as if
    /// alone); when the statement fails for a batch of several on a live connection, each is tried alone, so one bad
    /// row fails only its own caller. A lost connection fails them all (each caller retries).
    private func completeEach(_ batch: [PendingCompletion]) async -> [Result<Bool, any Error>] {
        if batch.count > 1 && Set(batch.map(\.id)).count == batch.count {
            do {
                let held = try await completeTogether(batch)
                return batch.map { .success(held.contains($0.id)) }
            } catch let failure as PostgresFailure where failure.connectionLost {
                return batch.map { _ in .failure(failure) }
            } catch {
                // One by one below.
            }
        }
        var results: [Result<Bool, any Error>] = []
        for p in batch {
            do { results.append(.success(try await completeTogether([p]).contains(p.id))) } catch { results.append(.failure(error)) }
        }
        return results
    }

    /// All of `batch` in one UPDATE … FROM unnest(…): one round trip and one commit; the ids whose lease each
    /// caller's `worker` still held (the others are unchanged). With events on, each final job's event is written in
    /// the same transaction.
    private func completeTogether(_ batch: [PendingCompletion]) async throws -> Set<String> {
        let ids = batch.map(\.id), workers = batch.map(\.worker), states = batch.map(\.result.state.rawValue)
        let outcomes = batch.map(\.result.outcomeJSON), artifacts = batch.map { StoredArtifact.columnText($0.result.artifacts) }
        let finished = batch.map(\.now)
        var q: PostgresQuery = """
            UPDATE jobs SET state = r.state, outcome = r.outcome, artifacts = r.artifacts, finished_at = r.finished_at,
                lease_owner = NULL, lease_expires_at = NULL, last_error = NULL
            FROM unnest(\(ids)::text[], \(workers)::text[], \(states)::text[], \(outcomes)::text[], \(artifacts)::text[],
                        \(finished)::timestamptz[]) AS r(id, worker, state, outcome, artifacts, finished_at)
            WHERE jobs.id = r.id AND jobs.state = 'running' AND jobs.lease_owner = r.worker
            RETURNING
            """
        // The whole row only when an event must be written from it; otherwise the ids are enough.
        q.sql += recordsEvents ? " " + Self.qualifiedColumns : " jobs.id"
        let rows: [PostgresRow]
        if recordsEvents {
            let timeout = database.queryTimeout
            rows = try await database.transaction { [self, q] connection in
                let rows = try await connection.run(q, timeout: timeout, logger: logger).rows
                for row in rows {
                    let job = try Self.job(row)
                    try await recordFinal(connection, job: job, now: job.finishedAt ?? Date())
                }
                return rows
            }
        } else {
            rows = try await database.query(q).rows
        }
        return Set(try rows.map { try $0.makeRandomAccess()[0].decode(String.self) })
    }

    /// Runs an UPDATE that makes a job final; with events on, writes its event in the same transaction.
    private func finalUpdate(_ q: PostgresQuery, now: Date) async throws -> Bool {
        guard recordsEvents else { return try await database.query(q).metadata.rows == 1 }
        let timeout = database.queryTimeout
        return try await database.transaction { [self, q] connection in
            guard let row = try await connection.run(q, timeout: timeout, logger: logger).rows.first else { return false }
            try await recordFinal(connection, job: try Self.job(row), now: now)
            return true
        }
    }

    /// `retryAt` is on the caller's clock: the job waits `retryAt − now` by the server's.
    public func fail(id: String, worker: String, error: String, retryAt: Date?, now: Date) async throws -> Bool {
        if let retryAt {
            return try await database.query("""
                UPDATE jobs SET state = 'queued', run_after = \(unescaped: runAfter(retryAt, now: now)), last_error = \(error),
                    lease_owner = NULL, lease_expires_at = NULL, postponed = 0
                WHERE id = \(id) AND state = 'running' AND lease_owner = \(worker)
                """).metadata.rows == 1
        }
        var q: PostgresQuery = """
            UPDATE jobs SET state = 'dead', finished_at = \(now), last_error = \(error), lease_owner = NULL, lease_expires_at = NULL
            WHERE id = \(id) AND state = 'running' AND lease_owner = \(worker)
            RETURNING
            """
        q.sql += " " + JobColumn.all
        return try await finalUpdate(q, now: now)
    }

    /// `retryAt` is on the caller's clock: the job waits `retryAt − now` by the server's.
    public func postpone(id: String, worker: String, error: String, retryAt: Date, now: Date) async throws -> Bool {
        try await database.query("""
            UPDATE jobs SET state = 'queued', run_after = \(unescaped: runAfter(retryAt, now: now)), attempts = GREATEST(0, attempts - 1),
                last_error = \(error), lease_owner = NULL, lease_expires_at = NULL,
                postponed = CASE WHEN releases < \(unescaped: "\(JobQueueLimits.maxReleases)") THEN 1 ELSE 0 END
            WHERE id = \(id) AND state = 'running' AND lease_owner = \(worker)
            """).metadata.rows == 1
    }

    public func release(id: String, worker: String, now: Date) async throws -> Bool {
        // The attempt counted at claim time is given back: the job never really ran. Other workers are woken.
        try await database.query("""
            WITH released AS (
                UPDATE jobs SET state = 'queued', run_after = \(unescaped: serverNow(now)), attempts = GREATEST(0, attempts - 1),
                    lease_owner = NULL, lease_expires_at = NULL
                WHERE id = \(id) AND state = 'running' AND lease_owner = \(worker)
                RETURNING id)
            SELECT pg_notify(\(channel), '') FROM released
            """).rows.count == 1
    }

    public func hasPostponed(now: Date) async throws -> Bool {
        try await database.query("""
            SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND postponed = 1 AND run_after > \(unescaped: serverNow(now)))
            """).rows.first?.decode(Bool.self) ?? false
    }

    public func releasePostponed(now: Date) async throws -> Int {
        // Other workers are woken: the jobs are claimable by any of them.
        try await database.query("""
            WITH due AS (
                UPDATE jobs SET run_after = \(unescaped: serverNow(now)), postponed = 0, releases = releases + 1
                WHERE state = 'queued' AND postponed = 1 AND run_after > \(unescaped: serverNow(now))
                RETURNING id)
            SELECT pg_notify(\(channel), '') FROM due
            """).rows.count  // one row per job; PostgreSQL delivers identical notifications of a transaction once
    }

    public func retry(id: String, now: Date) async throws -> Bool {
        try await database.query("""
            WITH requeued AS (
                UPDATE jobs SET state = 'queued', attempts = 0, run_after = \(unescaped: serverNow(now)), finished_at = NULL
                WHERE id = \(id) AND state = 'dead' RETURNING id)
            SELECT pg_notify(\(channel), '') FROM requeued
            """).rows.count == 1
    }

    public func job(id: String) async throws -> Job? {
        var q: PostgresQuery = "SELECT"
        q.sql += " \(JobColumn.all) FROM jobs WHERE id = $1"
        q.binds.append(id)
        return try await jobs(q).first
    }

    public func jobs(idempotencyKey: String) async throws -> [Job] {
        var q: PostgresQuery = "SELECT"
        // An erased job keeps the key's digest (`JobErasureLimits.erasedKey`).
        q.sql += " \(JobColumn.all) FROM jobs WHERE idempotency_key IN ($1, $2)"
        q.binds.append(idempotencyKey)
        q.binds.append(JobErasureLimits.erasedKey(idempotencyKey))
        return try await jobs(q)
    }

    public func jobs(state: JobState?, limit: Int) async throws -> [Job] {
        var q: PostgresQuery = "SELECT"
        q.sql += " \(JobColumn.all) FROM jobs"
        if let state {
            q.sql += " WHERE state = $1 ORDER BY id DESC LIMIT $2"
            q.binds.append(state.rawValue)
        } else {
            q.sql += " ORDER BY id DESC LIMIT $1"
        }
        q.binds.append(limit)
        return try await jobs(q)
    }

    public func activeCounts() async throws -> [JobState: Int] {
        // Each from its partial index (jobs_queued, jobs_leases, jobs_dead): the cost is the number of such jobs.
        let row = try await database.query("""
            SELECT (SELECT COUNT(*) FROM jobs WHERE state = 'queued'), (SELECT COUNT(*) FROM jobs WHERE state = 'running'),
                   (SELECT COUNT(*) FROM jobs WHERE state = 'dead')
            """).rows.first
        let (queued, running, dead) = try row?.decode((Int, Int, Int).self) ?? (0, 0, 0)
        return [.queued: queued, .running: running, .dead: dead]
    }

    public func counts() async throws -> [JobState: Int] {
        var counts: [JobState: Int] = [:]
        for state in JobState.allCases { counts[state] = 0 }
        for row in try await database.query("SELECT state, COUNT(*) FROM jobs GROUP BY state").rows {
            let (name, n) = try row.decode((String, Int).self)
            if let state = JobState(rawValue: name) { counts[state] = n }
        }
        return counts
    }

    /// Adds `handler` to this queue's `JobNotificationListener`, made and attached to the database (which runs it
    /// beside its client) on the first call.
    public func onJobsAvailable(_ handler: @escaping @Sendable () -> Void) {
        listener.withLock { listener in
            if let listener {
                listener.add(handler)
            } else {
                let made = JobNotificationListener(database: database, channel: channel, logger: logger)
                made.add(handler)
                database.attach(made)
                listener = made
            }
        }
    }

    // MARK: outbox

    private func recordFinal(_ connection: PostgresConnection, job: Job, now: Date) async throws {
        let eventID = JobID.make(now: now)
        let payload = JobEventPayload.payload(eventID: eventID, job: job, at: now)
        try await connection.run("""
            INSERT INTO outbox (id, job_id, payload, created_at, attempts, next_attempt_at)
            VALUES (\(eventID), \(job.id), \(payload), \(now), 0, \(now))
            """, timeout: database.queryTimeout, logger: logger)
    }

    public func claimEvents(limit: Int, lease: TimeInterval, now: Date) async throws -> [OutboxEvent] {
        try await database.query("""
            UPDATE outbox SET next_attempt_at = \(now.addingTimeInterval(lease)), attempts = attempts + 1
            WHERE id IN (SELECT id FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= \(now)
                         ORDER BY next_attempt_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING id, job_id, payload, attempts, created_at
            """).rows.map { row in
            let (id, jobID, payload, attempts, createdAt) = try row.decode((String, String, String, Int, Date).self)
            return OutboxEvent(id: id, jobID: jobID, payload: payload, attempts: attempts, createdAt: createdAt)
        }.sorted { $0.id < $1.id }
    }

    public func markDelivered(id: String, now: Date) async throws {
        try await database.query("UPDATE outbox SET delivered_at = \(now), last_error = NULL WHERE id = \(id)")
    }

    public func markFailed(id: String, error: String, retryAt: Date) async throws {
        try await database.query("""
            UPDATE outbox SET next_attempt_at = \(retryAt), last_error = \(error) WHERE id = \(id) AND delivered_at IS NULL
            """)
    }

    public func pendingEvents() async throws -> Int {
        try await database.query("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").rows.first?.decode(Int.self) ?? 0
    }
}
