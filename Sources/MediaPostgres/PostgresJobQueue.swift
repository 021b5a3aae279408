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
public final class PostgresJobQueue: JobQueue, EventOutbox, @unchecked Sendable {
    /// Where the times that decide who may run a job (lease expiry, run-after) come from.
    public enum Clock: Sendable, Equatable {
        /// The server's clock (`statement_timestamp()`): the default, and the only one for production.
        case server
        /// Tests only: the server's clock moved by the caller's `now − epoch`. Tests that step a synthetic clock
        /// (t0, t0 + 20 s, …) see leases expire and retry times pass without waiting, while every lease and retry time
        /// is still computed and compared in SQL from the server's clock (a real second passing also counts).
        case serverShifted(epoch: Date)
    }

    public let connections: PostgresConnections
    /// The clock of lease expiry and run-after times (`.server` outside tests).
    public let clock: Clock
    private let recordsEvents: Bool
    private let logger: Logger
    /// The NOTIFY channel (one per schema, so deployments sharing a database do not wake each other).
    let channel: String
    private let lock = NSLock()
    private var listener: PostgresListener?
    /// When this instance last looked for jobs to bury.
    private let buryClock = Mutex(Date.distantPast)

    /// Connects, applies pending migrations (safe when several processes start at once). With
    /// `recordsEvents`, final states also write their notification to the outbox in the same transaction.
    public init(connections: PostgresConnections, recordsEvents: Bool = false, clock: Clock = .server,
                logger: Logger = Logger(label: "mediaworker.postgres")) throws {
        self.connections = connections
        self.clock = clock
        self.recordsEvents = recordsEvents
        self.logger = logger
        channel = "mediaworker_jobs" + (connections.location.schema.map { "_" + $0 } ?? "")
        try PostgresSchema.migrate(connections, logger: logger)
    }

    deinit {
        listener?.stop()
    }

    /// Every job column, in the order `job(_:)` reads them.
    static let columns = """
        id, state, sender, channel, declared_type, file_name, idempotency_key, conversation_id, business_number, \
        content_sha256, size, attempts, created_at, started_at, finished_at, run_after, lease_owner, lease_expires_at, \
        last_error, outcome, artifacts
        """

    /// The same columns qualified with the table, for statements that join it (made once, not per claim).
    static let qualifiedColumns = columns.split(separator: ",")
        .map { "jobs." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", ")

