import Foundation
import MediaJSON
import MediaPostgres
import MediaQueue
import MediaTestSupport
import Testing

typealias Backend = TestBackend

extension TestBackend {
    /// A fresh, empty queue of this kind; `open()` makes another connection to the same database.
    ///
    /// The contract tests step a synthetic clock (`now: t0`, `t0 + 20`, …). SQLite schedules by the caller's `now`, so
    /// that is all they need there. PostgreSQL schedules by the server's clock and reads the caller's `now` only to
    /// record times and turn a `retryAt` into a delay, so by default it is opened here with the documented test-only
    /// clock `.serverShifted(epoch: t0)`: the server's clock moved by `now − t0`. Leases are still granted, renewed and
    /// found expired in SQL from the server's clock; a synthetic step of 20 s is 20 s more of it. `ServerClockTests`
    /// use the production clock (`.server`) with real clocks skewed by an hour.
    func make(clock: PostgresJobQueue.Clock = .serverShifted(epoch: t0))
        async throws -> (queue: any JobQueue, open: @Sendable () async throws -> any JobQueue) {
        let storage: TestStorage = try make("mw-queue")
        switch self {
        case .sqlite:
            return (try await storage.queue(), { try await storage.queue() })
        case .postgres:
            let url = storage.environment["MEDIAWORKER_DATABASE_URL"] ?? ""
            let open: @Sendable () async throws -> any JobQueue = {
                let database = try PostgresDatabase(location: try PostgresLocation(url: url), maxConnections: 4)
                database.start()
                return try await PostgresJobQueue(database: database, clock: clock)
            }
            return (try await open(), open)
        }
    }
}

func submission(_ key: String? = nil, digest: String = "aa", size: Int = 10) -> NewJob {
    NewJob(from: .visitor, declaredType: "image/jpeg", fileName: "a.jpg", idempotencyKey: key,
           conversationId: "c1", businessNumber: "+34600000000", contentSHA256: digest, size: size)
}

let t0 = Date(timeIntervalSince1970: 1_795_622_400)

