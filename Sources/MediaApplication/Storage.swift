import Foundation
import Logging
import MediaDomain
import MediaPostgres
import MediaQueue
import MediaS3
import MediaSQLite
import MediaStore

/// The queue and the blob store a process works on, and the PostgreSQL client behind them (if any).
public struct Storage: Sendable {
    public var queue: any JobQueue & EventOutbox
    public var store: any BlobStore
    /// The PostgreSQL client: a service of the process's `ServiceGroup` (stopped last, after the worker's drain).
    public var database: PostgresDatabase?

    /// Ends the PostgreSQL client of a one-shot command.
    public func close() async {
        await database?.shutdown()
    }
}

/// The storage the settings choose:
/// - queue: `MEDIAWORKER_DATABASE_URL=postgres://…` → PostgreSQL; otherwise the embedded default, SQLite at
///   `DATA/mediaworker.sqlite` (or `MEDIAWORKER_DATABASE`);
/// - store: `MEDIAWORKER_STORE=postgres` → the `blobs` table; `MEDIAWORKER_STORE=FOLDER` → files under `FOLDER/blobs`
///   (a shared mount for several machines); `MEDIAWORKER_STORE=s3://BUCKET[/PREFIX]` → objects in an S3-compatible
///   bucket (MediaS3, with `MEDIAWORKER_S3_ENDPOINT`, `AWS_REGION` and the `AWS_*` credentials); unset → `postgres` with a PostgreSQL queue, `DATA/blobs` with SQLite.
public func makeStorage(_ configuration: ApplicationConfiguration) async throws -> Storage {
    let settings = configuration.settings
    // Final-state events are recorded for delivery only when there is somewhere to deliver them.
    let notifies = settings["MEDIAWORKER_CALLBACK_URL"] != nil
    let queue: any JobQueue & EventOutbox
    var database: PostgresDatabase?
    if let url = settings["MEDIAWORKER_DATABASE_URL"] {
        guard PostgresLocation.isPostgres(url) else {
            throw SettingsError(key: "MEDIAWORKER_DATABASE_URL", value: url, expected: "postgres://user@host:port/database")
        }
        let poolSize = try settings.int("MEDIAWORKER_DATABASE_POOL", 1...Int.max) ?? 8
        let connectWait = try settings.int("MEDIAWORKER_DATABASE_CONNECT_TIMEOUT", 1...300) ?? 10
        let queryTimeout = try settings.duration("MEDIAWORKER_DATABASE_QUERY_TIMEOUT", 1...3600) ?? .seconds(30)
        let db = try PostgresDatabase(location: try PostgresLocation(url: url), maxConnections: poolSize,
                                      connectTimeout: .seconds(connectWait), queryTimeout: queryTimeout,
                                      logger: Logger(label: "mediaworker.postgres"))
        // Running before the service group does: the queue and the blob table migrate their schema as they open.
        // In `serve` and `work` the group then holds the client as its first service and ends it last.
        db.start()
        database = db
        queue = try await PostgresJobQueue(database: db, recordsEvents: notifies)
    } else {
        let path = settings["MEDIAWORKER_DATABASE"] ?? configuration.dataURL.appendingPathComponent("mediaworker.sqlite").path
        let durability = try settings.choice("MEDIAWORKER_SQLITE_SYNCHRONOUS", SQLiteJobQueue.Durability.self) ?? .normal
        let reclaimDelay = try settings.duration("MEDIAWORKER_SQLITE_VACUUM_DELAY", 0...(30 * 86_400)) ?? SQLiteJobQueue.defaultReclaimDelay
        queue = try SQLiteJobQueue(path: path, durability: durability, recordsEvents: notifies, reclaimDelay: reclaimDelay)
    }
    let store: any BlobStore
    switch settings["MEDIAWORKER_STORE"] {
    case "postgres":
        guard let database else {
            throw SettingsError(key: "MEDIAWORKER_STORE", value: "postgres", expected: "MEDIAWORKER_DATABASE_URL=postgres://… beside it")
        }
        store = try await PostgresBlobStore(database: database, migrated: true)
    case nil:
        if let database {
            store = try await PostgresBlobStore(database: database, migrated: true)
        } else {
            store = try FileBlobStore(root: configuration.dataURL)
        }
    case let location? where S3Settings.isS3(location):
        store = S3BlobStore(settings: try S3Settings(store: location, settings: settings))
    case let folder?:
        store = try FileBlobStore(root: URL(fileURLWithPath: folder, isDirectory: true))
    }
    return Storage(queue: queue, store: store, database: database)
}

/// Opens the storage for a one-shot command, runs `body`, and closes it (its PostgreSQL client) whatever happens.
public func withStorage<T>(_ configuration: ApplicationConfiguration, _ body: (Storage) async throws -> T) async throws -> T {
    let storage = try await makeStorage(configuration)
    do {
        let value = try await body(storage)
        await storage.close()
        return value
    } catch {
        await storage.close()
        throw error
    }
}
