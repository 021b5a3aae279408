import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MediaQueue
import MediaServer
import MediaTestSupport
import Testing

@Suite(.serialized, .offCooperativePool) struct HTTPServiceTests {
    @Test("MEDIAWORKER_MAX_BYTES has one rule: the upload cap reads it as the pipeline does")
    func maxBytesOneRule() throws {
        #expect(try ServerSettings(environment: [:]).maxBytes == 5_242_880)
        #expect(try ServerSettings(environment: ["MEDIAWORKER_MAX_BYTES": "5_000_000"]).maxBytes == 5_000_000)
        for bad in ["0", "-1", "lots", "1.5", "\(1 << 41)"] {
            #expect(throws: SettingsError.self, "\(bad)") { try ServerSettings(environment: ["MEDIAWORKER_MAX_BYTES": bad]) }
        }
    }

    @Test("upload → poll → download: the thumbnail and the original come back byte for byte", arguments: TestBackend.allCases)
    func roundTrip(_ backend: TestBackend) async throws {
        try await withServer(backend) { server in
            let job = try await server.uploadAndWait("images/whatsapp_photo.jpg",
                query: "from=visitor&declaredType=image/jpeg&fileName=IMG-20261125-WA0001.jpg&idempotencyKey=wamid.X:0&conversationId=c-1&businessNumber=%2B34600000000&channel=whatsapp")
            #expect(job["state"] as? String == "accepted")
            let artifacts = job["artifacts"] as? [[String: Any]] ?? []
            #expect(artifacts.compactMap { $0["role"] as? String } == ["original", "thumbnail"])
            for artifact in artifacts {
                let url = try #require(artifact["url"] as? String)
                let reply = try await server.request("GET", url, auth: false)
                #expect(reply.status == 200)
                #expect(reply.body.count == artifact["size"] as? Int)
                #expect(reply.header("Content-Type") == artifact["contentType"] as? String)
                #expect(reply.header("X-Content-Type-Options") == "nosniff")
                #expect(reply.header("Referrer-Policy") == "no-referrer")
                #expect(reply.header("Content-Security-Policy")?.hasPrefix("sandbox; default-src 'none'") == true)
                #expect(reply.header("Cache-Control")?.hasPrefix("private, max-age=") == true)
                #expect(reply.header("Access-Control-Allow-Origin") == "*", "the sandboxed tab's media fetch is CORS")
                #expect(reply.header("Content-Disposition")?.hasPrefix("inline; filename=\"IMG-20261125-WA0001.") == true)
            }
            let original = try await server.request("GET", artifacts[0]["url"] as! String, auth: false)
            #expect(original.body == (try Data(contentsOf: FixtureManifest.folder.appendingPathComponent("images/whatsapp_photo.jpg"))))
            let thumb = try await server.request("GET", artifacts[1]["url"] as! String, auth: false)
            #expect(WebPInspector([UInt8](thumb.body))?.width == 480)
        }
    }

    @Test("a PDF downloads as an attachment under its sniffed extension; its preview shows inline; names are made safe", arguments: TestBackend.allCases)
    func pdfDisposition(_ backend: TestBackend) async throws {
        try await withServer(backend) { server in
            let job = try await server.uploadAndWait("documents/text_3_pages.pdf",
                                                     query: "from=visitor&declaredType=image/png&fileName=..%2F..%2F%E2%80%AEfdp.exe.png")
            let artifacts = job["artifacts"] as? [[String: Any]] ?? []
            let original = try await server.request("GET", artifacts.first { $0["role"] as? String == "original" }?["url"] as? String ?? "", auth: false)
            #expect(original.header("Content-Type") == "application/pdf")
            // No path, no right-to-left override, the extension of what the bytes are.
            #expect(original.header("Content-Disposition") == "attachment; filename=\"fdp.exe.pdf\"; filename*=UTF-8''fdp.exe.pdf")
            let preview = try await server.request("GET", artifacts.first { $0["role"] as? String == "thumbnail" }?["url"] as? String ?? "", auth: false)
            #expect(preview.header("Content-Disposition")?.hasPrefix("inline; filename=\"fdp.exe.webp\"") == true)
        }
    }

