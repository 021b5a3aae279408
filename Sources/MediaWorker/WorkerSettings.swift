import Foundation
import MediaDomain
import MediaQueue

/// How the queue worker runs, from `MEDIAWORKER_*` variables (defaults in docs/configuration.md).
public struct WorkerSettings: Sendable, Equatable {
    /// Jobs processed at once (`MEDIAWORKER_WORKERS`, default: the number of cores); 0 makes `serve` an
    /// API-only process when workers run elsewhere.
    public var concurrency: Int = ProcessInfo.processInfo.activeProcessorCount
    /// How long a claim lasts without a heartbeat (`MEDIAWORKER_LEASE`); a dead worker's jobs are reclaimed this
    /// long after it stopped renewing them.
    public var lease: Duration = .seconds(30)
    /// Longest wait between polls of an empty queue (`MEDIAWORKER_POLL_MAX`).
    public var pollMax: Duration = .milliseconds(500)
    /// How long in-flight jobs may take to finish after SIGTERM before they are released (`MEDIAWORKER_GRACE`).
    public var grace: Duration = .seconds(20)
    /// How long after its claim a job's lease stops being renewed (nil: renewed while it runs). Set from the helper
    /// pool's bound (`SandboxedPipeline.jobDeadline`): a job still running past it is stuck, and its lease is left
    /// to expire so the queue can rescue it.
    public var jobDeadline: Duration? = nil
    /// How long after a job's creation infrastructure failures (store, database, helpers) postpone it without
    /// using an attempt (`MEDIAWORKER_OUTAGE_WINDOW`, default 6 hours).
    public var outageWindow: Duration = .seconds(6 * 3600)
    /// While jobs wait out an outage, how often the worker checks whether the store and the queue answer again, to
    /// release those jobs at once (`MEDIAWORKER_OUTAGE_PROBE`, default 1 s).
    public var outageProbe: Duration = .seconds(1)
    /// Retries and backoff (`MEDIAWORKER_MAX_ATTEMPTS`, `MEDIAWORKER_RETRY_BASE`, `MEDIAWORKER_RETRY_MAX`).
    public var retry = RetryPolicy()

    public init() {}

    public init(environment: [String: String]) throws {
        self.init()
        let env = Settings(environment: environment)
        if let v = try env.int("MEDIAWORKER_WORKERS", 0...256) { concurrency = v }
        if let v = try env.duration("MEDIAWORKER_LEASE", 0.5...86_400) { lease = v }
        if let v = try env.duration("MEDIAWORKER_POLL_MAX", 0.001...60) { pollMax = v }
        if let v = try env.duration("MEDIAWORKER_GRACE", 0...3600) { grace = v }
        if let v = try env.duration("MEDIAWORKER_OUTAGE_WINDOW", 0...(30 * 86_400)) { outageWindow = v }
        if let v = try env.duration("MEDIAWORKER_OUTAGE_PROBE", 0.01...3600) { outageProbe = v }
        if let v = try env.int("MEDIAWORKER_MAX_ATTEMPTS", 1...100) { retry.maxAttempts = v }
        if let v = try env.seconds("MEDIAWORKER_RETRY_BASE", 0.001...3600) { retry.base = v }
        if let v = try env.seconds("MEDIAWORKER_RETRY_MAX", 0.001...86_400) { retry.maximum = v }
    }
}
