import Foundation
import MediaQueue
import MediaStore
import MediaTestSupport
import Synchronization
import Testing

/// Several machines sharing media the way real deployments do: 2 API servers and 4 workers on PostgreSQL and an S3
/// bucket (a real SeaweedFS, signatures enforced), 2,000 uploads, while workers are SIGKILLed, the volume server is
/// stopped for 30 s and the filer is restarted once.
@Suite(.serialized, .onQueueExecutor) struct S3ScaleOutTests {
    /// What the gateway saw, over every upload.
    final class Answers: Sendable {
        struct State {
            var refusedKeys: Set<String> = []
            /// 503 answers: each refused attempt may leave one original behind (its PUT landing after the refusal).
            var refusals = 0
            var unexpected: [String] = []
            var retries = 0
        }

        let state = Mutex(State())
        let uploaded = Atomic<Int>(0)
    }

    /// POSTs like a gateway with a 30 s timeout: a 503 is sent again with the same idempotency key; anything else
    /// that is not a 2xx — a 500, a hang past 30 s, a refused connection — is recorded as a failure of the test (and
    /// sent again, so the run goes on).
    static func upload(_ server: ServerProcess, _ bytes: Data, fixture: FixtureManifest.Fixture, key: String,
                       answers: Answers) async throws -> String {
        let query = "from=\(fixture.from.rawValue)&idempotencyKey=\(key)"
            + (fixture.declaredType?.addingPercentEncoding(withAllowedCharacters: .alphanumerics).map { "&declaredType=\($0)" } ?? "")
        for _ in 0..<600 {
            let sent = Date()
            do {
                let reply = try await ScaleOutTests.within(.seconds(30)) {
                    try await server.request("POST", "/v1/attachments?\(query)", body: bytes)
                }
                if reply.status == 200 || reply.status == 202, let id = reply.json["id"] as? String { return id }
                answers.state.withLock { s in
                    s.retries += 1
                    if reply.status == 503 {
                        s.refusedKeys.insert(key)
                        s.refusals += 1
                    } else {
                        s.unexpected.append("\(key): HTTP \(reply.status) \(String(decoding: reply.body.prefix(200), as: UTF8.self))")
                    }
                }
            } catch {
                answers.state.withLock { s in
                    s.retries += 1
                    s.unexpected.append("\(key): \(error) after \(String(format: "%.1f", Date().timeIntervalSince(sent))) s")
                }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw ScaleOutTests.UploadFailed(key: key)
    }

    /// Fetches every artifact of job `id` from each server, whole and as a range: the same bytes, ETag and
    /// Content-Range from both. How many artifacts were compared.
    static func compareArtifacts(of id: String, on servers: [ServerProcess]) async throws -> Int {
        let views = try await servers.asyncMap { try await $0.request("GET", "/v1/jobs/\(id)") }
        let artifacts = (views[0].json["artifacts"] as? [[String: Any]]) ?? []
        for artifact in artifacts {
            let role = artifact["role"] as? String ?? ""
            let urls = views.map { view in ((view.json["artifacts"] as? [[String: Any]]) ?? []).first { $0["role"] as? String == role }?["url"] as? String }
            var full: [ServerProcess.Reply] = [], ranged: [ServerProcess.Reply] = []
            for (server, url) in zip(servers, urls) {
                let url = try #require(url)
                full.append(try await server.request("GET", url, auth: false))
                ranged.append(try await server.request("GET", url, headers: ["Range": "bytes=0-99"], auth: false))
            }
            #expect(full[0].status == 200 && full[0].body == full[1].body, "\(id)/\(role): the same bytes from both servers")
            #expect(full[0].header("ETag") != nil && full[0].header("ETag") == full[1].header("ETag"))
            #expect(ranged[0].status == 206 && ranged[0].body == ranged[1].body
                    && ranged[0].header("Content-Range") == ranged[1].header("Content-Range"))
        }
        return artifacts.count
    }

    @Test("4 workers and 2 servers on PostgreSQL + SeaweedFS, 2,000 uploads; workers SIGKILLed, the volume server stopped 30 s, the filer restarted",
          .timeLimit(.minutes(20)))
    func chaos() async throws {
        let s3 = try TestS3.server()
        let storage = try TestBackend.postgres.make("mw-scale-s3", s3: true)
        defer { storage.remove() }
        let queue = try await storage.queue()
        let api = ["MEDIAWORKER_WORKERS": "0", "MEDIAWORKER_LOG_LEVEL": "error"]
        let servers = [try ServerProcess(storage: storage, env: api), try ServerProcess(storage: storage, env: api)]
        let workers = try ScaleOutTests.Workers(storage: storage, count: 4)
        let mix = ScaleOutTests.mix
        let bytes = try mix.map { try Data(contentsOf: FixtureManifest.folder.appendingPathComponent($0.file)) }
        let jobs = ScaleOutTests.jobs
        let answers = Answers()

        let chaos = Task.detached { () -> Int in
            var rng = SystemRandomNumberGenerator()
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(1200))
                if Task.isCancelled { break }
                try? workers.killAndReplace(Int.random(in: 0..<4, using: &rng))
            }
            return workers.kills
        }
        // The volume server away for 30 s after a quarter of the uploads; the filer restarted after two thirds.
        let faults = Task.detached { () -> (Bool, Bool, Bool, TimeInterval, TimeInterval) in
            while answers.uploaded.load(ordering: .relaxed) < jobs / 4 { try? await Task.sleep(for: .milliseconds(5)) }
            let volume = (try? s3.stopVolume()) != nil
            try? await Task.sleep(for: .seconds(30))
            let waitedAtEnd = (try? await queue.hasPostponed(now: Date())) ?? false
            let volumeStarted = Date()
            let volumeBack = (try? s3.startVolume()) != nil
            // startVolume returns once a signed PUT and GET work again: the fault has cleared.
            let volumeBackAt = Date()
            // For 20 s: when a job was last seen waiting for the outage to end (postponed, not yet released by a
            // worker's probe). A job whose request was in flight when the server came back may be postponed a few
            // seconds later, and released in turn.
            var lastWaiting = volumeBackAt
            while Date().timeIntervalSince(volumeBackAt) < 20 {
                if (try? await queue.hasPostponed(now: Date())) == true { lastWaiting = Date() }
                try? await Task.sleep(for: .milliseconds(100))
            }
            while answers.uploaded.load(ordering: .relaxed) < jobs * 2 / 3 { try? await Task.sleep(for: .milliseconds(5)) }
            let filer = (try? s3.stopFiler()) != nil
            try? await Task.sleep(for: .seconds(3))
            let filerBack = (try? s3.startFiler()) != nil
            return (volume && volumeBack, filer && filerBack, waitedAtEnd, volumeBackAt.timeIntervalSince(volumeStarted),
                    lastWaiting.timeIntervalSince(volumeBackAt))
        }
        defer {
            try? s3.startVolume()
            try? s3.startFiler()
        }

