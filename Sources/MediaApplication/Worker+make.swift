import Logging
import MediaSandbox
import MediaWorker

/// The worker of a process and the helper pool it decodes in.
public struct AssembledWorker: Sendable {
    public var worker: Worker
    /// The sandboxed helper processes (one per slot); files are decoded only there, never in this process.
    public var pipeline: SandboxedPipeline
    public var settings: WorkerSettings
}

/// Settings → helper pool → job processor → worker, once for `serve` and `work`. The pool's helpers are started
/// here when the worker has slots (a failure to start is recorded and shown by `/readyz`, not thrown).
public func makeWorker(_ configuration: ApplicationConfiguration, storage: Storage, logger: Logger) throws -> AssembledWorker {
    var settings = try WorkerSettings(environment: configuration.environment)
    let pipeline = try SandboxedPipeline(environment: configuration.environment, capacity: max(1, settings.concurrency),
                                         executable: configuration.helperExecutable, logger: logger)
    if settings.concurrency > 0 { pipeline.start() }
    settings.jobDeadline = pipeline.jobDeadline
    let processor = JobProcessor(pipeline: pipeline, queue: storage.queue, store: storage.store, retry: settings.retry,
                                 outageWindow: settings.outageWindow)
    return AssembledWorker(worker: Worker(processor: processor, settings: settings, logger: logger),
                           pipeline: pipeline, settings: settings)
}