    @Test("the same idempotency key: same bytes → 200 with the job, other bytes → 409", arguments: TestBackend.allCases)
    func idempotency(_ backend: TestBackend) async throws {
        try await withServer(backend) { server in
            let a = Data(repeating: 1, count: 100), b = Data(repeating: 2, count: 100)
            let first = try await server.request("POST", "/v1/attachments?from=visitor&idempotencyKey=k1", body: a)
            #expect(first.status == 202)
            let again = try await server.request("POST", "/v1/attachments?from=visitor&idempotencyKey=k1", body: a)
            #expect(again.status == 200)
            #expect(again.json["id"] as? String == first.json["id"] as? String)
            let other = try await server.request("POST", "/v1/attachments?from=visitor&idempotencyKey=k1", body: b)
            #expect(other.status == 409)
            #expect(other.json["error"] as? String == "idempotency_conflict")
        }
    }

    @Test("sha256: the right digest (either case) is accepted; a wrong one is 422 checksum_mismatch with nothing stored, queued or keyed; a malformed one 400",
          arguments: TestBackend.allCases)
    func checksums(_ backend: TestBackend) async throws {
        try await withServer(backend) { server in
            let queue = try await server.storage.queue()
            let body = Data(try FixtureManifest.named("jpeg-whatsapp-photo").bytes())
            let digest = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
            func jobCount() async throws -> Int { try await queue.jobs(state: nil, limit: 10_000).count }
            // Every original the file store holds (SQLite backend; PostgreSQL keeps blobs in its table). Only originals:
            // the server's workers add thumbnails of the earlier jobs meanwhile.
            func blobEntries() -> [String] {
                let root = server.folder.appendingPathComponent("blobs")
                return (FileManager.default.enumerator(atPath: root.path)?.allObjects as? [String] ?? [])
                    .filter { $0.hasSuffix("/original") }.sorted()
            }

            let right = try await server.request("POST", "/v1/attachments?from=visitor&sha256=\(digest)", body: body)
            #expect(right.status == 202, "\(right.json)")
            let upper = try await server.request("POST", "/v1/attachments?from=visitor&idempotencyKey=upper&sha256=\(digest.uppercased())", body: body)
            #expect(upper.status == 202, "upper-case hex, as WhatsApp's webhook gives it: \(upper.json)")
            let again = try await server.request("POST", "/v1/attachments?from=visitor&idempotencyKey=upper&sha256=\(digest.uppercased())", body: body)
            #expect(again.status == 200 && again.json["id"] as? String == upper.json["id"] as? String)

            let jobsBefore = try await jobCount(), blobsBefore = blobEntries()
            var other = body
            other[other.count / 2] ^= 0x01
            let wrong = try await server.request("POST", "/v1/attachments?from=visitor&idempotencyKey=wamid.sha:0&sha256=\(digest)", body: other)
            #expect(wrong.status == 422)
            #expect(wrong.header("Content-Type") == "application/json")
            #expect(wrong.json["error"] as? String == "checksum_mismatch")
            let message = wrong.json["message"] as? String ?? ""
            let actual = SHA256.hash(data: other).map { String(format: "%02x", $0) }.joined()
            #expect(message.contains(digest) && message.contains(actual), "names both digests: \(message)")
            // A mismatching body under a key that already names a job: still 422, never 200 or 409.
            let keyed = try await server.request("POST", "/v1/attachments?from=visitor&idempotencyKey=upper&sha256=\(digest)", body: other)
            #expect(keyed.status == 422 && keyed.json["error"] as? String == "checksum_mismatch")
            let empty = try await server.request("POST", "/v1/attachments?from=visitor&sha256=\(digest)", body: Data())
            #expect(empty.status == 422, "an empty body has a digest too")
            #expect(try await jobCount() == jobsBefore, "no job for a mismatching body")
            #expect(blobEntries() == blobsBefore, "no blob for a mismatching body")
            // The key of the refused upload was never recorded: the right bytes under it make a new job.
            let retried = try await server.request("POST", "/v1/attachments?from=visitor&idempotencyKey=wamid.sha:0&sha256=\(digest)", body: body)
            #expect(retried.status == 202, "\(retried.json)")
            #expect(try await jobCount() == jobsBefore + 1)

            for malformed in ["", String(digest.dropLast()), digest + "0", String(digest.dropLast()) + "g", "sha256:" + digest,
                              "%20" + String(digest.dropFirst()), digest.replacingOccurrences(of: "a", with: "%C3%A1")] {
                let r = try await server.request("POST", "/v1/attachments?from=visitor&sha256=\(malformed)", body: body)
                #expect(r.status == 400, "\(malformed)")
                #expect(r.json["error"] as? String == "invalid_parameter")
                #expect((r.json["message"] as? String)?.hasPrefix("sha256 must be 64 hexadecimal digits") == true, "\(r.json)")
            }
            #expect(try await jobCount() == jobsBefore + 1)
        }
    }