        var expected: [String: FixtureManifest.Fixture] = [:]
        try await withThrowingTaskGroup(of: (String, FixtureManifest.Fixture).self) { group in
            var next = 0
            func add() {
                let i = next
                next += 1
                let f = mix[i % mix.count], body = bytes[i % mix.count]
                group.addTask {
                    let id = try await Self.upload(servers[i % 2], body, fixture: f, key: "s3scale:\(i)", answers: answers)
                    answers.uploaded.add(1, ordering: .relaxed)
                    return (id, f)
                }
            }
            for _ in 0..<8 { add() }
            while let (id, f) = try await group.next() {
                #expect(expected[id] == nil, "one job per upload")
                expected[id] = f
                if next < jobs { add() }
            }
        }
        #expect(expected.count == jobs)
        let (volumeStopped, filerRestarted, waitedAtEnd, volumeStart, releasedAfter) = await faults.value

        // Workers were killed while the uploads arrived; the rest drains on the four left (a kill every 1.2 s through the
        // drain too would only measure how slow the machine is: a job is lost to a kill once per 2 s lease).
        chaos.cancel()
        let counts = try await JobChecks.waitUntilFinal(storage, queue, stalledFor: 90, cap: 900)
        let kills = await chaos.value
        try await Task.sleep(for: .seconds(3))
        let exits = workers.stopAll()
        let seen = answers.state.withLock { $0 }
        #expect(volumeStopped && filerRestarted, "the faults happened")
        #expect(seen.unexpected.isEmpty, "every upload answered 2xx or 503: \(seen.unexpected.prefix(10))")
        #expect(!seen.refusedKeys.isEmpty, "the outage was met by uploads (503, then resent)")
        #expect(kills >= 5, "workers were killed \(kills) times")
        #expect(exits.allSatisfy { $0 == 0 }, "the last workers stop cleanly: \(exits); logs: \(workers.lastLogTails)")
        #expect((counts[.queued] ?? 0) + (counts[.running] ?? 0) == 0, "jobs still pending: \(counts)")
        #expect(counts[.dead] == 0, "no job died: \(counts)")
        #expect((counts[.accepted] ?? 0) + (counts[.rejected] ?? 0) == jobs, "\(counts)")
        let store = try await storage.store()
        try await JobChecks.expectFinalAsManifest(expected, queue: queue, store: store)
        let finishedBy = try JobChecks.finishedLines(in: workers.logs).perJob
        #expect(finishedBy.values.allSatisfy { $0 == 1 }, "a job completed twice")

