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
