import Logging
import NIOCore
import PostgresNIO

extension PostgresConnection {
    /// Runs one statement and waits for all its rows, at most `timeout`; errors carry the server's message.
    ///
    /// The wait is on a promise of our own, not on PostgresNIO's future alone, for two cases it does not end:
    /// - a statement written to a channel that has just closed (a PostgreSQL restart) is dropped without its future
    ///   ever failing: PostgresNIO writes statements with `promise: nil`. Upstream fixed this in vapor/postgres-nio
    ///   PR #487 ("Query Hangs if Connection is Closed", which names no issue) and reverted the fix in PR #501;
    ///   1.33.2 still writes so. A check every half second ends the wait once the connection is closed;
    /// - a server that keeps the connection open but stops answering (a stopped backend, a network path that drops
    ///   packets, a stuck disk): after `timeout` the connection is closed under the statement.
    /// Either way the failure counts as a lost connection (dropped from the pool) and the caller's retry goes to a new
    /// one. `PostgresWatchdogTests` proves both cases against the release in use.
    @discardableResult
    func run(_ query: PostgresQuery, timeout: Duration, logger: Logger) async throws -> PostgresQueryResult {
        let answer = eventLoop.makePromise(of: PostgresQueryResult.self)
        let started = NIODeadline.now()
        let limit = TimeAmount(timeout)
        let check = min(TimeAmount.milliseconds(500), limit)
        let watchdog = eventLoop.scheduleRepeatedTask(initialDelay: check, delay: check) { [self] _ in
            if self.isClosed {
                answer.fail(PostgresFailure(lost: "the connection closed while a statement was running"))
            } else if NIODeadline.now() - started >= limit {
                logger.warning("a PostgreSQL statement passed the query timeout; closing its connection",
                               metadata: ["timeout": "\(timeout)"])
                answer.fail(PostgresFailure(lost: "the statement passed the query timeout (\(timeout))"))
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
