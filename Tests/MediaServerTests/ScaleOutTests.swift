import Foundation
import MediaIntake
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MediaQueue
import MediaTestSupport
import Testing

/// Several machines' worth of processes on one PostgreSQL: 2 API servers (`serve` with no workers) take the
/// uploads, 4 `mediaworker work` processes do the jobs; workers are SIGKILLed at random and PostgreSQL
/// itself is restarted once mid-run. Every job must end in exactly one final state with its artifacts,
/// and every process must get its connections back by itself.
@Suite(.serialized, .onQueueExecutor) struct ScaleOutTests {
    static let jobs = 2_000
    /// Small fixtures of every kind (the same mix as the worker crash test), so 2,000 jobs take seconds each.
    static let mix = FixtureManifest.inProcess.filter { f in
        (f.expect.playback?.durationMs ?? 0) <= 5_000 && f.derive == nil && f.id != "jpeg-camera-5mib"
    }

    /// The worker processes, spawned and reaped with posix_spawn/waitpid rather than Foundation's `Process`
    /// (whose exit monitoring lost SIGKILLed children here, leaving `waitUntilExit` hanging on a zombie).
    final class Workers: @unchecked Sendable {
        let storage: TestStorage
        private let lock = NSLock()
        private var pids: [pid_t]
        private var launched = 0
        private(set) var kills = 0

        init(storage: TestStorage, count: Int) throws {
            self.storage = storage
            pids = Array(repeating: 0, count: count)
            for i in 0..<count { try start(i) }
        }

        func start(_ i: Int) throws {
            var env = ProcessInfo.processInfo.environment.merging(storage.environment) { $1 }
            env["MEDIAWORKER_WORKERS"] = "2"
            env["MEDIAWORKER_LEASE"] = "2"
            // A job killed with its worker this often is not a poison job: allow more claims than the default 5.
            env["MEDIAWORKER_MAX_ATTEMPTS"] = "20"
            env["MEDIAWORKER_LOG_LEVEL"] = "info"
            lock.lock()
            launched += 1
            let log = storage.folder.appendingPathComponent("worker-\(launched).log").path
            lock.unlock()
            let pid = try ScaleOutTests.spawn([TestBinary.mediaworker.path, "work", "--data", storage.folder.path],
                                              environment: env, stderr: log)
            lock.lock()
            pids[i] = pid
            lock.unlock()
        }

        /// SIGKILLs worker `i` and starts a new one in its place.
        func killAndReplace(_ i: Int) throws {
            lock.lock()
            let pid = pids[i]
            kills += 1
            lock.unlock()
            kill(pid, SIGKILL)
            _ = ScaleOutTests.reap(pid)
            try start(i)
        }

        /// SIGTERM to every worker; their exit codes.
        func stopAll() -> [Int32] {
            lock.lock()
            let all = pids
            lock.unlock()
            for pid in all { kill(pid, SIGTERM) }
            return all.map(ScaleOutTests.reap)
        }

        /// The end of each current worker's log (for a failure message).
        var lastLogTails: String {
            lock.lock()
            let n = launched
            lock.unlock()
            return ((n - pids.count + 1)...n).map { i in
                let text = (try? String(contentsOf: storage.folder.appendingPathComponent("worker-\(i).log"), encoding: .utf8)) ?? ""
                return "worker-\(i): " + text.split(separator: "\n").suffix(3).joined(separator: " | ")
            }.joined(separator: "\n")
        }

        var logs: [URL] {
            ((try? FileManager.default.contentsOfDirectory(at: storage.folder, includingPropertiesForKeys: nil)) ?? [])
                .filter { $0.lastPathComponent.hasPrefix("worker-") }
        }
    }

