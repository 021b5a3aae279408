import Logging
import NIOCore
import PostgresNIO

extension PostgresConnection {
    /// Runs `body` inside BEGIN … COMMIT on this connection; ROLLBACK when it throws.
    ///
    /// Not PostgresNIO's `withTransaction` (nor `PostgresClient.withTransaction`): its BEGIN, COMMIT and ROLLBACK go
    /// through PostgresNIO's own `query`, which waits for ever when the server stops answering, or when the connection
    /// closed before the statement was written — a ROLLBACK after the body failed because the server went away is
    /// exactly that case (see `run(_:timeout:logger:)`; `PostgresWatchdogTests` shows both against postgres-nio 1.33).
    /// Here all three go through `run`, like every statement of the body, and a connection whose ROLLBACK fails is
    /// closed, so the pool never lends it out still inside the transaction.
    func transaction<T: Sendable>(timeout: Duration, logger: Logger,
                                  _ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await run("BEGIN", timeout: timeout, logger: logger)
        do {
            let value = try await body(self)
            try await run("COMMIT", timeout: timeout, logger: logger)
            return value
        } catch {
            if !isClosed, (try? await run("ROLLBACK", timeout: timeout, logger: logger)) == nil {
                let closing: EventLoopFuture<Void> = close()
                _ = closing
            }
            throw error
        }
    }
}
