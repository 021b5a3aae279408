import ArgumentParser
import Foundation
import Logging
import MediaIntake
import MediaDomain
import MediaJSON
import MediaPipeline
import MediaPostgres
import MediaQueue
import MediaSQLite
import MediaStore
import MediaWorker

/// Options every queue command shares, over `MEDIAWORKER_*` variables.
struct StorageOptions: ParsableArguments {
    @Option(help: "Data folder for the embedded SQLite queue and the blob files (default: $MEDIAWORKER_DATA or ./data).")
    var data: String?

    var environment: [String: String] { ProcessInfo.processInfo.environment }
    /// The storage variables, read as settings; an empty one counts as unset (`MEDIAWORKER_DATABASE_URL=` is SQLite).
    var settings: Settings { Settings(environment: environment.filter { !$0.value.isEmpty }) }

    var dataFolder: URL {
        URL(fileURLWithPath: data ?? environment["MEDIAWORKER_DATA"] ?? "data", isDirectory: true)
    }

    /// The queue and the blob store the settings choose:
    /// - queue: `MEDIAWORKER_DATABASE_URL=postgres://…` → PostgreSQL; otherwise the embedded default, SQLite at
    ///   `DATA/mediaworker.sqlite` (or `MEDIAWORKER_DATABASE`);
    /// - store: `MEDIAWORKER_STORE=postgres` → the `blobs` table; `MEDIAWORKER_STORE=FOLDER` → files under
    ///   `FOLDER/blobs` (a shared mount for several machines); unset → `postgres` with a PostgreSQL queue,
    ///   `DATA/blobs` with SQLite.
    func open() async throws -> Storage {
        // Final-state events are recorded for delivery only when there is somewhere to deliver them.
        let notifies = !(environment["MEDIAWORKER_CALLBACK_URL"] ?? "").isEmpty
        let queue: any JobQueue & EventOutbox
        var database: PostgresDatabase?
        if let url = environment["MEDIAWORKER_DATABASE_URL"], !url.isEmpty {
            guard PostgresLocation.isPostgres(url) else {
                throw ValidationError("MEDIAWORKER_DATABASE_URL=\(url): expected postgres://user@host:port/database")
            }
            let poolSize = try settings.int("MEDIAWORKER_DATABASE_POOL", 1...Int.max) ?? 8
            let connectWait = try settings.int("MEDIAWORKER_DATABASE_CONNECT_TIMEOUT", 1...300) ?? 10
            // Read where statements run (`PostgresConnection.queryTimeout`); checked here so a bad value stops start-up.
            _ = try settings.seconds("MEDIAWORKER_DATABASE_QUERY_TIMEOUT", 1...3600)
            let db = try PostgresDatabase(location: try PostgresLocation(url: url), maxConnections: poolSize,
                                          connectWait: Double(connectWait), logger: Logger(label: "mediaworker.postgres"))
            db.start()
            database = db
            queue = try await PostgresJobQueue(database: db, recordsEvents: notifies)
        } else {
            let path = environment["MEDIAWORKER_DATABASE"] ?? dataFolder.appendingPathComponent("mediaworker.sqlite").path
            let durability = try settings.choice("MEDIAWORKER_SQLITE_SYNCHRONOUS", SQLiteJobQueue.Durability.self) ?? .normal
            queue = try SQLiteJobQueue(path: path, durability: durability, recordsEvents: notifies)
        }
        let store: any BlobStore
        switch environment["MEDIAWORKER_STORE"] ?? "" {
        case "postgres":
            guard let database else {
                throw ValidationError("MEDIAWORKER_STORE=postgres needs MEDIAWORKER_DATABASE_URL=postgres://…")
            }
            store = try await PostgresBlobStore(database: database, migrated: true)
        case "":
            if let database {
                store = try await PostgresBlobStore(database: database, migrated: true)
            } else {
                store = try FileBlobStore(root: dataFolder)
            }
        case let folder:
            store = try FileBlobStore(root: URL(fileURLWithPath: folder, isDirectory: true))
        }
        return Storage(queue: queue, store: store, database: database)
    }

    /// Opens the storage for a one-shot command, runs `body`, and closes it (its PostgreSQL client) whatever happens.
    func using<T>(_ body: (Storage) async throws -> T) async throws -> T {
        let storage = try await open()
        do {
            let value = try await body(storage)
            await storage.close()
            return value
        } catch {
            await storage.close()
            throw error
        }
    }
}

/// The queue and the store a command works on, and the PostgreSQL client behind them (if any).
struct Storage {
    var queue: any JobQueue & EventOutbox
    var store: any BlobStore
    var database: PostgresDatabase?

    /// Ends the PostgreSQL client of a one-shot command.
    func close() async {
        await database?.shutdown()
    }
}

/// Logs as one line per event on standard error (`MEDIAWORKER_LOG_LEVEL`, default info).
enum Logs {
    /// An unknown level falls back to `info` (docs/configuration.md: the one setting that is not refused).
    static func bootstrap() {
        let settings = Settings(environment: ProcessInfo.processInfo.environment)
        let level = (try? settings.choice("MEDIAWORKER_LOG_LEVEL", Logger.Level.self)).flatMap { $0 } ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

func printJSON(_ value: JSONValue) {
    print(value.serialized())
}
