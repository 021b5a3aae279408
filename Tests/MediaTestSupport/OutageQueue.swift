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

    public var executor: ThreadTaskExecutor { inner.executor }

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
    private func check<T>(_ call: () async throws -> T) async throws -> T {
        try lock.withLock {
            guard let downUntil, Date() < downUntil else { return }
            refusedCalls += 1
            throw Unreachable()
        }
        do { return try await call() } catch {
            lock.withLock { innerFailures += 1 }
            throw error
        }
    }

    public func enqueue(_ job: NewJob, id: String, now: Date) async throws -> EnqueueResult { try await check { try await inner.enqueue(job, id: id, now: now) } }
    public func claim(worker: String, lease: TimeInterval, maxAttempts: Int, now: Date) async throws -> Job? {
        try await check { try await inner.claim(worker: worker, lease: lease, maxAttempts: maxAttempts, now: now) }
    }
    public func claim(worker: String, limit: Int, lease: TimeInterval, maxAttempts: Int, now: Date) async throws -> [Job] {
        try await check { try await inner.claim(worker: worker, limit: limit, lease: lease, maxAttempts: maxAttempts, now: now) }
    }
    public func heartbeat(id: String, worker: String, lease: TimeInterval, now: Date) async throws -> Bool {
        try await check { try await inner.heartbeat(id: id, worker: worker, lease: lease, now: now) }
    }
    public func complete(id: String, worker: String, result: JobResult, now: Date) async throws -> Bool {
        try await check { try await inner.complete(id: id, worker: worker, result: result, now: now) }
    }
    public func fail(id: String, worker: String, error: String, retryAt: Date?, now: Date) async throws -> Bool {
        try await check { try await inner.fail(id: id, worker: worker, error: error, retryAt: retryAt, now: now) }
    }
    public func postpone(id: String, worker: String, error: String, retryAt: Date, now: Date) async throws -> Bool {
        try await check { try await inner.postpone(id: id, worker: worker, error: error, retryAt: retryAt, now: now) }
    }
    public func release(id: String, worker: String, now: Date) async throws -> Bool { try await check { try await inner.release(id: id, worker: worker, now: now) } }
    public func retry(id: String, now: Date) async throws -> Bool { try await check { try await inner.retry(id: id, now: now) } }
    public func job(id: String) async throws -> Job? { try await check { try await inner.job(id: id) } }
    public func jobs(idempotencyKey: String) async throws -> [Job] { try await check { try await inner.jobs(idempotencyKey: idempotencyKey) } }
    public func jobs(state: JobState?, limit: Int) async throws -> [Job] { try await check { try await inner.jobs(state: state, limit: limit) } }
    public func complete(_ results: [String: JobResult], worker: String, now: Date) async throws -> Set<String> {
        try await check { try await inner.complete(results, worker: worker, now: now) }
    }
    public func counts() async throws -> [JobState: Int] { try await check { try await inner.counts() } }
    public func activeCounts() async throws -> [JobState: Int] { try await check { try await inner.activeCounts() } }
}
