import ArgumentParser
import Foundation
import Hummingbird
import MediaApplication
import MediaServer
import Metrics
import Prometheus

/// `mediaworker serve`: the HTTP service, the workers and the webhook dispatcher in one process.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP API, the workers and the callback dispatcher until SIGTERM/SIGINT.",
        discussion: "Prints one line `listening on http://HOST:PORT` on standard output once the port is open.")

    @Option(help: "Address to listen on (default: $MEDIAWORKER_HOST or 127.0.0.1).") var host: String?
    @Option(help: "Port (default: $MEDIAWORKER_PORT or 8080; 0 picks a free one).") var port: Int?
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        Logs.bootstrap()
        var configuration = storage.configuration
        (configuration.host, configuration.port) = (host, port)
        // The process-wide metrics backend (business numbers not listed in MEDIAWORKER_METRICS_BUSINESS_NUMBERS
        // are counted as `other`).
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(try ServerSettings(environment: configuration.environment).metricsFactory(registry: registry))
        let app = try await asUsageError {
            try await buildApplication(configuration, registry: registry) { host, port in
                FileHandle.standardOutput.write(Data("listening on http://\(host):\(port)\n".utf8))
            }
        }
        try await app.runService()
    }
}
