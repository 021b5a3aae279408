import Foundation

/// A task executor on OS threads of its own, for calls that block their thread: SQLite's (GRDB's synchronous API;
/// a wait for the file's lock lasts up to the 30 s busy timeout). `SQLiteJobQueue` runs every call here, and a caller
/// already running here (the worker, through `JobQueue.executor`) takes no thread hop: a no-op job's queue calls cost
/// about half what they cost through GRDB's async API, which hops to GRDB's queue and back on every call
/// (`Benchmarks/queue.sh`). The cooperative pool is never blocked meanwhile.
public final class BlockingCallExecutor: TaskExecutor, @unchecked Sendable {
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

    /// SQLite's calls and their callers. Its threads mostly wait (SQLite's lock and disk), so there are several per
    /// core: a caller blocked in a lock wait holds one, not the queue.
    public static let sqlite = BlockingCallExecutor(name: "mediaworker.sqlite",
                                                    threads: max(8, 4 * ProcessInfo.processInfo.activeProcessorCount))
}