    /// POSTs like the gateway: on a network error or a 5xx (PostgreSQL restarting) it sends the same upload again
    /// with the same idempotency key, so a retried upload never makes a second job. Up to 300 retries `pause` apart,
    /// or for `patience` seconds when given (a long outage: then each request is also given up after 15 s, as a
    /// gateway's client timeout would, and sent again).
    static func upload(_ server: ServerProcess, _ bytes: Data, fixture: FixtureManifest.Fixture, key: String,
                       pause: Duration = .milliseconds(100), patience: TimeInterval? = nil) async throws -> (id: String, retries: Int) {
        var query = "from=\(fixture.from.rawValue)&idempotencyKey=\(key)"
        if let t = fixture.declaredType?.addingPercentEncoding(withAllowedCharacters: .alphanumerics) { query += "&declaredType=\(t)" }
        let deadline = patience.map { Date().addingTimeInterval($0) }
        var retries = 0
        var last = ""
        while true {
            let sent = Date()
            do {
                let path = "/v1/attachments?\(query)"
                // A gateway gives up on a request after a while and sends it again: 15 s during a long outage,
                // 60 s otherwise (longer than the server's 30 s statement watchdog, so a stuck statement shows as
                // a 503 and a retry, never as a hang).
                let reply = try await within(.seconds(patience == nil ? 60 : 15)) {
                    try await server.request("POST", path, body: bytes)
                }
                if reply.status == 200 || reply.status == 202, let id = reply.json["id"] as? String { return (id, retries) }
                last = "HTTP \(reply.status) \(String(decoding: reply.body.prefix(200), as: UTF8.self))"
            } catch {
                last = "\(error)"
            }
            last += String(format: " (after %.1f s)", Date().timeIntervalSince(sent))
            retries += 1
            guard deadline.map({ Date() < $0 }) ?? (retries < 300) else { throw UploadFailed(key: key, retries: retries, last: last) }
            try await Task.sleep(for: pause)
        }
    }

    struct UploadFailed: Error { var key: String; var retries = 0; var last = "" }

