import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MediaTestSupport
import Testing

/// Decoder attacks uploaded to a real `mediaworker serve` process (its helper events are process-wide metrics) beside ordinary files: each ends in its own final state
/// within its deadline, the others finish normally, and the service answers throughout.
@Suite(.serialized, .offCooperativePool) struct HostileUploadTests {
    @Test("hostile files next to good ones: right final states, /healthz always answers, nothing stuck", arguments: TestBackend.allCases)
    func hostileBesideGood(_ backend: TestBackend) async throws {
        // Helpers get 256 MiB here, so the 49 MP interlaced PNG is a decompression bomb for them.
        let server = try ServerProcess(backend, env: ["MEDIAWORKER_TIME_LIMIT": "3", "MEDIAWORKER_LEASE": "2",
                                                      "MEDIAWORKER_HELPER_MEMORY_MB": "256"])
        // (fixture, expected state, expected reason or previewUnavailable)
        let cases: [(String, String, String?)] = [
            ("pdf-nested-xobjects", "accepted", "time_limit"),
            ("vorbis-rate-2e31", "rejected", "corrupt"),
            ("pdf-nested-xobjects", "accepted", "time_limit"),
            ("jpeg-whatsapp-photo", "accepted", nil),
            ("vorbis-rate-2e31-minus-1", "rejected", "corrupt"),
            ("ogg-opus-voice-note", "accepted", nil),
            ("vorbis-rate-1hz", "rejected", "corrupt"),
            ("png-palette", "accepted", nil),
            ("vorbis-rate-20hz", "rejected", "corrupt"),
            ("png-interlaced-49mp", "rejected", "corrupt"),
            ("pdf-text-3-pages", "accepted", nil),
        ]
        var ids: [String] = []
        for (n, (id, _, _)) in cases.enumerated() {
            let fixture = FixtureManifest.named(id)
            let posted = try await server.request("POST", "/v1/attachments?from=\(fixture.from.rawValue)&idempotencyKey=hostile-\(n)",
                                                  body: Data(try fixture.bytes()))
            #expect(posted.status == 202)
            ids.append(try #require(posted.json["id"] as? String))
        }
        // Both slots are held by the hanging PDFs for up to 3 s each; /healthz is asked all along, beside the polling.
        let polling = Locked(true)
        let health = Task { () -> (answered: Int, failed: Int) in
            var answered = 0, failed = 0
            while polling.withLock({ $0 }) {
                let reply = try? await server.request("GET", "/healthz", auth: false)
                if reply?.status == 200 { answered += 1 } else { failed += 1 }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return (answered, failed)
        }
        var final: [String: [String: Any]] = [:]
        let deadline = ContinuousClock.now + .seconds(40)
        while final.count < ids.count && ContinuousClock.now < deadline {
            for id in ids where final[id] == nil {
                let job = try await server.request("GET", "/v1/jobs/\(id)").json
                if ["accepted", "rejected", "dead"].contains(job["state"] as? String ?? "") { final[id] = job }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        polling.withLock { $0 = false }
        let pings = await health.value
        #expect(final.count == ids.count, "jobs still not final: \(ids.filter { final[$0] == nil })")
        #expect(pings.failed == 0 && pings.answered >= 3, "/healthz: \(pings.answered) answered, \(pings.failed) failed")
        for (n, (fixture, state, detail)) in cases.enumerated() {
            let job = final[ids[n]] ?? [:]
            let outcome = job["outcome"] as? [String: Any] ?? [:]
            #expect(job["state"] as? String == state, "\(fixture): \(job)")
            if state == "rejected" { #expect(outcome["reason"] as? String == detail, "\(fixture): \(outcome)") }
            if state == "accepted" { #expect(outcome["previewUnavailable"] as? String == detail, "\(fixture): \(outcome)") }
            #expect(job["attempts"] as? Int == 1, "\(fixture) ran \(job["attempts"] ?? "?") times")
        }
        let ready = try await server.request("GET", "/readyz", auth: false)
        #expect(ready.status == 200)
        #expect(ready.json["sandboxMissing"] == nil)
        // Deadline kills are counted for operators.
        let metrics = String(decoding: try await server.request("GET", "/metrics", auth: false).body, as: UTF8.self)
        #expect(metrics.contains("mediaworker_helper_events_total{event=\"deadline_kill\"} 2"), "\(metrics.split(separator: "\n").filter { $0.contains("helper") })")
    }
}

final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&value) }
}
