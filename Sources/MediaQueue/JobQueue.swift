import Foundation

/// The queue contract, apart from any database: `SQLiteJobQueue` (MediaSQLite, the embedded default) and
/// `PostgresJobQueue` (MediaPostgres) implement it, and the same tests run against both.
///
/// Rules every driver keeps:
/// - claiming is atomic and counts the attempt; a claim takes a lease that expires unless renewed;
/// - a job whose lease expired is claimable again by any worker (its worker died);
/// - heartbeat, complete, fail, postpone and release succeed only for the owner still holding the lease (the
///   `worker` string the claim was made with, returned as `Job.leaseOwner`), so a worker whose lease was taken over
///   cannot overwrite the new owner's result. The Worker claims as `ID#n`, a new owner per claim: a lease is fenced
///   per claim, and a slot cannot complete a job that another claim of the same process has taken since;
/// - an idempotency key maps to one job forever (same bytes → that job; other bytes → conflict).
///
/// Clocks: `now` is the caller's clock. It records when things happened (created, started, finished), and a
/// `retryAt` is read relative to it (the job waits `retryAt − now`). Whether a lease is live and whether a job is due
/// are decided by the driver's scheduling clock: the caller's `now` on SQLite (one machine, one clock), the database
/// server's clock on PostgreSQL (workers on several machines share it, whatever their own clocks say).
public protocol JobQueue: JobErasure {
    /// Adds a job, or finds the one its idempotency key already names.
    func enqueue(_ job: NewJob, id: String, now: Date) async throws -> EnqueueResult

    /// Claims up to `limit` runnable jobs for `worker` at once, in one transaction (a worker with several free
    /// slots), each with a lease of `lease` seconds; empty when none is due. Expired leases come first; a job found
    /// with an expired lease after `maxAttempts` claims is declared dead instead.
    func claim(worker: String, limit: Int, lease: TimeInterval, maxAttempts: Int, now: Date) async throws -> [Job]

    /// Extends the lease; false when `worker` no longer holds it.
    func heartbeat(id: String, worker: String, lease: TimeInterval, now: Date) async throws -> Bool

    /// Records the final result; false when `worker` no longer holds the lease (nothing is changed). Drivers may
    /// group concurrent calls into one statement (PostgreSQL does); each caller still gets its own answer once its
    /// row is committed.
    func complete(id: String, worker: String, result: JobResult, now: Date) async throws -> Bool

    /// Records a retryable error: back to `queued` after `retryAt`, or `dead` when `retryAt` is nil.
    func fail(id: String, worker: String, error: String, retryAt: Date?, now: Date) async throws -> Bool

    /// Puts a claimed job back because the infrastructure failed it (store, database, helpers), not its content:
    /// queued again after `retryAt`, with `error` as its last error and the attempt counted at claim given back, and
    /// marked as waiting for the outage to end (`releasePostponed`).
    func postpone(id: String, worker: String, error: String, retryAt: Date, now: Date) async throws -> Bool

    /// Whether a job postponed by an outage is waiting for its time (not yet released by `releasePostponed`):
    /// one indexed lookup, cheap enough for every worker to ask every second.
    func hasPostponed(now: Date) async throws -> Bool

    /// The outage is over: every job postponed for it and still waiting is due now (other workers woken where the
    /// queue can tell them); answers how many. A job is released this way at most `JobQueueLimits.maxReleases` times:
    /// postponed again after that, it waits its own backoff (a job whose failure is its own, such as a lost original,
    /// cannot spin at the probe's pace for the whole outage window).
    func releasePostponed(now: Date) async throws -> Int

    /// Gives a claimed job back untouched (graceful shutdown): queued again, claimable at once.
    func release(id: String, worker: String, now: Date) async throws -> Bool

    /// Re-queues a dead job on purpose, with a fresh attempt budget. False unless the job is dead.
    func retry(id: String, now: Date) async throws -> Bool

    func job(id: String) async throws -> Job?
    /// The job an idempotency key names (zero or one).
    func jobs(idempotencyKey: String) async throws -> [Job]
    func jobs(state: JobState?, limit: Int) async throws -> [Job]
    /// Jobs in every state: reads the whole table (tests, benchmarks, the CLI); not for per-request use.
    func counts() async throws -> [JobState: Int]
    /// Jobs `queued`, `running` and `dead`, each counted from an index: cheap however many jobs are final
    /// (`/readyz`, `/metrics`).
    func activeCounts() async throws -> [JobState: Int]

    /// Asks to be told when another process may have made a job claimable (PostgreSQL: LISTEN/NOTIFY).
    /// Drivers without such a signal never call `handler`; workers then find jobs by polling.
    func onJobsAvailable(_ handler: @escaping @Sendable () -> Void)

    /// Where callers should run to call this queue without a thread hop, or nil (calls suspend; run anywhere).
    /// SQLite's calls block the thread they run on, so its driver runs them on threads of its own
    /// (`BlockingCallExecutor.sqlite`), and a caller already there — the worker's claim loop, heartbeat and jobs —
    /// takes no hop. PostgreSQL: nil.
    var executor: (any TaskExecutor)? { get }
}

extension JobQueue {
    public func onJobsAvailable(_ handler: @escaping @Sendable () -> Void) {}

    public var executor: (any TaskExecutor)? { nil }
}

/// Limits every queue driver keeps.
public enum JobQueueLimits {
    /// Times the end of an outage may release one job early (`JobQueue.releasePostponed`): enough for the outages
    /// of a job's life and the moments after one where part of a store still fails, few enough that a job failing
    /// for its own reason does not spin.
    public static let maxReleases = 5
}
