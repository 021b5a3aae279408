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

    public let database: PostgresDatabase
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
    public init(database: PostgresDatabase, recordsEvents: Bool = false, clock: Clock = .server,
                logger: Logger = Logger(label: "mediaworker.postgres")) async throws {
        self.database = database
        self.clock = clock
        self.recordsEvents = recordsEvents
        self.logger = logger
        channel = "mediaworker_jobs" + (database.location.schema.map { "_" + $0 } ?? "")
        try await PostgresSchema.migrate(database, logger: logger)
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

    private func jobs(_ query: PostgresQuery) async throws -> [Job] {
        try await database.query(query).rows.map(Self.job)
    }

    // MARK: jobs

    /// One upload waiting to be inserted (group commit), with the caller waiting for its result.
    struct PendingEnqueue: Sendable {
        let job: NewJob, id: String, now: Date
        let answer: CheckedContinuation<EnqueueResult, any Error>
    }

    /// Uploads waiting for an INSERT, and whether a caller is leading one.
    private let enqueues = Mutex<(pending: [PendingEnqueue], leading: Bool)>(([], false))
    /// Most uploads one INSERT statement takes (12 parameters each).
    static let enqueueBatchLimit = 500

    /// Group commit: while one caller's INSERT is running, concurrent callers queue up; when it ends, its leader
    /// inserts everything that queued meanwhile in one statement and one commit, until none is left. A lone caller
    /// inserts alone at once. Each caller returns only once its own row is committed.
    public func enqueue(_ new: NewJob, id: String, now: Date) async throws -> EnqueueResult {
        try await withCheckedThrowingContinuation { answer in
            let lead = enqueues.withLock { state in
                state.pending.append(PendingEnqueue(job: new, id: id, now: now, answer: answer))
                if state.leading { return false }
                state.leading = true
                return true
            }
            guard lead else { return }
            Task(executorPreference: ThreadTaskExecutor.queueWork) { [self] in await leadEnqueues() }
        }
    }

    /// Inserts what is waiting, oldest first, batch after batch, until nothing is.
    private func leadEnqueues() async {
        while true {
            let batch = enqueues.withLock { state -> [PendingEnqueue] in
                let batch = Array(state.pending.prefix(Self.enqueueBatchLimit))
                state.pending.removeFirst(batch.count)
                if batch.isEmpty { state.leading = false }
                return batch
            }
            if batch.isEmpty { return }
            for (pending, result) in zip(batch, await insertEach(batch)) { pending.answer.resume(with: result) }
        }
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

    /// One statement: insert every job whose key is new, and wake listening workers (delivered at commit);
    /// the others are looked up by their key. `created_at` is the caller's clock; `run_after` the server's.
    private func insert(_ batch: [PendingEnqueue]) async throws -> [Result<EnqueueResult, any Error>] {
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
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        let rows = try await database.transaction { [logger] in try await $0.run(query, logger: logger).rows }
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
                results.append(.success(existing.submission.contentSHA256 == p.job.contentSHA256 ? .existing(existing) : .conflict(existing)))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }

    public func claim(worker: String, lease: TimeInterval, maxAttempts: Int, now: Date) async throws -> Job? {
        try await claim(worker: worker, limit: 1, lease: lease, maxAttempts: maxAttempts, now: now).first
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
        q.sql += " " + Self.columns
        if recordsEvents {
            try await database.transaction { [self, q] connection in
                for row in try await connection.run(q, logger: logger).rows { try await recordFinal(connection, job: try Self.job(row), now: now) }
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

    public func complete(id: String, worker: String, result: JobResult, now: Date) async throws -> Bool {
        var q: PostgresQuery = """
            UPDATE jobs SET state = \(result.state.rawValue), outcome = \(result.outcomeJSON), artifacts = \(StoredArtifact.columnText(result.artifacts)),
                finished_at = \(now), lease_owner = NULL, lease_expires_at = NULL, last_error = NULL
            WHERE id = \(id) AND state = 'running' AND lease_owner = \(worker)
            RETURNING
            """
        q.sql += " " + Self.columns
        return try await finalUpdate(q, now: now)
    }

    /// All the results in one UPDATE … FROM unnest(…): one round trip and one commit for the batch.
    public func complete(_ results: [String: JobResult], worker: String, now: Date) async throws -> Set<String> {
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
            rows = try await database.transaction { [self, q] connection in
                let rows = try await connection.run(q, logger: logger).rows
                for row in rows { try await recordFinal(connection, job: try Self.job(row), now: now) }
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
        return try await database.transaction { [self, q] connection in
            guard let row = try await connection.run(q, logger: logger).rows.first else { return false }
            try await recordFinal(connection, job: try Self.job(row), now: now)
            return true
        }
    }

    /// `retryAt` is on the caller's clock: the job waits `retryAt − now` by the server's.
    public func fail(id: String, worker: String, error: String, retryAt: Date?, now: Date) async throws -> Bool {
        if let retryAt {
            return try await database.query("""
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
        return try await finalUpdate(q, now: now)
    }

    /// `retryAt` is on the caller's clock: the job waits `retryAt − now` by the server's.
    public func postpone(id: String, worker: String, error: String, retryAt: Date, now: Date) async throws -> Bool {
        try await database.query("""
            UPDATE jobs SET state = 'queued', run_after = \(unescaped: runAfter(retryAt, now: now)), attempts = GREATEST(0, attempts - 1),
                last_error = \(error), lease_owner = NULL, lease_expires_at = NULL
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
        q.sql += " \(Self.columns) FROM jobs WHERE id = $1"
        q.binds.append(id)
        return try await jobs(q).first
    }

    public func jobs(idempotencyKey: String) async throws -> [Job] {
        var q: PostgresQuery = "SELECT"
        q.sql += " \(Self.columns) FROM jobs WHERE idempotency_key = $1"
        q.binds.append(idempotencyKey)
        return try await jobs(q)
    }

    public func jobs(state: JobState?, limit: Int) async throws -> [Job] {
        var q: PostgresQuery = "SELECT"
        q.sql += " \(Self.columns) FROM jobs"
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

    public func onJobsAvailable(_ handler: @escaping @Sendable () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        if let listener {
            listener.add(handler)
        } else {
            let listener = PostgresListener(database: database, channel: channel, logger: logger)
            listener.add(handler)
            listener.start()
            self.listener = listener
        }
    }

    // MARK: outbox

    private func recordFinal(_ connection: PostgresConnection, job: Job, now: Date) async throws {
        let eventID = JobID.make(now: now)
        let payload = MediaJSONEvent.payload(eventID: eventID, job: job, at: now)
        try await connection.run("""
            INSERT INTO outbox (id, job_id, payload, created_at, attempts, next_attempt_at)
            VALUES (\(eventID), \(job.id), \(payload), \(now), 0, \(now))
            """, logger: logger)
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

/// One pooled connection that LISTENs on the queue's channel (PostgresNIO's `listen(on:)`) and calls the handlers on
/// every notification; when the connection is lost it listens again with backoff, and calls the handlers once it
/// does (jobs may have arrived meanwhile).
final class PostgresListener: Sendable {
    private let database: PostgresDatabase
    private let channel: String
    private let logger: Logger
    private let handlers = Mutex<[@Sendable () -> Void]>([])
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(database: PostgresDatabase, channel: String, logger: Logger) {
        self.database = database
        self.channel = channel
        self.logger = logger
    }

    func add(_ handler: @escaping @Sendable () -> Void) {
        handlers.withLock { $0.append(handler) }
    }

    private func notify() {
        for handler in handlers.withLock({ $0 }) { handler() }
    }

    func start() {
        task.withLock { task in
            guard task == nil else { return }
            task = Task(executorPreference: ThreadTaskExecutor.queueWork) { [self] in await loop() }
        }
    }

    func stop() {
        task.withLock { $0?.cancel() }
    }

    private func loop() async {
        var delay = 0.1
        var first = true
        while !Task.isCancelled {
            do {
                let channel = channel
                try await database.client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        if !first { self.logger.info("listening again for new jobs", metadata: ["channel": "\(channel)"]) }
                        first = false
                        delay = 0.1
                        self.notify()
                        for try await _ in notifications { self.notify() }
                    }
                }
                if Task.isCancelled { return }
                logger.warning("lost the LISTEN connection; reconnecting", metadata: ["channel": "\(channel)"])
            } catch {
                if Task.isCancelled { return }
                logger.warning("cannot LISTEN for new jobs; polling meanwhile",
                               metadata: ["error": "\(error)", "retry_in_s": "\(delay)"])
            }
            try? await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
            delay = min(5, delay * 2)
        }
    }
}
