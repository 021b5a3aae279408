import Foundation
import MediaApplication
import MediaIntake
import MediaQueue
import MediaStore
import MediaTestSupport
import Testing

/// The four storages an erasure must clean: SQLite with files, PostgreSQL with its blob table, and each queue with
/// an S3 bucket (SeaweedFS).
enum ErasureStorage: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqliteFiles = "sqlite+files", postgresTable = "postgres+table", sqliteS3 = "sqlite+s3", postgresS3 = "postgres+s3"

    var testDescription: String { rawValue }

    func make(_ prefix: String) throws -> TestStorage {
        switch self {
        case .sqliteFiles: return try TestBackend.sqlite.make(prefix)
        case .postgresTable: return try TestBackend.postgres.make(prefix)
        case .sqliteS3: return try TestBackend.sqlite.make(prefix, s3: true)
        case .postgresS3: return try TestBackend.postgres.make(prefix, s3: true)
        }
    }
}

@Suite(.serialized, .offCooperativePool) struct ErasureTests {
    @Test("DELETE /v1/jobs/{id}: a tombstone, every blob gone, its links 410 (forged ones 403), a repeat the same, an unknown id 404",
          arguments: ErasureStorage.allCases)
    func eraseOne(_ kind: ErasureStorage) async throws {
        let storage = try kind.make("mw-erase-http")
        defer { storage.remove() }
        try await withServer(env: ["MEDIAWORKER_SQLITE_VACUUM_DELAY": "0"], storage: storage) { server in
            let original = try Data(contentsOf: FixtureManifest.folder.appendingPathComponent("images/whatsapp_photo.jpg"))
            let job = try await server.uploadAndWait("images/whatsapp_photo.jpg",
                query: "from=visitor&fileName=IMG-erase-me-4417.jpg&idempotencyKey=wamid.ERASE:1&conversationId=conv-erase-4417&businessNumber=%2B34600004417")
            let kept = try await server.uploadAndWait("documents/text_3_pages.pdf", query: "from=visitor&fileName=keep-me.pdf&conversationId=conv-keep")
            #expect(job["state"] as? String == "accepted")
            let id = try #require(job["id"] as? String)
            let urls = (job["artifacts"] as? [[String: Any]] ?? []).compactMap { $0["url"] as? String }
            #expect(urls.count == 2)
            for url in urls { #expect(try await server.request("GET", url, auth: false).status == 200, "served (and cached) before") }

            let erased = try await server.request("DELETE", "/v1/jobs/\(id)")
            #expect(erased.status == 200)
            #expect(Set(erased.json.keys) == ErasureChecks.tombstoneKeys)
            #expect(erased.json["state"] as? String == "erased" && erased.json["erasure"] as? String == "request")
            #expect(erased.json["createdAt"] as? String == job["createdAt"] as? String)
            for url in urls {
                let gone = try await server.request("GET", url, auth: false)
                #expect(gone.status == 410, "\(url)")
                #expect(gone.json["error"] as? String == "erased")
                #expect(try await server.request("HEAD", url, auth: false).status == 410)
                let forged = url.replacingOccurrences(of: "sig=", with: "sig=A")
                #expect(try await server.request("GET", forged, auth: false).status == 403)
            }
            let shown = try await server.request("GET", "/v1/jobs/\(id)")
            #expect(shown.status == 200 && Set(shown.json.keys) == ErasureChecks.tombstoneKeys)
            let again = try await server.request("DELETE", "/v1/jobs/\(id)")
            #expect(again.status == 200 && again.json["erasedAt"] as? String == erased.json["erasedAt"] as? String)
            #expect(try await server.request("DELETE", "/v1/jobs/\(JobID.make())").status == 404)
            #expect(try await server.request("DELETE", "/v1/jobs/not-an-id").status == 404)
            #expect(try await server.request("DELETE", "/v1/jobs/\(id)", auth: false).status == 401)
            // The gateway resends the upload with its key: the tombstone, nothing taken in again.
            let resent = try await server.request("POST", "/v1/attachments?from=visitor&idempotencyKey=wamid.ERASE:1", body: original)
            #expect(resent.status == 200 && resent.json["state"] as? String == "erased")

            // The other job is whole.
            for url in (kept["artifacts"] as? [[String: Any]] ?? []).compactMap({ $0["url"] as? String }) {
                #expect(try await server.request("GET", url, auth: false).status == 200)
            }
            let store = try await storage.store()
            try await Self.reclaim(storage)
            let marker = Array(original[(original.count / 2)..<(original.count / 2 + 48)])
            let left = try await ErasureChecks.leftovers(
                of: [marker, Array("IMG-erase-me-4417".utf8), Array("conv-erase-4417".utf8), Array("+34600004417".utf8),
                     Array("wamid.ERASE:1".utf8)],
                erased: [id], storage: storage, store: store)
            #expect(left.isEmpty, "\(left)")
            #expect(try await store.get(jobID: try #require(kept["id"] as? String), role: "original") != nil)
        }
    }

    @Test("POST /v1/erasures: a conversation of 1,000 jobs in batches while uploads go on; a repeat erases 0; a business number; nothing else touched",
          arguments: ErasureStorage.allCases)
    func eraseConversation(_ kind: ErasureStorage) async throws {
        let storage = try kind.make("mw-erase-conv")
        defer { storage.remove() }
        let queue = try await storage.queue(), store = try await storage.store()
        let doomed = try await ErasureChecks.seed(1000, queue: queue, store: store, conversationId: "conv-1000",
                                                  fileName: { "holiday-\($0)-secret.jpg" })
        let others = try await ErasureChecks.seed(20, queue: queue, store: store, businessNumber: "+33100000077")
        let bystanders = try await ErasureChecks.seed(10, queue: queue, store: store)
        try await withServer(env: ["MEDIAWORKER_ERASURE_BATCH": "100", "MEDIAWORKER_SQLITE_VACUUM_DELAY": "0"], storage: storage) { server in
            let photo = try Data(contentsOf: FixtureManifest.folder.appendingPathComponent("images/whatsapp_photo.jpg"))
            let started = Date()
            async let erasure = server.request("POST", "/v1/erasures", body: Data(#"{"conversationId":"conv-1000"}"#.utf8))
            // Uploads while the erasure runs: each answered at once.
            var uploads: [Int] = []
            for n in 0..<5 {
                uploads.append(try await server.request("POST", "/v1/attachments?from=visitor&idempotencyKey=during:\(n)", body: photo).status)
            }
            let reply = try await erasure
            let seconds = Date().timeIntervalSince(started)
            #expect(reply.status == 200 && reply.json["erased"] as? Int == 1000, "\(reply.json)")
            #expect(uploads == [202, 202, 202, 202, 202])
            print("erasure of 1,000 jobs on \(kind.rawValue): \(String(format: "%.2f", seconds)) s, \(Int(1000 / seconds)) jobs/s")
            let repeated = try await server.request("POST", "/v1/erasures", body: Data(#"{"conversationId":"conv-1000"}"#.utf8))
            #expect(repeated.status == 200 && repeated.json["erased"] as? Int == 0)

            let byNumber = try await server.request("POST", "/v1/erasures", body: Data(#"{"businessNumber":"+33100000077"}"#.utf8))
            #expect(byNumber.json["erased"] as? Int == 20)

            for bad in [#"{}"#, #"{"conversationId":"a","businessNumber":"+34600000000"}"#, #"{"conversationId":""}"#,
                        #"{"conversationId":5}"#, #"{"conversationId":"a\u0001b"}"#, #"{"businessNumber":"0034600000000"}"#, #"{"phone":"+34600000000"}"#, "[]", "not json"] {
                let refused = try await server.request("POST", "/v1/erasures", body: Data(bad.utf8))
                #expect(refused.status == 400 && refused.json["error"] as? String == "invalid_parameter", "\(bad)")
            }
            #expect(try await server.request("POST", "/v1/erasures", body: Data(#"{"conversationId":"x"}"#.utf8), auth: false).status == 401)
        }
        for s in doomed + others { #expect(try await queue.job(id: s.id)?.state == .erased) }
        for s in bystanders {
            #expect(try await queue.job(id: s.id)?.state == .accepted)
            #expect(try await store.get(jobID: s.id, role: "original") == s.original)
        }
        try await Self.reclaim(storage)
        let left = try await ErasureChecks.leftovers(of: (doomed + others).map(\.marker) + [Array("holiday-".utf8), Array("conv-1000".utf8)],
                                                     erased: Set((doomed + others).map(\.id)), storage: storage, store: store)
        #expect(left.isEmpty, "\(left.prefix(10))")
        #expect(try await queue.tombstonesWithBlobs(limit: 10, now: Date()).isEmpty)
    }

    @Test("the retention purge on a test clock: expired jobs erased for retention, an interrupted erasure finished, nothing else",
          arguments: ErasureStorage.allCases)
    func retentionPurge(_ kind: ErasureStorage) async throws {
        let storage = try kind.make("mw-purge")
        defer { storage.remove() }
        let queue = try await storage.queue(), store = try await storage.store()
        let t0 = Date()
        let old = try await ErasureChecks.seed(30, queue: queue, store: store, fileName: { "old-\($0)-private.jpg" }, finishedAt: t0)
        let young = try await ErasureChecks.seed(5, queue: queue, store: store, finishedAt: t0.addingTimeInterval(20 * 86_400))
        // An erasure whose process died after its tombstones and before the blobs.
        let cut = try await ErasureChecks.seed(3, queue: queue, store: store, conversationId: "conv-cut", fileName: { "cut-\($0)-private.jpg" })
        #expect(try await queue.erase(.conversation("conv-cut"), limit: 10, now: t0).count == 3)
        for s in cut { #expect(try await store.get(jobID: s.id, role: "original") != nil, "blobs still there, as after a crash") }

        var settings = RetentionSettings()
        settings.policy = RetentionPolicy(period: .seconds(30 * 86_400))
        settings.batch = 7
        settings.pause = .milliseconds(1)
        let clock = TestClock(t0.addingTimeInterval(29 * 86_400))
        let purge = RetentionPurge(queue: queue, store: store, settings: settings, now: { clock.now })
        var round = await purge.round()
        #expect(round.erased == 0 && round.finished == 3 && !round.skipped, "\(round)")
        clock.now = t0.addingTimeInterval(31 * 86_400)
        round = await purge.round()
        #expect(round.erased == 30)
        #expect(round.reclaimed == (kind == .sqliteFiles || kind == .sqliteS3), "SQLite's file rewritten after the erasure")
        for s in old { #expect(try await queue.job(id: s.id)?.erasure == .retention) }
        for s in young { #expect(try await queue.job(id: s.id)?.state == .accepted) }
        #expect(await purge.round().erased == 0)
        let left = try await ErasureChecks.leftovers(of: (old + cut).map(\.marker) + [Array("-private.jpg".utf8)],
                                                     erased: Set((old + cut).map(\.id)), storage: storage, store: store)
        #expect(left.isEmpty, "\(left.prefix(10))")
        // Two purges at once: one runs, the other skips its round.
        let other = RetentionPurge(queue: try await storage.queue(), store: store, settings: settings, now: { clock.now })
        let both = try await queue.withPurgeLock { await other.round() }
        #expect(both?.skipped == true)
    }

    @Test("an erasure made by another process (its purge, the CLI, another server) reaches this server's media cache within about a second",
          arguments: [ErasureStorage.sqliteFiles, .postgresTable])
    func otherProcess(_ kind: ErasureStorage) async throws {
        let storage = try kind.make("mw-erase-cache")
        defer { storage.remove() }
        try await withServer(storage: storage) { server in
            let job = try await server.uploadAndWait("images/whatsapp_photo.jpg", query: "from=visitor")
            let id = try #require(job["id"] as? String)
            let url = try #require((job["artifacts"] as? [[String: Any]])?.first { $0["role"] as? String == "thumbnail" }?["url"] as? String)
            for _ in 0..<3 { #expect(try await server.request("GET", url, auth: false).status == 200) }
            // Erased through a queue and store of its own, as another process does: this server's cache is not told.
            let eraser = JobEraser(queue: try await storage.queue(), store: try await storage.store())
            #expect(try await eraser.erase(jobID: id)?.state == .erased)
            let erasedAt = Date()
            var status = 200
            while status == 200 && Date().timeIntervalSince(erasedAt) < 10 {
                status = try await server.request("GET", url, auth: false).status
                if status == 200 { try await Task.sleep(for: .milliseconds(50)) }
            }
            let took = Date().timeIntervalSince(erasedAt)
            #expect(status == 410)
            #expect(took < 2.5, "served from the cache for \(took) s after the erasure")
        }
    }

    @Test("RetentionSettings: periods in s, m, h, d, w; per number with keep; malformed values name the variable")
    func retentionSettings() throws {
        let s = try RetentionSettings(environment: ["MEDIAWORKER_RETENTION": "30d",
                                                    "MEDIAWORKER_RETENTION_BY_NUMBER": "+33100000000=90d, +34600000000=keep,+34600000001=12h"])
        #expect(s.policy.period == .seconds(30 * 86_400))
        #expect(s.policy.byNumber == ["+33100000000": .seconds(90 * 86_400), "+34600000001": .seconds(12 * 3600)])
        #expect(s.policy.kept == ["+34600000000"])
        #expect(try RetentionSettings(environment: [:]).policy.isEmpty)
        #expect(try RetentionSettings(environment: ["MEDIAWORKER_RETENTION": "keep"]).policy.isEmpty)
        #expect(try RetentionSettings(environment: ["MEDIAWORKER_RETENTION": "90m"]).policy.period == .seconds(5400))
        #expect(try RetentionSettings(environment: ["MEDIAWORKER_RETENTION": "3600"]).policy.period == .seconds(3600))
        for (key, bad) in [("MEDIAWORKER_RETENTION", "30 days"), ("MEDIAWORKER_RETENTION", "-1d"), ("MEDIAWORKER_RETENTION", "0"),
                           ("MEDIAWORKER_RETENTION_BY_NUMBER", "34600000000=30d"), ("MEDIAWORKER_RETENTION_BY_NUMBER", "+34600000000"),
                           ("MEDIAWORKER_PURGE_BATCH", "0")] {
            #expect(throws: SettingsError.self, "\(key)=\(bad)") { try RetentionSettings(environment: [key: bad]) }
        }
    }
}

extension ErasureTests {
    /// What the purge does once `MEDIAWORKER_SQLITE_VACUUM_DELAY` has passed (0 in these tests): the SQLite file rewritten
    /// without the stale copies of erased rows. Asked until a round ran (the server's own purge may hold the lock).
    static func reclaim(_ storage: TestStorage) async throws {
        let queue = try await storage.queue()
        for _ in 0..<200 {
            if try await queue.withPurgeLock({ try await queue.reclaimErasedSpace(now: Date()) }) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the purge lock stayed taken")
    }
}

/// A clock a test moves by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Date
    init(_ start: Date) { value = start }
    var now: Date {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}
