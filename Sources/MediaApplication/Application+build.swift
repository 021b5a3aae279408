import Foundation
import Hummingbird
import Logging
import MediaDomain
import MediaSandbox
import MediaServer
import MediaWorker
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `serve`: the HTTP application with its background services — the PostgreSQL client (if any), the worker (unless
/// `MEDIAWORKER_WORKERS=0`), the retention purge and the callback dispatcher (when `MEDIAWORKER_CALLBACK_URL` is set) — assembled once.
/// Running it (`runService()`) runs one `ServiceGroup` of all of them; tests drive the same value in-process
/// through HummingbirdTesting.
///
/// - Parameters:
///   - registry: where `/metrics` reads from; the caller bootstraps `MetricsSystem` with it (a process-wide choice).
///   - onServerRunning: called with the port once it is open (the CLI prints `listening on http://HOST:PORT`).
public func buildApplication(
    _ configuration: ApplicationConfiguration,
    registry: PrometheusCollectorRegistry,
    logger: Logger = Logger(label: "mediaworker"),
    onServerRunning: @escaping @Sendable (_ host: String, _ port: Int) async -> Void = { _, _ in }
) async throws -> some ApplicationProtocol {
    var settings = try ServerSettings(environment: configuration.environment)
    if let host = configuration.host { settings.host = host }
    if let port = configuration.port { settings.port = port }
    let console = try ConsoleSettings(environment: configuration.environment)
    let retention = try RetentionSettings(environment: configuration.environment)
    let storage = try await makeStorage(configuration)
    for note in settings.generated { logger.warning("not configured, generated for this run: \(note)") }

    let assembled = try makeWorker(configuration, storage: storage, logger: logger)
    let worker = assembled.worker, pipeline = assembled.pipeline
    let decodesHere = assembled.settings.concurrency > 0
    let processing: @Sendable () -> ProcessingHealth = {
        guard decodesHere else { return ProcessingHealth(failure: nil, missingProtections: []) }
        _ = pipeline.canProcess()  // while helpers cannot start, this also tries a new start (in the background)
        let status = pipeline.status
        return ProcessingHealth(failure: status.failure, missingProtections: status.missingProtections)
    }
    let service = MediaHTTPService(queue: storage.queue, store: storage.store, settings: settings, registry: registry,
                                   wake: { worker.wake() }, processing: processing)
    let router = service.router()
    if console.enabled {
        if try !service.addConsole(to: router, settings: console) {
            logger.warning("the console is not available with this queue driver")
        } else if console.users.isEmpty {
            logger.notice("console at /console, but MEDIAWORKER_CONSOLE_USERS is empty: nobody can log in")
        }
    }
    // Connections beyond the cap wait in the kernel's backlog; the descriptor limit is raised to cover them.
    raiseOpenFileLimit(to: settings.maxConnections + 256, logger: logger)
    let host = settings.host, configuredPort = settings.port
    var app = Application(
        router: router,
        server: settings.httpServer,
        configuration: settings.applicationConfiguration,
        onServerRunning: { channel in await onServerRunning(host, channel.localAddress?.port ?? configuredPort) },
        logger: logger)
    // The PostgreSQL client first: services stop in reverse order, so it outlives the worker's drain.
    if let database = storage.database { app.addServices(database) }
    // Then the helper pool, which ends its helpers after the worker has drained.
    app.addServices(HelperPoolService(pipeline: pipeline))
    if decodesHere {
        app.addServices(worker)
    } else {
        logger.notice("MEDIAWORKER_WORKERS=0: API only; jobs are processed by `mediaworker work` elsewhere")
    }
    app.addServices(RetentionPurge(queue: storage.queue, store: storage.store, settings: retention,
                                   onErased: service.eraser.onErased, logger: logger))
    if let url = settings.callbackURL {
        app.addServices(WebhookDispatcher(outbox: storage.queue, url: url, secret: settings.callbackSecret, logger: logger))
    } else {
        logger.notice("MEDIAWORKER_CALLBACK_URL not set: no job events are recorded or sent")
    }
    return app
}

/// `work`: the PostgreSQL client (if any), the worker and the retention purge in one `ServiceGroup`, stopped gracefully by SIGTERM/SIGINT.
public func buildWorkerGroup(_ configuration: ApplicationConfiguration, logger: Logger = Logger(label: "mediaworker"),
                             signals: [UnixSignal] = [.sigterm, .sigint]) async throws -> ServiceGroup {
    let settings = try WorkerSettings(environment: configuration.environment)
    guard settings.concurrency > 0 else {
        throw SettingsError(key: "MEDIAWORKER_WORKERS", value: "0", expected: "at least 1 (a worker needs a slot)")
    }
    let retention = try RetentionSettings(environment: configuration.environment)
    let storage = try await makeStorage(configuration)
    let assembled = try makeWorker(configuration, storage: storage, logger: logger)
    var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
    // The PostgreSQL client first: services stop in reverse order, so it outlives the worker's drain.
    if let database = storage.database { services.append(.init(service: database)) }
    services.append(.init(service: HelperPoolService(pipeline: assembled.pipeline)))
    services.append(.init(service: assembled.worker))
    services.append(.init(service: RetentionPurge(queue: storage.queue, store: storage.store, settings: retention, logger: logger)))
    return ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: signals, logger: logger))
}

/// Owns the helper pool's lifetime in the group: it is added before the worker, so on shutdown (services stop in
/// reverse order) the worker drains first, then the idle helpers are ended rather than left to die with the process.
struct HelperPoolService: Service {
    let pipeline: SandboxedPipeline

    func run() async throws {
        try? await gracefulShutdown()
        pipeline.shutdown()
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
