import Foundation
import Logging
import MediaDomain
import MediaIntake
import MediaQueue
import MediaServer
import MediaStore
import Metrics
import ServiceLifecycle

/// How long jobs are kept and how the purge runs, from `MEDIAWORKER_*` variables (docs/erasure.md).
public struct RetentionSettings: Sendable, Equatable {
    /// `MEDIAWORKER_RETENTION` and `MEDIAWORKER_RETENTION_BY_NUMBER` (default: every job kept).
    public var policy = RetentionPolicy()
    /// How often the purge looks for expired jobs (`MEDIAWORKER_PURGE_INTERVAL`).
    public var interval: Duration = .seconds(60)
    /// Jobs erased per transaction by the purge (`MEDIAWORKER_PURGE_BATCH`): small, so an upload never waits long
    /// behind one.
    public var batch = 100
    /// Rest between two of the purge's batches (`MEDIAWORKER_PURGE_PAUSE`): the database's time left to uploads.
    public var pause: Duration = .milliseconds(50)

    public init() {}

    public init(environment: [String: String]) throws {
        self.init()
        let env = Settings(environment: environment)
        let expected = "a period such as 30d, 12h, 90m or 3600s (or keep)"
        if let period = try env.parsed("MEDIAWORKER_RETENTION", expected: expected, Self.period) { policy.period = period }
        for item in env.list("MEDIAWORKER_RETENTION_BY_NUMBER") {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, UploadParameters.isE164(parts[0]), let period = Self.period(parts[1]) else {
                throw SettingsError(key: "MEDIAWORKER_RETENTION_BY_NUMBER", value: item,
                                    expected: "NUMBER=PERIOD pairs such as +33100000000=90d,+34600000000=keep, comma-separated")
            }
            // `keep` for one number: the default does not apply to it.
            if let period { policy.byNumber[parts[0]] = period } else { policy.kept.insert(parts[0]) }
        }
        if let v = try env.duration("MEDIAWORKER_PURGE_INTERVAL", 0.01...86_400) { interval = v }
        if let v = try env.int("MEDIAWORKER_PURGE_BATCH", 1...10_000) { batch = v }
        if let v = try env.duration("MEDIAWORKER_PURGE_PAUSE", 0...60) { pause = v }
    }

    /// `30d`, `12h`, `90m`, `3600s` or `3600` → the span; `keep` → .some(nil); anything else → nil.
    static func period(_ text: String) -> Duration?? {
        let t = text.lowercased()
        if t == "keep" { return .some(nil) }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400]
        var number = Substring(t), scale = 1.0
        if let last = t.last, let unit = units[last] { number = t.dropLast(); scale = unit }
        guard let value = Double(number), value.isFinite, value > 0, value * scale < 100 * 365 * 86_400 else { return nil }
        return .some(.seconds(value * scale))
    }
}

/// The retention purge (`serve` and `work`): every `interval`, under the queue's purge lock (one process of a
/// deployment at a time), it finishes erasures a crash cut short, then erases the jobs past their retention period in
/// small batches with a rest between them. Killed at any point, the next round carries on: tombstones are written
/// before blobs are deleted, and a tombstone keeps saying its blobs may exist until they are gone. It only ever
/// deletes blobs of the jobs it has just made tombstones.
public struct RetentionPurge: Service {
    public let eraser: JobEraser
    public let settings: RetentionSettings
    /// The clock of retention cutoffs (tests step it).
    public let now: @Sendable () -> Date
    let logger: Logger

    public init(queue: any JobQueue, store: any BlobStore, settings: RetentionSettings,
                onErased: @escaping @Sendable ([String]) -> Void = { _ in },
                now: @escaping @Sendable () -> Date = { Date() }, logger: Logger = Logger(label: "mediaworker.retention")) {
        self.eraser = JobEraser(queue: queue, store: store, batch: settings.batch, onErased: onErased)
        self.settings = settings
        self.now = now
        self.logger = logger
    }

    public func run() async throws {
        if !settings.policy.isEmpty {
            logger.info("retention purge on", metadata: ["retention": "\(settings.policy.period.map { "\($0.inSeconds) s" } ?? "keep")",
                                                         "numbers": "\(settings.policy.byNumber.count)"])
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                _ = await self.round()
                try? await Task.sleep(for: self.settings.interval)
            }
        }
    }

    /// What one round did.
    public struct Round: Sendable, Equatable {
        /// Jobs erased for retention.
        public var erased = 0
        /// Tombstones whose blobs an earlier, interrupted erasure had left.
        public var finished = 0
        /// Another process held the purge lock.
        public var skipped = false
        /// The database's files were rewritten without the stale copies erasures leave (SQLite's VACUUM).
        public var reclaimed = false

        public init(erased: Int = 0, finished: Int = 0, skipped: Bool = false, reclaimed: Bool = false) {
            self.erased = erased
            self.finished = finished
            self.skipped = skipped
            self.reclaimed = reclaimed
        }
    }

    /// One round: the gauge, then (under the lock) the interrupted erasures and the expired jobs. Errors are logged;
    /// the next round tries again.
    @discardableResult
    public func round() async -> Round {
        let (eraser, policy, now, pause) = (eraser, settings.policy, now, settings.pause)
        if !policy.isEmpty {
            // Every process records it, so whichever one `/metrics` is scraped from knows.
            let expiry = try? await eraser.queue.oldestExpiry(policy, now: now())
            Gauge(label: "mediaworker_retention_overdue_seconds").record(max(0, expiry.map { now().timeIntervalSince($0) } ?? 0))
        }
        do {
            let done = try await eraser.queue.withPurgeLock { () -> Round in
                var round = Round()
                round.finished = try await eraser.finishInterrupted()
                if !policy.isEmpty {
                    round.erased = try await eraser.erase(.expired(policy), now: now, pause: pause, compactEachBatch: false)
                    if round.erased > 0 { await eraser.compact() }
                }
                round.reclaimed = try await eraser.queue.reclaimErasedSpace(now: now())
                return round
            }
            guard let done else { return Round(skipped: true) }
            if done.erased > 0 || done.finished > 0 || done.reclaimed {
                logger.notice("retention purge", metadata: ["erased": "\(done.erased)", "interrupted_finished": "\(done.finished)",
                                                            "database_rewritten": "\(done.reclaimed)"])
                if !policy.isEmpty { Gauge(label: "mediaworker_retention_overdue_seconds").record(0) }
            }
            return done
        } catch {
            logger.warning("retention purge failed; the next round carries on", metadata: ["error": "\(error)"])
            return Round()
        }
    }
}
