import Foundation

/// Which jobs an operator looks at in the console (`/console/jobs`): every field is optional, all given ones must match.
public struct JobFilter: Sendable, Equatable {
    public var state: JobState?
    /// The outcome's `kind` (`image`, `document`, `voice_note`, `animation`, `sticker`): final jobs only.
    public var kind: String?
    /// The outcome's `reason` of a rejected job (`unsupported_type`, `too_large`, …).
    public var reason: String?
    public var businessNumber: String?
    public var conversationId: String?

    public init(state: JobState? = nil, kind: String? = nil, reason: String? = nil, businessNumber: String? = nil,
                conversationId: String? = nil) {
        self.state = state
        self.kind = kind
        self.reason = reason
        self.businessNumber = businessNumber
        self.conversationId = conversationId
    }

    public var isEmpty: Bool { self == JobFilter() }
}

/// One final job as the overview reads it: when it was submitted, when it ended, how.
public struct FinishedJob: Sendable, Equatable {
    public var state: JobState
    public var createdAt: Date
    public var finishedAt: Date

    public init(state: JobState, createdAt: Date, finishedAt: Date) {
        self.state = state
        self.createdAt = createdAt
        self.finishedAt = finishedAt
    }
}

/// Final jobs in one time slot of the overview's charts.
public struct FinishedBucket: Sendable, Equatable {
    public var start: Date
    public var accepted = 0
    public var rejected = 0
    public var dead = 0

    public init(start: Date, accepted: Int = 0, rejected: Int = 0, dead: Int = 0) {
        self.start = start
        self.accepted = accepted
        self.rejected = rejected
        self.dead = dead
    }
}

/// What the console's read side needs from a queue driver, beyond `JobQueue`. Every method answers from indexes
/// (no scan of the final jobs, however many): the active states from their indexes, the recent past from an index
/// on `finished_at`, rejection codes and kinds from expression indexes on the outcome, listings newest first by
/// keyset on the (time-ordered) id.
public protocol ConsoleQueries: Sendable {
    /// Jobs that reached a final state at or after `since` (the last hour: a few thousand rows at most).
    func finishedJobs(since: Date) async throws -> [FinishedJob]
    /// Final jobs at or after `since`, counted per slot of `slot` seconds from `since` (slot index → state → count).
    func finishedCounts(since: Date, slot: TimeInterval) async throws -> [Int: [JobState: Int]]
    /// Rejections at or after `since`, by the outcome's `reason`.
    func refusals(since: Date) async throws -> [String: Int]
    /// Since when the longest-waiting queued job has been due (its `run_after`); nil when none is queued.
    func oldestDueSince() async throws -> Date?
    /// Up to `limit` jobs matching `filter`, newest first, older than the job `before` (keyset paging) when given.
    func jobs(matching filter: JobFilter, before: String?, limit: Int) async throws -> [Job]
    /// Dead jobs matching `filter` (the filter's own state is ignored), up to `limit`.
    func deadJobIDs(matching filter: JobFilter, limit: Int) async throws -> [String]
}

/// The console's overview, assembled from `ConsoleQueries` (driver-independent).
public struct QueueOverview: Sendable {
    public var now: Date
    /// queued, running, dead now.
    public var active: [JobState: Int]
    /// 60 one-minute slots, oldest first, ending at the current minute.
    public var lastHour: [FinishedBucket]
    /// 24 one-hour slots, oldest first.
    public var lastDay: [FinishedBucket]
    public var refusalsHour: [(code: String, count: Int)]
    public var refusalsDay: [(code: String, count: Int)]
    /// Seconds from submission to final state of the jobs finished in the last hour.
    public var medianToFinal: Double?
    public var p95ToFinal: Double?
    /// Seconds the longest-waiting queued job has been due.
    public var queueLatency: Double?
    public var outboxPending: Int

    public var acceptedHour: Int { lastHour.reduce(0) { $0 + $1.accepted } }
    public var rejectedHour: Int { lastHour.reduce(0) { $0 + $1.rejected } }
    public var deadHour: Int { lastHour.reduce(0) { $0 + $1.dead } }
    public var acceptedDay: Int { lastDay.reduce(0) { $0 + $1.accepted } }
    public var rejectedDay: Int { lastDay.reduce(0) { $0 + $1.rejected } }

    public static func read(_ queue: any JobQueue & EventOutbox & ConsoleQueries, now: Date = Date()) async throws -> QueueOverview {
        let t = now.timeIntervalSince1970
        let hourStart = Date(timeIntervalSince1970: (t / 60).rounded(.down) * 60 - 59 * 60)
        let dayStart = Date(timeIntervalSince1970: (t / 3600).rounded(.down) * 3600 - 23 * 3600)
        let recent = try await queue.finishedJobs(since: hourStart)
        var hour = (0..<60).map { FinishedBucket(start: hourStart.addingTimeInterval(Double($0) * 60)) }
        var spans: [Double] = []
        for job in recent {
            let i = Int(job.finishedAt.timeIntervalSince(hourStart) / 60)
            guard hour.indices.contains(i) else { continue }
            switch job.state {
            case .accepted: hour[i].accepted += 1
            case .rejected: hour[i].rejected += 1
            case .dead: hour[i].dead += 1
            default: continue
            }
            spans.append(max(0, job.finishedAt.timeIntervalSince(job.createdAt)))
        }
        spans.sort()
        func quantile(_ q: Double) -> Double? {
            // Nearest rank.
            spans.isEmpty ? nil : spans[min(spans.count - 1, max(0, Int((q * Double(spans.count)).rounded(.up)) - 1))]
        }
        var day = (0..<24).map { FinishedBucket(start: dayStart.addingTimeInterval(Double($0) * 3600)) }
        for (slot, counts) in try await queue.finishedCounts(since: dayStart, slot: 3600) where day.indices.contains(slot) {
            day[slot].accepted = counts[.accepted] ?? 0
            day[slot].rejected = counts[.rejected] ?? 0
            day[slot].dead = counts[.dead] ?? 0
        }
        func sorted(_ d: [String: Int]) -> [(code: String, count: Int)] {
            d.map { (code: $0.key, count: $0.value) }.sorted { $0.count != $1.count ? $0.count > $1.count : $0.code < $1.code }
        }
        return QueueOverview(
            now: now, active: try await queue.activeCounts(), lastHour: hour, lastDay: day,
            refusalsHour: sorted(try await queue.refusals(since: hourStart)), refusalsDay: sorted(try await queue.refusals(since: dayStart)),
            medianToFinal: quantile(0.5), p95ToFinal: quantile(0.95),
            queueLatency: try await queue.oldestDueSince().map { max(0, now.timeIntervalSince($0)) },
            outboxPending: try await queue.pendingEvents())
    }
}
