import Foundation
import Logging
import MediaQueue
import Synchronization

/// Runs jobs, in River's producer shape: one claim loop feeds `concurrency` slots. Whenever slots are free it claims
/// that many jobs in one call (one transaction), starts each in a slot of its own, and otherwise waits for a slot to
/// free up, a wake-up (a job enqueued in this process, a PostgreSQL NOTIFY) or its poll interval. A heartbeat task
/// renews the leases of jobs in flight. Database calls are `async`; the codec work of a job runs on a thread of its
/// own (`JobProcessor` → `OffPool`), never on Swift's cooperative pool, and the loop, the heartbeat and the job tasks
/// themselves run on the queue's executor (`JobQueue.executor`), so a busy cooperative pool cannot stall claims and
/// leases, and SQLite calls take no thread hop.
///
/// Shutdown (`stop`): stop claiming, let jobs in flight finish within the grace period, then release the ones still
/// running so another worker picks them up at once (a slot still inside such a job has its result refused).
public final class Worker: Sendable {
    public let id: String
    private let processor: JobProcessor
    private let settings: WorkerSettings
    private let logger: Logger

    private struct State {
        var stopping = false
        /// Job id → its lease, from claim until its slot is done (or it is given back).
        var inFlight: [String: Lease] = [:]
        /// Slots running a job.
        var busy = 0
        /// Claims made so far: each claim's owner is `id#n`, so a lease is fenced per claim, not per process — a slot
        /// can never complete, renew or release a job that another claim (even of this process) has taken since.
        var claims = 0
    }

    private struct Lease {
        var claimedAt: Date
        /// The owner string the claim wrote (`Job.leaseOwner`); every later write to the job names it.
        var owner: String
    }

    private let state = Mutex(State())
    /// Wakes the claim loop: a slot freed up, a job was enqueued, or stop was asked for.
    private let claimSignal = Signal()
    /// Wakes the drain: a job finished, or stop was asked for.
    private let doneSignal = Signal()
    private let runner = Mutex<Task<Void, Never>?>(nil)

