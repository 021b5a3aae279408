import Foundation
import PostgresNIO

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
