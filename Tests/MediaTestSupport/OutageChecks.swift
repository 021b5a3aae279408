import Foundation
import MediaPostgres
import MediaQueue
import PostgresNIO
import Testing

extension JobChecks {
    /// On PostgreSQL: how many jobs an outage's end released (`releases > 0`).
    public static func outageReleased(_ storage: TestStorage) async throws -> Int {
        try await storage.database().query("SELECT COUNT(*)::bigint FROM jobs WHERE releases > 0").rows.first?.decode(Int.self) ?? 0
    }

    /// `waitUntilFinal(queue, stalledFor:cap:)` on PostgreSQL; when jobs are still queued or running at the end, records
    /// an issue listing them (state, attempts, postponement, when due, owner, last error) so a failure says why they wait.
    public static func waitUntilFinal(_ storage: TestStorage, _ queue: any JobQueue, stalledFor stall: TimeInterval,
                                      cap: TimeInterval) async throws -> [JobState: Int] {
        let counts = try await waitUntilFinal(queue, stalledFor: stall, cap: cap)
        if (counts[.queued] ?? 0) + (counts[.running] ?? 0) > 0 {
            let pending: [String]
            do { pending = try await pendingJobs(storage) } catch { pending = ["(could not list them: \(error))"] }
            Issue.record("still pending (no job final for \(Int(stall)) s, or \(Int(cap)) s in all):\n\(pending.joined(separator: "\n"))")
        }
        return counts
    }

    /// The jobs still queued or running, one line each.
    static func pendingJobs(_ storage: TestStorage, limit: Int = 40) async throws -> [String] {
        let rows = try await storage.database().query("""
            SELECT id, state, attempts::bigint, postponed::bigint, releases::bigint,
                   EXTRACT(EPOCH FROM (run_after - now()))::float8, coalesce(lease_owner, ''), coalesce(last_error, '')
            FROM jobs WHERE state IN ('queued', 'running') ORDER BY run_after LIMIT \(limit)
            """).rows
        var lines: [String] = []
        for row in rows {
            let (id, state, attempts, postponed, releases, due, owner, error) =
                try row.decode((String, String, Int, Int, Int, Double, String, String).self)
            lines.append("\(id) \(state) attempts=\(attempts) postponed=\(postponed) releases=\(releases) "
                         + "due in \(String(format: "%.0f", due)) s owner=\(owner) error=\(error.prefix(160))")
        }
        return lines
    }
}
