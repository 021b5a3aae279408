import Foundation
import Logging
import MediaQueue
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Where the PostgreSQL server is, read from `MEDIAWORKER_DATABASE_URL`:
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|require][&schema=NAME]`.
/// `schema` keeps the tables in their own schema (created when missing), so several deployments or test runs
/// can share one database.
public struct PostgresLocation: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var requireTLS: Bool
    public var schema: String?

    public init(url: String) throws {
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? ""),
              let host = parts.host, !host.isEmpty else {
            throw PostgresFailure("MEDIAWORKER_DATABASE_URL must look like postgres://user[:password]@host[:port]/database")
        }
        self.host = host
        port = parts.port ?? 5432
        user = parts.user ?? "postgres"  // URLComponents has decoded %XX already
        password = parts.password
        let path = parts.path.hasPrefix("/") ? String(parts.path.dropFirst()) : parts.path
        database = path.isEmpty ? user : path
        var requireTLS = false
        var schema: String?
        for item in parts.queryItems ?? [] {
            switch (item.name, item.value ?? "") {
            case ("sslmode", "disable"), ("sslmode", "prefer"), ("sslmode", "allow"): requireTLS = false
            case ("sslmode", "require"), ("sslmode", "verify-full"), ("sslmode", "verify-ca"): requireTLS = true
            case ("schema", let name):
                // An identifier we quote ourselves: letters, digits and underscores only.
                // At most 40 characters: the NOTIFY channel is "mediaworker_jobs_" + the name, and channels stop at 63.
                guard !name.isEmpty, name.count <= 40, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                    throw PostgresFailure("schema=\(name): 1–40 letters, digits and underscores")
                }
                schema = name.lowercased()
            case (let name, let value):
                throw PostgresFailure("MEDIAWORKER_DATABASE_URL: unsupported parameter \(name)=\(value) (sslmode, schema)")
            }
        }
        self.requireTLS = requireTLS
        self.schema = schema
    }

    /// True when `url` names a PostgreSQL server rather than a SQLite file.
    public static func isPostgres(_ url: String) -> Bool {
        url.hasPrefix("postgres://") || url.hasPrefix("postgresql://")
    }
}

/// The PostgreSQL server through PostgresNIO's `PostgresClient`: its connection pool makes connections as callers need
/// them (up to `MEDIAWORKER_DATABASE_POOL`), drops the ones the server closed (restart, failover) and connects anew,
/// so processes reconnect by themselves. `start()` runs the client; `serve` and `work` also run this as a
/// swift-service-lifecycle `Service`, so the client stops with the service group, last.
///
/// Two guards sit around the client, both for outages:
/// - a caller waits at most `connectWait` for a connection (the pool queues requests while it cannot connect, up to
///   its 60 s circuit breaker): past it the call fails as a lost connection, so an upload gets 503 at once and a
///   worker postpones, instead of hanging with the server down;
/// - every statement goes through `PostgresConnection.run`, which never waits for ever on a closed connection
///   (see there).
public final class PostgresDatabase: Service, Sendable {
    public let location: PostgresLocation
    public let client: PostgresClient
    let logger: Logger
    /// How long a caller waits for a pooled connection, seconds (`MEDIAWORKER_DATABASE_CONNECT_TIMEOUT`, default 10).
    let connectWait: Double
    private let runner = Mutex<Task<Void, Never>?>(nil)

    /// At most `maxConnections` at once (`MEDIAWORKER_DATABASE_POOL`); callers beyond wait for one.
    public init(location: PostgresLocation, maxConnections: Int, connectWait: Double = 10,
                logger: Logger = Logger(label: "mediaworker.postgres")) throws {
        self.location = location
        self.logger = logger
        self.connectWait = connectWait
        let tls: PostgresClient.Configuration.TLS = location.requireTLS ? .require(.makeClientConfiguration()) : .disable
        var config = PostgresClient.Configuration(host: location.host, port: location.port, username: location.user,
                                                  password: location.password, database: location.database, tls: tls)
        config.options.maximumConnections = max(1, maxConnections)
        config.options.connectTimeout = .seconds(Int64(max(1, connectWait)))
        if let schema = location.schema {
            config.options.additionalStartupParameters = [("search_path", schema)]
        }
        client = PostgresClient(configuration: config, backgroundLogger: logger)
    }

    /// As a service (`serve`, `work`): keeps the client running until the group's graceful shutdown reaches it. Put
    /// it first in the `ServiceGroup`, so it stops last, after the worker has given its jobs back.
    public func run() async throws {
        start()
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Runs the client in a task of its own (before any statement: the queue migrates the schema when it opens).
    public func start() {
        runner.withLock { task in
            guard task == nil else { return }
            // The pool runs on the queue executor: leasing a connection must not wait for a busy cooperative pool.
            task = Task(executorPreference: ThreadTaskExecutor.queueWork) { [client] in await client.run() }
        }
    }

    /// Ends the client `start()` began and waits until its connections are closed.
    public func shutdown() async {
        let task = runner.withLock { task -> Task<Void, Never>? in
            task?.cancel()
            return task
        }
        await task?.value
    }

    /// Runs `body` with a pooled connection, waiting at most `connectWait` for one.
    public func withConnection<T: Sendable>(_ body: @Sendable @escaping (PostgresConnection) async throws -> T) async throws -> T {
        let wait = connectWait
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
                try await Task.sleep(for: .milliseconds(Int64(wait * 1000)))
                if leased.isSet { return nil }
                throw PostgresFailure(lost: "no connection to \(where_) within \(wait) s")
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
        let logger = logger
        return try await withConnection { try await $0.run(query, logger: logger) }
    }

    /// Runs `body` inside BEGIN … COMMIT on one connection; ROLLBACK when it throws.
    public func transaction<T: Sendable>(_ body: @Sendable @escaping (PostgresConnection) async throws -> T) async throws -> T {
        let logger = logger
        return try await withConnection { connection in
            try await connection.run("BEGIN", logger: logger)
            do {
                let value = try await body(connection)
                try await connection.run("COMMIT", logger: logger)
                return value
            } catch {
                // A connection whose ROLLBACK fails may still be inside the transaction: close it (the pool drops it).
                if !connection.isClosed, (try? await connection.run("ROLLBACK", logger: logger)) == nil {
                    let closing: EventLoopFuture<Void> = connection.close()
                    _ = closing
                }
                throw error
            }
        }
    }
}

/// A flag set once, read from other tasks.
private final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

extension PostgresConnection {
    /// The longest one statement may take before its connection is closed under it
    /// (`MEDIAWORKER_DATABASE_QUERY_TIMEOUT`, seconds, default 30; the commands refuse a malformed value at start-up).
    static let queryTimeout: TimeAmount = {
        let seconds = (try? Settings(environment: ProcessInfo.processInfo.environment)
            .seconds("MEDIAWORKER_DATABASE_QUERY_TIMEOUT", 1...3600)) ?? nil
        return .milliseconds(Int64((seconds ?? 30) * 1000))
    }()

    /// Runs one statement and waits for all its rows; errors carry the server's message.
    ///
    /// The wait is on a promise of our own, not on PostgresNIO's future alone: a statement written to a channel that
    /// has just closed (a PostgreSQL restart) is dropped without its future ever failing, which left an enqueue
    /// waiting for ever in the scale-out test. A check every half second ends the wait once the connection is closed,
    /// and after `queryTimeout` closes it; either way the failure counts as a lost connection (dropped from the
    /// pool) and the caller's retry goes to a new one.
    @discardableResult
    func run(_ query: PostgresQuery, logger: Logger) async throws -> PostgresQueryResult {
        let answer = eventLoop.makePromise(of: PostgresQueryResult.self)
        let started = NIODeadline.now()
        let watchdog = eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(500), delay: .milliseconds(500)) { [self] _ in
            if self.isClosed {
                answer.fail(PostgresFailure(lost: "the connection closed while a statement was running"))
            } else if NIODeadline.now() - started >= Self.queryTimeout {
                logger.warning("a PostgreSQL statement passed the query timeout; closing its connection",
                               metadata: ["timeout_s": "\(Self.queryTimeout.nanoseconds / 1_000_000_000)"])
                answer.fail(PostgresFailure(lost: "the statement passed the query timeout"))
                let closing: EventLoopFuture<Void> = self.close()
                _ = closing
            }
        }
        defer { watchdog.cancel() }
        self.query(query, logger: logger).cascade(to: answer)
        do {
            return try await answer.futureResult.get()
        } catch {
            var failure = PostgresFailure(error, doing: nil)
            if self.isClosed { failure.connectionLost = true }
            throw failure
        }
    }
}

/// A PostgreSQL error with the server's own message (PostgresNIO hides it from `description` by default).
public struct PostgresFailure: Error, CustomStringConvertible {
    public var description: String
    /// The connection itself failed (server gone, restart, reset): it must not be used again.
    public var connectionLost = false

    init(_ message: String) {
        description = message
    }

    /// The connection is gone (closed under a statement, or closed by the watchdog).
    init(lost message: String) {
        description = message
        connectionLost = true
    }

    init(_ error: any Error, doing what: String?) {
        if let psql = error as? PSQLError {
            connectionLost = [.serverClosedConnection, .connectionError, .uncleanShutdown, .clientClosedConnection,
                              .messageDecodingFailure, .unexpectedBackendMessage].contains(psql.code)
            var text = "postgres \(psql.code)"
            if let info = psql.serverInfo {
                text = "postgres: \(info[.message] ?? "error") (SQLSTATE \(info[.sqlState] ?? "?"))"
                if let detail = info[.detail] { text += ": \(detail)" }
            } else if let underlying = psql.underlying {
                text += ": \(underlying)"
            }
            description = what.map { "\($0): \(text)" } ?? text
        } else if let failure = error as? PostgresFailure {
            self = failure
        } else {
            description = what.map { "\($0): \(error)" } ?? "\(error)"
        }
    }
}