    /// `body`'s result, or `TimedOut` after `limit` (the call is then left to finish on its own, its result unused).
    static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let once = ResumeOnce<T>()
        return try await withCheckedThrowingContinuation { continuation in
            once.set(continuation)
            Task {
                do { once.resume(.success(try await body())) } catch { once.resume(.failure(error)) }
            }
            Task {
                try? await Task.sleep(for: limit)
                once.resume(.failure(TimedOut(limit: limit)))
            }
        }
    }

    struct TimedOut: Error { var limit: Duration }

    /// Starts a program with posix_spawn: stdout to /dev/null, stderr to `stderr` (or /dev/null).
    static func spawn(_ arguments: [String], environment: [String: String]? = nil, stderr: String? = nil) throws -> pid_t {
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderr ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer {
            argv.forEach { free($0) }
            envp?.forEach { free($0) }
        }
        let rc = envp.map { e in posix_spawn(&pid, arguments[0], &actions, nil, argv, e) }
            ?? posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
        guard rc == 0 else { throw SpawnFailed(command: arguments[0], code: rc) }
        return pid
    }

    /// Waits for `pid`; its exit code, or -1 when a signal ended it.
    static func reap(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
    }

    /// Runs a command to completion (not with Foundation's `Process`: `pg_ctl restart` leaves a daemon behind
    /// that inherits Process's exit-notification descriptor, so `waitUntilExit` never returns).
    static func run(_ arguments: [String]) -> Int32 {
        guard let pid = try? spawn(arguments) else { return -1 }
        return reap(pid)
    }

    struct SpawnFailed: Error { var command: String; var code: Int32 }

    /// A PostgreSQL server of the test's own (scripts/pg_server.sh in a temporary folder), which it may stop and
    /// restart without disturbing the suites on the shared one; `url` is nil (and an issue recorded) if it fails.
    struct OwnPostgres {
        let folder: String
        let script = FixtureManifest.folder.deletingLastPathComponent().appendingPathComponent("scripts/pg_server.sh").path
        let url: String?

        init(_ prefix: String) throws {
            folder = try TestBinary.temporaryFolder(prefix).path
            let started = ScaleOutTests.run(["/bin/bash", script, "start", folder]) == 0
            url = started ? (try? String(contentsOfFile: folder + "/url", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) : nil
            if url == nil { Issue.record("could not start PostgreSQL with scripts/pg_server.sh (see \(folder)/log)") }
        }

        func remove() {
            _ = ScaleOutTests.run(["/bin/bash", script, "stop", folder])
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    @Test("4 workers and 2 servers on one PostgreSQL, 2,000 jobs, workers SIGKILLed and PostgreSQL restarted mid-run",
          .timeLimit(.minutes(18)))
    func chaos() async throws {
        // A PostgreSQL server of its own (this test restarts it; the other suites keep the shared one).
        let server = try OwnPostgres("mw-scale-pg")
        defer { server.remove() }
        guard let url = server.url else { return }
        let (script, pgFolder) = (server.script, server.folder)
        let storage = try TestBackend.postgres.make("mw-scale", url: url)
        defer { storage.remove() }
        let queue = try await storage.queue()
        let api = ["MEDIAWORKER_WORKERS": "0", "MEDIAWORKER_LOG_LEVEL": "error"]
        let servers = [try ServerProcess(storage: storage, env: api), try ServerProcess(storage: storage, env: api)]
        let workers = try Workers(storage: storage, count: 4)
        let bytes = try Self.mix.map { try Data(contentsOf: FixtureManifest.folder.appendingPathComponent($0.file)) }

        // Chaos beside the uploads: a random worker SIGKILLed every 1.2 s; PostgreSQL restarted once, after
        // about a third of the uploads.
        let uploaded = Counter()
        let chaos = Task.detached { () -> Int in
            var rng = SystemRandomNumberGenerator()
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(1200))
                if Task.isCancelled { break }
                try? workers.killAndReplace(Int.random(in: 0..<4, using: &rng))
            }
            return workers.kills
        }
        // The restart lands while uploads are still arriving: the servers answer 503 meanwhile, and the
        // uploader sends the same upload again under the same idempotency key.
        let restart = Task.detached { () -> Bool in
            while uploaded.value < Self.jobs / 3 { try? await Task.sleep(for: .milliseconds(5)) }
            return Self.run(["/bin/bash", script, "restart", pgFolder]) == 0
        }

        var expected: [String: FixtureManifest.Fixture] = [:]
        var retried = 0
        try await withThrowingTaskGroup(of: (String, FixtureManifest.Fixture, Int).self) { group in
            var next = 0
            func add() {
                let i = next
                next += 1
                let f = Self.mix[i % Self.mix.count], body = bytes[i % Self.mix.count]
                group.addTask {
                    let (id, retries) = try await Self.upload(servers[i % 2], body, fixture: f, key: "scale:\(i)")
                    uploaded.increment()
                    return (id, f, retries)
                }
            }
            for _ in 0..<8 { add() }
            while let (id, f, retries) = try await group.next() {
                #expect(expected[id] == nil, "one job per upload")
                expected[id] = f
                retried += retries
                if next < Self.jobs { add() }
            }
        }
        #expect(expected.count == Self.jobs)

        // Everything final within the time limit; the test's own connections also come back after the restart.
        // Workers were killed while the uploads arrived; the rest drains on the four left (a kill every 1.2 s through the
        // drain too would only measure how slow the machine is: a job is lost to a kill once per 2 s lease).
        chaos.cancel()
        let counts = try await JobChecks.waitUntilFinal(storage, queue, stalledFor: 90, cap: 900)
        let kills = await chaos.value
        let restarted = await restart.value
        // The last replacement may still be starting (a SIGTERM before its signal handlers exist ends it
        // by the signal): give it time to be up before the graceful stop is checked.
        try await Task.sleep(for: .seconds(3))
        let exits = workers.stopAll()
        #expect(restarted, "PostgreSQL was restarted mid-run")
        #expect(kills >= 5, "workers were killed \(kills) times")
        #expect(exits.allSatisfy { $0 == 0 }, "the last workers stop cleanly on SIGTERM: \(exits); logs: \(workers.lastLogTails)")
        #expect((counts[.queued] ?? 0) + (counts[.running] ?? 0) == 0, "jobs still pending: \(counts)")
        #expect(counts[.dead] == 0, "no job died: \(counts)")
        #expect((counts[.accepted] ?? 0) + (counts[.rejected] ?? 0) == Self.jobs, "\(counts)")

        // Each job: its expected outcome, and its artifacts whole in the shared store.
        try await JobChecks.expectFinalAsManifest(expected, queue: queue, store: try await storage.store())

        // Exactly one recorded result per job: no "job finished" line (a completion that held its lease) twice.
        let finishedBy = try JobChecks.finishedLines(in: workers.logs).perJob
        #expect(finishedBy.values.allSatisfy { $0 == 1 }, "a job completed twice")
        #expect(finishedBy.count >= Self.jobs * 9 / 10, "finished lines for \(finishedBy.count) jobs (killed workers may die before logging)")

        // Both servers answer again and agree.
        for server in servers {
            #expect(try await Self.within(.seconds(60)) { try await server.request("GET", "/readyz", auth: false) }.status == 200)
            let sample = try #require(expected.keys.first)
            let job = try await Self.within(.seconds(60)) { try await server.request("GET", "/v1/jobs/\(sample)") }
            #expect(job.json["state"] as? String == expected[sample]?.expect.status)
        }
        print("scale-out: \(Self.jobs) jobs, \(kills) worker kills, PostgreSQL restarted: \(restarted), upload retries: \(retried), \(counts)")
    }
}

