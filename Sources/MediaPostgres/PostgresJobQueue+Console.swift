import Foundation
import MediaQueue
import PostgresNIO

/// The console's reads on PostgreSQL (`ConsoleQueries`), each from an index of migration `v5-console-indexes`.
extension PostgresJobQueue: ConsoleQueries {
    /// The outcome's `reason` and `kind`, as the expression indexes store them. A function that gives NULL for a
    /// malformed outcome instead of failing, so an odd row can never make a completion fail. Queries spell them the
    /// same way, so the planner uses the indexes.
    static let reasonExpression = "mediaworker_outcome_field(outcome, 'reason')"
    static let kindExpression = "mediaworker_outcome_field(outcome, 'kind')"

    static let consoleIndexes: [String] = [
        """
        CREATE FUNCTION mediaworker_outcome_field(outcome text, field text) RETURNS text
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
        BEGIN
            RETURN outcome::jsonb ->> field;
        EXCEPTION WHEN others THEN
            RETURN NULL;
        END
        $$
        """,
        // Final jobs by time, with what the overview reads (index-only once the visibility map is set).
        "CREATE INDEX jobs_finished ON jobs (finished_at) INCLUDE (state, created_at) WHERE finished_at IS NOT NULL",
        "CREATE INDEX jobs_refusals ON jobs (finished_at) WHERE state = 'rejected'",
        "CREATE INDEX jobs_reason ON jobs ((\(reasonExpression)), id) WHERE state = 'rejected'",
        "CREATE INDEX jobs_kind ON jobs ((\(kindExpression)), id) WHERE outcome IS NOT NULL",
        "CREATE INDEX jobs_business ON jobs (business_number, id)",
        "CREATE INDEX jobs_conversation ON jobs (conversation_id, id)",
        "CREATE INDEX jobs_rejected ON jobs (id) WHERE state = 'rejected'",
    ]

    public func finishedJobs(since: Date) async throws -> [FinishedJob] {
        try await database.query("""
            SELECT state, created_at, finished_at FROM jobs WHERE finished_at >= \(since)
            """).rows.compactMap { row in
            let (name, created, finished) = try row.decode((String, Date, Date).self)
            return JobState(rawValue: name).map { FinishedJob(state: $0, createdAt: created, finishedAt: finished) }
        }
    }

    public func finishedCounts(since: Date, slot: TimeInterval) async throws -> [Int: [JobState: Int]] {
        // One index-only count per slot (no per-row grouping): slots from `since` to the last final job.
        var out: [Int: [JobState: Int]] = [:]
        for row in try await database.query("""
            WITH bounds AS (SELECT max(finished_at) AS last FROM jobs WHERE finished_at >= \(since))
            SELECT s, c.a, c.r, c.d
            FROM bounds, generate_series(0, COALESCE(floor(date_part('epoch', bounds.last - \(since)) / \(slot))::int8, -1)) AS s,
            LATERAL (SELECT count(*) FILTER (WHERE state = 'accepted') AS a, count(*) FILTER (WHERE state = 'rejected') AS r,
                            count(*) FILTER (WHERE state = 'dead') AS d
                     FROM jobs WHERE finished_at >= \(since) + s * \(slot) * interval '1 second'
                                 AND finished_at < \(since) + (s + 1) * \(slot) * interval '1 second') AS c
            WHERE c.a + c.r + c.d > 0
            """).rows {
            let (slot, a, r, d) = try row.decode((Int, Int, Int, Int).self)
            out[slot] = [.accepted: a, .rejected: r, .dead: d].filter { $0.value > 0 }
        }
        return out
    }

    public func refusals(since: Date) async throws -> [String: Int] {
        var out: [String: Int] = [:]
        // The rows come from `jobs_refusals`; their code is read as json (cheaper than the index's safe function, a
        // subtransaction per row): a rejected job's outcome is always this service's own JSON.
        for row in try await database.query("""
            SELECT outcome::json ->> 'reason', count(*) FROM jobs
            WHERE state = 'rejected' AND finished_at >= \(since) GROUP BY 1
            """).rows {
            let (reason, n) = try row.decode((String?, Int).self)
            out[reason ?? "unknown", default: 0] += n
        }
        return out
    }

    public func oldestDueSince() async throws -> Date? {
        try await database.query("SELECT run_after FROM jobs WHERE state = 'queued' ORDER BY run_after LIMIT 1")
            .rows.first?.decode(Date.self)
    }

    /// The query for `filter`: states as literals (so the planner can prove the partial indexes' conditions), the
    /// values as binds, newest first.
    private func filtered(_ select: String, _ filter: JobFilter, state: JobState?, before: String?, limit: Int) -> PostgresQuery {
        var q = PostgresQuery(unsafeSQL: select)
        var parts: [String] = []
        func bind(_ value: String) -> String {
            q.binds.append(value)
            return "$\(q.binds.count)"
        }
        if let before { parts.append("id < \(bind(before))") }
        if let state { parts.append("state = '\(state.rawValue)'") }
        if let kind = filter.kind { parts.append("\(Self.kindExpression) = \(bind(kind)) AND outcome IS NOT NULL") }
        if let reason = filter.reason {
            parts.append("\(Self.reasonExpression) = \(bind(reason))")
            if state == nil { parts.append("state = 'rejected'") }
        }
        if let business = filter.businessNumber { parts.append("business_number = \(bind(business))") }
        if let conversation = filter.conversationId { parts.append("conversation_id = \(bind(conversation))") }
        if !parts.isEmpty { q.sql += " WHERE " + parts.joined(separator: " AND ") }
        q.binds.append(limit)
        q.sql += " ORDER BY id DESC LIMIT $\(q.binds.count)"
        return q
    }

    public func jobs(matching filter: JobFilter, before: String?, limit: Int) async throws -> [Job] {
        if filter.reason != nil, let state = filter.state, state != .rejected { return [] }  // only rejected jobs have a reason
        return try await database.query(filtered("SELECT \(JobColumn.all) FROM jobs", filter, state: filter.state, before: before,
                                              limit: limit)).rows.map(Self.job)
    }

    public func deadJobIDs(matching filter: JobFilter, limit: Int) async throws -> [String] {
        if filter.reason != nil { return [] }
        return try await database.query(filtered("SELECT id FROM jobs", filter, state: .dead, before: nil, limit: limit))
            .rows.map { try $0.decode(String.self) }
    }
}
