import Crypto
import Foundation
import Logging
import MediaDomain
import MediaIntake
import Metrics
import MediaJSON
import MediaPipeline
import MediaQueue
import MediaStore
import Synchronization

/// One claimed job, start to finish: load the original → pipeline → store artifacts → complete.
/// Content problems end as a `rejected` result; anything thrown (I/O, database, libmagic) is retried.
public struct JobProcessor: Sendable {
    /// The sandboxed helper processes in `work` and `serve` (the in-process pipeline in unit tests and benchmarks).
    public let pipeline: any AttachmentProcessor
    public let queue: any JobQueue
    public let store: any BlobStore
    public let retry: RetryPolicy
    /// How long after a job's creation infrastructure failures postpone it without using an attempt
    /// (`MEDIAWORKER_OUTAGE_WINDOW`); past it they count, so a job whose original is gone for good ends `dead`.
    public let outageWindow: Duration
    /// Consecutive infrastructure failures in this process and the jobs they postponed: the postponement backoff grows
    /// with an outage and starts over with the first job that completes, or when the probe finds the outage over.
    private let outage = Outage()

    public init(pipeline: any AttachmentProcessor, queue: any JobQueue, store: any BlobStore, retry: RetryPolicy,
                outageWindow: Duration = .seconds(6 * 3600)) {
        self.pipeline = pipeline
        self.queue = queue
        self.store = store
        self.retry = retry
        self.outageWindow = outageWindow
    }

    /// What happened to a job on this worker.
    public enum Disposition: String, Sendable {
        case completed, retried, postponed, dead, leaseLost = "lease_lost"
    }

    /// Processes `job` (claimed by `worker`) and records the result or the error. Never throws: a queue
    /// that cannot be written to leaves the job for lease rescue.
    @discardableResult
    public func run(_ job: Job, worker: String, logger: Logger) async -> Disposition {
        var log = logger
        log[metadataKey: "job"] = "\(job.id)"
        log[metadataKey: "attempt"] = "\(job.attempts)"
        let clock = ContinuousClock()
        var phases: [(String, Duration)] = []
        func timed<T>(_ name: String, _ body: () async throws -> T) async rethrows -> T {
            let start = clock.now
            defer { phases.append((name, clock.now - start)) }
            return try await body()
        }
        do {
            guard let bytes = try await timed("load", { try await store.get(jobID: job.id, role: ArtifactRole.original.rawValue) }) else {
                throw MissingOriginal(jobID: job.id)
            }
            let facts = job.submission.metadata.facts
            // The codec work (a helper process's round trip, or the in-process pipeline) on a thread of its own.
            let (outcome, timings) = try await CodecThread.run { [pipeline] in
                var timings = AttachmentPipeline.PhaseTimings()
                let outcome = try pipeline.process(bytes, facts: facts, timings: &timings)
                return (outcome, timings)
            }
            phases.append(("sniff", timings.sniff))
            phases.append(("transform", timings.transform))
            let result = try await timed("store") { try await storeArtifacts(of: outcome, jobID: job.id) }
            // The result is kept through a database outage: the write is tried again until it lands (or another
            // worker has taken the job over), instead of letting the lease lapse and the work be lost.
            let held = try await timed("complete") { try await persisting(log) { try await queue.complete(id: job.id, worker: worker, result: result, now: Date()) } }
            outage.reset()
            log.info(held ? "job finished" : "job finished but its lease was taken over; result discarded",
                     metadata: metadata(phases, ["state": "\(result.state.rawValue)"]))
            if held { record(job, outcome: outcome, phases: phases) } else { await removeIfErased(job.id, log) }
            return held ? .completed : .leaseLost
        } catch {
            let message = "\(error)"
            // Infrastructure is not the file's fault (the pipeline's verdicts are outcomes, and a decoder that
            // crashes or hangs ends the job in its helper): the job waits for the outage to end, attempt kept.
            if Date().timeIntervalSince(job.createdAt) < outageWindow.inSeconds {
                let retryAt = retry.backoff(after: outage.increment(), now: Date())
                let held = (try? await persisting(log) { try await queue.postpone(id: job.id, worker: worker, error: message, retryAt: retryAt, now: Date()) }) ?? false
                log.warning("job postponed: the infrastructure failed it (the attempt is not counted)",
                            metadata: metadata(phases, ["error": "\(message)", "retry_at": "\(Job.timestamp(retryAt))"]))
                Counter(label: "mediaworker_jobs_total", dimensions: dimensions(job, kind: "unknown", outcome: "postponed")).increment()
                if !held { await removeIfErased(job.id, log) }
                return held ? .postponed : .leaseLost
            }
            let retryAt = retry.retryAt(afterAttempt: job.attempts, now: Date())
            let held = (try? await persisting(log) { try await queue.fail(id: job.id, worker: worker, error: message, retryAt: retryAt, now: Date()) }) ?? false
            log.warning(retryAt == nil ? "job failed; no attempts left, it is dead" : "job failed; will retry",
                        metadata: metadata(phases, ["error": "\(message)",
                                                    "retry_at": "\(retryAt.map(Job.timestamp) ?? "never")"]))
            Counter(label: "mediaworker_jobs_total", dimensions: dimensions(job, kind: "unknown",
                                                                           outcome: retryAt == nil ? "dead" : "retry")).increment()
            if !held { await removeIfErased(job.id, log) }
            return held ? (retryAt == nil ? .dead : .retried) : .leaseLost
        }
    }