    @Test("upload parameters, parsed without a server: first occurrence counts, names are exact, each rule names its parameter")
    func uploadParameters() async throws {
        let digest = String(repeating: "Ab", count: 32)
        let parsed = try UploadParameters.parse(
            query: "from=operator&declaredType=image/jpeg&fileName=a%20b+c.pdf&idempotencyKey=wamid.X:0&conversationId=c-1&businessNumber=%2B34600000000&channel=whatsapp&sha256=\(digest)&from=visitor&unknown=1").get()
        #expect(parsed == UploadParameters(
            metadata: AttachmentMetadata(from: .operator, channel: .whatsapp, declaredType: "image/jpeg", fileName: "a b+c.pdf",
                                         idempotencyKey: "wamid.X:0", conversationId: "c-1", businessNumber: "+34600000000"),
            sha256: digest.lowercased()))
        #expect(try UploadParameters.parse(query: "from=visitor").get() == UploadParameters(from: .visitor))
        let refusals: [(String, String)] = [
            ("", "from"), ("from=robot", "from"), ("From=visitor", "from"), ("fr%6Fm=visitor", "from"),
            ("from=visitor&channel=telegram", "channel"), ("from=visitor&channel=", "channel"),
            ("from=visitor&declaredType=a%0Ab", "declaredType"), ("from=visitor&fileName=" + String(repeating: "a", count: 256), "fileName"),
            ("from=visitor&idempotencyKey=%7F", "idempotencyKey"), ("from=visitor&conversationId=", "conversationId"),
            ("from=visitor&businessNumber=abc", "businessNumber"), ("from=visitor&businessNumber=%2B%D9%A3%D9%A4%D9%A5", "businessNumber"),
            ("from=visitor&businessNumber=+1", "businessNumber"), ("from=visitor&sha256=\(digest)0", "sha256"),
        ]
        for (query, name) in refusals {
            guard case .failure(let error) = UploadParameters.parse(query: query) else {
                Issue.record("\(query) was accepted")
                continue
            }
            #expect(error.name == name, "\(query): \(error.message)")
            #expect(error.message.hasPrefix(name + " "))
        }
    }

    @Test("401 without a valid token, 400 for bad parameters, 404 for unknown jobs", arguments: TestBackend.allCases)
    func refusals(_ backend: TestBackend) async throws {
        try await withServer(backend) { server in
            #expect(try await server.request("POST", "/v1/attachments?from=visitor", body: Data([1]), auth: false).status == 401)
            #expect(try await server.request("POST", "/v1/attachments?from=visitor", body: Data([1]),
                                             headers: ["Authorization": "Bearer test-tokeN"], auth: false).status == 401)
            #expect(try await server.request("GET", "/v1/jobs/01a213bb-b5a2-7a85-8521-08586520d925", auth: false).status == 401)
            // The answers' bodies and challenge (docs/http-api.md), and the scheme name in any case (RFC 9110 §11.1).
            let missing = try await server.request("GET", "/v1/jobs/01a213bb-b5a2-7a85-8521-08586520d925",
                                                    headers: ["Authorization": "Basic dGVzdC10b2tlbg=="], auth: false)
            #expect(missing.status == 401 && missing.header("WWW-Authenticate") == "Bearer")
            #expect(String(decoding: missing.body, as: UTF8.self)
                == #"{"error":"unauthorized","message":"an Authorization: Bearer token is required"}"# + "\n")
            let invalid = try await server.request("GET", "/v1/jobs/01a213bb-b5a2-7a85-8521-08586520d925",
                                                    headers: ["Authorization": "Bearer test-tokeN"], auth: false)
            #expect(invalid.status == 401 && invalid.header("WWW-Authenticate") == "Bearer")
            #expect(String(decoding: invalid.body, as: UTF8.self) == #"{"error":"unauthorized","message":"the token is not valid"}"# + "\n")
            #expect(try await server.request("GET", "/v1/jobs/01a213bb-b5a2-7a85-8521-08586520d925",
                                             headers: ["Authorization": "bEaReR \(ServerProcess.token)"], auth: false).status == 404)
            for query in ["", "from=robot", "from=visitor&channel=telegram", "from=visitor&businessNumber=abc",
                          "from=visitor&fileName=" + String(repeating: "a", count: 300)] {
                let r = try await server.request("POST", "/v1/attachments?\(query)", body: Data([1]))
                #expect(r.status == 400, "\(query)")
                #expect(r.json["error"] as? String == "invalid_parameter")
            }
            #expect(try await server.request("GET", "/v1/jobs/01a213bb-b5a2-7a85-8521-08586520d925").status == 404)
            #expect(try await server.request("GET", "/v1/jobs/..%2F..%2Fetc%2Fpasswd").status == 404)
        }
    }

    @Test("ranges as Safari and Firefox send them: bytes=0-1 first, open-ended, suffix, unsatisfiable, malformed, HEAD", arguments: TestBackend.allCases)
    func ranges(_ backend: TestBackend) async throws {
        try await withServer(backend) { server in
            let job = try await server.uploadAndWait("audio/voice_note.ogg", query: "from=visitor&fileName=PTT.opus")
            let playback = try #require((job["artifacts"] as? [[String: Any]])?.first { $0["role"] as? String == "playback" })
            let url = try #require(playback["url"] as? String)
            let full = try await server.request("GET", url, auth: false)
            let n = full.body.count
            #expect(full.status == 200 && n == playback["size"] as? Int && full.header("Accept-Ranges") == "bytes")
            #expect(full.header("Content-Type") == "audio/mpeg")
            #expect(full.header("Content-Disposition") == "inline; filename=\"PTT.mp3\"; filename*=UTF-8''PTT.mp3")

            func get(_ range: String, _ extra: [String: String] = [:]) async throws -> ServerProcess.Reply {
                try await server.request("GET", url, headers: extra.merging(["Range": range]) { a, _ in a }, auth: false)
            }
            let probe = try await get("bytes=0-1")
            #expect(probe.status == 206 && probe.body == full.body.prefix(2) && probe.header("Content-Range") == "bytes 0-1/\(n)")
            let open = try await get("bytes=100-")
            #expect(open.status == 206 && open.body == full.body.dropFirst(100) && open.header("Content-Range") == "bytes 100-\(n - 1)/\(n)")
            let suffix = try await get("bytes=-500")
            #expect(suffix.status == 206 && suffix.body == full.body.suffix(500) && suffix.header("Content-Range") == "bytes \(n - 500)-\(n - 1)/\(n)")
            let past = try await get("bytes=\(n)-")
            #expect(past.status == 416 && past.header("Content-Range") == "bytes */\(n)")
            let clipped = try await get("bytes=\(n - 10)-\(n + 1000)")
            #expect(clipped.status == 206 && clipped.body.count == 10)
            for malformed in ["bytes=abc", "bytes=5-1", "items=0-1", "bytes=0-1,5-9", "bytes="] {
                let r = try await get(malformed)
                #expect(r.status == 200 && r.body.count == n, "\(malformed) is ignored")
            }
            let etag = try #require(full.header("ETag"))
            #expect(try await server.request("GET", url, headers: ["If-None-Match": etag], auth: false).status == 304)
            #expect(try await get("bytes=0-9", ["If-Range": etag]).status == 206)
            #expect(try await get("bytes=0-9", ["If-Range": "\"stale\""]).status == 200)
            let head = try await server.request("HEAD", url, auth: false)
            #expect(head.status == 200 && head.body.isEmpty && head.header("Content-Length") == "\(n)")
        }
    }

    @Test("forged, tampered and expired links get 403 before anything is read; a rotated-out key still verifies", arguments: TestBackend.allCases)
    func signatures(_ backend: TestBackend) async throws {
        try await withServer(backend) { server in
            let job = try await server.uploadAndWait("images/gif87a.gif", query: "from=visitor")
            let id = try #require(job["id"] as? String)
            let url = try #require((job["artifacts"] as? [[String: Any]])?.first?["url"] as? String)
            #expect(try await server.request("GET", url, auth: false).status == 200)
            let tamperedRole = url.replacingOccurrences(of: "/original?", with: "/thumbnail?")
            #expect(try await server.request("GET", tamperedRole, auth: false).status == 403)
            let later = url.replacingOccurrences(of: "expires=", with: "expires=9")
            #expect(try await server.request("GET", later, auth: false).status == 403)
            #expect(try await server.request("GET", "/v1/media/\(id)/original", auth: false).status == 403)
            // The same MAC spelt differently: base64url's last character carries 2 spare bits, so changing them keeps the
            // decoded bytes (a make fuzz finding, Fixtures/hostile/fuzz/http_noncanonical_signature.bin). Refused.
            let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
            let last = url.last!, index = alphabet.firstIndex(of: last)!
            let respelt = String(url.dropLast()) + String(alphabet[index ^ 1])
            #expect(try await server.request("GET", respelt, auth: false).status == 403)
            // Signed correctly with the older key, but expired a minute ago.
            let expired = SignedMediaURL(keys: ["key-2026-10-3b2a1c0d9e8f7a6b5c4d3e2f1a0b9c8d"]).url(jobID: id, role: "original", expires: Int(Date().timeIntervalSince1970) - 60)
            let r = try await server.request("GET", expired, auth: false)
            #expect(r.status == 403 && r.json["error"] as? String == "expired")
            let rotated = SignedMediaURL(keys: ["key-2026-10-3b2a1c0d9e8f7a6b5c4d3e2f1a0b9c8d"]).url(jobID: id, role: "original", expires: Int(Date().timeIntervalSince1970) + 60)
            #expect(try await server.request("GET", rotated, auth: false).status == 200)
            let missing = SignedMediaURL(keys: ["key-2026-11-6c1f0e2a9b8d4c7e5f3a1b0c9d8e7f6a"]).url(jobID: id, role: "playback", expires: Int(Date().timeIntervalSince1970) + 60)
            #expect(try await server.request("GET", missing, auth: false).status == 404)
        }
    }

    @Test("file names: no path survives, even a slash hidden in a grapheme with a combining mark (a make fuzz finding)")
    func fileNameSlashes() throws {
        for name in ["../../etc/passwd.pdf", "a\\b\\c.pdf", "x/\u{300}evil.pdf", "\u{FFFD}/\u{300}\u{FFFD}.pdf",
                     String(decoding: try Data(contentsOf: FixtureManifest.folder.appendingPathComponent("hostile/fuzz/http_slash_with_combining_mark.bin")).dropFirst(), as: UTF8.self)] {
            let header = ContentDisposition.header(contentType: "application/pdf", fileName: name, fallback: "file")
            let ascii = header.components(separatedBy: "filename=\"")[1].components(separatedBy: "\"")[0]
            #expect(!ascii.contains("/") && !ascii.contains("\\"), "\(name) → \(header)")
            #expect(!header.contains("%2F") && !header.contains("%5C"), "\(name) → \(header)")
        }
    }

    @Test("an oversize upload is refused from Content-Length, and a chunked one is cut off early with memory bounded", arguments: TestBackend.allCases)
    func oversize(_ backend: TestBackend) async throws {
        let server = try ServerProcess(backend)
        let declared = try await server.request("POST", "/v1/attachments?from=visitor", body: Data(count: 5 * 1024 * 1024 + 1))
        #expect(declared.status == 413)
        #expect(declared.json["error"] as? String == "too_large")
        let exact = try await server.request("POST", "/v1/attachments?from=visitor&idempotencyKey=exact",
                                             body: try Data(contentsOf: FixtureManifest.folder.appendingPathComponent("images/camera_5mib.jpg")))
        #expect(exact.status == 202, "exactly 5 MiB is accepted")

        let before = server.residentBytes
        let (status, sent) = try ChunkedUpload.send(port: server.port, path: "/v1/attachments?from=visitor",
                                                    token: ServerProcess.token, total: 64 * 1024 * 1024)
        #expect(status == 413)
        #expect(sent < 24 * 1024 * 1024, "cut off after \(sent) bytes of 64 MiB")
        let growth = server.residentBytes - before
        #expect(growth < 40 * 1024 * 1024, "server grew by \(growth) bytes")
        #expect(try await server.request("GET", "/healthz", auth: false).status == 200, "still serving")
    }

    @Test("health, readiness, metrics by outcome (business numbers only as MEDIAWORKER_METRICS_BUSINESS_NUMBERS lists them), and the OpenAPI document",
          arguments: TestBackend.allCases)
    func operations(_ backend: TestBackend) async throws {
        let server = try ServerProcess(backend, env: ["MEDIAWORKER_METRICS_BUSINESS_NUMBERS": "+34600000000,+15550002"])
        _ = try await server.uploadAndWait("hostile/cat.html", query: "from=visitor&businessNumber=%2B34600000000")
        _ = try await server.uploadAndWait("images/gif87a.gif", query: "from=visitor&businessNumber=%2B34600000000")
        // A number nobody listed, and none at all.
        _ = try await server.uploadAndWait("hostile/cat.html", query: "from=visitor&businessNumber=%2B34699999999")
        _ = try await server.uploadAndWait("hostile/cat.html", query: "from=visitor")
        #expect(try await server.request("GET", "/healthz", auth: false).status == 200)
        let ready = try await server.request("GET", "/readyz", auth: false)
        #expect(ready.status == 200 && ready.json["status"] as? String == "ready")
        let metrics = String(decoding: try await server.request("GET", "/metrics", auth: false).body, as: UTF8.self)
        #expect(metrics.contains(#"mediaworker_jobs_total{"#) && metrics.contains(#"outcome="unsupported_type""#))
        #expect(metrics.contains(#"business_number="+34600000000""#) && metrics.contains(#"kind="image""#))
        #expect(!metrics.contains("+34699999999"), "an unlisted number is never a label value")
        #expect(metrics.contains(#"business_number="other""#) && metrics.contains(#"business_number="none""#))
        #expect(metrics.contains(#"mediaworker_queue_jobs{state="queued"} 0"#) && metrics.contains(#"mediaworker_queue_jobs{state="dead"} 0"#))
        #expect(!metrics.contains(#"mediaworker_queue_jobs{state="accepted"}"#), "final states are counters, not table counts")
        #expect(metrics.contains("mediaworker_phase_duration_seconds_bucket"))
        let spec = try await server.request("GET", "/openapi.yaml", auth: false)
        #expect(spec.status == 200 && String(decoding: spec.body, as: UTF8.self).hasPrefix("openapi: 3.1"))
    }
}

/// A raw HTTP/1.1 chunked upload over a socket: sends until the server answers (or `total` bytes).
enum ChunkedUpload {
    static func send(port: Int, path: String, token: String, total: Int) throws -> (status: Int, sent: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 0, tv_usec: 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        func write(_ bytes: [UInt8]) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
        _ = write(Array("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
        let chunk = [UInt8](repeating: 0x41, count: 64 * 1024)
        let frame = Array("10000\r\n".utf8) + chunk + Array("\r\n".utf8)
        var sent = 0, response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while sent < total {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { response += buffer[0..<n] }
            if response.count >= 12 { break }
            guard write(frame) else { break }
            sent += chunk.count
        }
        // Read whatever answer arrived (the server may have closed its side by now).
        timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while response.count < 12 {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response += buffer[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        return (status, sent)
    }
}
