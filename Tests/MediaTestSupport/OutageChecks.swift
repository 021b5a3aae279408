import Foundation
import MediaPostgres
import PostgresNIO

extension JobChecks {
    /// On PostgreSQL: how many jobs wait for an outage to end (postponed, not yet released by a worker's probe).
    public static func waitingForOutage(_ storage: TestStorage) async throws -> Int {
        try await storage.database().query("""
            SELECT COUNT(*)::bigint FROM jobs WHERE state = 'queued' AND postponed = 1 AND run_after > now()
            """).rows.first?.decode(Int.self) ?? 0
    }

    /// On PostgreSQL: how many jobs an outage's end released (`releases > 0`).
    public static func outageReleased(_ storage: TestStorage) async throws -> Int {
        try await storage.database().query("SELECT COUNT(*)::bigint FROM jobs WHERE releases > 0").rows.first?.decode(Int.self) ?? 0
    }
}

extension JobChecks {
    /// On PostgreSQL: the jobs still queued or running, one line each (for a failing test to say why they wait).
    public static func pendingJobs(_ storage: TestStorage, limit: Int = 40) async throws -> [String] {
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
