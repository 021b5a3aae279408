import Foundation
import Logging
import MediaQueue

/// Runs jobs: `concurrency` slots, each an OS thread (codec work stays off Swift's cooperative pool),
/// claiming with a lease, plus one heartbeat thread renewing the leases of jobs in flight. When several slots
/// are idle, one of them claims for all of them in a single call (one transaction) and hands the extra jobs
/// to the others.
///
/// Shutdown (`stop`): stop claiming, let jobs in flight finish within the grace period, then release
/// the ones still running so another worker picks them up at once.
public final class Worker: @unchecked Sendable {
    public let id: String
    private let processor: JobProcessor
    private let settings: WorkerSettings
    private let logger: Logger
    private let condition = NSCondition()
    private var stopping = false
    private var running = 0
    /// Job id → its lease (running, or waiting in `ready`).
    private var inFlight: [String: Lease] = [:]
    /// Claims made so far: each claim's owner is `id#n`, so a lease is fenced per claim, not per process — a slot
    /// can never complete, renew or release a job that another claim (even of this process) has taken since.
    private var claims = 0

    private struct Lease {
        var claimedAt: Date
        /// The owner string the claim wrote (`Job.leaseOwner`); every later write to the job names it.
        var owner: String
    }
    private var ready: [Job] = []  // claimed for an idle slot, not started yet
    private var busySlots = 0  // slots running a job
    private var claimingFor = 0  // slots an ongoing claim is taking jobs for
    private var wakeups = 0

