import Foundation
import MediaQueue

/// A queue that is unreachable for a while (a database restarting, a failover): every call throws until `downUntil`,
/// then goes to the real queue. For the fault tests of both backends. Also counts the calls the real queue itself
/// failed (a real outage of its database, made outside: `failures`).
public final class OutageQueue: JobQueue, @unchecked Sendable {
    public let inner: any JobQueue
    private let lock = NSLock()
    private var downUntil: Date?
    private var refusedCalls = 0
    private var innerFailures = 0

    public init(_ inner: any JobQueue) { self.inner = inner }

    /// Makes every call fail for the next `seconds`.
    public func goDown(for seconds: TimeInterval) { lock.withLock { downUntil = Date().addingTimeInterval(seconds) } }

    /// Calls refused so far.
    public var refused: Int { lock.withLock { refusedCalls } }

    /// Calls the real queue threw on so far (its database was away).
    public var failures: Int { lock.withLock { innerFailures } }

    public struct Unreachable: Error, CustomStringConvertible {
        public var description: String { "the database does not answer (injected outage)" }
    }

    /// Refuses the call during an injected outage; otherwise runs it on the real queue, counting its failures.
    private func check<T>(_ call: () throws -> T) throws -> T {
        try lock.withLock {
            guard let downUntil, Date() < downUntil else { return }
            refusedCalls += 1
            throw Unreachable()
        }
        do { return try call() } catch {
            lock.withLock { innerFailures += 1 }
            throw error
        }
    }

    public func enqueue(_ job: NewJob, id: String, now: Date) throws -> EnqueueResult { try check { try inner.enqueue(job, id: id, now: now) } }
    public func claim(worker: String, lease: TimeInterval, maxAttempts: Int, now: Date) throws -> Job? {
        try check { try inner.claim(worker: worker, lease: lease, maxAttempts: maxAttempts, now: now) }
    }
    public func claim(worker: String, limit: Int, lease: TimeInterval, maxAttempts: Int, now: Date) throws -> [Job] {
        try check { try inner.claim(worker: worker, limit: limit, lease: lease, maxAttempts: maxAttempts, now: now) }
    }
    public func heartbeat(id: String, worker: String, lease: TimeInterval, now: Date) throws -> Bool {
        try check { try inner.heartbeat(id: id, worker: worker, lease: lease, now: now) }
    }
    public func complete(id: String, worker: String, result: JobResult, now: Date) throws -> Bool {
        try check { try inner.complete(id: id, worker: worker, result: result, now: now) }
    }
    public func fail(id: String, worker: String, error: String, retryAt: Date?, now: Date) throws -> Bool {
        try check { try inner.fail(id: id, worker: worker, error: error, retryAt: retryAt, now: now) }
    }
    public func postpone(id: String, worker: String, error: String, retryAt: Date, now: Date) throws -> Bool {
        try check { try inner.postpone(id: id, worker: worker, error: error, retryAt: retryAt, now: now) }
    }
    public func release(id: String, worker: String, now: Date) throws -> Bool { try check { try inner.release(id: id, worker: worker, now: now) } }
    public func retry(id: String, now: Date) throws -> Bool { try check { try inner.retry(id: id, now: now) } }
    public func job(id: String) throws -> Job? { try check { try inner.job(id: id) } }
    public func jobs(idempotencyKey: String) throws -> [Job] { try check { try inner.jobs(idempotencyKey: idempotencyKey) } }
    public func jobs(state: JobState?, limit: Int) throws -> [Job] { try check { try inner.jobs(state: state, limit: limit) } }
    public func counts() throws -> [JobState: Int] { try check { try inner.counts() } }
    public func activeCounts() throws -> [JobState: Int] { try check { try inner.activeCounts() } }
}
