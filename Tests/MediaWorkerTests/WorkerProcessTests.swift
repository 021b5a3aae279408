import Foundation
import MediaIntake
import MediaQueue
import MediaStore
import MediaTestSupport
import Testing

/// Real `mediaworker work` processes on one queue (SQLite file or PostgreSQL): killed without warning, run side by side.
@Suite(.serialized, .offCooperativePool) struct WorkerProcessTests {
    /// Small fixtures of every kind, so hundreds of jobs run in seconds.
    static let mix = FixtureManifest.inProcess.filter { f in
        (f.expect.playback?.durationMs ?? 0) <= 5_000 && f.derive == nil && f.id != "jpeg-camera-5mib"
    }

    func launch(_ storage: TestStorage, log: URL? = nil, _ env: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = TestBinary.mediaworker
        p.arguments = ["work", "--data", storage.folder.path]
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in storage.environment { environment[k] = v }
        environment["MEDIAWORKER_LEASE"] = "1"
        environment["MEDIAWORKER_WORKERS"] = "2"
        environment["MEDIAWORKER_LOG_LEVEL"] = log == nil ? "error" : "info"
        environment["MEDIAWORKER_GRACE"] = "10"
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        p.standardOutput = FileHandle.nullDevice
        if let log {
            FileManager.default.createFile(atPath: log.path, contents: nil)
            p.standardError = try FileHandle(forWritingTo: log)
        } else {
            p.standardError = FileHandle.nullDevice
        }
        try p.run()
        return p
    }

    func enqueue(_ n: Int, into storage: TestStorage, prefix: String) async throws -> [String: FixtureManifest.Fixture] {
        let intake = AttachmentIntake(queue: try await storage.queue(), store: try await storage.store())
        var jobs: [String: FixtureManifest.Fixture] = [:]
        let bytes = try Self.mix.map { try $0.bytes() }
        for i in 0..<n {
            let f = Self.mix[i % Self.mix.count]
            let job = try await intake.submit(bytes[i % Self.mix.count], from: f.from, declaredType: f.declaredType,
                                        fileName: f.fileName, idempotencyKey: "\(prefix):\(i)").job
            jobs[job.id] = f
        }
        return jobs
    }

    func waitUntilFinal(_ queue: any JobQueue, timeout: TimeInterval) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let c = try await queue.counts()
            if (c[.queued] ?? 0) + (c[.running] ?? 0) == 0 { return true }
            try? await Task.sleep(for: .seconds(0.1))
        }
        return false
    }

    func stop(_ p: Process) -> Int32 {
        p.terminate()  // SIGTERM: graceful
        p.waitUntilExit()
        return p.terminationStatus
    }

    @Test("500 jobs, the worker SIGKILLed 4 times mid-run and restarted: every job final, every artifact whole",
          arguments: TestBackend.allCases)
    func crashes(_ backend: TestBackend) async throws {
        let storage = try backend.make("mw-crash")
        defer { storage.remove() }
        let jobs = try await enqueue(500, into: storage, prefix: "crash")
        let queue = try await storage.queue()
        var killedWhileRunning = 0
        for round in 0..<4 {
            let p = try launch(storage)
            // Wait (bounded) until the worker is running jobs: on a loaded machine its start alone can take longer
            // than a fixed pause, and a kill before any claim tests nothing.
            let started = Date()
            while try await queue.counts()[.running, default: 0] == 0, Date().timeIntervalSince(started) < 20 {
                try? await Task.sleep(for: .seconds(0.05))
            }
            try? await Task.sleep(for: .seconds(0.1 + 0.2 * Double(round)))
            if try await queue.counts()[.running, default: 0] > 0 { killedWhileRunning += 1 }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            #expect(p.terminationReason == .uncaughtSignal)
        }
        let survivor = try launch(storage)
        let finished = try await waitUntilFinal(queue, timeout: 240)
        #expect(stop(survivor) == 0, "SIGTERM is a clean exit")
        let pending = try await queue.counts()
        #expect(finished, "jobs still pending: \(pending)")
        #expect(killedWhileRunning >= 2, "the kills must land mid-job to test anything")
        let c = try await queue.counts()
        #expect(c[.dead] == 0)
        #expect((c[.accepted] ?? 0) + (c[.rejected] ?? 0) == 500)
        #expect(try await queue.jobs(state: nil, limit: 1000).contains { $0.attempts > 1 }, "some jobs were rescued after a kill")
        try await JobChecks.expectFinalAsManifest(jobs, queue: queue, store: try await storage.store())
    }

    @Test("two worker processes on one queue: every job runs once, none is lost", arguments: TestBackend.allCases)
    func twoWorkers(_ backend: TestBackend) async throws {
        let storage = try backend.make("mw-two")
        defer { storage.remove() }
        let folder = storage.folder
        let jobs = try await enqueue(200, into: storage, prefix: "two")
        let queue = try await storage.queue()
        let logs = [folder.appendingPathComponent("a.log"), folder.appendingPathComponent("b.log")]
        let workers = try logs.map { try launch(storage, log: $0, ["MEDIAWORKER_LEASE": "30"]) }
        let finished = try await waitUntilFinal(queue, timeout: 240)
        for w in workers { #expect(stop(w) == 0) }
        let pending = try await queue.counts()
        #expect(finished, "jobs still pending: \(pending)")
        // Never claimed twice: one attempt each, and one "job finished" line per job across both logs.
        let all = try await queue.jobs(state: nil, limit: 1000)
        #expect(all.count == 200)
        #expect(all.allSatisfy { $0.attempts == 1 })
        let (finishedBy, perWorker) = try JobChecks.finishedLines(in: logs)
        #expect(finishedBy.count == 200 && finishedBy.values.allSatisfy { $0 == 1 })
        #expect(perWorker.allSatisfy { $0 > 0 }, "both processes took jobs: \(perWorker)")
        try await JobChecks.expectFinalAsManifest(jobs, queue: queue, store: try await storage.store())
    }

    @Test("concurrent duplicate enqueues from separate processes create one job", arguments: TestBackend.allCases)
    func duplicateEnqueueProcesses(_ backend: TestBackend) async throws {
        let storage = try backend.make("mw-dup")
        defer { storage.remove() }
        let folder = storage.folder
        let photo = FixtureManifest.folder.appendingPathComponent(FixtureManifest.named("jpeg-whatsapp-photo").file).path
        let processes = try (0..<6).map { _ -> (Process, Pipe) in
            let p = Process(), out = Pipe()
            p.executableURL = TestBinary.mediaworker
            p.arguments = ["enqueue", photo, "--from", "visitor", "--idempotency-key", "wamid.HBgL:0", "--data", folder.path]
            p.environment = ProcessInfo.processInfo.environment.merging(storage.environment) { $1 }
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            return (p, out)
        }
        var ids: Set<String> = []
        for (p, out) in processes {
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            ids.insert(json?["id"] as? String ?? "?")
        }
        #expect(ids.count == 1)
        #expect(try await storage.queue().jobs(state: nil, limit: 10).count == 1)
    }
}
