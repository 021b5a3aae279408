import Foundation
import Logging
import MediaStore
import NIOCore
import PostgresNIO

/// Originals and artifacts in a PostgreSQL table, so every server and worker reaches them
/// (`MEDIAWORKER_STORE=postgres`). A put is one upsert: a reader sees the old bytes or the new, never a part.
/// Keys are job ids and role words, as in `FileBlobStore`.
public final class PostgresBlobStore: BlobStore, Sendable {
    public let database: PostgresDatabase

    /// Uses the queue's database; applies pending migrations (they create the `blobs` table) unless
    /// `migrated` says the queue on the same database already did.
    public init(database: PostgresDatabase, migrated: Bool = false) async throws {
        self.database = database
        if !migrated { try await PostgresSchema.migrate(database, logger: Logger(label: "mediaworker.postgres")) }
    }

    public func put(jobID: String, role: String, bytes: [UInt8]) async throws {
        try BlobKey.check(jobID: jobID, role: role)
        let buffer = ByteBuffer(bytes: bytes)
        try await database.query("""
            INSERT INTO blobs (job_id, role, size, bytes) VALUES (\(jobID.lowercased()), \(role), \(bytes.count), \(buffer))
            ON CONFLICT (job_id, role) DO UPDATE SET size = excluded.size, bytes = excluded.bytes
            """)
    }

    public func get(jobID: String, role: String) async throws -> [UInt8]? {
        try BlobKey.check(jobID: jobID, role: role)
        guard let row = try await database.query("""
            SELECT bytes FROM blobs WHERE job_id = \(jobID.lowercased()) AND role = \(role)
            """).rows.first else { return nil }
        var buffer = try row.decode(ByteBuffer.self)
        return buffer.readBytes(length: buffer.readableBytes)
    }

    public func size(jobID: String, role: String) async throws -> Int? {
        try BlobKey.check(jobID: jobID, role: role)
        return try await database.query("""
            SELECT size FROM blobs WHERE job_id = \(jobID.lowercased()) AND role = \(role)
            """).rows.first?.decode(Int.self)
    }

    public func delete(jobID: String) async throws {
        try BlobKey.check(jobID: jobID)
        try await database.query("DELETE FROM blobs WHERE job_id = \(jobID.lowercased())")
    }

    public func delete(jobID: String, role: String) async throws {
        try BlobKey.check(jobID: jobID, role: role)
        try await database.query("DELETE FROM blobs WHERE job_id = \(jobID.lowercased()) AND role = \(role)")
    }

    /// Pages of 1,000 in key order; the cursor is the last `job_id/role` of the page before.
    public func blobs(from cursor: String?) async throws -> BlobPage {
        let after = cursor ?? ""
        let afterJob = String(after.prefix { $0 != "/" }), afterRole = String(after.drop { $0 != "/" }.dropFirst())
        let found = try await database.query("""
            SELECT job_id, role, size FROM blobs WHERE (job_id, role) > (\(afterJob), \(afterRole))
            ORDER BY job_id, role LIMIT 1000
            """).rows.map { row in
            let (job, role, size) = try row.decode((String, String, Int).self)
            return StoredBlob(jobID: job, role: role, size: size)
        }
        return BlobPage(blobs: found, next: found.count < 1000 ? nil : found.last.map { "\($0.jobID)/\($0.role)" })
    }

    /// A query on the blob table answers.
    public func checkReadable() async throws {
        _ = try await database.query("SELECT 1 FROM blobs LIMIT 1").rows
    }
}
