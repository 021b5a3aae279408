import Foundation
import Logging
import MediaDomain
import MediaQueue
import ServiceLifecycle
import Synchronization

/// Runs jobs, in River's producer shape, as a swift-service-lifecycle `Service`: one claim loop feeds
/// `concurrency` slots. Whenever slots are free it claims that many jobs in one call (one transaction) and runs each
/// as a child task of the worker's own task group; otherwise it waits for the next wake-up — a slot freed up, a job
/// enqueued in this process or announced by PostgreSQL's NOTIFY, or the poll timer. A heartbeat child renews the
/// leases of jobs in flight. Every task the worker starts is a child of `run()`: nothing outlives it.
///
/// Graceful shutdown (SIGTERM through the `ServiceGroup`, or `requestStop()`): stop claiming, let jobs in flight
/// finish within the grace period, then release the ones still running so another worker picks them up at once (a
/// slot still inside such a job has its result refused by the lease fencing), and return once those slots are done.
public final class Worker: Service, Sendable {
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
        /// How long an empty claim waits before polling again (grows while the queue is empty, up to `pollMax`).
        var pollInterval: Duration = Worker.shortestPoll
        /// When the poll timer wakes the waiting loop (set by the loop each time it waits).
        var pollAt: ContinuousClock.Instant = .now + .seconds(3600)
        /// Whether `run()` was entered (a worker runs once).
        var ran = false
    }

    private struct Lease {
        var claimedAt: ContinuousClock.Instant
        /// The owner string the claim wrote (`Job.leaseOwner`); every later write to the job names it.
        var owner: String
    }

    private let state = Mutex(State())
    /// Wake-ups of the claim loop and of the drain; several before the next wait count as one.
    private let wakeups: AsyncStream<Void>
    private let wakeupSource: AsyncStream<Void>.Continuation
    private static let shortestPoll: Duration = .milliseconds(5)

    public init(processor: JobProcessor, settings: WorkerSettings, logger: Logger,
                id: String = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8))") {
        self.id = id
        self.processor = processor
        self.settings = settings
        self.logger = logger
        (wakeups, wakeupSource) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Claims and runs jobs until a graceful shutdown (or `requestStop()`), then drains within the grace period,
    /// releases what is left and returns when every slot is done.
    public func run() async {
        let first = state.withLock { s -> Bool in
            defer { s.ran = true }
            return !s.ran
        }
        precondition(first, "a Worker runs once")
        await withGracefulShutdownHandler {
            await work()
        } onGracefulShutdown: { [self] in
            requestStop()
        }
    }

    /// Asks the worker to stop (returns at once; `run()` returns once drained).
    public func requestStop() {
        state.withLock { $0.stopping = true }
        wakeupSource.yield()
    }

    /// Wakes the claim loop at once (a job was just enqueued in this process).
    public func wake() {
        wakeupSource.yield()
    }

    private func work() async {
        logger.info("worker started", metadata: ["worker": "\(id)", "slots": "\(settings.concurrency)",
                                                 "lease_s": "\(settings.lease.inSeconds)"])
        // Jobs enqueued by other processes wake the loop at once where the queue can tell (PostgreSQL NOTIFY).
        processor.queue.onJobsAvailable { [weak self] in self?.wake() }
        var next = wakeups.makeAsyncIterator()
        // On the queue's own threads where it has them (SQLite's): its calls then take no thread hop, and a busy
        // cooperative pool cannot stall claims and heartbeats. The codec work leaves through `CodecThread`.
        await withTaskExecutorPreference(processor.queue.executor) {
            await slots(&next)
        }
        logger.info("worker stopped", metadata: ["worker": "\(id)"])
    }

    private func slots(_ next: inout AsyncStream<Void>.Iterator) async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.heartbeats() }
            group.addTask { await self.pollTimer() }
            group.addTask { await self.outageProbe() }
            await claimLoop(&group, wakeups: &next)
            await drain(wakeups: &next)
            // The heartbeat and the timer end; slots of released jobs finish on their own (their writes are refused).
            group.cancelAll()
        }
    }

    private func claimLoop(_ group: inout DiscardingTaskGroup, wakeups next: inout AsyncStream<Void>.Iterator) async {
        while true {
            let (stopping, free) = state.withLock { ($0.stopping, settings.concurrency - $0.busy) }
            if stopping { return }
            // Nothing is claimed while no slot is free, nor while no helper process can start (nothing is claimed
            // to fail).
            if free <= 0 || !processor.pipeline.canProcess() {
                await wait(for: settings.pollMax, &next)
                continue
            }
            let claimant = state.withLock { s -> String in
                s.claims += 1
                return "\(id)#\(s.claims)"
            }
            var jobs: [Job] = []
            do {
                jobs = try await processor.queue.claim(worker: claimant, limit: free, lease: settings.lease.inSeconds,
                                                       maxAttempts: settings.retry.maxAttempts, now: Date())
            } catch {
                logger.error("claim failed", metadata: ["error": "\(error)"])
            }
            // Claimed jobs have a free slot each and start at once, even when stop was asked for meanwhile: they are
            // in flight like any other, and finish within the grace period (or are given back after it).
            let now = ContinuousClock.now
            state.withLock { s in
                for job in jobs { s.inFlight[job.id] = Lease(claimedAt: now, owner: job.leaseOwner ?? claimant) }
                s.busy += jobs.count
            }
            for job in jobs {
                group.addTask { await self.execute(job) }
            }
            if jobs.isEmpty {
                // An empty queue is polled less and less often, down to `pollMax`; wake-ups still end a wait at once.
                let interval = state.withLock { s -> Duration in
                    defer { s.pollInterval = min(settings.pollMax, s.pollInterval * 2) }
                    return s.pollInterval
                }
                await wait(for: interval, &next)
            } else {
                state.withLock { $0.pollInterval = Self.shortestPoll }
            }
        }
    }

    /// Waits for the next wake-up, or `interval` at most (the poll timer's).
    private func wait(for interval: Duration, _ next: inout AsyncStream<Void>.Iterator) async {
        state.withLock { $0.pollAt = .now + interval }
        _ = await next.next()
    }

    /// Wakes the waiting loop once its poll interval is over: the fallback for jobs no wake-up announces (another
    /// process's enqueue on SQLite, a retry coming due, a helper able to start again). It looks every 10 ms at most,
    /// so a short interval set while it slept is kept.
    private func pollTimer() async {
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let due = state.withLock { s -> Bool in
                guard now >= s.pollAt else { return false }
                s.pollAt = now + .seconds(3600)  // until the loop waits again
                return true
            }
            if due { wakeupSource.yield() }
            let left = state.withLock { $0.pollAt } - now
            do { try await Task.sleep(for: max(.milliseconds(1), min(left, .milliseconds(10)))) } catch { return }
        }
    }

    /// Every `outageProbe`, while jobs postponed for an outage wait (this worker's, or those of a worker that died
    /// meanwhile: the queue knows them), checks whether the store writes and reads and the queue answers again; once
    /// they do, makes those jobs due at once instead of leaving them to a backoff that grew with the outage.
    private func outageProbe() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: settings.outageProbe) } catch { return }
            let waiting: Bool
            if processor.outageSuspected {
                waiting = true
            } else {
                waiting = (try? await processor.queue.hasPostponed(now: Date())) ?? false
            }
            guard waiting, await processor.infrastructureAnswers() else { continue }
            do {
                let released = try await processor.queue.releasePostponed(now: Date())
                if released > 0 {
                    // The backoff starts over only when an outage really ended here; a job failing for a reason of its
                    // own (after its releases) keeps a backoff that grows.
                    processor.outageEnded()
                    logger.info("the store and the queue answer again; jobs postponed by the outage are due now",
                                metadata: ["jobs": "\(released)"])
                    wakeupSource.yield()
                }
            } catch {
                logger.warning("could not release the jobs postponed by an outage", metadata: ["error": "\(error)"])
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
        wakeupSource.yield()
    }

    /// Waits up to the grace period for jobs in flight, then releases the ones left.
    private func drain(wakeups next: inout AsyncStream<Void>.Iterator) async {
        let deadline = ContinuousClock.now + settings.grace
        while state.withLock({ !$0.inFlight.isEmpty }) && ContinuousClock.now < deadline {
            await wait(for: min(.milliseconds(100), deadline - ContinuousClock.now), &next)
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
        if !left.isEmpty { logger.info("released jobs in flight", metadata: ["released": "\(left.count)"]) }
    }

    /// The lease owner a job's writes must name: the claim's own (`id#n`).
    private func owner(of job: Job) -> String { job.leaseOwner ?? id }

    /// Renews the leases of jobs in flight every third of the lease, until cancelled.
    private func heartbeats() async {
        let interval = settings.lease / 3
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }  // cancelled: stopped
            // Renewed only within the job deadline: past it the job is stuck and its lease is left to expire.
            let now = ContinuousClock.now
            let deadline = settings.jobDeadline
            let (jobs, overdue) = state.withLock { s in
                let isOverdue = { (lease: Lease) in deadline.map { now - lease.claimedAt >= $0 } ?? false }
                return (s.inFlight.filter { !isOverdue($0.value) }.map { (id: $0.key, owner: $0.value.owner) },
                        s.inFlight.filter { isOverdue($0.value) }.map(\.key))
            }
            for job in overdue {
                logger.error("job past its deadline; its lease is no longer renewed", metadata: ["job": "\(job)"])
            }
            for job in jobs {
                do {
                    if try await !processor.queue.heartbeat(id: job.id, worker: job.owner, lease: settings.lease.inSeconds,
                                                            now: Date()) {
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
