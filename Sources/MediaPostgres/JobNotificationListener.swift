import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// One pooled connection that LISTENs on the queue's channel (PostgresNIO's `listen(on:)`) and calls the handlers on
/// every notification; when the connection is lost it listens again with backoff, and calls the handlers once it
/// does (jobs may have arrived meanwhile).
///
/// A swift-service-lifecycle `Service`. `PostgresJobQueue.onJobsAvailable` attaches it to its `PostgresDatabase`,
/// whose own `run()` runs it as a child task beside the client, so it stops with the database.
public final class JobNotificationListener: Service, Sendable {
    private let database: PostgresDatabase
    /// The NOTIFY channel.
    public let channel: String
    private let logger: Logger
    private let handlers = Mutex<[@Sendable () -> Void]>([])

    init(database: PostgresDatabase, channel: String, logger: Logger) {
        self.database = database
        self.channel = channel
        self.logger = logger
    }

    /// Calls `handler` on every notification from now on.
    func add(_ handler: @escaping @Sendable () -> Void) {
        handlers.withLock { $0.append(handler) }
    }

    private func notify() {
        for handler in handlers.withLock({ $0 }) { handler() }
    }

    /// Listens until the task is cancelled or the service group shuts down gracefully.
    public func run() async {
        await cancelWhenGracefulShutdown { await self.listen() }
    }

    private func listen() async {
        var delay = Duration.milliseconds(100)
        var first = true
        while !Task.isCancelled {
            do {
                let channel = channel
                try await database.client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        if !first { self.logger.info("listening again for new jobs", metadata: ["channel": "\(channel)"]) }
                        first = false
                        delay = .milliseconds(100)
                        self.notify()
                        for try await _ in notifications { self.notify() }
                    }
                }
                if Task.isCancelled { return }
                logger.warning("lost the LISTEN connection; reconnecting", metadata: ["channel": "\(channel)"])
            } catch {
                if Task.isCancelled { return }
                logger.warning("cannot LISTEN for new jobs; polling meanwhile",
                               metadata: ["error": "\(error)", "retry_in": "\(delay)"])
            }
            try? await Task.sleep(for: delay)
            delay = min(.seconds(5), delay * 2)
        }
    }
}
