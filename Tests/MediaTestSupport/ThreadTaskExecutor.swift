import Foundation

/// A task executor on OS threads of its own, for tests (`QueueExecutorTrait`, `BlockingTestsTrait`): suites that block
/// their thread for seconds (decoding in-process, waiting for child processes) run here, and queue tests whose lease
/// times are real seconds run apart from them, so neither stalls the other on the cooperative pool's few threads.
public final class ThreadTaskExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    /// Starts `threads` threads named `name`; they live as long as the process.
    public init(name: String, threads: Int) {
        for n in 0..<max(1, threads) {
            let thread = Thread { [self] in loop() }
            thread.name = "\(name).\(n)"
            thread.start()
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// The queue tests' executor. Its threads mostly wait for the databases, so there are several per core.
    public static let queueWork = ThreadTaskExecutor(name: "tests.queue",
                                                     threads: max(8, 4 * ProcessInfo.processInfo.activeProcessorCount))
}
