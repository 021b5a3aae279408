import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

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

/// A small pool of PostgresNIO connections used from ordinary threads: the queue contract is synchronous
/// (worker slots are OS threads, the HTTP service calls it on NIO's blocking thread pool), so each call
/// checks out a connection, waits for its future, and gives it back. A connection the server closed
/// (restart, failover) is dropped and a new one made on the next checkout: processes reconnect by themselves.
/// Never call it from an event-loop thread.
public final class PostgresConnections: @unchecked Sendable {
    public let location: PostgresLocation
    private let maxConnections: Int
    private let logger: Logger
    private let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    private let condition = NSCondition()
    private var idle: [PostgresConnection] = []
    private var open = 0
    private var nextID = 0
    private var closed = false

    /// At most `maxConnections` at once (`MEDIAWORKER_DATABASE_POOL`); callers beyond wait for one.
    public init(location: PostgresLocation, maxConnections: Int, logger: Logger = Logger(label: "mediaworker.postgres")) {
        self.location = location
        self.maxConnections = max(1, maxConnections)
        self.logger = logger
    }

    deinit { shutdown() }

    func configuration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS =
            location.requireTLS ? .require(try NIOSSLContext(configuration: .makeClientConfiguration())) : .disable
        var config = PostgresConnection.Configuration(host: location.host, port: location.port, username: location.user,
                                                      password: location.password, database: location.database, tls: tls)
        config.options.connectTimeout = .seconds(10)
        if let schema = location.schema {
            config.options.additionalStartupParameters = [("search_path", schema)]
        }
        return config
    }

    /// A new connection (not from the pool), for LISTEN and for migrations' session lock.
    func connect() throws -> PostgresConnection {
        condition.lock()
        nextID += 1
        let id = nextID
        condition.unlock()
        do {
            return try PostgresConnection.connect(on: group.next(), configuration: configuration(), id: id, logger: logger).wait()
        } catch {
            throw PostgresFailure(error, doing: "connect to \(location.host):\(location.port)/\(location.database)")
        }
    }

    /// Runs `body` with a connection of the pool.
    public func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try checkOut()
        do {
            let value = try body(connection)
            checkIn(connection)
            return value
        } catch {
            // A connection the server dropped may not look closed yet: never hand it out again.
            if (error as? PostgresFailure)?.connectionLost == true {
                try? connection.close().wait()
            }
            checkIn(connection)
            throw error
        }
    }

    /// Runs one statement and returns its rows.
    @discardableResult
    public func query(_ query: PostgresQuery) throws -> PostgresQueryResult {
        try withConnection { try $0.run(query, logger: logger) }
    }

    /// Runs `body` inside BEGIN … COMMIT on one connection; ROLLBACK when it throws.
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try withConnection { connection in
            try connection.run("BEGIN", logger: logger)
            do {
                let value = try body(connection)
                try connection.run("COMMIT", logger: logger)
                return value
            } catch {
                // A connection whose ROLLBACK fails may still be inside the transaction: close it.
                if !connection.isClosed, (try? connection.run("ROLLBACK", logger: logger)) == nil {
                    try? connection.close().wait()
                }
                throw error
            }
        }
    }

    private func checkOut() throws -> PostgresConnection {
        condition.lock()
        while true {
            if closed {
                condition.unlock()
                throw PostgresFailure("the connection pool is shut down")
            }
            while let connection = idle.popLast() {
                if !connection.isClosed {
                    condition.unlock()
                    return connection
                }
                open -= 1  // the server closed it (restart); forget it
                discard(connection)
            }
            if open < maxConnections { break }
            condition.wait()
        }
        open += 1
        condition.unlock()
        do {
            return try connect()
        } catch {
            condition.lock()
            open -= 1
            condition.signal()
            condition.unlock()
            throw error
        }
    }

    private func checkIn(_ connection: PostgresConnection) {
        condition.lock()
        if connection.isClosed || closed {
            open -= 1
            condition.signal()
            condition.unlock()
            discard(connection)
            return
        }
        idle.append(connection)
        condition.signal()
        condition.unlock()
    }

    /// Closes and waits (a PostgresConnection must be closed before its last reference goes); instant when the
    /// server already closed it. Never called on an event loop.
    private func discard(_ connection: PostgresConnection) {
        try? connection.close().wait()
    }

    /// Closes every idle connection; later calls fail.
    public func shutdown() {
        condition.lock()
        closed = true
        let connections = idle
        idle.removeAll()
        open -= connections.count
        condition.broadcast()
        condition.unlock()
        for connection in connections { try? connection.close().wait() }
    }
}

extension PostgresConnection {
    /// The longest one statement may take before its connection is closed under it
    /// (`MEDIAWORKER_DATABASE_QUERY_TIMEOUT`, seconds, default 30).
    static let queryTimeout: TimeAmount = {
        let raw = ProcessInfo.processInfo.environment["MEDIAWORKER_DATABASE_QUERY_TIMEOUT"].flatMap(Double.init) ?? 30
        return .milliseconds(Int64(max(1, raw) * 1000))
    }()

    /// Runs one statement and waits for all its rows; errors carry the server's message.
    ///
    /// The wait is on a promise of our own, not on PostgresNIO's future alone: a statement written to a channel that
    /// has just closed (a PostgreSQL restart) is dropped without its future ever failing, which left an enqueue
    /// waiting for ever in the scale-out test. A check every half second ends the wait once the connection is closed,
    /// and after `queryTimeout` closes it; either way the failure counts as a lost connection (dropped from the
    /// pool) and the caller's retry goes to a new one.
    @discardableResult
    func run(_ query: PostgresQuery, logger: Logger) throws -> PostgresQueryResult {
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
            return try answer.futureResult.wait()
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