        // Recovery: the jobs the volume server's outage postponed were released by a worker's probe as soon as it was back
        // (when each is final then depends on the backlog of jobs due before it: with 4 workers killed every 1.2 s,
        // minutes; the dedicated recovery tests, with no backlog, time that).
        let postponed = try await JobChecks.outageReleased(storage)
        #expect(postponed > 0 && waitedAtEnd, "the volume outage postponed jobs, and they waited for its end")
        #expect(releasedAfter < 15, "a job still waited for the outage \(releasedAfter) s after the volume server was back")

        // Both servers ready again by themselves, and serving the same bytes, ETags and ranges.
        for server in servers {
            var ready = false
            for _ in 0..<300 where !ready {
                ready = (try? await ScaleOutTests.within(.seconds(10)) { try await server.request("GET", "/readyz", auth: false) })?.status == 200
                if !ready { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(ready, "/readyz recovers by itself")
        }
        // Every artifact of every accepted job, from both servers (8 jobs at a time).
        let acceptedIDs = expected.filter { $0.value.expect.status == "accepted" }.keys.sorted()
        let compared = try await withThrowingTaskGroup(of: Int.self) { group in
            for lane in 0..<8 {
                group.addTask {
                    var n = 0
                    for id in stride(from: lane, to: acceptedIDs.count, by: 8).map({ acceptedIDs[$0] }) {
                        n += try await Self.compareArtifacts(of: id, on: servers)
                    }
                    return n
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(compared > acceptedIDs.count, "the original and at least one artifact of each of \(acceptedIDs.count) accepted jobs: \(compared)")

        // What is in the bucket and named by no job: only originals of uploads that were refused (their PUT landed after
        // the service had given up on it). Every blob a job names is there.
        let repair = try TestCLI.run(["blobs", "gc", "--dry-run", "--min-age", "0"], on: storage)
        let orphans = (repair.json["details"] as? [[String: Any]]) ?? []
        #expect(repair.status == 0)
        #expect(orphans.allSatisfy { $0["role"] as? String == "original" && $0["why"] as? String == "unknown_job" }, "\(orphans.prefix(5))")
        #expect(orphans.count <= seen.refusals, "\(orphans.count) orphans, \(seen.refusals) refused upload attempts")
        let verify = try TestCLI.run(["blobs", "verify"], on: storage)
        #expect(verify.status == 0 && verify.json["problems"] as? Int == 0, "\(verify.json)")
        print("s3 scale-out: \(jobs) jobs, \(kills) worker kills, refused uploads: \(seen.refusedKeys.count) (\(seen.refusals) attempts), upload retries: \(seen.retries), orphans: \(orphans.count), \(counts); \(compared) artifacts the same from both servers; \(postponed) jobs postponed by an outage and released, jobs waiting when the volume server was started: \(waitedAtEnd), none \(String(format: "%.1f", releasedAfter)) s after it answered (its start took \(String(format: "%.1f", volumeStart)) s)")
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
