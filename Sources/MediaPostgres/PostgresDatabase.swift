import Foundation
import Logging
import MediaQueue
import NIOCore
import NIOSSL
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The PostgreSQL server through PostgresNIO's `PostgresClient`: its connection pool makes connections as callers need
/// them (up to `MEDIAWORKER_DATABASE_POOL`), drops the ones the server closed (restart, failover) and connects anew,
/// so processes reconnect by themselves.
///
/// A swift-service-lifecycle `Service`: `run()` runs the client and, as child tasks beside it, the services attached
/// to it (the queue's `JobNotificationListener`), until the group's graceful shutdown reaches it. Put it first in the
/// `ServiceGroup`, so it stops last, after the worker has given its jobs back. One-shot commands and tests that have
/// no service group use `start()` and `shutdown()` instead.
///
/// Two guards sit around the client, both for outages:
/// - a caller waits at most `connectTimeout` for a connection (the pool queues requests while it cannot connect, up
///   to its 60 s circuit breaker): past it the call fails as a lost connection, so an upload gets 503 at once and a
///   worker postpones, instead of hanging with the server down;
/// - every statement goes through `PostgresConnection.run(_:timeout:logger:)`, which never waits for ever on a closed
///   or stalled connection (see there).
public final class PostgresDatabase: Service, Sendable {
    public let location: PostgresLocation
    public let client: PostgresClient
    let logger: Logger
    /// How long a caller waits for a pooled connection (`MEDIAWORKER_DATABASE_CONNECT_TIMEOUT`, default 10 s).
    public let connectTimeout: Duration
    /// The longest one statement may take before its connection is closed under it
    /// (`MEDIAWORKER_DATABASE_QUERY_TIMEOUT`, default 30 s).
    public let queryTimeout: Duration

    /// Services that run beside the client, as child tasks of whatever runs it (`attach`).
    private let attached = AsyncStream<any Service>.makeStream()
    /// Who runs the client: nobody yet, `run()` (a service group), or the task `start()` made.
    private let runner = Mutex<Runner>(.idle)

    private enum Runner {
        case idle
        case service
        case started(Task<Void, Never>)
    }

    /// `MEDIAWORKER_DATABASE_QUERY_TIMEOUT` as the process was started with (30 s when unset or malformed; the
    /// commands refuse a malformed value at start-up). The default of `init`'s `queryTimeout`.
    public static let environmentQueryTimeout: Duration = {
        let seconds = (try? Settings(environment: ProcessInfo.processInfo.environment)
            .seconds("MEDIAWORKER_DATABASE_QUERY_TIMEOUT", 1...3600)) ?? nil
        return .milliseconds(Int64((seconds ?? 30) * 1000))
    }()

    /// At most `maxConnections` at once (`MEDIAWORKER_DATABASE_POOL`); callers beyond wait for one, up to
    /// `connectTimeout`. A statement running longer than `queryTimeout` has its connection closed under it.
    public init(location: PostgresLocation, maxConnections: Int, connectTimeout: Duration = .seconds(10),
                queryTimeout: Duration = PostgresDatabase.environmentQueryTimeout,
                logger: Logger = Logger(label: "mediaworker.postgres")) throws {
        self.location = location
        self.logger = logger
        self.connectTimeout = max(connectTimeout, .milliseconds(1))
        self.queryTimeout = max(queryTimeout, .milliseconds(1))
        let tls: PostgresClient.Configuration.TLS = location.requireTLS ? .require(.makeClientConfiguration()) : .disable
        var config = PostgresClient.Configuration(host: location.host, port: location.port, username: location.user,
                                                  password: location.password, database: location.database, tls: tls)
        config.options.maximumConnections = max(1, maxConnections)
        config.options.connectTimeout = max(connectTimeout, .seconds(1))
        if let schema = location.schema {
            config.options.additionalStartupParameters = [("search_path", schema)]
        }
        client = PostgresClient(configuration: config, backgroundLogger: logger)
    }

