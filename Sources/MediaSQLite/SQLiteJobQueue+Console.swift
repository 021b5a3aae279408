import Foundation
import GRDB
import MediaQueue

/// The console's reads on SQLite (`ConsoleQueries`), each from an index of migration `v3-console-indexes`.
extension SQLiteJobQueue: ConsoleQueries {
    /// The outcome's `reason` and `kind`, as the expression indexes store them (NULL for a malformed outcome, so an
    /// odd row can never make a completion fail). Queries must spell them exactly so for SQLite to use the indexes.
    static let reasonExpression = "(CASE WHEN json_valid(outcome) THEN json_extract(outcome, '$.reason') END)"
    static let kindExpression = "(CASE WHEN json_valid(outcome) THEN json_extract(outcome, '$.kind') END)"

    static let consoleIndexes = """
        CREATE INDEX jobs_finished ON jobs(finished_at, state, created_at);
        CREATE INDEX jobs_refusals ON jobs(finished_at, \(reasonExpression)) WHERE state = 'rejected';
        CREATE INDEX jobs_reason ON jobs(\(reasonExpression), id) WHERE state = 'rejected';
        CREATE INDEX jobs_kind ON jobs(\(kindExpression), id) WHERE outcome IS NOT NULL;
        CREATE INDEX jobs_business ON jobs(business_number, id);
        CREATE INDEX jobs_conversation ON jobs(conversation_id, id);
        CREATE INDEX jobs_rejected_id ON jobs(id) WHERE state = 'rejected';
        CREATE INDEX jobs_dead_id ON jobs(id) WHERE state = 'dead';
        """

    public func finishedJobs(since: Date) async throws -> [FinishedJob] {
        try await read { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT state, created_at, finished_at FROM jobs INDEXED BY jobs_finished WHERE finished_at >= ?
                """), arguments: [since.timeIntervalSince1970]).compactMap { row in
                guard let state = JobState(rawValue: row[0]) else { return nil }
                return FinishedJob(state: state, createdAt: Date(timeIntervalSince1970: row[1]),
                                   finishedAt: Date(timeIntervalSince1970: row[2]))
            }
        }
    }

    public func finishedCounts(since: Date, slot: TimeInterval) async throws -> [Int: [JobState: Int]] {
        try await read { db in
            var out: [Int: [JobState: Int]] = [:]
            for row in try Row.fetchAll(db.cachedStatement(sql: """
                SELECT CAST((finished_at - ?) / ? AS INTEGER) AS slot, state, COUNT(*) FROM jobs INDEXED BY jobs_finished
                WHERE finished_at >= ? GROUP BY slot, state
                """), arguments: [since.timeIntervalSince1970, slot, since.timeIntervalSince1970]) {
                guard let state = JobState(rawValue: row[1]) else { continue }
                out[row[0], default: [:]][state] = row[2]
            }
            return out
        }
    }

    public func refusals(since: Date) async throws -> [String: Int] {
        try await read { db in
            var out: [String: Int] = [:]
            for row in try Row.fetchAll(db.cachedStatement(sql: """
                SELECT \(Self.reasonExpression) AS reason, COUNT(*) FROM jobs INDEXED BY jobs_refusals
                WHERE state = 'rejected' AND finished_at >= ? GROUP BY reason
                """), arguments: [since.timeIntervalSince1970]) {
                out[(row[0] as String?) ?? "unknown", default: 0] += row[1] as Int
            }
            return out
        }
    }

    public func oldestDueSince() async throws -> Date? {
        try await read { db in
            try Double.fetchOne(db.cachedStatement(sql: "SELECT MIN(run_after) FROM jobs WHERE state = 'queued'"))
                .map(Date.init(timeIntervalSince1970:))
        }
    }

    /// The WHERE clause of `filter` (after `conditions` already there), and which index serves it best: the most
    /// selective one the filter names, so the page is read from the index newest first and stops after `limit` rows.
    private static func whereClause(_ filter: JobFilter, state: JobState?, conditions: [String], arguments: inout StatementArguments)
        -> (sql: String, index: String?) {
        var parts = conditions
        var index: String?
        if let state {
            // A literal (an enum's name), so SQLite can prove the partial indexes' conditions. Accepted jobs are most
            // jobs: `+state` keeps the planner off the state index, so it walks the ids backwards and stops at `limit`.
            parts.append("\(state == .accepted ? "+" : "")state = '\(state.rawValue)'")
            if state == .dead { index = "jobs_dead_id" } else if state == .rejected { index = "jobs_rejected_id" }
        }
        if let kind = filter.kind {
            parts.append("\(kindExpression) = ? AND outcome IS NOT NULL")
            _ = arguments.append(contentsOf: [kind])
            index = "jobs_kind"
        }
        if let reason = filter.reason {
            parts.append("\(reasonExpression) = ?")
            _ = arguments.append(contentsOf: [reason])
            if state == nil { parts.append("state = 'rejected'") }
            index = "jobs_reason"
        }
        if let conversation = filter.conversationId {
            parts.append("conversation_id = ?")
            _ = arguments.append(contentsOf: [conversation])
            index = "jobs_conversation"
        }
        if let business = filter.businessNumber {
            parts.append("business_number = ?")
            _ = arguments.append(contentsOf: [business])
            if filter.conversationId == nil { index = "jobs_business" }
        }
        return (parts.isEmpty ? "" : " WHERE " + parts.joined(separator: " AND "), index)
    }

    public func jobs(matching filter: JobFilter, before: String?, limit: Int) async throws -> [Job] {
        // Only rejected jobs have a reason.
        if filter.reason != nil, let state = filter.state, state != .rejected { return [] }
        return try await read { db in
            var arguments = StatementArguments()
            var conditions: [String] = []
            if let before {
                conditions.append("id < ?")
                _ = arguments.append(contentsOf: [before])
            }
            let (clause, index) = Self.whereClause(filter, state: filter.state, conditions: conditions, arguments: &arguments)
            _ = arguments.append(contentsOf: [limit])
            // Queued and running jobs are few: their (state, run_after) index, then a sort. Otherwise the index named.
            let indexed = index.map { " INDEXED BY \($0)" } ?? ""
            return try Row.fetchAll(db.cachedStatement(sql: """
                SELECT \(JobColumn.all) FROM jobs\(indexed)\(clause) ORDER BY id DESC LIMIT ?
                """), arguments: arguments).map(Self.job)
        }
    }

    public func deadJobIDs(matching filter: JobFilter, limit: Int) async throws -> [String] {
        if filter.reason != nil { return [] }  // only rejected jobs have a reason
        return try await read { db in
            var arguments = StatementArguments()
            let (clause, index) = Self.whereClause(filter, state: .dead, conditions: [], arguments: &arguments)
            _ = arguments.append(contentsOf: [limit])
            return try String.fetchAll(db.cachedStatement(sql: """
                SELECT id FROM jobs INDEXED BY \(index ?? "jobs_dead_id")\(clause) ORDER BY id DESC LIMIT ?
                """), arguments: arguments)
        }
    }
}
