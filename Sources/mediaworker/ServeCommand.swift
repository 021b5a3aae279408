import ArgumentParser
import Foundation
import Hummingbird
import Logging
import MediaPipeline
import MediaSandbox
import MediaServer
import MediaWorker
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
        let env = storage.environment
        var settings = try ServerSettings(environment: env)
        let registry = PrometheusCollectorRegistry()
        // Business numbers not listed in MEDIAWORKER_METRICS_BUSINESS_NUMBERS are counted as `other`.
        MetricsSystem.bootstrap(settings.metricsFactory(registry: registry))
        if let host { settings.host = host }
        if let port { settings.port = port }
        var workerSettings = try WorkerSettings(environment: env)
        let opened = try await storage.open()
        let (queue, store) = (opened.queue, opened.store)
        let logger = Logger(label: "mediaworker")
        for note in settings.generated { logger.warning("not configured, generated for this run: \(note)") }

        // Files are decoded only in the helper processes (one per worker slot), never in this process.
        let pipeline = try SandboxedPipeline(environment: env, capacity: max(1, workerSettings.concurrency), logger: logger)
        if workerSettings.concurrency > 0 { pipeline.start() }
        workerSettings.jobDeadline = pipeline.jobDeadline
        let worker = Worker(processor: JobProcessor(pipeline: pipeline, queue: queue, store: store, retry: workerSettings.retry,
                                                outageWindow: workerSettings.outageWindow),
                            settings: workerSettings, logger: logger)
        let decodesHere = workerSettings.concurrency > 0
        let processing: @Sendable () -> ProcessingHealth = {
            guard decodesHere else { return ProcessingHealth(failure: nil, missingProtections: []) }
            _ = pipeline.isReady
            let status = pipeline.status
            return ProcessingHealth(failure: status.failure, missingProtections: status.missingProtections)
        }
        let service = MediaHTTPService(queue: queue, store: store, settings: settings, registry: registry,
                                       wake: { worker.wake() }, processing: processing)
        let router = service.router()
        let console = try ConsoleSettings(environment: env)
        if console.enabled {
            if try !service.addConsole(to: router, settings: console) {
                logger.warning("the console is not available with this queue driver")
            } else if console.users.isEmpty {
                logger.notice("console at /console, but MEDIAWORKER_CONSOLE_USERS is empty: nobody can log in")
            }
        }
        let (listenHost, listenPort) = (settings.host, settings.port)
        // Connections beyond the cap wait in the kernel's backlog; the descriptor limit is raised to cover them.
        raiseOpenFileLimit(to: settings.maxConnections + 256, logger: logger)
        var app = Application(
            router: router,
            server: settings.httpServer,
            configuration: settings.applicationConfiguration,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? listenPort
                FileHandle.standardOutput.write(Data("listening on http://\(listenHost):\(port)\n".utf8))
            },
            logger: logger)
        // The PostgreSQL client first: services stop in reverse order, so it outlives the worker's drain.
        if let database = opened.database { app.addServices(database) }
        if workerSettings.concurrency > 0 {
            app.addServices(WorkerService(worker: worker))
        } else {
            logger.notice("MEDIAWORKER_WORKERS=0: API only; jobs are processed by `mediaworker work` elsewhere")
        }
        if let url = settings.callbackURL {
            app.addServices(WebhookDispatcher(outbox: queue, url: url, secret: settings.callbackSecret, logger: logger))
        } else {
            logger.notice("MEDIAWORKER_CALLBACK_URL not set: no job events are recorded or sent")
        }
        try await app.runService()
    }
}

/// Raises the soft limit on open descriptors towards `wanted` (at most the hard limit): a server holding thousands
/// of connections needs more than the 1,024 many shells start with.
func raiseOpenFileLimit(to wanted: Int, logger: Logger) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(wanted) else { return }
    let target = min(rlim_t(wanted), limit.rlim_max)
    limit.rlim_cur = target
    if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 || target < rlim_t(wanted) {
        logger.warning("open-file limit below what MEDIAWORKER_HTTP_MAX_CONNECTIONS needs", metadata: [
            "limit": "\(target)", "wanted": "\(wanted)"])
    }
}
