import Foundation
import MediaDomain

/// Exponential backoff with jitter for retryable errors; `dead` after `maxAttempts` claims.
public struct RetryPolicy: Sendable, Equatable {
    /// Claims before a job is dead (`MEDIAWORKER_MAX_ATTEMPTS`).
    public var maxAttempts: Int = 5
    /// Delay after the first failure, seconds (`MEDIAWORKER_RETRY_BASE`).
    public var base: TimeInterval = 1
    /// Longest delay, seconds (`MEDIAWORKER_RETRY_MAX`).
    public var maximum: TimeInterval = 300

    public init(maxAttempts: Int = 5, base: TimeInterval = 1, maximum: TimeInterval = 300) {
        self.maxAttempts = maxAttempts
        self.base = base
        self.maximum = maximum
    }

    /// When to run again after attempt number `attempts` failed, or nil when the job is dead.
    /// The delay doubles each attempt, capped, then scaled by a random factor in [0.5, 1.5).
    public func retryAt(afterAttempt attempts: Int, now: Date) -> Date? {
        guard attempts < maxAttempts else { return nil }
        return backoff(after: attempts, now: now)
    }

    /// The same delay after `failures` consecutive failures, whatever the attempt budget (infrastructure outages).
    public func backoff(after failures: Int, now: Date) -> Date {
        now.addingTimeInterval(Backoff.delay(after: failures, base: base, maximum: maximum))
    }
}
