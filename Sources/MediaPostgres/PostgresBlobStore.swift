import Foundation
import Logging
import MediaStore
import NIOCore
import PostgresNIO

/// Originals and artifacts in a PostgreSQL table, so every server and worker reaches them
/// (`MEDIAWORKER_STORE=postgres`). A put is one upsert: a reader sees the old bytes or the new, never a part.
/// Keys are job ids and role words, as in `FileBlobStore`.
public final class PostgresBlobStore: BlobStore, @unchecked Sendable {
    public let connections: PostgresConnections

    /// Uses the queue's database; applies pending migrations (they create the `blobs` table) unless
    /// `migrated` says the queue on the same connections already did.
    public init(connections: PostgresConnections, migrated: Bool = false) throws {
        self.connections = connections
        if !migrated { try PostgresSchema.migrate(connections, logger: Logger(label: "mediaworker.postgres")) }
    }

    public func put(jobID: String, role: String, bytes: [UInt8]) throws {
        try BlobKey.check(jobID: jobID, role: role)
        let buffer = ByteBuffer(bytes: bytes)
        try connections.query("""
            INSERT INTO blobs (job_id, role, size, bytes) VALUES (\(jobID.lowercased()), \(role), \(bytes.count), \(buffer))
            ON CONFLICT (job_id, role) DO UPDATE SET size = excluded.size, bytes = excluded.bytes
            """)
    }

    public func get(jobID: String, role: String) throws -> [UInt8]? {
        try BlobKey.check(jobID: jobID, role: role)
        guard let row = try connections.query("""
            SELECT bytes FROM blobs WHERE job_id = \(jobID.lowercased()) AND role = \(role)
            """).rows.first else { return nil }
        var buffer = try row.decode(ByteBuffer.self)
        return buffer.readBytes(length: buffer.readableBytes)
    }

    public func size(jobID: String, role: String) throws -> Int? {
        try BlobKey.check(jobID: jobID, role: role)
        return try connections.query("""
            SELECT size FROM blobs WHERE job_id = \(jobID.lowercased()) AND role = \(role)
            """).rows.first?.decode(Int.self)
    }

    public func delete(jobID: String) throws {
        try BlobKey.check(jobID: jobID)
        try connections.query("DELETE FROM blobs WHERE job_id = \(jobID.lowercased())")
    }
}
