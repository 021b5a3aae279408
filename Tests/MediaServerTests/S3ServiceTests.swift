import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MediaApplication
import MediaDomain
import MediaS3
import MediaStore
import MediaTestSupport
import Testing

/// The HTTP service on the S3 store (a real SeaweedFS, signatures enforced): it still serves the media itself, and a
/// store that refuses the service's settings or is away says so.
@Suite(.serialized, .onQueueExecutor) struct S3ServiceTests {
    @Test("media from S3 as from files: signed URLs, ranges, ETag, If-Range, sandbox headers; the bucket itself is not public",
          arguments: TestBackend.allCases)
    func media(_ backend: TestBackend) async throws {
        let storage = try backend.make("mw-s3app", s3: true)
        defer { storage.remove() }
        try await withServer(backend, storage: storage) { server in
            let job = try await server.uploadAndWait("audio/voice_note.ogg", query: "from=visitor&fileName=PTT.opus")
            #expect(job["state"] as? String == "accepted")
            let id = try #require(job["id"] as? String)
            let playback = try #require((job["artifacts"] as? [[String: Any]])?.first { $0["role"] as? String == "playback" })
            let url = try #require(playback["url"] as? String)
            let full = try await server.request("GET", url, auth: false)
            let stored = try #require(try await storage.store().get(jobID: id, role: "playback"))
            #expect(full.status == 200 && full.body == Data(stored), "the bytes in the bucket, served by the service")
            #expect(full.header("Content-Type") == "audio/mpeg" && full.header("Accept-Ranges") == "bytes")
            #expect(full.header("X-Content-Type-Options") == "nosniff")
            #expect(full.header("Content-Security-Policy")?.hasPrefix("sandbox") == true)
            let etag = try #require(full.header("ETag"))
            let range = try await server.request("GET", url, headers: ["Range": "bytes=0-99"], auth: false)
            #expect(range.status == 206 && range.body == full.body.prefix(100))
            #expect(range.header("Content-Range") == "bytes 0-99/\(stored.count)")
            // SeaweedFS ignores If-Range; the service answers it itself.
            #expect(try await server.request("GET", url, headers: ["Range": "bytes=0-9", "If-Range": etag], auth: false).status == 206)
            #expect(try await server.request("GET", url, headers: ["Range": "bytes=0-9", "If-Range": "\"stale\""], auth: false).status == 200)
            #expect(try await server.request("GET", url, headers: ["If-None-Match": etag], auth: false).status == 304)
            #expect(try await server.request("GET", "/v1/media/\(id)/playback", auth: false).status == 403)
            // The object's own URL, unsigned: refused by the store.
            let s3 = try TestS3.server()
            let bucket = try #require(storage.environment["MEDIAWORKER_STORE"]).dropFirst("s3://".count)
            let (status, _) = try await Self.plainGET(URL(string: "\(s3.endpoint)/\(bucket)/\(id)/playback")!)
            #expect(status == 403, "an unsigned GET on the bucket is refused (HTTP \(status))")
            #expect(try await server.request("GET", "/readyz", auth: false).status == 200)
        }
    }

    @Test("a wrong secret: /readyz 503 names the settings, uploads answer 503, and the store is asked once per call")
    func wrongSecret() async throws {
        let storage = try TestBackend.sqlite.make("mw-s3-secret", s3: true)
        defer { storage.remove() }
        try await withServer(.sqlite, env: ["AWS_SECRET_ACCESS_KEY": "wrong-secret"], storage: storage) { server in
            let ready = try await server.request("GET", "/readyz", auth: false)
            #expect(ready.status == 503)
            #expect((ready.json["message"] as? String)?.contains("settings") == true, "\(ready.json)")
            let upload = try await server.request("POST", "/v1/attachments?from=visitor&idempotencyKey=secret:1",
                                                  body: try FixtureManifest.named("gif87a").bytes().asData)
            #expect(upload.status == 503)
            #expect(upload.json["error"] as? String == "storage_unavailable")
        }
    }