@Suite(.onQueueExecutor) struct QueueContractTests {
    @Test("enqueue, claim (counting the attempt), complete; nothing left to claim", arguments: Backend.allCases)
    func happyPath(_ backend: Backend) async throws {
        let q = try await backend.make().queue
        let id = JobID.make(now: t0)
        guard case .created(let created) = try await q.enqueue(submission(), id: id, now: t0) else { Issue.record("not created"); return }
        #expect(created.state == .queued && created.attempts == 0)
        let claimed = try await #require(try await q.claim(worker: "A", lease: 30, maxAttempts: 5, now: t0))
        #expect(claimed.id == id && claimed.state == .running && claimed.attempts == 1 && claimed.leaseOwner == "A")
        #expect(try await q.claim(worker: "B", lease: 30, maxAttempts: 5, now: t0) == nil, "a held job is not claimed twice")
        let result = JobResult(state: .accepted, outcomeJSON: #"{"status":"accepted"}"#, artifacts: [])
        #expect(try await q.complete(id: id, worker: "A", result: result, now: t0.addingTimeInterval(1)))
        let done = try await #require(try await q.job(id: id))
        #expect(done.state == .accepted && done.finishedAt != nil && done.leaseOwner == nil)
        #expect(try await q.claim(worker: "A", lease: 30, maxAttempts: 5, now: t0.addingTimeInterval(100)) == nil)
        #expect(try await q.counts()[.accepted] == 1)
    }

    @Test("an expired lease is reclaimed by another worker; the old owner can no longer write", arguments: Backend.allCases)
    func leaseRescue(_ backend: Backend) async throws {
        let q = try await backend.make().queue
        let id = JobID.make(now: t0)
        _ = try await q.enqueue(submission(), id: id, now: t0)
        _ = try await #require(try await q.claim(worker: "A", lease: 10, maxAttempts: 5, now: t0))
        #expect(try await q.claim(worker: "B", lease: 10, maxAttempts: 5, now: t0.addingTimeInterval(9)) == nil)
        #expect(try await q.heartbeat(id: id, worker: "A", lease: 10, now: t0.addingTimeInterval(9)), "A renews until t+19")
        #expect(try await q.claim(worker: "B", lease: 10, maxAttempts: 5, now: t0.addingTimeInterval(15)) == nil)
        let rescued = try await #require(try await q.claim(worker: "B", lease: 10, maxAttempts: 5, now: t0.addingTimeInterval(20)))
        #expect(rescued.leaseOwner == "B" && rescued.attempts == 2)
        let late = JobResult(state: .rejected, outcomeJSON: "{}", artifacts: [])
        #expect(try await !q.complete(id: id, worker: "A", result: late, now: t0.addingTimeInterval(21)))
        #expect(try await !q.heartbeat(id: id, worker: "A", lease: 10, now: t0.addingTimeInterval(21)))
        #expect(try await !q.fail(id: id, worker: "A", error: "x", retryAt: nil, now: t0.addingTimeInterval(21)))
        #expect(try await q.job(id: id)?.state == .running, "the new owner's claim stands")
        #expect(try await q.complete(id: id, worker: "B", result: JobResult(state: .accepted, outcomeJSON: "{}", artifacts: []),
                               now: t0.addingTimeInterval(22)))
    }

    @Test("a job whose worker keeps dying is declared dead, not claimed forever", arguments: Backend.allCases)
    func poisonJob(_ backend: Backend) async throws {
        let q = try await backend.make().queue
        let id = JobID.make(now: t0)
        _ = try await q.enqueue(submission(), id: id, now: t0)
        var now = t0
        for attempt in 1...3 {
            let job = try await #require(try await q.claim(worker: "W\(attempt)", lease: 1, maxAttempts: 3, now: now))
            #expect(job.attempts == attempt)
            now = now.addingTimeInterval(2)
        }
        #expect(try await q.claim(worker: "W4", lease: 1, maxAttempts: 3, now: now) == nil)
        let dead = try await #require(try await q.job(id: id))
        #expect(dead.state == .dead)
        #expect(dead.lastError?.contains("lost the lease 3 times") == true)
    }

    @Test("a job whose worker keeps dying is declared dead even while other jobs keep every claim full", arguments: Backend.allCases)
    func poisonBehindFullQueue(_ backend: Backend) async throws {
        let q = try await backend.make().queue
        let poison = JobID.make(now: t0)
        _ = try await q.enqueue(submission(), id: poison, now: t0)
        _ = try await #require(try await q.claim(worker: "W1", limit: 1, lease: 1, maxAttempts: 1, now: t0))  // and W1 dies
        for i in 1...5 { _ = try await q.enqueue(submission(), id: JobID.make(now: t0.addingTimeInterval(Double(i))), now: t0) }
        for step in 1...3 {
            let got = try await q.claim(worker: "W2", limit: 1, lease: 30, maxAttempts: 1, now: t0.addingTimeInterval(Double(step) * 6))
            #expect(got.count == 1 && got.first?.id != poison, "step \(step): a queued job, never the poison one")
        }
        #expect(try await q.job(id: poison)?.state == .dead)
    }

    @Test("a failed job waits for its retry time, then dies after the last attempt; retry re-queues it", arguments: Backend.allCases)
    func failRetryDead(_ backend: Backend) async throws {
        let q = try await backend.make().queue
        let id = JobID.make(now: t0)
        _ = try await q.enqueue(submission(), id: id, now: t0)
        _ = try await #require(try await q.claim(worker: "A", lease: 30, maxAttempts: 2, now: t0))
        #expect(try await q.fail(id: id, worker: "A", error: "disk full", retryAt: t0.addingTimeInterval(5), now: t0))
        let waiting = try await #require(try await q.job(id: id))
        #expect(waiting.state == .queued && waiting.lastError == "disk full")
        #expect(try await q.claim(worker: "A", lease: 30, maxAttempts: 2, now: t0.addingTimeInterval(4)) == nil)
        let again = try await #require(try await q.claim(worker: "A", lease: 30, maxAttempts: 2, now: t0.addingTimeInterval(5)))
        #expect(again.attempts == 2)
        #expect(try await q.fail(id: id, worker: "A", error: "disk still full", retryAt: nil, now: t0.addingTimeInterval(6)))
        let dead = try await #require(try await q.job(id: id))
        #expect(dead.state == .dead && dead.lastError == "disk still full")
        let json = dead.json().serialized()
        #expect(json.contains(#""state":"dead""#) && json.contains(#""lastError":"disk still full""#))
        #expect(try await q.retry(id: id, now: t0.addingTimeInterval(7)))
        let requeued = try await #require(try await q.job(id: id))
        #expect(requeued.state == .queued && requeued.attempts == 0)
        #expect(try await !q.retry(id: id, now: t0.addingTimeInterval(8)), "only a dead job is re-queued")
        #expect(try await q.claim(worker: "B", lease: 30, maxAttempts: 2, now: t0.addingTimeInterval(8))?.attempts == 1)
    }

    @Test("postpone (an infrastructure failure) gives the attempt back, waits until its time, keeps the error; owner only",
          arguments: Backend.allCases)
    func postpone(_ backend: Backend) async throws {
        let q = try await backend.make().queue
        let id = JobID.make(now: t0)
        _ = try await q.enqueue(submission(), id: id, now: t0)
        _ = try await #require(try await q.claim(worker: "A", lease: 30, maxAttempts: 2, now: t0))
        #expect(try await !q.postpone(id: id, worker: "B", error: "disk full", retryAt: t0 + 10, now: t0), "only the owner")
        #expect(try await q.postpone(id: id, worker: "A", error: "disk full", retryAt: t0 + 10, now: t0))
        #expect(try await q.claim(worker: "B", lease: 30, maxAttempts: 2, now: t0 + 5) == nil, "not before its time")
        let postponed = try await #require(try await q.job(id: id))
        #expect(postponed.state == .queued && postponed.attempts == 0 && postponed.lastError == "disk full")
        // Postponed again and again (an outage), the attempt budget of 2 is never used up.
        for n in 1...5 {
            let now = t0 + Double(n) * 20
            let again = try await #require(try await q.claim(worker: "B", lease: 30, maxAttempts: 2, now: now))
            #expect(again.attempts == 1)
            #expect(try await q.postpone(id: id, worker: "B", error: "disk full", retryAt: now + 10, now: now))
        }
        #expect(try await q.job(id: id)?.state == .queued)
    }

    @Test("postponed jobs are known to the queue and released once when the outage ends; a retry (a failure of its own) is not postponed",
          arguments: Backend.allCases)
    func releasePostponed(_ backend: Backend) async throws {
        let q = try await backend.make().queue
        let (a, b) = (JobID.make(now: t0), JobID.make(now: t0 + 0.001))
        _ = try await q.enqueue(submission(), id: a, now: t0)
        _ = try await q.enqueue(submission("other"), id: b, now: t0)
        #expect(try await !q.hasPostponed(now: t0))
        let claimed = try await q.claim(worker: "A", limit: 2, lease: 30, maxAttempts: 5, now: t0)
        #expect(claimed.count == 2)
        #expect(try await q.postpone(id: a, worker: "A", error: "store away", retryAt: t0 + 300, now: t0))
        #expect(try await q.fail(id: b, worker: "A", error: "its own", retryAt: t0 + 300, now: t0))
        #expect(try await q.hasPostponed(now: t0 + 1), "another worker (a new one) can tell a job waits for the outage")
        #expect(try await q.releasePostponed(now: t0 + 2) == 1, "the postponed job only, not the retried one")
        #expect(try await !q.hasPostponed(now: t0 + 2))
        #expect(try await q.claim(worker: "B", lease: 30, maxAttempts: 5, now: t0 + 2)?.id == a, "due at once")
        // Postponed again after each release (another outage, or part of the store still failing): released again, up
        // to JobQueueLimits.maxReleases times; after that it waits its own backoff.
        var now = t0 + 2
        for n in 2...(JobQueueLimits.maxReleases + 1) {
            #expect(try await q.postpone(id: a, worker: n == 2 ? "B" : "W\(n - 1)", error: "store away", retryAt: now + 300, now: now))
            now += 1
            let released = try await q.releasePostponed(now: now)
            #expect(released == (n <= JobQueueLimits.maxReleases ? 1 : 0), "postponement \(n)")
            if released == 1 { #expect(try await q.claim(worker: "W\(n)", lease: 30, maxAttempts: 5, now: now)?.id == a) }
        }
        #expect(try await q.claim(worker: "C", lease: 30, maxAttempts: 5, now: now) == nil, "waits its own backoff")
    }

    @Test("release gives a job back at once without spending an attempt", arguments: Backend.allCases)
    func release(_ backend: Backend) async throws {
        let q = try await backend.make().queue
        let id = JobID.make(now: t0)
        _ = try await q.enqueue(submission(), id: id, now: t0)
        _ = try await #require(try await q.claim(worker: "A", lease: 30, maxAttempts: 5, now: t0))
        #expect(try await !q.release(id: id, worker: "B", now: t0), "only the owner releases")
        #expect(try await q.release(id: id, worker: "A", now: t0))
        let back = try await #require(try await q.claim(worker: "B", lease: 30, maxAttempts: 5, now: t0))
        #expect(back.attempts == 1)
    }

    @Test("an idempotency key names one job: same bytes → that job, other bytes → conflict", arguments: Backend.allCases)
    func idempotency(_ backend: Backend) async throws {
        let q = try await backend.make().queue
        let first = try await q.enqueue(submission("wamid.1:0", digest: "aa"), id: JobID.make(), now: t0)
        guard case .created(let job) = first else { Issue.record("not created"); return }
        #expect(try await q.enqueue(submission("wamid.1:0", digest: "aa"), id: JobID.make(), now: t0) == .existing(job))
        #expect(try await q.enqueue(submission("wamid.1:0", digest: "bb"), id: JobID.make(), now: t0) == .conflict(job))
        #expect(try await q.jobs(state: nil, limit: 10).count == 1)
        // Jobs without a key never collide.
        _ = try await q.enqueue(submission(), id: JobID.make(), now: t0)
        _ = try await q.enqueue(submission(), id: JobID.make(), now: t0)
        #expect(try await q.jobs(state: .queued, limit: 10).count == 3)
    }

    @Test("duplicate submissions racing on separate connections create exactly one job", arguments: Backend.allCases)
    func concurrentDuplicates(_ backend: Backend) async throws {
        let (_, open) = try await backend.make()
        let results = Mutexed([EnqueueResult]())
        await concurrently(16) { i in
            do {
                let q = try await open()
                let r = try await q.enqueue(submission("wamid.race:0", digest: i % 4 == 3 ? "other" : "same"), id: JobID.make(), now: t0)
                results.with { $0.append(r) }
            } catch {
                Issue.record("enqueue threw: \(error)")
            }
        }
        let all = results.with { $0 }
        #expect(all.count == 16)
        #expect(Set(all.map(\.job.id)).count == 1, "every caller sees the same job")
        let created = all.filter { if case .created = $0 { return true } else { return false } }
        #expect(created.count == 1)
        let winnerDigest = created.first?.job.submission.contentSHA256
        for r in all {
            switch r {
            case .existing(let j): #expect(j.submission.contentSHA256 == winnerDigest)
            case .conflict(let j): #expect(j.submission.contentSHA256 == winnerDigest)
            case .created: break
            }
        }
    }

    @Test("many concurrent enqueues through one queue (grouped into shared commits on PostgreSQL): each answered for itself",
          arguments: Backend.allCases)
    func concurrentEnqueuesOneQueue(_ backend: Backend) async throws {
        let q = try await backend.make().queue
        let results = Mutexed([Int: EnqueueResult]())
        await concurrently(64) { i in
            do {
                // Keys k0…k47 once each; k0…k15 sent a second time, half of them with other bytes.
                let key = "k\(i < 48 ? i : i - 48)"
                let digest = i >= 56 ? "other" : "same"
                let r = try await q.enqueue(submission(key, digest: digest), id: JobID.make(), now: t0)
                results.with { $0[i] = r }
            } catch {
                Issue.record("enqueue threw: \(error)")
            }
        }
        let all = results.with { $0 }
        #expect(all.count == 64)
        #expect(try await q.jobs(state: nil, limit: 100).count == 48)
        for k in 0..<16 {
            let (a, b) = (try #require(all[k]), try #require(all[48 + k]))
            #expect(a.job.id == b.job.id, "k\(k): one job")
            let kinds = [a, b].map { r -> String in
                switch r { case .created: "created"; case .existing: "existing"; case .conflict: "conflict" }
            }.sorted()
            #expect(kinds == (k + 48 >= 56 ? ["conflict", "created"] : ["created", "existing"]) || kinds == ["conflict", "created"] && k + 48 >= 56,
                    "k\(k): \(kinds)")
        }
    }

    @Test("batch claim takes each job once, even with 8 claimers at a time; batch complete needs the lease", arguments: Backend.allCases)
    func batches(_ backend: Backend) async throws {
        let (q, open) = try await backend.make()
        for i in 0..<200 {
            _ = try await q.enqueue(submission(), id: JobID.make(now: t0.addingTimeInterval(Double(i) / 1000)), now: t0)
        }
        // run_after is t0 on SQLite (the caller's clock) and each enqueue's own moment on PostgreSQL (the server's).
        let queued = try await q.jobs(state: .queued, limit: 200).sorted { ($0.runAfter, $0.id) < ($1.runAfter, $1.id) }
        #expect(queued.count == 200)
        let first = try await q.claim(worker: "A", limit: 3, lease: 30, maxAttempts: 5, now: t0)
        #expect(first.map(\.id) == queued.prefix(3).map(\.id), "in run_after, then id order")
        #expect(first.allSatisfy { $0.state == .running && $0.attempts == 1 && $0.leaseOwner == "A" })
        let claimed = Mutexed([String: String]())  // job → worker
        await concurrently(8) { t in
            do {
                let mine = try await open()
                while case let jobs = try await mine.claim(worker: "W\(t)", limit: 7, lease: 30, maxAttempts: 5, now: t0), !jobs.isEmpty {
                    claimed.with { for j in jobs { #expect($0.updateValue("W\(t)", forKey: j.id) == nil, "claimed twice") } }
                }
            } catch {
                Issue.record("claim threw: \(error)")
            }
        }
        let all = claimed.with { $0 }
        #expect(all.count == 197 && Set(all.keys).isDisjoint(with: first.map(\.id)))
        // A's batch: its own three complete; a job A does not hold is refused and left alone.
        let result = JobResult(state: .accepted, outcomeJSON: "{}", artifacts: [])
        let foreign = try #require(all.first?.key)
        var results = Dictionary(uniqueKeysWithValues: first.map { ($0.id, result) })
        results[foreign] = result
        #expect(try await q.complete(results, worker: "A", now: t0.addingTimeInterval(1)) == Set(first.map(\.id)))
        #expect(try await q.job(id: foreign)?.state == .running)
        #expect(try await q.counts()[.accepted] == 3)
    }

    @Test("concurrent completions by several owners (grouped into shared statements on PostgreSQL): each answered for its own lease",
          arguments: Backend.allCases)
    func concurrentCompletions(_ backend: Backend) async throws {
        let q = try await backend.make().queue
        for i in 0..<24 { _ = try await q.enqueue(submission(), id: JobID.make(now: t0.addingTimeInterval(Double(i) / 1000)), now: t0) }
        var owners: [(job: Job, worker: String)] = []
        for w in 0..<4 {
            for job in try await q.claim(worker: "W\(w)", limit: 6, lease: 30, maxAttempts: 5, now: t0) { owners.append((job, "W\(w)")) }
        }
        #expect(owners.count == 24)
        let claimed = owners
        // Every job completed at once: by its owner, except every third by the next worker (not the owner).
        let answers = Mutexed([String: Bool]())
        let result = JobResult(state: .accepted, outcomeJSON: "{}", artifacts: [])
        await concurrently(owners.count) { i in
            let (job, owner) = claimed[i]
            let worker = i % 3 == 0 ? "W\((Int(owner.dropFirst())! + 1) % 4)" : owner
            do {
                let held = try await q.complete(id: job.id, worker: worker, result: result, now: t0.addingTimeInterval(1))
                answers.with { $0[job.id] = held }
            } catch {
                Issue.record("complete threw: \(error)")
            }
        }
        let all = answers.with { $0 }
        for (i, (job, _)) in owners.enumerated() {
            #expect(all[job.id] == (i % 3 != 0), "job \(i): answered \(String(describing: all[job.id]))")
            #expect(try await q.job(id: job.id)?.state == (i % 3 == 0 ? .running : .accepted))
        }
        #expect(try await q.counts()[.accepted] == 16)
    }

    @Test("job ids are time-ordered UUIDv7 strings", arguments: [0, 1])
    func ids(_ n: Int) {
        let a = JobID.make(now: t0), b = JobID.make(now: t0.addingTimeInterval(0.002))
        #expect(JobID.isValid(a) && JobID.isValid(b))
        #expect(a < b)
        #expect(Array(a)[14] == "7")
        #expect(!JobID.isValid("../../etc/passwd"))
    }

    @Test("backoff doubles per attempt within ±50% jitter, capped, and ends after the last attempt")
    func backoff() {
        let policy = RetryPolicy(maxAttempts: 5, base: 1, maximum: 6)
        for attempt in 1...4 {
            let delay = policy.retryAt(afterAttempt: attempt, now: t0)!.timeIntervalSince(t0)
            let nominal = min(6, pow(2, Double(attempt - 1)))
            #expect(delay >= nominal * 0.5 && delay < nominal * 1.5, "attempt \(attempt): \(delay)")
        }
        #expect(policy.retryAt(afterAttempt: 5, now: t0) == nil)
    }
}

/// PostgreSQL with its production clock (`.server`) and worker clocks skewed by an hour either way: lease expiry, the
/// expired-lease test and retry times all follow the server's clock, never the caller's.
@Suite(.onQueueExecutor) struct ServerClockTests {
    static let hour: TimeInterval = 3600
    static func ahead() -> Date { Date().addingTimeInterval(hour) }
    static func behind() -> Date { Date().addingTimeInterval(-hour) }

    @Test("PostgreSQL: a claimer whose clock is 1 h ahead steals no live lease; a lease granted by a clock 1 h behind is live, and lapses on time")
    func skewedWorkerClocks() async throws {
        let q = try await Backend.postgres.make(clock: .server).queue
        let result = JobResult(state: .accepted, outcomeJSON: "{}", artifacts: [])

        // A lease granted moments ago (30 s, correct clock) is live: a claim made 1 h ahead must not take it.
        let a = JobID.make()
        _ = try await q.enqueue(submission(), id: a, now: Date())
        _ = try await #require(try await q.claim(worker: "A", lease: 30, maxAttempts: 5, now: Date()))
        #expect(try await q.claim(worker: "fast", lease: 30, maxAttempts: 5, now: Self.ahead()) == nil,
                "a worker clock 1 h ahead stole a live lease")
        #expect(try await q.job(id: a)?.leaseOwner == "A")

        // A lease granted by a worker whose clock is 1 h behind: 30 s from the server's clock, not already expired.
        let b = JobID.make()
        _ = try await q.enqueue(submission(), id: b, now: Self.behind())
        let slow = try await #require(try await q.claim(worker: "slow", lease: 30, maxAttempts: 5, now: Self.behind()),
                                "a job enqueued by a clock 1 h behind is due at once")
        #expect(slow.id == b)
        let expires = try #require(slow.leaseExpiresAt)
        #expect(abs(expires.timeIntervalSinceNow - 30) < 10, "lease until \(expires), 30 s from the server's clock")
        #expect(try await q.claim(worker: "C", lease: 30, maxAttempts: 5, now: Date()) == nil, "the slow worker's lease was stealable at once")
        #expect(try await q.heartbeat(id: b, worker: "slow", lease: 30, now: Self.behind()))
        #expect(try await q.claim(worker: "C", lease: 30, maxAttempts: 5, now: Self.ahead()) == nil, "renewed by the slow clock, still live")
        #expect(try await q.complete(id: b, worker: "slow", result: result, now: Self.behind()))

        // A dead lease is not kept: granted for 1 s by a clock 1 h ahead, it lapses 1 s later by the server's clock,
        // and a claimer whose clock is 1 h behind takes it over.
        let c = JobID.make()
        _ = try await q.enqueue(submission(), id: c, now: Date())
        _ = try await #require(try await q.claim(worker: "dying", lease: 1, maxAttempts: 5, now: Self.ahead()))
        try? await Task.sleep(for: .seconds(1.5))
        let rescued = try await #require(try await q.claim(worker: "D", lease: 30, maxAttempts: 5, now: Self.behind()),
                                   "a lapsed lease was kept alive by a clock 1 h ahead")
        #expect(rescued.id == c && rescued.attempts == 2)

        // Retry times are delays from the server's clock: 60 s asked by a clock 1 h behind is not due at once …
        #expect(try await q.postpone(id: c, worker: "D", error: "disk full", retryAt: Self.behind() + 60, now: Self.behind()))
        #expect(try await q.claim(worker: "E", lease: 30, maxAttempts: 5, now: Date()) == nil, "a retry 60 s away was due at once")
        // … and 0.3 s asked by a clock 1 h ahead is due 0.3 s later, not in an hour.
        let d = JobID.make()
        _ = try await q.enqueue(submission(), id: d, now: Date())
        _ = try await #require(try await q.claim(worker: "E", lease: 30, maxAttempts: 5, now: Date()))
        #expect(try await q.fail(id: d, worker: "E", error: "x", retryAt: Self.ahead() + 0.3, now: Self.ahead()))
        try? await Task.sleep(for: .seconds(0.8))
        #expect(try await q.claim(worker: "F", lease: 30, maxAttempts: 5, now: Date())?.id == d, "a retry 0.3 s away was not due 0.8 s later")
        #expect(try await q.complete(id: a, worker: "A", result: result, now: Date()), "A's lease outlived every skewed claim")
    }
}

final class Mutexed<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func with<R>(_ body: (inout Value) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&value) }
}

@Suite(.onQueueExecutor) struct ActiveCountTests {
    @Test("active counts (queued, running, dead) match the full counts, whatever the number of final jobs", arguments: Backend.allCases)
    func activeCounts(_ backend: Backend) async throws {
        let q = try await backend.make().queue
        for n in 0..<12 { _ = try await q.enqueue(submission(), id: JobID.make(now: t0 + Double(n)), now: t0) }
        let claimed = try await q.claim(worker: "A", limit: 7, lease: 30, maxAttempts: 1, now: t0)
        for job in claimed.prefix(4) {
            _ = try await q.complete(id: job.id, worker: "A", result: JobResult(state: .accepted, outcomeJSON: "{}", artifacts: []), now: t0)
        }
        _ = try await q.fail(id: claimed[4].id, worker: "A", error: "x", retryAt: nil, now: t0)
        let active = try await q.activeCounts(), all = try await q.counts()
        #expect(active == [.queued: 5, .running: 2, .dead: 1])
        for state in JobState.active { #expect(active[state] == all[state]) }
    }
}
