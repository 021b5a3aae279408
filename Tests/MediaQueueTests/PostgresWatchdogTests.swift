import Foundation
import Logging
@testable import MediaPostgres
import MediaTestSupport
import NIOCore
import PostgresNIO
import Testing

/// The statement watchdog (`PostgresConnection.run(_:timeout:logger:)`) against the PostgresNIO release in use, in the
/// two cases where PostgresNIO alone waits for ever. Each test also runs the same statement through PostgresNIO's own
/// `query` and expects it still waiting: the day an upgrade makes that expectation fail, the watchdog's case is gone.
/// Upstream: vapor/postgres-nio PR #487 ("Query Hangs if Connection is Closed") fixed the closed case and was
/// reverted by PR #501; nothing upstream covers a server that stops answering on an open connection.
@Suite(.onQueueExecutor) struct PostgresWatchdogTests {
    static let logger = Logger(label: "test")

    /// Succeeds with `true` when `future` completed within `seconds`, `false` when it was still waiting.
    static func completes<T>(_ future: EventLoopFuture<T>, within seconds: Int64) async -> Bool {
        let verdict = future.eventLoop.makePromise(of: Bool.self)
        future.whenComplete { _ in verdict.succeed(true) }
        future.eventLoop.scheduleTask(in: .seconds(seconds)) { verdict.succeed(false) }
        return (try? await verdict.futureResult.get()) ?? true
    }

    /// The backend process serving `connection` (the test server runs on this machine, as this user).
    static func backend(of connection: PostgresConnection) async throws -> pid_t {
        let rows = try await connection.run("SELECT pg_backend_pid()", timeout: .seconds(10), logger: logger).rows
        return pid_t(try #require(rows.first).decode(Int32.self))
    }

    @Test("PostgreSQL: a server that stops answering on an open connection (backend SIGSTOPped) fails the statement after the query timeout; PostgresNIO alone still waits")
    func stalledServer() async throws {
        let storage = try TestBackend.postgres.make("mw-watchdog")
        defer { storage.remove() }
        let url = try #require(storage.environment["MEDIAWORKER_DATABASE_URL"])
        let database = try PostgresDatabase(location: try PostgresLocation(url: url), maxConnections: 2, queryTimeout: .seconds(2))
        database.start()
        defer { Task { await database.shutdown() } }

        // Without the watchdog: PostgresNIO's own query on a stopped backend is still waiting 4 s later.
        try await database.withConnection { connection in
            let pid = try await Self.backend(of: connection)
            try #require(kill(pid, SIGSTOP) == 0, "cannot stop backend \(pid): the test server must run here as this user")
            defer { kill(pid, SIGCONT) }
            let answered = await Self.completes(connection.query("SELECT 1", logger: Self.logger), within: 4)
            #expect(!answered, "PostgresNIO answered a stopped backend: the watchdog's stalled case may be gone upstream")
        }

        // With it: the same statement fails as a lost connection once the 2 s query timeout has passed.
        try await database.withConnection { connection in
            let pid = try await Self.backend(of: connection)
            try #require(kill(pid, SIGSTOP) == 0)
            defer { kill(pid, SIGCONT) }
            let start = ContinuousClock.now
            let failure = await #expect(throws: PostgresFailure.self) {
                try await connection.run("SELECT 1", timeout: .seconds(2), logger: Self.logger)
            }
            #expect(failure?.connectionLost == true, "counted as a lost connection")
            let waited = ContinuousClock.now - start
            #expect(waited >= .seconds(2) && waited < .seconds(5), "failed after \(waited)")
            // The watchdog closes it (asynchronously, on its event loop), so the pool drops it.
            let closing = ContinuousClock.now
            while !connection.isClosed && ContinuousClock.now - closing < .seconds(3) { try await Task.sleep(for: .milliseconds(20)) }
            #expect(connection.isClosed, "the stalled connection is closed, so the pool drops it")
        }

        // The pool connects anew: the next statement is answered.
        #expect(try await database.query("SELECT 1").rows.first?.decode(Int.self) == 1)
    }

    @Test("PostgreSQL: a statement written after its connection closed fails within a second; PostgresNIO alone (as its withTransaction's ROLLBACK) never answers")
    func closedConnection() async throws {
        let storage = try TestBackend.postgres.make("mw-watchdog")
        defer { storage.remove() }
        let url = try #require(storage.environment["MEDIAWORKER_DATABASE_URL"])
        let database = try PostgresDatabase(location: try PostgresLocation(url: url), maxConnections: 2, queryTimeout: .seconds(30))
        database.start()
        defer { Task { await database.shutdown() } }

        try await database.withConnection { connection in
            try await connection.close().get()
            // Without the watchdog: PostgresNIO writes the statement with `promise: nil`; its future never completes.
            let answered = await Self.completes(connection.query("SELECT 1", logger: Self.logger), within: 3)
            #expect(!answered, "PostgresNIO failed a statement on a closed connection: the watchdog's closed case may be gone upstream (PR #487 again?)")

            // With it: fails as a lost connection at the next half-second check, long before the 30 s timeout.
            let start = ContinuousClock.now
            let failure = await #expect(throws: PostgresFailure.self) {
                try await connection.run("SELECT 1", timeout: .seconds(30), logger: Self.logger)
            }
            #expect(failure?.connectionLost == true, "counted as a lost connection")
            #expect(ContinuousClock.now - start < .seconds(2))
        }
        #expect(try await database.query("SELECT 1").rows.first?.decode(Int.self) == 1)
    }
}
