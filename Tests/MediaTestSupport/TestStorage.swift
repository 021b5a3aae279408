import Foundation
import MediaPostgres
import MediaDomain
import MediaQueue
import MediaS3
import MediaSQLite
import MediaStore
import Synchronization
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

    /// Like `make(_:url:)`, with the blobs in a fresh bucket of the test S3 server (`make test` starts SeaweedFS) instead
    /// of the backend's own store.
    public func make(_ prefix: String = "mw-test", s3: Bool) throws -> TestStorage {
        var storage = try make(prefix)
        guard s3 else { return storage }
        let server = try TestS3.server()
        let bucket = try server.makeBucket(prefix)
        storage.environment.merge(server.environment(bucket: bucket), uniquingKeysWith: { $1 })
        return storage
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
    public var environment: [String: String]

    /// Another connection to this storage's queue.
    /// `executor`: SQLite's calls block their thread while the file is locked; a test that locks it for a minute gives
    /// its queue threads of its own, so the other suites' queues (on `BlockingCallExecutor.sqlite`) are not held up
    /// meanwhile.
    /// `reclaimDelay`: how long after an erasure a purge round rewrites the SQLite file (tests: at once).
    public func queue(recordsEvents: Bool = false, executor: BlockingCallExecutor = .sqlite,
                      reclaimDelay: Duration = .zero) async throws -> any JobQueue & EventOutbox {
        switch backend {
        case .sqlite:
            return try SQLiteJobQueue(path: folder.appendingPathComponent("mediaworker.sqlite").path, recordsEvents: recordsEvents,
                                      threads: executor, reclaimDelay: reclaimDelay)
        case .postgres:
            return try await PostgresJobQueue(database: try database(), recordsEvents: recordsEvents)
        }
    }

    /// This storage's blob store (as `mediaworker` opens it by default for the backend).
    public func store() async throws -> any BlobStore {
        if let location = environment["MEDIAWORKER_STORE"], S3Settings.isS3(location) {
            return S3BlobStore(settings: try S3Settings(store: location, settings: Settings(environment: environment)))
        }
        switch backend {
        case .sqlite: return try FileBlobStore(root: folder)
        case .postgres: return try await PostgresBlobStore(database: try database())
        }
    }

    /// This storage's PostgreSQL client: one per storage, running from its first use (its idle connections close
    /// after a minute).
    public func database() throws -> PostgresDatabase {
        let url = environment["MEDIAWORKER_DATABASE_URL"] ?? ""
        return try TestDatabases.shared.withLock { clients in
            if let client = clients[url] { return client }
            let client = try PostgresDatabase(location: try PostgresLocation(url: url), maxConnections: 4)
            client.start()
            clients[url] = client
            return client
        }
    }

    public func remove() {
        try? FileManager.default.removeItem(at: folder)
    }
}

/// The three blob-store drivers, for the store's contract suite: files (beside SQLite), the PostgreSQL table, and an
/// S3 bucket (beside SQLite).
public enum StoreDriver: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case files, postgres, s3

    public var testDescription: String { rawValue }

    public func make(_ prefix: String = "mw-store") throws -> TestStorage {
        switch self {
        case .files: return try TestBackend.sqlite.make(prefix)
        case .postgres: return try TestBackend.postgres.make(prefix)
        case .s3: return try TestBackend.sqlite.make(prefix, s3: true)
        }
    }
}

/// The PostgreSQL clients of the tests' storages, by URL.
enum TestDatabases {
    static let shared = Mutex<[String: PostgresDatabase]>([:])
}

/// Runs `body` for 0..<iterations at once (child tasks), like `DispatchQueue.concurrentPerform` for async code.
public func concurrently(_ iterations: Int, _ body: @escaping @Sendable (Int) async -> Void) async {
    await withTaskGroup(of: Void.self) { group in
        for i in 0..<iterations { group.addTask { await body(i) } }
    }
}

/// Runs a suite's tests on the SQLite driver's threads (`BlockingCallExecutor.sqlite`), where the worker runs too.
/// The cooperative pool has one thread per core, and suites that decode files or wait for child processes block those
/// threads for seconds at a time while every suite runs at once; a queue test whose lease times are real seconds must
/// not wait that long between two statements.
public struct QueueExecutorTrait: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(BlockingCallExecutor.sqlite) { try await function() }
    }
}

extension Trait where Self == QueueExecutorTrait {
    /// See `QueueExecutorTrait`.
    public static var onQueueExecutor: Self { QueueExecutorTrait() }
}

/// Runs a suite's tests on threads of their own (`blockingTests`): suites that decode files in-process, wait for
/// child processes or exchange HTTP synchronously block their thread for seconds, which on the cooperative pool (one
/// thread per core) would stall every other suite's `await`s meanwhile.
public struct BlockingTestsTrait: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    /// The threads blocking tests run on (the cooperative pool stays free for the rest): one per core, as many as
    /// the cooperative pool had, so no more of these CPU-heavy tests run at once than before (their time limits and
    /// the timing tests beside them assume it).
    static let executor = BlockingCallExecutor(name: "tests.blocking", threads: ProcessInfo.processInfo.activeProcessorCount)

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(Self.executor) { try await function() }
    }
}


extension Trait where Self == BlockingTestsTrait {
    /// See `BlockingTestsTrait`.
    public static var offCooperativePool: Self { BlockingTestsTrait() }
}
