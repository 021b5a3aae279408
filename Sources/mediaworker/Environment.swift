import ArgumentParser
import Foundation
import Logging
import MediaIntake
import MediaJSON
import MediaPipeline
import MediaQueue
import MediaStore
import MediaWorker

/// Options every queue command shares, over `MEDIAWORKER_*` variables.
struct StorageOptions: ParsableArguments {
    @Option(help: "Data folder for the SQLite queue and the blobs (default: $MEDIAWORKER_DATA or ./data).")
    var data: String?

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    var dataFolder: URL {
        URL(fileURLWithPath: data ?? environment["MEDIAWORKER_DATA"] ?? "data", isDirectory: true)
    }

    /// The embedded default: `DATA/mediaworker.sqlite` (or `MEDIAWORKER_DATABASE`) and `DATA/blobs/`.
    func open() throws -> (queue: SQLiteJobQueue, store: FileBlobStore) {
        let path = environment["MEDIAWORKER_DATABASE"] ?? dataFolder.appendingPathComponent("mediaworker.sqlite").path
        let durability: SQLiteJobQueue.Durability
        switch environment["MEDIAWORKER_SQLITE_SYNCHRONOUS"]?.lowercased() ?? "normal" {
        case "normal": durability = .normal
        case "full": durability = .full
        case let other: throw ValidationError("MEDIAWORKER_SQLITE_SYNCHRONOUS=\(other): expected normal or full")
        }
        // Final-state events are recorded for delivery only when there is somewhere to deliver them.
        let notifies = !(environment["MEDIAWORKER_CALLBACK_URL"] ?? "").isEmpty
        return (try SQLiteJobQueue(path: path, durability: durability, recordsEvents: notifies), try FileBlobStore(root: dataFolder))
    }
}

/// Logs as one line per event on standard error (`MEDIAWORKER_LOG_LEVEL`, default info).
enum Logs {
    static func bootstrap() {
        let level = ProcessInfo.processInfo.environment["MEDIAWORKER_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
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
