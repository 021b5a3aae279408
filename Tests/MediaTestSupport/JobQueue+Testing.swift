import Foundation
import MediaQueue

extension JobQueue {
    /// The next runnable job for `worker`, or nil: the batch claim with a limit of 1 (tests claim one job at a time).
    public func claim(worker: String, lease: TimeInterval, maxAttempts: Int, now: Date) async throws -> Job? {
        try await claim(worker: worker, limit: 1, lease: lease, maxAttempts: maxAttempts, now: now).first
    }

    /// Completes every job of `results` at once, as a worker's slots do (concurrent `complete` calls, which PostgreSQL
    /// groups into one statement); the ids whose lease `worker` still held.
    public func complete(_ results: [String: JobResult], worker: String, now: Date) async throws -> Set<String> {
        try await withThrowingTaskGroup(of: (String, Bool).self) { group in
            for (id, result) in results {
                group.addTask { (id, try await complete(id: id, worker: worker, result: result, now: now)) }
            }
            var held = Set<String>()
            for try await (id, ok) in group where ok { held.insert(id) }
            return held
        }
    }
}