    public init(processor: JobProcessor, settings: WorkerSettings, logger: Logger,
                id: String = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8))") {
        self.id = id
        self.processor = processor
        self.settings = settings
        self.logger = logger
    }

    /// Runs the worker in a task of its own (`stop()` ends it); for callers outside a service group.
    public func start() {
        runner.withLock { task in
            guard task == nil else { return }
            task = Task(executorPreference: processor.queue.executor) { [self] in await run() }
        }
    }

    /// Asks the worker to stop and waits until it has: claiming stopped, jobs drained or released.
    public func stop() async {
        requestStop()
        await runner.withLock { $0 }?.value
    }

    /// Asks the worker to stop (returns at once; `run()` returns once drained).
    public func requestStop() {
        state.withLock { $0.stopping = true }
        claimSignal.fire()
        doneSignal.fire()
    }

    /// Wakes the claim loop at once (a job was just enqueued in this process).
    public func wake() {
        claimSignal.fire()
    }

    /// Claims and runs jobs until `requestStop()`, then drains within the grace period and releases what is left.
    public func run() async {
        await withTaskExecutorPreference(processor.queue.executor) { await runOnQueueExecutor() }
    }

    private func runOnQueueExecutor() async {
        logger.info("worker started", metadata: ["worker": "\(id)", "slots": "\(settings.concurrency)",
                                                 "lease_s": "\(settings.lease)"])
        // Jobs enqueued by other processes wake the loop at once where the queue can tell (PostgreSQL NOTIFY).
        processor.queue.onJobsAvailable { [weak self] in self?.wake() }
        let heartbeat = Task(executorPreference: processor.queue.executor) { [self] in await heartbeatLoop() }
        await claimLoop()
        await drain()
        heartbeat.cancel()
        _ = await heartbeat.value
    }

    private func claimLoop() async {
        var idle = 0.005
        while true {
            let (stopping, free) = state.withLock { ($0.stopping, settings.concurrency - $0.busy) }
            if stopping { return }
            // Nothing is claimed while no slot is free, nor while no helper process can start (nothing is claimed
            // to fail).
            if free <= 0 {
                await claimSignal.wait(timeout: settings.pollMax)
                continue
            }
            if !processor.pipeline.isReady {
                await claimSignal.wait(timeout: settings.pollMax)
                continue
            }
            let claimant = state.withLock { s -> String in
                s.claims += 1
                return "\(id)#\(s.claims)"
            }
            var jobs: [Job] = []
            do {
                jobs = try await processor.queue.claim(worker: claimant, limit: free, lease: settings.lease,
                                                       maxAttempts: settings.retry.maxAttempts, now: Date())
            } catch {
                logger.error("claim failed", metadata: ["error": "\(error)"])
            }
            // Claimed jobs have a free slot each and start at once, even when stop was asked for meanwhile: they are
            // in flight like any other, and finish within the grace period (or are given back after it).
            state.withLock { s in
                for job in jobs { s.inFlight[job.id] = Lease(claimedAt: Date(), owner: job.leaseOwner ?? claimant) }
                s.busy += jobs.count
            }
            for job in jobs {
                Task(executorPreference: processor.queue.executor) { [self] in await execute(job) }
            }
            if jobs.isEmpty {
                await claimSignal.wait(timeout: idle)
                idle = min(settings.pollMax, idle * 2)
            } else {
                idle = 0.005
            }
        }
    }

    /// Runs one job in its slot, then frees the slot.
    private func execute(_ job: Job) async {
        await processor.run(job, worker: owner(of: job), logger: logger)
        state.withLock { s in
            s.inFlight[job.id] = nil
            s.busy -= 1
        }
        claimSignal.fire()
        doneSignal.fire()
    }

    /// Waits up to the grace period for jobs in flight, then releases the ones left.
    private func drain() async {
        let deadline = Date().addingTimeInterval(settings.grace)
        while state.withLock({ !$0.inFlight.isEmpty }) && Date() < deadline {
            await doneSignal.wait(timeout: max(0.001, min(0.5, deadline.timeIntervalSinceNow)))
        }
        let left = state.withLock { s -> [(id: String, owner: String)] in
            let left = s.inFlight.map { (id: $0.key, owner: $0.value.owner) }
            s.inFlight.removeAll()  // given back: no more heartbeats for them
            return left
        }
        for job in left {
            let released = (try? await processor.queue.release(id: job.id, worker: job.owner, now: Date())) ?? false
            logger.warning("grace period over; job released", metadata: ["job": "\(job.id)", "released": "\(released)"])
        }
        logger.info("worker stopped", metadata: ["worker": "\(id)", "released": "\(left.count)"])
    }

    /// The lease owner a job's writes must name: the claim's own (`id#n`).
    private func owner(of job: Job) -> String { job.leaseOwner ?? id }

    private func heartbeatLoop() async {
        let interval = settings.lease / 3
        while !Task.isCancelled {
            do { try await Task.sleep(for: .milliseconds(Int64(interval * 1000))) } catch { return }  // cancelled: stopped
            // Renewed only within the job deadline: past it the job is stuck and its lease is left to expire.
            let now = Date()
            let limit = settings.jobDeadline ?? .infinity
            let (jobs, overdue) = state.withLock { s in
                (s.inFlight.filter { now.timeIntervalSince($0.value.claimedAt) < limit }.map { (id: $0.key, owner: $0.value.owner) },
                 s.inFlight.filter { now.timeIntervalSince($0.value.claimedAt) >= limit }.map(\.key))
            }
            for job in overdue {
                logger.error("job past its deadline; its lease is no longer renewed", metadata: ["job": "\(job)"])
            }
            for job in jobs {
                do {
                    if try await !processor.queue.heartbeat(id: job.id, worker: job.owner, lease: settings.lease, now: Date()) {
                        // Not held any more: either the job completed meanwhile (fine) or its lease was taken over.
                        let stillRunning = state.withLock { $0.inFlight[job.id] != nil }
                        if stillRunning, try await processor.queue.job(id: job.id)?.leaseOwner != job.owner {
                            logger.warning("lease lost (taken over by another claim)", metadata: ["job": "\(job.id)"])
                        }
                    }
                } catch {
                    logger.error("heartbeat failed", metadata: ["job": "\(job.id)", "error": "\(error)"])
                }
            }
        }
    }
}

/// A wake-up for one waiter at a time: `fire()` before the wait is kept and ends the next wait at once.
final class Signal: Sendable {
    private struct State {
        var pending = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var next: UInt64 = 0
    }
    private let state = Mutex(State())

    func fire() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let w = s.waiter else {
                s.pending = true
                return nil
            }
            s.waiter = nil
            return w.continuation
        }
        waiter?.resume()
    }

    /// Returns on `fire()` or after `timeout` seconds, whichever is first.
    func wait(timeout: TimeInterval) async {
        let id = state.withLock { s -> UInt64 in
            s.next += 1
            return s.next
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.pending {
                    s.pending = false
                    return true
                }
                // A single waiter: an earlier one still waiting is let go first.
                let earlier = s.waiter?.continuation
                s.waiter = (id, c)
                earlier?.resume()
                return false
            }
            if now {
                c.resume()
                return
            }
            Task { [self] in
                try? await Task.sleep(for: .milliseconds(Int64(max(0, timeout) * 1000)))
                let expired = state.withLock { s -> CheckedContinuation<Void, Never>? in
                    guard let w = s.waiter, w.id == id else { return nil }
                    s.waiter = nil
                    return w.continuation
                }
                expired?.resume()
            }
        }
    }
}