    /// The lease was lost: when the reason is an erasure (the job is a tombstone now), what this worker stored meanwhile
    /// goes too — the eraser may have deleted the job's blobs before those writes landed. Otherwise another worker
    /// holds the job, and its blobs (the same keys) are left alone. A failure here leaves them to `blobs gc` (an erased
    /// job names no blob).
    func removeIfErased(_ id: String, _ log: Logger) async {
        do {
            guard let now = try await queue.job(id: id), now.state == .erased else { return }
            try await store.delete(jobID: id)
            log.notice("job erased while it ran; what it stored is deleted")
        } catch {
            log.warning("job erased while it ran; its blobs are left to `mediaworker blobs gc`", metadata: ["error": "\(error)"])
        }
    }

    /// Runs a queue write, trying it again with backoff (0.1 s doubling to 5 s) for up to `writePatience` while it
    /// throws: the database may be restarting. The last error is thrown when it never lands, or at once when the
    /// worker is shutting its slots down (the job is then left to lease rescue).
    func persisting<T>(_ log: Logger, _ write: () async throws -> T) async throws -> T {
        let end = ContinuousClock.now + Self.writePatience
        var pause: Duration = .milliseconds(100)
        while true {
            do { return try await write() } catch {
                guard ContinuousClock.now + pause < end, !Task.isCancelled else { throw error }
                log.warning("queue write failed; trying again", metadata: ["error": "\(error)", "in_s": "\(pause.inSeconds)"])
                try? await Task.sleep(for: pause)
                pause = min(.seconds(5), pause * 2)
            }
        }
    }

    /// How long a finished job's queue write is retried before the job is left to lease rescue.
    static let writePatience: Duration = .seconds(120)

    /// Writes every artifact but the original (already stored at intake) and builds the job result.
    func storeArtifacts(of outcome: Outcome, jobID: String) async throws -> JobResult {
        let outcomeJSON = outcome.json(location: { _ in nil })
        guard case .accepted(let accepted) = outcome else {
            return JobResult(state: .rejected, outcomeJSON: Self.withoutArtifacts(outcomeJSON), artifacts: [])
        }
        for artifact in accepted.artifacts where artifact.role != .original {
            try await store.put(jobID: jobID, role: artifact.role.rawValue, bytes: artifact.bytes)
        }
        let artifacts = accepted.artifacts.map { a in
            // A strong validator for HTTP caching and If-Range: the first 128 bits of the bytes' SHA-256.
            StoredArtifact(role: a.role, contentType: a.contentType, size: a.bytes.count,
                           etag: Hex.encode(SHA256.hash(data: a.bytes).prefix(16)), width: a.width, height: a.height,
                           durationMs: a.durationMs, sendAs: a.sendAs, pages: a.pages)
        }
        return JobResult(state: .accepted, outcomeJSON: Self.withoutArtifacts(outcomeJSON), artifacts: artifacts)
    }

    /// The job carries artifacts beside the outcome (docs/jobs.md), so the outcome object omits them.
    static func withoutArtifacts(_ json: JSONValue) -> String {
        guard case .object(let members) = json else { return json.serialized() }
        return JSONValue.object(members.filter { $0.0 != "artifacts" }).serialized()
    }

    /// Jobs by channel, business number, kind and outcome (accepted or the rejection code); phase durations.
    private func record(_ job: Job, outcome: Outcome, phases: [(String, Duration)]) {
        let (kind, result): (String, String)
        switch outcome {
        case .accepted(let a): (kind, result) = (a.kind.rawValue, "accepted")
        case .rejected(let r): (kind, result) = ("none", r.reason.rawValue)
        }
        Counter(label: "mediaworker_jobs_total", dimensions: dimensions(job, kind: kind, outcome: result)).increment()
        for (name, d) in phases {
            Timer(label: "mediaworker_phase_duration_seconds", dimensions: [("phase", name)])
                .recordNanoseconds(d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)
        }
    }

    private func dimensions(_ job: Job, kind: String, outcome: String) -> [(String, String)] {
        [("channel", job.submission.channel.rawValue), ("business_number", job.submission.businessNumber ?? "none"),
         ("kind", kind), ("outcome", outcome)]
    }

    private func metadata(_ phases: [(String, Duration)], _ extra: Logger.Metadata) -> Logger.Metadata {
        var m = extra
        for (name, d) in phases {
            m["\(name)_ms"] = "\((d.inMilliseconds * 10).rounded() / 10)"
        }
        return m
    }
}

extension JobProcessor {
    /// Whether this processor postponed a job since the last job that completed or the last release: the worker's
    /// probe then looks without asking the queue first.
    public var outageSuspected: Bool { outage.suspected }

    /// Whether the store reads and writes and the queue answers again: the worker's probe while jobs wait out an
    /// outage. Errors are the probe's answer, not thrown.
    public func infrastructureAnswers() async -> Bool {
        do {
            _ = try await queue.activeCounts()
            try await store.checkWritable()
            return true
        } catch {
            return false
        }
    }

    /// The outage is over: the postponed jobs were made due, and the postponement backoff starts over.
    public func outageEnded() { outage.reset() }
}

/// Consecutive infrastructure failures, shared by the worker's slots.
final class Outage: Sendable {
    private let streak = Mutex(0)

    func increment() -> Int { streak.withLock { $0 += 1; return $0 } }
    func reset() { streak.withLock { $0 = 0 } }
    var suspected: Bool { streak.withLock { $0 > 0 } }
}

/// The original of a queued job is gone from the store (retried: a shared store may be briefly unreachable).
struct MissingOriginal: Error, CustomStringConvertible {
    var jobID: String
    var description: String { "the original of job \(jobID) is missing from the store" }
}