/// PostgreSQL stopped for 60 s under load (a server of the test's own), with uploads arriving through an API server
/// meanwhile. A suite of its own, so its minute of waiting overlaps the other suites (it waits with `Task.sleep`).
@Suite(.onQueueExecutor) struct PostgresOutageTests {
    static let outage: TimeInterval = 60

    @Test("PostgreSQL stopped for 60 s under load, uploads arriving meanwhile: the worker waits it out; every job final as expected, none dead, none lost, no attempt used")
    func databaseOutage() async throws {
        let begin = Date()
        let server = try ScaleOutTests.OwnPostgres("mw-outage-pg")
        defer { server.remove() }
        guard let url = server.url else { return }
        let (script, pgFolder) = (server.script, server.folder)
        let storage = try TestBackend.postgres.make("mw-outage", url: url)
        defer { storage.remove() }
        let queue = try await storage.queue()
        let intake = AttachmentIntake(queue: queue, store: try await storage.store())
        let mix = ScaleOutTests.mix
        var expected: [String: FixtureManifest.Fixture] = [:]
        for i in 0..<120 {
            let f = mix[i % mix.count]
            expected[try await intake.submit(try await f.bytes(), from: f.from, declaredType: f.declaredType,
                                       idempotencyKey: "before:\(i)").job.id] = f
        }
        // One attempt only: a job that used a second one (a lost lease, a counted failure) would end dead. The lease
        // outlasts the outage (no heartbeat lands meanwhile), so a job in flight keeps it.
        var env = ProcessInfo.processInfo.environment.merging(storage.environment) { $1 }
        env["MEDIAWORKER_WORKERS"] = "2"
        env["MEDIAWORKER_MAX_ATTEMPTS"] = "1"
        env["MEDIAWORKER_LEASE"] = "120"
        // The default backoff (1 s doubling to 300 s): by the end of the 60 s outage a postponed job's next try would
        // be a minute away; the worker's outage probe releases it once the database answers.
        env["MEDIAWORKER_LOG_LEVEL"] = "info"
        let log = storage.folder.appendingPathComponent("worker.log").path
        let worker = try ScaleOutTests.spawn([TestBinary.mediaworker.path, "work", "--data", storage.folder.path],
                                             environment: env, stderr: log)
        var workerExit: Int32?
        defer { if workerExit == nil { kill(worker, SIGKILL); _ = ScaleOutTests.reap(worker) } }
        // The gateway's side: an API-only server on the same database.
        let api = try ServerProcess(storage: storage, env: ["MEDIAWORKER_WORKERS": "0", "MEDIAWORKER_LOG_LEVEL": "error"])
        defer { api.stop() }

        // Stop the database once the worker is busy, keep it down for 60 s, start it again (same port). An upload
        // arrives every 2.5 s meanwhile (503: sent again, same idempotency key, every 0.5 s until stored). Every wait
        // is bounded: the test ends within about 2.5 minutes whatever happens.
        while (try await queue.counts()[.accepted] ?? 0) < 5 {
            guard Date().timeIntervalSince(begin) < 30 else { Issue.record("the worker did not start"); return }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(ScaleOutTests.run(["/bin/bash", script, "stop", pgFolder]) == 0)
        let down = Date()
        let bodies = try mix.map { try Data(contentsOf: FixtureManifest.folder.appendingPathComponent($0.file)) }
        let uploads = Task {
            try await withThrowingTaskGroup(of: (String, FixtureManifest.Fixture, Int).self) { group in
                for i in 0..<24 {
                    let f = mix[i % mix.count], body = bodies[i % mix.count]
                    group.addTask {
                        try await Task.sleep(for: .seconds(Double(i) * 2.5))
                        let patience = down.addingTimeInterval(Self.outage + 45).timeIntervalSinceNow
                        do {
                            let (id, retries) = try await ScaleOutTests.upload(api, body, fixture: f, key: "during:\(i)",
                                                                               pause: .milliseconds(500), patience: patience)
                            return (id, f, retries)
                        } catch {
                            // What the API server said about it (its log), for whoever reads the failure.
                            Issue.record("upload during:\(i) failed: \(error)\nserver log:\n\(api.logTail())")
                            throw error
                        }
                    }
                }
                var sent: [(String, FixtureManifest.Fixture, Int)] = []
                for try await one in group { sent.append(one) }
                return sent
            }
        }
        try await Task.sleep(for: .seconds(Self.outage - Date().timeIntervalSince(down)))
        #expect(ScaleOutTests.run(["/bin/bash", script, "start", pgFolder]) == 0)
        let up = Date()
        let sent = try await uploads.value
        for (id, f, _) in sent {
            #expect(expected[id] == nil, "one job per upload")
            expected[id] = f
        }
        let refused = sent.map(\.2).reduce(0, +)

        // Everything final within 45 s of the restart.
        var counts: [JobState: Int] = [:]
        while Date().timeIntervalSince(up) < 45 {
            if let c = try? await queue.counts() {
                counts = c
                if (c[.queued] ?? 0) + (c[.running] ?? 0) == 0 { break }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        let drained = Date()
        print("postgres outage: \(Int(up.timeIntervalSince(down))) s down, every job final \(Int(drained.timeIntervalSince(up))) s " +
              "after the restart, \(Int(drained.timeIntervalSince(begin))) s in all; \(refused) upload retries")
        #expect(up.timeIntervalSince(down) >= Self.outage)
        #expect(sent.count == 24 && refused >= 12, "uploads arrived while the database was down and were sent again (\(refused) retries)")
        #expect((counts[.queued] ?? 0) + (counts[.running] ?? 0) == 0, "jobs still pending: \(counts)")
        #expect(counts[.dead, default: 0] == 0, "no job died of the outage: \(counts)")
        #expect(counts.values.reduce(0, +) == 144 && expected.count == 144, "one job per upload, none lost: \(counts)")
        try await JobChecks.expectFinalAsManifest(expected, queue: queue, store: try await storage.store())
        for id in expected.keys {
            let attempts = try await queue.job(id: id)?.attempts
            #expect(attempts == 1, "\(id): \(attempts.map(String.init) ?? "no job") attempts")
        }
        kill(worker, SIGTERM)
        workerExit = ScaleOutTests.reap(worker)
        #expect(workerExit == 0, "the worker outlived the outage and stops cleanly")
        // The outage was really met: the worker's queue calls failed while the database was down.
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("claim failed") || text.contains("queue write failed") || text.contains("job postponed"),
                "the worker never noticed the outage")
    }
}

/// A continuation resumed by whichever of several racers comes first; the others are ignored.
final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    func set(_ c: CheckedContinuation<T, any Error>) { lock.withLock { continuation = c } }
    func resume(_ result: Result<T, any Error>) {
        let c: CheckedContinuation<T, any Error>? = lock.withLock {
            defer { continuation = nil }
            return continuation
        }
        c?.resume(with: result)
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
