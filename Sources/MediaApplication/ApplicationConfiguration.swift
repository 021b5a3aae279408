import Foundation
import MediaDomain

/// Everything the composition root needs to assemble `serve` or `work`: the `MEDIAWORKER_*` settings and what the
/// command line overrides. One value, so a test builds exactly what the CLI builds.
public struct ApplicationConfiguration: Sendable {
    /// The process environment (or a test's): read through `Settings`, where an empty variable counts as unset.
    public var environment: [String: String]
    /// `--data`: the folder of the embedded SQLite queue and the blob files (default `$MEDIAWORKER_DATA` or `data`).
    public var dataFolder: String?
    /// `--host` / `--port`: override `MEDIAWORKER_HOST` / `MEDIAWORKER_PORT`.
    public var host: String?
    public var port: Int?
    /// The program helpers run as `PROGRAM helper` (default: this very program). Tests, whose process is not
    /// `mediaworker`, name the built binary.
    public var helperExecutable: String = "/proc/self/exe"

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, dataFolder: String? = nil,
                host: String? = nil, port: Int? = nil) {
        self.environment = environment
        self.dataFolder = dataFolder
        self.host = host
        self.port = port
    }

    /// The settings reader over `environment`.
    public var settings: Settings { Settings(environment: environment) }

    /// The data folder in use.
    public var dataURL: URL {
        URL(fileURLWithPath: dataFolder ?? settings["MEDIAWORKER_DATA"] ?? "data", isDirectory: true)
    }
}
