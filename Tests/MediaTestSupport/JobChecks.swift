import Foundation
import MediaQueue
import MediaStore
import Testing

/// Checks shared by the tests that push fixtures through real worker processes.
public enum JobChecks {
    /// Polls `queue` every 200 ms until no job is queued or running, giving up only when no job has become final for
    /// `stall` seconds (a job stuck, not a slow machine: the wait lasts as long as the work keeps moving) or after
    /// `cap` seconds; the last counts read. A failing read (the database restarting) is tried again.
    public static func waitUntilFinal(_ queue: any JobQueue, stalledFor stall: TimeInterval, cap: TimeInterval) async throws -> [JobState: Int] {
        let start = Date()
        var counts: [JobState: Int] = [:]
        var finalSeen = -1, moved = Date()
        while Date().timeIntervalSince(start) < cap, Date().timeIntervalSince(moved) < stall {
            if let c = try? await queue.counts() {
                counts = c
                if (c[.queued] ?? 0) + (c[.running] ?? 0) == 0 { break }
                let final = c.filter { $0.key.isFinal }.values.reduce(0, +)
                if final != finalSeen { (finalSeen, moved) = (final, Date()) }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        return counts
    }

    /// Each job ended as its fixture expects, and each accepted job's files are whole in `store`: the original
    /// byte for byte, the thumbnail a WebP of the expected size, the playback an MP3 of the expected duration.
    public static func expectFinalAsManifest(_ jobs: [String: FixtureManifest.Fixture], queue: any JobQueue,
                                             store: any BlobStore) async throws {
        for (id, f) in jobs {
            let job = try await #require(try await queue.job(id: id))
            #expect(job.state.rawValue == f.expect.status, "\(f.id) \(id): \(job.state) \(job.lastError ?? "")")
            guard job.state == .accepted else { continue }
            #expect(try await store.get(jobID: id, role: "original") == (try f.bytes()), "\(f.id): original")
            if case .some(.some(let t)) = f.expect.thumbnail {
                let webp = WebPInspector(try await store.get(jobID: id, role: "thumbnail") ?? [])
                #expect(webp.map { abs($0.width - t.width) <= 1 && abs($0.height - t.height) <= 1 } == true, "\(f.id): thumbnail")
            }
            if let p = f.expect.playback {
                #expect(playbackMatches(try await store.get(jobID: id, role: "playback") ?? [], p), "\(f.id): playback")
            }
            if let d = f.expect.delivery {
                let verdict = DeliveryCheck.run(try await store.get(jobID: id, role: "delivery") ?? [], sendAs: d.sendAs)
                #expect(verdict.ok, "\(f.id): delivery \(verdict.output)")
            }
        }
    }

    /// A stored playback artifact is what the fixture expects: an MP3 within 50 ms of its duration (voice
    /// notes), or an MP4 that passes the independent video check within its tolerance (animations).
    public static func playbackMatches(_ bytes: [UInt8], _ p: FixtureManifest.Fixture.Playback) -> Bool {
        if bytes.count > 8, Array(bytes[4..<8]) == Array("ftyp".utf8) {
            let verdict = DeliveryCheck.run(bytes, sendAs: "video")
            return verdict.ok && verdict.durationMs.map { abs($0 - p.durationMs) <= (p.toleranceMs ?? 100) } == true
        }
        return MP3Inspector(bytes).map { abs($0.durationMs - Double(p.durationMs)) <= 50 } == true
    }

    /// From worker logs: how many "job finished" lines (completions that still held their lease) each job has,
    /// and how many each log has.
    public static func finishedLines(in logs: [URL]) throws -> (perJob: [String: Int], perLog: [Int]) {
        var perJob: [String: Int] = [:], perLog: [Int] = []
        for log in logs {
            let lines = (try String(contentsOf: log, encoding: .utf8)).split(separator: "\n").filter { $0.hasSuffix("job finished") }
            perLog.append(lines.count)
            for line in lines {
                if let r = line.range(of: "job=") { perJob[String(line[r.upperBound...].prefix(36)), default: 0] += 1 }
            }
        }
        return (perJob, perLog)
    }
}
