import Foundation

/// A task executor on OS threads of its own. The worker's claim loop, heartbeat and job tasks, and the PostgreSQL
/// client's pool, run on one of these (`withTaskExecutorPreference`): their queue calls are `async`, and a process
/// whose cooperative pool is busy elsewhere (a flood of HTTP requests, or a test suite's blocking tests) must not
/// stall its leases, claims and heartbeats. Their codec work still runs on threads of its own (`OffPool`).
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

    /// The worker's and the database drivers' executor. Its threads mostly wait (SQLite's lock and disk, PostgreSQL's
    /// answers), so there are several per core: a caller blocked in a SQLite lock wait holds one, not the queue.
    public static let queueWork = ThreadTaskExecutor(name: "mediaworker.queue",
                                                     threads: max(8, 4 * ProcessInfo.processInfo.activeProcessorCount))
}
