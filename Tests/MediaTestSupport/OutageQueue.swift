import Foundation
import MediaQueue
import Synchronization

/// A queue that is unreachable for a while (a database restarting, a failover): every call throws until `downUntil`,
/// then goes to the real queue. For the fault tests of both backends. Also counts the calls the real queue itself
/// failed (a real outage of its database, made outside: `failures`).
public final class OutageQueue: JobQueue, Sendable {
    public let inner: any JobQueue
    private let state = Mutex<(downUntil: Date?, refused: Int, failures: Int)>((nil, 0, 0))

    public init(_ inner: any JobQueue) { self.inner = inner }

    public var executor: (any TaskExecutor)? { inner.executor }

    /// Makes every call fail for the next `seconds`.
    public func goDown(for seconds: TimeInterval) { state.withLock { $0.downUntil = Date().addingTimeInterval(seconds) } }

    /// Calls refused so far.
    public var refused: Int { state.withLock { $0.refused } }

    /// Calls the real queue threw on so far (its database was away).
    public var failures: Int { state.withLock { $0.failures } }

    public struct Unreachable: Error, CustomStringConvertible {
        public var description: String { "the database does not answer (injected outage)" }
    }

    /// Refuses the call during an injected outage; otherwise runs it on the real queue, counting its failures.
    private func check<T>(_ call: () async throws -> T) async throws -> T {
        try state.withLock { state in
            guard let downUntil = state.downUntil, Date() < downUntil else { return }
            state.refused += 1
            throw Unreachable()
        }
        do { return try await call() } catch {
            state.withLock { $0.failures += 1 }
            throw error
        }
    }

    public func enqueue(_ job: NewJob, id: String, now: Date) async throws -> EnqueueResult { try await check { try await inner.enqueue(job, id: id, now: now) } }
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
    public func hasPostponed(now: Date) async throws -> Bool { try await check { try await inner.hasPostponed(now: now) } }
    public func releasePostponed(now: Date) async throws -> Int { try await check { try await inner.releasePostponed(now: now) } }
    public func erase(_ selector: ErasureSelector, limit: Int, now: Date) async throws -> [String] {
        try await check { try await inner.erase(selector, limit: limit, now: now) }
    }
    public func tombstonesWithBlobs(limit: Int) async throws -> [String] { try await check { try await inner.tombstonesWithBlobs(limit: limit) } }
    public func blobsErased(ids: [String]) async throws { try await check { try await inner.blobsErased(ids: ids) } }
    public func oldestExpiry(_ policy: RetentionPolicy, now: Date) async throws -> Date? {
        try await check { try await inner.oldestExpiry(policy, now: now) }
    }
    public func erasedIDs(since: Date, limit: Int) async throws -> [String] { try await check { try await inner.erasedIDs(since: since, limit: limit) } }
    public func compactAfterErasure() async throws { try await check { try await inner.compactAfterErasure() } }
    public func reclaimErasedSpace(now: Date) async throws -> Bool { try await check { try await inner.reclaimErasedSpace(now: now) } }
    public func withPurgeLock<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await check { try await inner.withPurgeLock(body) }
    }
    public func retry(id: String, now: Date) async throws -> Bool { try await check { try await inner.retry(id: id, now: now) } }
    public func job(id: String) async throws -> Job? { try await check { try await inner.job(id: id) } }
    public func jobs(idempotencyKey: String) async throws -> [Job] { try await check { try await inner.jobs(idempotencyKey: idempotencyKey) } }
    public func jobs(state: JobState?, limit: Int) async throws -> [Job] { try await check { try await inner.jobs(state: state, limit: limit) } }
    public func counts() async throws -> [JobState: Int] { try await check { try await inner.counts() } }
    public func activeCounts() async throws -> [JobState: Int] { try await check { try await inner.activeCounts() } }
}