    public init(processor: JobProcessor, settings: WorkerSettings, logger: Logger,
                id: String = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8))") {
        self.id = id
        self.processor = processor
        self.settings = settings
        self.logger = logger
    }

    /// Starts the slots and the heartbeat.
    public func start() {
        condition.lock()
        running = settings.concurrency + 1
        condition.unlock()
        for slot in 0..<settings.concurrency {
            let thread = Thread { [self] in slotLoop(slot) }
            thread.name = "mediaworker.slot\(slot)"
            thread.stackSize = 8 << 20
            thread.start()
        }
        let heartbeat = Thread { [self] in heartbeatLoop() }
        heartbeat.name = "mediaworker.heartbeat"
        heartbeat.start()
        // Jobs enqueued by other processes wake idle slots at once where the queue can tell (PostgreSQL NOTIFY).
        processor.queue.onJobsAvailable { [weak self] in self?.wake() }
        logger.info("worker started", metadata: ["worker": "\(id)", "slots": "\(settings.concurrency)",
                                                 "lease_s": "\(settings.lease)"])
    }

    /// Wakes idle slots at once (a job was just enqueued in this process).
    public func wake() {
        condition.lock()
        wakeups += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Stops claiming, waits up to the grace period for jobs in flight, releases what is left, and
    /// returns when every thread has ended or been given up on.
    public func stop() {
        condition.lock()
        stopping = true
        // Jobs claimed for a slot but not started go back at once.
        let unstarted = ready
        ready.removeAll()
        for job in unstarted { inFlight[job.id] = nil }
        condition.broadcast()
        condition.unlock()
        for job in unstarted { _ = try? processor.queue.release(id: job.id, worker: owner(of: job), now: Date()) }
        condition.lock()
        let deadline = Date().addingTimeInterval(settings.grace)
        while !inFlight.isEmpty && Date() < deadline { _ = condition.wait(until: deadline) }
        let left = inFlight.map { (id: $0.key, owner: $0.value.owner) }
        condition.unlock()
        condition.lock()
        for job in left { inFlight[job.id] = nil }  // given back: no more heartbeats for them
        condition.unlock()
        for job in left {
            let released = (try? processor.queue.release(id: job.id, worker: job.owner, now: Date())) ?? false
            logger.warning("grace period over; job released", metadata: ["job": "\(job.id)", "released": "\(released)"])
        }
        condition.lock()
        // Slots still inside a job cannot be interrupted; their result is refused (lease released).
        let end = Date().addingTimeInterval(left.isEmpty ? 5 : 0.1)
        while running > left.count && Date() < end { _ = condition.wait(until: end) }
        condition.unlock()
        logger.info("worker stopped", metadata: ["worker": "\(id)", "released": "\(left.count)"])
    }

    private func slotLoop(_ slot: Int) {
        var idle = 0.005
        var seen = 0
        while true {
            condition.lock()
            if stopping {
                running -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            seen = wakeups
            if !ready.isEmpty {
                let job = ready.removeFirst()
                busySlots += 1
                condition.unlock()
                execute(job)
                idle = 0.005
                continue
            }
            // Claim for every idle slot no other claim is already serving (at least this one), and only while
            // files can be processed (no helper process can start: nothing is claimed to fail).
            let want = settings.concurrency - busySlots - claimingFor
            if want > 0 && !processor.pipeline.isReady {
                _ = condition.wait(until: Date().addingTimeInterval(settings.pollMax))
                condition.unlock()
                continue
            }
            if want <= 0 {
                _ = condition.wait(until: Date().addingTimeInterval(idle))
                condition.unlock()
                continue
            }
            claimingFor += want
            condition.unlock()

            claims += 1
            let claimant = "\(id)#\(claims)"
            var jobs: [Job] = []
            do {
                jobs = try processor.queue.claim(worker: claimant, limit: want, lease: settings.lease,
                                                 maxAttempts: settings.retry.maxAttempts, now: Date())
            } catch {
                logger.error("claim failed", metadata: ["error": "\(error)"])
            }
            condition.lock()
            claimingFor -= want
            // Stopped while claiming: this slot's own job is in flight and finishes within the grace period like
            // any other; the extras for other slots are given back untouched (no slot will start them).
            let extras = stopping ? Array(jobs.dropFirst()) : []
            if !extras.isEmpty { jobs.removeLast(extras.count) }
            for job in jobs { inFlight[job.id] = Lease(claimedAt: Date(), owner: job.leaseOwner ?? claimant) }
            guard let first = jobs.first else {
                if !stopping && wakeups == seen { _ = condition.wait(until: Date().addingTimeInterval(idle)) }
                condition.unlock()
                idle = min(settings.pollMax, idle * 2)
                continue
            }
            ready.append(contentsOf: jobs.dropFirst())
            busySlots += 1
            condition.broadcast()
            condition.unlock()
            for job in extras { _ = try? processor.queue.release(id: job.id, worker: owner(of: job), now: Date()) }
            idle = 0.005
            execute(first)
        }
    }

    /// Runs one job on this slot's thread, then marks the slot free.
    private func execute(_ job: Job) {
        processor.run(job, worker: owner(of: job), logger: logger)
        condition.lock()
        inFlight[job.id] = nil
        busySlots -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// The lease owner a job's writes must name: the claim's own (`id#n`).
    private func owner(of job: Job) -> String { job.leaseOwner ?? id }

    private func heartbeatLoop() {
        let interval = settings.lease / 3
        while true {
            condition.lock()
            // A fixed deadline: the condition is broadcast for many other reasons (wake-ups, finished jobs).
            let next = Date().addingTimeInterval(interval)
            while Date() < next && !(stopping && inFlight.isEmpty) { _ = condition.wait(until: next) }
            if stopping && inFlight.isEmpty {
                running -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            // Renewed only within the job deadline: past it the job is stuck and its lease is left to expire.
            let now = Date()
            let limit = settings.jobDeadline ?? .infinity
            let jobs = inFlight.filter { now.timeIntervalSince($0.value.claimedAt) < limit }.map { (id: $0.key, owner: $0.value.owner) }
            let overdue = inFlight.filter { now.timeIntervalSince($0.value.claimedAt) >= limit }.map(\.key)
            condition.unlock()
            for job in overdue {
                logger.error("job past its deadline; its lease is no longer renewed", metadata: ["job": "\(job)"])
            }
            for job in jobs {
                do {
                    if try !processor.queue.heartbeat(id: job.id, worker: job.owner, lease: settings.lease, now: Date()) {
                        // Not held any more: either the job completed meanwhile (fine) or its lease was taken over.
                        condition.lock()
                        let stillRunning = inFlight[job.id] != nil
                        condition.unlock()
                        if stillRunning, try processor.queue.job(id: job.id)?.leaseOwner != job.owner {
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