    static func job(_ row: PostgresRow) throws -> Job {
        let r = row.makeRandomAccess()
        let stateName = try r[1].decode(String.self)
        guard let state = JobState(rawValue: stateName) else { throw PostgresFailure("unknown job state \(stateName)") }
        return Job(
            id: try r[0].decode(String.self), state: state,
            submission: NewJob(from: try Sender(column: "sender", r[2].decode(String.self)), channel: try MessagingChannel(column: "channel", r[3].decode(String.self)),
                               declaredType: try r[4].decode(String?.self), fileName: try r[5].decode(String?.self),
                               idempotencyKey: try r[6].decode(String?.self), conversationId: try r[7].decode(String?.self),
                               businessNumber: try r[8].decode(String?.self), contentSHA256: try r[9].decode(String.self),
                               size: try r[10].decode(Int.self)),
            attempts: try r[11].decode(Int.self), createdAt: try r[12].decode(Date.self), startedAt: try r[13].decode(Date?.self),
            finishedAt: try r[14].decode(Date?.self), runAfter: try r[15].decode(Date.self),
            leaseOwner: try r[16].decode(String?.self), leaseExpiresAt: try r[17].decode(Date?.self),
            lastError: try r[18].decode(String?.self), outcomeJSON: try r[19].decode(String?.self),
            artifacts: try StoredArtifact.fromColumn(r[20].decode(String?.self)))
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

    private func jobs(_ query: PostgresQuery) throws -> [Job] {
        try connections.query(query).rows.map(Self.job)
    }

    // MARK: jobs

    /// One upload waiting to be inserted (group commit).
    final class PendingEnqueue: @unchecked Sendable {
        let job: NewJob, id: String, now: Date
        var result: Result<EnqueueResult, any Error>?
        init(job: NewJob, id: String, now: Date) {
            self.job = job
            self.id = id
            self.now = now
        }
    }

    private let enqueueLock = NSCondition()
    private var pendingEnqueues: [PendingEnqueue] = []
    private var enqueueLeader = false
    /// Most uploads one INSERT statement takes (12 parameters each).
    static let enqueueBatchLimit = 500

    /// Group commit: while one caller's INSERT is running, concurrent callers queue up; the next of them
    /// inserts everything that queued in one statement and one commit. A lone caller inserts alone at once.
    /// Each caller returns only once its own row is committed.
    public func enqueue(_ new: NewJob, id: String, now: Date) throws -> EnqueueResult {
        let mine = PendingEnqueue(job: new, id: id, now: now)
        enqueueLock.lock()
        pendingEnqueues.append(mine)
        while true {
            while mine.result == nil && enqueueLeader { enqueueLock.wait() }
            if let result = mine.result {
                enqueueLock.unlock()
                return try result.get()
            }
            // Lead: insert what is waiting, oldest first (this caller's own upload may be in a later batch).
            enqueueLeader = true
            let batch = Array(pendingEnqueues.prefix(Self.enqueueBatchLimit))
            pendingEnqueues.removeFirst(batch.count)
            enqueueLock.unlock()
            let results = insertEach(batch)
            enqueueLock.lock()
            for (pending, result) in zip(batch, results) { pending.result = result }
            enqueueLeader = false
            enqueueLock.broadcast()
        }
    }

    /// Inserts a batch in one statement; when that statement fails for a batch of several, each upload is tried
    /// alone, so one bad row fails only its own caller. Every upload gets its own result.
    private func insertEach(_ batch: [PendingEnqueue]) -> [Result<EnqueueResult, any Error>] {
        do {
            return try insert(batch)
        } catch {
            guard batch.count > 1 else { return [.failure(error)] }
            return batch.map { p in (try? insert([p]).first) ?? .failure(error) }
        }
    }

    /// One statement: insert every job whose key is new, and wake listening workers (delivered at commit);
    /// the others are looked up by their key. `created_at` is the caller's clock; `run_after` the server's.
    private func insert(_ batch: [PendingEnqueue]) throws -> [Result<EnqueueResult, any Error>] {
        var binds = PostgresBindings(capacity: batch.count * 12 + 1)
        var values: [String] = []
        for p in batch {
            let n = binds.count
            values.append("(" + (1...12).map { "$\(n + $0)" }.joined(separator: ", ") + ")")
            binds.append(p.id)
            binds.append(p.job.from.rawValue)
            binds.append(p.job.channel.rawValue)
            binds.append(p.job.declaredType)
            binds.append(p.job.fileName)
            binds.append(p.job.idempotencyKey)
            binds.append(p.job.conversationId)
            binds.append(p.job.businessNumber)
            binds.append(p.job.contentSHA256)
            binds.append(p.job.size)
            binds.append(p.now)
            binds.append(shift(p.now))
        }
        binds.append(channel)
        let sql = """
            WITH input (id, sender, channel, declared_type, file_name, idempotency_key, conversation_id, business_number,
                        content_sha256, size, created_at, shift) AS (VALUES \(values.joined(separator: ", "))),
            inserted AS (
                INSERT INTO jobs (id, state, sender, channel, declared_type, file_name, idempotency_key, conversation_id,
                                  business_number, content_sha256, size, attempts, created_at, run_after)
                SELECT id::text, 'queued', sender::text, channel::text, declared_type::text, file_name::text, idempotency_key::text,
                       conversation_id::text, business_number::text, content_sha256::text, size::bigint, 0,
                       created_at::timestamptz, statement_timestamp() + shift::float8 * interval '1 second'
                FROM input
                ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                RETURNING *
            )
            SELECT \(Self.columns), pg_notify($\(binds.count)::text, '') FROM inserted
            """
        // In an explicit transaction: an autocommit statement reports CommandComplete before its implicit commit,
        // so a server stopped in between (a restart, a failover) could acknowledge uploads it never kept — seen once
        // in the scale-out run as a 202 whose job did not exist. COMMIT answers only once the rows are durable.
        let rows = try connections.transaction { try $0.run(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).rows }
        var created: [String: Result<Job, any Error>] = [:]
        for row in rows {
            let id = try? row.makeRandomAccess()[0].decode(String.self)
            if let id { created[id] = Result { try Self.job(row) } }
        }
        return batch.map { p in
            if let job = created[p.id] { return job.map(EnqueueResult.created) }
            return Result {
                guard let key = p.job.idempotencyKey, let existing = try jobs(idempotencyKey: key).first else {
                    throw PostgresFailure("enqueue of \(p.id) inserted nothing and found no job with its key")
                }
                return existing.submission.contentSHA256 == p.job.contentSHA256 ? .existing(existing) : .conflict(existing)
            }
        }
    }

    public func claim(worker: String, lease: TimeInterval, maxAttempts: Int, now: Date) throws -> Job? {
        try claim(worker: worker, limit: 1, lease: lease, maxAttempts: maxAttempts, now: now).first
    }

    /// Claims up to `limit` jobs in one statement: expired leases first (their worker died), then queued jobs
    /// in `run_after` order. Rows another worker is claiming at the same moment are skipped, not waited for.
    /// Leases are granted, and found expired, by the server's clock.
    public func claim(worker: String, limit: Int, lease: TimeInterval, maxAttempts: Int, now: Date) throws -> [Job] {
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
        let claimed = try jobs(q).sorted { $0.runAfter == $1.runAfter ? $0.id < $1.id : $0.runAfter < $1.runAfter }
        // Burials run when the queue looks idle, and at least every 10 s of claims on a queue that never is
        // (so a job whose workers keep dying cannot stay `running` behind a full queue).
        let buryDue = buryClock.withLock { last in
            guard claimed.count < limit || now.timeIntervalSince(last) >= 10 || now < last else { return false }
            last = now
            return true
        }
        if buryDue {
            // The claim is committed: a failure here must not lose the claimed jobs.
            do { try buryLostJobs(maxAttempts: maxAttempts, now: now) } catch {
                logger.warning("could not bury jobs whose workers keep dying; next idle claim retries", metadata: ["error": "\(error)"])
            }
        }
        return claimed
    }

    /// A running job whose lease expired after its last attempt lost its worker every time: dead, not claimed again.
    /// Checked when a claim comes back short (the queue is idle), which keeps it off the busy path.
    private func buryLostJobs(maxAttempts: Int, now: Date) throws {
        var q: PostgresQuery = """
            UPDATE jobs SET state = 'dead', finished_at = \(now), lease_owner = NULL, lease_expires_at = NULL,
                last_error = 'its worker lost the lease ' || attempts || ' times (killed or hung while processing)'
            WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < \(unescaped: serverNow(now))
                             AND attempts >= \(maxAttempts)
                         FOR UPDATE SKIP LOCKED)
            RETURNING
            """
        q.sql += " " + Self.columns
        if recordsEvents {
            try connections.transaction { connection in
                for row in try connection.run(q, logger: logger).rows { try recordFinal(connection, job: try Self.job(row), now: now) }
            }
        } else {
            try connections.query(q)
        }
    }

    public func heartbeat(id: String, worker: String, lease: TimeInterval, now: Date) throws -> Bool {
        try connections.query("""
            UPDATE jobs SET lease_expires_at = \(unescaped: serverNow(now)) + \(lease)::float8 * interval '1 second'
            WHERE id = \(id) AND state = 'running' AND lease_owner = \(worker)
            """).metadata.rows == 1
    }

    public func complete(id: String, worker: String, result: JobResult, now: Date) throws -> Bool {
        var q: PostgresQuery = """
            UPDATE jobs SET state = \(result.state.rawValue), outcome = \(result.outcomeJSON), artifacts = \(StoredArtifact.columnText(result.artifacts)),
                finished_at = \(now), lease_owner = NULL, lease_expires_at = NULL, last_error = NULL
            WHERE id = \(id) AND state = 'running' AND lease_owner = \(worker)
            RETURNING
            """
        q.sql += " " + Self.columns
        return try finalUpdate(q, now: now)
    }

    /// All the results in one UPDATE … FROM unnest(…): one round trip and one commit for the batch.
    public func complete(_ results: [String: JobResult], worker: String, now: Date) throws -> Set<String> {
        guard !results.isEmpty else { return [] }
        let ids = Array(results.keys)
        let states = ids.map { results[$0]!.state.rawValue }
        let outcomes = ids.map { results[$0]!.outcomeJSON }
        let artifacts = ids.map { StoredArtifact.columnText(results[$0]!.artifacts) }
        var q: PostgresQuery = """
            UPDATE jobs SET state = r.state, outcome = r.outcome, artifacts = r.artifacts, finished_at = \(now),
                lease_owner = NULL, lease_expires_at = NULL, last_error = NULL
            FROM unnest(\(ids)::text[], \(states)::text[], \(outcomes)::text[], \(artifacts)::text[]) AS r(id, state, outcome, artifacts)
            WHERE jobs.id = r.id AND jobs.state = 'running' AND jobs.lease_owner = \(worker)
            RETURNING
            """
        // The whole row only when an event must be written from it; otherwise the ids are enough.
        q.sql += recordsEvents
            ? " " + Self.qualifiedColumns
            : " jobs.id"
        let rows: [PostgresRow]
        if recordsEvents {
            rows = try connections.transaction { connection in
                let rows = try connection.run(q, logger: logger).rows
                for row in rows { try recordFinal(connection, job: try Self.job(row), now: now) }
                return rows
            }
        } else {
            rows = try connections.query(q).rows
        }
        return Set(try rows.map { try $0.makeRandomAccess()[0].decode(String.self) })
    }

    /// Runs an UPDATE that makes a job final; with events on, writes its event in the same transaction.
    private func finalUpdate(_ q: PostgresQuery, now: Date) throws -> Bool {
        guard recordsEvents else { return try connections.query(q).metadata.rows == 1 }
        return try connections.transaction { connection in
            guard let row = try connection.run(q, logger: logger).rows.first else { return false }
            try recordFinal(connection, job: try Self.job(row), now: now)
            return true
        }
    }

    /// `retryAt` is on the caller's clock: the job waits `retryAt − now` by the server's.
    public func fail(id: String, worker: String, error: String, retryAt: Date?, now: Date) throws -> Bool {
        if let retryAt {
            return try connections.query("""
                UPDATE jobs SET state = 'queued', run_after = \(unescaped: runAfter(retryAt, now: now)), last_error = \(error),
                    lease_owner = NULL, lease_expires_at = NULL
                WHERE id = \(id) AND state = 'running' AND lease_owner = \(worker)
                """).metadata.rows == 1
        }
        var q: PostgresQuery = """
            UPDATE jobs SET state = 'dead', finished_at = \(now), last_error = \(error), lease_owner = NULL, lease_expires_at = NULL
            WHERE id = \(id) AND state = 'running' AND lease_owner = \(worker)
            RETURNING
            """
        q.sql += " " + Self.columns
        return try finalUpdate(q, now: now)
    }

    /// `retryAt` is on the caller's clock: the job waits `retryAt − now` by the server's.
    public func postpone(id: String, worker: String, error: String, retryAt: Date, now: Date) throws -> Bool {
        try connections.query("""
            UPDATE jobs SET state = 'queued', run_after = \(unescaped: runAfter(retryAt, now: now)), attempts = GREATEST(0, attempts - 1),
                last_error = \(error), lease_owner = NULL, lease_expires_at = NULL
            WHERE id = \(id) AND state = 'running' AND lease_owner = \(worker)
            """).metadata.rows == 1
    }

    public func release(id: String, worker: String, now: Date) throws -> Bool {
        // The attempt counted at claim time is given back: the job never really ran. Other workers are woken.
        try connections.query("""
            WITH released AS (
                UPDATE jobs SET state = 'queued', run_after = \(unescaped: serverNow(now)), attempts = GREATEST(0, attempts - 1),
                    lease_owner = NULL, lease_expires_at = NULL
                WHERE id = \(id) AND state = 'running' AND lease_owner = \(worker)
                RETURNING id)
            SELECT pg_notify(\(channel), '') FROM released
            """).rows.count == 1
    }

    public func retry(id: String, now: Date) throws -> Bool {
        try connections.query("""
            WITH requeued AS (
                UPDATE jobs SET state = 'queued', attempts = 0, run_after = \(unescaped: serverNow(now)), finished_at = NULL
                WHERE id = \(id) AND state = 'dead' RETURNING id)
            SELECT pg_notify(\(channel), '') FROM requeued
            """).rows.count == 1
    }

    public func job(id: String) throws -> Job? {
        var q: PostgresQuery = "SELECT"
        q.sql += " \(Self.columns) FROM jobs WHERE id = $1"
        q.binds.append(id)
        return try jobs(q).first
    }

    public func jobs(idempotencyKey: String) throws -> [Job] {
        var q: PostgresQuery = "SELECT"
        q.sql += " \(Self.columns) FROM jobs WHERE idempotency_key = $1"
        q.binds.append(idempotencyKey)
        return try jobs(q)
    }

    public func jobs(state: JobState?, limit: Int) throws -> [Job] {
        var q: PostgresQuery = "SELECT"
        q.sql += " \(Self.columns) FROM jobs"
        if let state {
            q.sql += " WHERE state = $1 ORDER BY id DESC LIMIT $2"
            q.binds.append(state.rawValue)
        } else {
            q.sql += " ORDER BY id DESC LIMIT $1"
        }
        q.binds.append(limit)
        return try jobs(q)
    }

    public func activeCounts() throws -> [JobState: Int] {
        // Each from its partial index (jobs_queued, jobs_leases, jobs_dead): the cost is the number of such jobs.
        let row = try connections.query("""
            SELECT (SELECT COUNT(*) FROM jobs WHERE state = 'queued'), (SELECT COUNT(*) FROM jobs WHERE state = 'running'),
                   (SELECT COUNT(*) FROM jobs WHERE state = 'dead')
            """).rows.first
        let (queued, running, dead) = try row?.decode((Int, Int, Int).self) ?? (0, 0, 0)
        return [.queued: queued, .running: running, .dead: dead]
    }

    public func counts() throws -> [JobState: Int] {
        var counts: [JobState: Int] = [:]
        for state in JobState.allCases { counts[state] = 0 }
        for row in try connections.query("SELECT state, COUNT(*) FROM jobs GROUP BY state").rows {
            let (name, n) = try row.decode((String, Int).self)
            if let state = JobState(rawValue: name) { counts[state] = n }
        }
        return counts
    }

    public func onJobsAvailable(_ handler: @escaping @Sendable () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        if let listener {
            listener.add(handler)
        } else {
            let listener = PostgresListener(connections: connections, channel: channel, logger: logger)
            listener.add(handler)
            listener.start()
            self.listener = listener
        }
    }

    // MARK: outbox

    private func recordFinal(_ connection: PostgresConnection, job: Job, now: Date) throws {
        let eventID = JobID.make(now: now)
        let payload = MediaJSONEvent.payload(eventID: eventID, job: job, at: now)
        try connection.run("""
            INSERT INTO outbox (id, job_id, payload, created_at, attempts, next_attempt_at)
            VALUES (\(eventID), \(job.id), \(payload), \(now), 0, \(now))
            """, logger: logger)
    }

    public func claimEvents(limit: Int, lease: TimeInterval, now: Date) throws -> [OutboxEvent] {
        try connections.query("""
            UPDATE outbox SET next_attempt_at = \(now.addingTimeInterval(lease)), attempts = attempts + 1
            WHERE id IN (SELECT id FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= \(now)
                         ORDER BY next_attempt_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING id, job_id, payload, attempts, created_at
            """).rows.map { row in
            let (id, jobID, payload, attempts, createdAt) = try row.decode((String, String, String, Int, Date).self)
            return OutboxEvent(id: id, jobID: jobID, payload: payload, attempts: attempts, createdAt: createdAt)
        }.sorted { $0.id < $1.id }
    }

    public func markDelivered(id: String, now: Date) throws {
        try connections.query("UPDATE outbox SET delivered_at = \(now), last_error = NULL WHERE id = \(id)")
    }

    public func markFailed(id: String, error: String, retryAt: Date) throws {
        try connections.query("""
            UPDATE outbox SET next_attempt_at = \(retryAt), last_error = \(error) WHERE id = \(id) AND delivered_at IS NULL
            """)
    }

    public func pendingEvents() throws -> Int {
        try connections.query("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").rows.first?.decode(Int.self) ?? 0
    }
}

/// One connection that LISTENs on the queue's channel and calls the handlers on every notification;
/// reconnects with backoff when the server goes away, and calls the handlers once reconnected (jobs may
/// have arrived meanwhile).
final class PostgresListener: @unchecked Sendable {
    private let connections: PostgresConnections
    private let channel: String
    private let logger: Logger
    private let condition = NSCondition()
    private var handlers: [@Sendable () -> Void] = []
    private var stopped = false
    private var current: PostgresConnection?

