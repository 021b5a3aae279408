import Foundation
import ServiceLifecycle

/// The worker as a swift-service-lifecycle `Service`: runs until a graceful shutdown (SIGTERM/SIGINT
/// through the `ServiceGroup`), then stops claiming and drains within the grace period.
public struct WorkerService: Service {
    public let worker: Worker

    public init(worker: Worker) { self.worker = worker }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await worker.run()
        } onGracefulShutdown: { [worker] in
            worker.requestStop()
        }
    }
}