    /// The connect wait in seconds, as the command line read it before `Duration`.
    @available(*, deprecated, renamed: "init(location:maxConnections:connectTimeout:queryTimeout:logger:)")
    public convenience init(location: PostgresLocation, maxConnections: Int, connectWait: Double,
                            logger: Logger = Logger(label: "mediaworker.postgres")) throws {
        try self.init(location: location, maxConnections: maxConnections,
                      connectTimeout: .milliseconds(Int64(connectWait * 1000)), logger: logger)
    }

    /// As a service: runs the client and the attached services until the group's graceful shutdown reaches it.
    /// When `start()` already runs them (a command that opened its storage before building its group), it holds them
    /// until then and ends them.
    public func run() async throws {
        let startedEarlier = runner.withLock { runner -> Bool in
            switch runner {
            case .idle:
                runner = .service
                return false
            case .started:
                return true
            case .service:
                preconditionFailure("PostgresDatabase.run() called twice")
            }
        }
        if startedEarlier {
            try? await gracefulShutdown()
            await shutdown()
            return
        }
        await cancelWhenGracefulShutdown { await self.runClientAndAttached() }
    }

    /// Without a service group (one-shot commands, tests): runs the client and the attached services in a task of
    /// their own until `shutdown()`. Must come before any statement (the queue migrates the schema when it opens).
    public func start() {
        runner.withLock { runner in
            guard case .idle = runner else { return }
            runner = .started(Task { await self.runClientAndAttached() })
        }
    }

    /// Ends what `start()` began and waits until the client's connections are closed.
    public func shutdown() async {
        let task = runner.withLock { runner -> Task<Void, Never>? in
            guard case .started(let task) = runner else { return nil }
            task.cancel()
            return task
        }
        await task?.value
    }

    /// Runs `service` beside the client, as a child task of `run()` (or of `start()`'s task), until the database stops.
    func attach(_ service: some Service) {
        attached.continuation.yield(service)
    }

    /// The client and every attached service, each a child task; all end when this task is cancelled.
    private func runClientAndAttached() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            // Ends (nil) when the task is cancelled: the group then waits for its children, which end with it.
            for await service in attached.stream {
                group.addTask {
                    do { try await service.run() } catch {
                        self.logger.warning("a PostgreSQL service ended with an error", metadata: ["error": "\(error)"])
                    }
                }
            }
        }
    }

    /// Runs `body` with a pooled connection, waiting at most `connectTimeout` for one.
    public func withConnection<T: Sendable>(_ body: @Sendable @escaping (PostgresConnection) async throws -> T) async throws -> T {
        let wait = connectTimeout
        let where_ = "\(location.host):\(location.port)/\(location.database)"
        return try await withThrowingTaskGroup(of: T?.self) { group in
            let leased = Flag()
            group.addTask { [client] in
                try await client.withConnection { connection in
                    leased.set()
                    return try await body(connection)
                }
            }
            group.addTask {
                // Only the wait for a connection is bounded here; a statement has its own guard (`run`).
                try await Task.sleep(for: wait)
                if leased.isSet { return nil }
                throw PostgresFailure(lost: "no connection to \(where_) within \(wait)")
            }
            while let next = try await group.next() {
                if let value = next {
                    group.cancelAll()
                    return value
                }
            }
            throw PostgresFailure("the connection's task ended without a result")
        }
    }

    /// Runs one statement and returns its rows.
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> PostgresQueryResult {
        let (logger, timeout) = (logger, queryTimeout)
        return try await withConnection { try await $0.run(query, timeout: timeout, logger: logger) }
    }

    /// Runs `body` inside BEGIN … COMMIT on one pooled connection; ROLLBACK when it throws
    /// (`PostgresConnection.transaction`, which says why this is not `PostgresClient.withTransaction`).
    public func transaction<T: Sendable>(_ body: @Sendable @escaping (PostgresConnection) async throws -> T) async throws -> T {
        let (logger, timeout) = (logger, queryTimeout)
        return try await withConnection { try await $0.transaction(timeout: timeout, logger: logger, body) }
    }
}

/// A flag set once, read from other tasks.
private final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