    init(connections: PostgresConnections, channel: String, logger: Logger) {
        self.connections = connections
        self.channel = channel
        self.logger = logger
    }

    func add(_ handler: @escaping @Sendable () -> Void) {
        condition.lock()
        handlers.append(handler)
        condition.unlock()
    }

    private func notify() {
        condition.lock()
        let all = handlers
        condition.unlock()
        for handler in all { handler() }
    }

    func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "mediaworker.listen"
        thread.start()
    }

    func stop() {
        condition.lock()
        stopped = true
        let connection = current
        condition.broadcast()
        condition.unlock()
        if let connection { let _: EventLoopFuture<Void> = connection.close() }
    }

    private func loop() {
        var delay = 0.1
        var first = true
        while true {
            condition.lock()
            if stopped { condition.unlock(); return }
            condition.unlock()
            do {
                let connection = try connections.connect()
                connection.addListener(channel: channel) { [weak self] _, _ in self?.notify() }
                do {
                    try connection.run(PostgresQuery(unsafeSQL: "LISTEN \"\(channel)\""), logger: logger)
                } catch {
                    try? connection.close().wait()
                    throw error
                }
                condition.lock()
                current = connection
                let stop = stopped
                condition.unlock()
                if stop { try? connection.close().wait(); return }
                if !first { logger.info("listening again for new jobs", metadata: ["channel": "\(channel)"]) }
                first = false
                delay = 0.1
                notify()
                try? connection.closeFuture.wait()
                condition.lock()
                current = nil
                condition.unlock()
                if !connection.isClosed { try? connection.close().wait() }
                logger.warning("lost the LISTEN connection; reconnecting", metadata: ["channel": "\(channel)"])
            } catch {
                logger.warning("cannot LISTEN for new jobs; polling meanwhile",
                               metadata: ["error": "\(error)", "retry_in_s": "\(delay)"])
            }
            condition.lock()
            if !stopped { _ = condition.wait(until: Date().addingTimeInterval(delay)) }
            condition.unlock()
            delay = min(5, delay * 2)
        }
    }
}
