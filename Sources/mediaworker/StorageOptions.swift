import ArgumentParser
import Foundation
import Logging
import MediaApplication
import MediaDomain
import MediaJSON

/// `--data`, shared by every command that opens the queue and the store; the rest comes from `MEDIAWORKER_*`.
struct StorageOptions: ParsableArguments {
    @Option(help: "Data folder for the embedded SQLite queue and the blob files (default: $MEDIAWORKER_DATA or ./data).")
    var data: String?

    /// The composition root's configuration for this command.
    var configuration: ApplicationConfiguration {
        ApplicationConfiguration(environment: ProcessInfo.processInfo.environment, dataFolder: data)
    }

    /// Opens the storage for a one-shot command, runs `body`, and closes it whatever happens.
    func using<T>(_ body: (Storage) async throws -> T) async throws -> T {
        try await asUsageError { try await withStorage(configuration, body) }
    }
}

/// Runs `body`; a storage or worker-count setting that names something unusable is a usage error (exit 64, as
/// docs/cli.md says), like a bad option. Other malformed settings stay errors (exit 1).
func asUsageError<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as SettingsError
                where ["MEDIAWORKER_DATABASE_URL", "MEDIAWORKER_STORE", "MEDIAWORKER_WORKERS"].contains(error.key) {
        throw ValidationError(error.description)
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
