import Foundation
import ServiceLifecycle

/// The worker as a swift-service-lifecycle `Service`: runs until a graceful shutdown (SIGTERM/SIGINT
/// through the `ServiceGroup`), then stops claiming and drains within the grace period.
public struct WorkerService: Service {
    public let worker: Worker

    public init(worker: Worker) { self.worker = worker }

    public func run() async throws {
        worker.start()
        let stopped = StopSignal()
        await withGracefulShutdownHandler {
            await stopped.wait()
        } onGracefulShutdown: { [worker] in
            // stop() blocks for up to the grace period: run it on its own thread.
            Thread.detachNewThread {
                worker.stop()
                stopped.fire()
            }
        }
    }
}

/// A one-shot signal an async caller can wait for, fired from any thread (before or after the wait).
final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var fired = false
    private var continuation: CheckedContinuation<Void, Never>?

    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            lock.lock()
            if fired {
                lock.unlock()
                c.resume()
            } else {
                continuation = c
                lock.unlock()
            }
        }
    }

    func fire() {
        lock.lock()
        fired = true
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume()
    }
}
