import Foundation
import MediaPostgres
import MediaQueue
import MediaStore
import Testing

/// The two storage backends every queue, worker and HTTP test runs against.
public enum TestBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// The embedded default: SQLite file + blob files in a temporary folder.
    case sqlite
    /// A real PostgreSQL server (`make test` starts one and sets `MEDIAWORKER_TEST_DATABASE_URL`); each test
    /// gets a schema of its own, blobs in the `blobs` table.
    case postgres

    public var testDescription: String { rawValue }

    /// A fresh, empty storage of this kind.
    public func make(_ prefix: String = "mw-test", url serverURL: String? = nil) throws -> TestStorage {
        let folder = try TestBinary.temporaryFolder(prefix)
        switch self {
        case .sqlite:
            return TestStorage(backend: self, folder: folder, environment: [:])
        case .postgres:
            let url = try serverURL ?? Self.postgresURL()
            let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
            let full = url + (url.contains("?") ? "&" : "?") + "schema=\(schema)"
            return TestStorage(backend: self, folder: folder, environment: ["MEDIAWORKER_DATABASE_URL": full])
        }
    }

    /// The test server's URL, from `MEDIAWORKER_TEST_DATABASE_URL`.
    public static func postgresURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["MEDIAWORKER_TEST_DATABASE_URL"], !url.isEmpty else {
            throw MissingTestDatabase()
        }
        return url
    }

}

public struct MissingTestDatabase: Error, CustomStringConvertible {
    public var description: String {
        "MEDIAWORKER_TEST_DATABASE_URL is not set: run `make test` (it starts a PostgreSQL server), or start one with " +
            "`scripts/pg_server.sh start DIR` and export its URL"
    }
}

/// One test's storage: opened in-process by the test, and passed to child processes (`environment` plus
/// `--data folder`) so they use the very same queue and blobs.
public struct TestStorage: Sendable {
    public let backend: TestBackend
    /// Temporary folder: the SQLite file and blob files, or just logs with PostgreSQL.
    public let folder: URL
    /// Variables a child `mediaworker` process needs to reach this storage.
    public let environment: [String: String]

    /// Another connection to this storage's queue.
    public func queue(recordsEvents: Bool = false) throws -> any JobQueue & EventOutbox {
        switch backend {
        case .sqlite:
            return try SQLiteJobQueue(path: folder.appendingPathComponent("mediaworker.sqlite").path, recordsEvents: recordsEvents)
        case .postgres:
            return try PostgresJobQueue(connections: try connections(), recordsEvents: recordsEvents)
        }
    }

    /// This storage's blob store (as `mediaworker` opens it by default for the backend).
    public func store() throws -> any BlobStore {
        switch backend {
        case .sqlite: return try FileBlobStore(root: folder)
        case .postgres: return try PostgresBlobStore(connections: try connections())
        }
    }

    func connections() throws -> PostgresConnections {
        PostgresConnections(location: try PostgresLocation(url: environment["MEDIAWORKER_DATABASE_URL"] ?? ""), maxConnections: 4)
    }

    public func remove() {
        try? FileManager.default.removeItem(at: folder)
    }
}