    @Test("a wrong secret is logged clearly once: repeated /readyz probes and refused uploads add no more lines")
    func wrongSecretLoggedOnce() async throws {
        let storage = try TestBackend.sqlite.make("mw-s3-once", s3: true)
        let server = try ServerProcess(storage: storage, env: ["AWS_SECRET_ACCESS_KEY": "wrong-secret", "MEDIAWORKER_WORKERS": "0"])
        defer { server.stop(); storage.remove() }
        let gif = try FixtureManifest.named("gif87a").bytes().asData
        for i in 0..<4 {
            #expect(try await server.request("GET", "/readyz", auth: false).status == 503)
            let upload = try await server.request("POST", "/v1/attachments?from=visitor&idempotencyKey=once:\(i)", body: gif)
            #expect(upload.status == 503)
        }
        let log = try String(contentsOfFile: server.logPath, encoding: .utf8)
        let lines = log.split(separator: "\n")
        let readiness = lines.filter { $0.contains("not ready: the blob store refuses this service's settings") }
        let store = lines.filter { $0.contains("the S3 store refuses this service") && $0.contains("SignatureDoesNotMatch") }
        #expect(readiness.count == 1, "one readiness line for four probes:\n\(server.logTail(30))")
        #expect(store.count == 1, "the store names the refusal once:\n\(server.logTail(30))")
        #expect(!lines.contains { $0.contains("upload not stored") }, "refused uploads add no warning:\n\(server.logTail(30))")
    }

    static func plainGET(_ url: URL) async throws -> (Int, Data) {
        let (data, response) = try await URLSession.shared.data(from: url)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }
}

extension Array where Element == UInt8 {
    var asData: Data { Data(self) }
}

extension S3ServiceTests {
    @Test("the volume server stopped: /readyz 503 and uploads 503 within the gateway's patience (never 500), HEAD and ListObjectsV2 still answer; once it is back /readyz recovers by itself and the resent upload succeeds")
    func volumeOutage() async throws {
        let s3 = try TestS3.server()
        let storage = try TestBackend.postgres.make("mw-s3-outage", s3: true)
        defer { storage.remove() }
        let env = ["MEDIAWORKER_S3_TIMEOUT": "2", "MEDIAWORKER_S3_ATTEMPTS": "2", "MEDIAWORKER_MEDIA_CACHE_BYTES": "0"]
        try await withServer(.postgres, env: env, storage: storage) { server in
            let gif = try FixtureManifest.named("gif87a").bytes().asData
            let done = try await server.uploadAndWait("images/whatsapp_photo.jpg", query: "from=visitor&idempotencyKey=vol:0")
            let id = try #require(done["id"] as? String)
            let media = try #require((done["artifacts"] as? [[String: Any]])?.first { $0["role"] as? String == "original" }?["url"] as? String)
            #expect(try await server.request("GET", media, auth: false).status == 200)
            try s3.stopVolume()
            var restarted = false
            defer { if !restarted { try? s3.startVolume() } }
            let clock = ContinuousClock()
            let start = clock.now
            let ready = try await server.request("GET", "/readyz", auth: false)
            #expect(ready.status == 503, "a HEAD would still pass; the probe reads an object")
            #expect((ready.json["message"] as? String)?.contains("cannot be read") == true)
            #expect(try await storage.store().size(jobID: id, role: "original") == (done["outcome"] as? [String: Any])?["size"] as? Int ?? -1, "HEAD still answers")
            let listed = try await storage.store().blobs(from: nil)
            #expect(listed.blobs.contains { $0.jobID == id && $0.role == "original" }, "ListObjectsV2 still answers: \(listed.blobs.count) blobs")
            let refused = try await server.request("POST", "/v1/attachments?from=visitor&idempotencyKey=vol:1", body: gif)
            #expect(refused.status == 503 && refused.json["error"] as? String == "storage_unavailable")
            #expect(refused.header("Retry-After") != nil)
            #expect(clock.now - start < .seconds(30), "answered within a gateway's patience: \(clock.now - start)")
            let unserved = try await server.request("GET", media, auth: false)
            #expect(unserved.status == 503 && unserved.json["error"] as? String == "storage_unavailable", "never a 500")
            try s3.startVolume()
            restarted = true
            var readyAgain = false
            for _ in 0..<100 where !readyAgain {
                readyAgain = try await server.request("GET", "/readyz", auth: false).status == 200
                if !readyAgain { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(readyAgain, "/readyz recovers by itself")
            let resent = try await server.request("POST", "/v1/attachments?from=visitor&idempotencyKey=vol:1", body: gif)
            #expect(resent.status == 202, "the same upload, resent with its key, is taken")
        }
    }
}
