import MediaWorker

/// A worker a test runs outside a service group: `run()` in a task of the test's own, ended by `stop()` (which asks
/// for the graceful stop and waits for the drain), as the `ServiceGroup` of `serve` and `work` does.
final class WorkerRun: Sendable {
    let worker: Worker
    private let task: Task<Void, Never>

    init(_ worker: Worker) {
        self.worker = worker
        task = Task { await worker.run() }
    }

    func stop() async {
        worker.requestStop()
        await task.value
    }
}

extension Worker {
    /// Starts the worker for a test; see `WorkerRun`.
    func started() -> WorkerRun { WorkerRun(self) }
}
