import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MediaDomain
import MediaS3
import MediaStore
import MediaTestSupport
import NIOCore
import Synchronization
import Testing

/// The S3 driver against the real SeaweedFS that `make test` starts (signatures enforced by its identity file).
@Suite struct S3ServerTests {
    func store(_ server: TestS3Server, bucket: String, prefix: String = "", secret: String? = nil,
               key: String? = nil) throws -> S3BlobStore {
        var env = server.environment(bucket: bucket, prefix: prefix.isEmpty ? nil : prefix)
        if let secret { env["AWS_SECRET_ACCESS_KEY"] = secret }
        if let key { env["AWS_ACCESS_KEY_ID"] = key }
        return S3BlobStore(settings: try S3Settings(store: env["MEDIAWORKER_STORE"]!, settings: Settings(environment: env)))
    }

    @Test("a wrong secret, an unknown key and a missing bucket are configuration errors, sent once and never retried")
    func refusals() async throws {
        let server = try TestS3.server()
        let bucket = try server.makeBucket("mw-refusal")
        for (store, code) in [(try store(server, bucket: bucket, secret: "not-the-secret"), "SignatureDoesNotMatch"),
                              (try store(server, bucket: bucket, key: "AKIDUNKNOWN"), "InvalidAccessKeyId"),
                              (try store(server, bucket: "mw-no-such-bucket-\(UInt32.random(in: 0...UInt32.max))"), "NoSuchBucket")] {
            let error = await #expect(throws: S3Error.self) { try await store.checkReadable() }
            #expect(error?.kind == .configuration, "\(code): \(String(describing: error))")
            #expect(error?.isConfigurationError == true)
            if code != "NoSuchBucket" { #expect(error?.code == code) }
            #expect(error?.status == 403 || error?.status == 404)
            #expect(store.client.requestsSent == 1, "one request: a refusal is not retried")
        }
    }

    @Test("ranges, UTF-8 prefixes, and a listing that skips what the service did not write")
    func rangesAndPrefixes() async throws {
        let server = try TestS3.server()
        let bucket = try server.makeBucket("mw-range")
        let store = try store(server, bucket: bucket, prefix: "desk ключ/é+~=")
        let id = JobID.make()
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await store.put(jobID: id, role: "original", bytes: bytes)
        #expect(try await store.get(jobID: id, role: "original") == bytes)
        #expect(try await store.get(jobID: id, role: "original", range: 10...19) == Array(bytes[10...19]))
        #expect(try await store.get(jobID: id, role: "original", range: 99_990...99_999) == Array(bytes[99_990...]))
        #expect(try await store.size(jobID: id, role: "original") == 100_000)
        try await store.checkReadable()  // writes the sentinel object
        // An object someone else put under the prefix is not the service's.
        try await store.client.putObject(store.client.settings.prefix + "notes/readme.txt", Array("hello".utf8))
        let listed = try await store.allBlobs()
        #expect(listed == [StoredBlob(jobID: id, role: "original", size: 100_000)])
        // Pages of two keys: the continuation token is followed to the end.
        var keys: [String] = [], token: String?
        repeat {
            let page = try await store.client.listObjects(prefix: store.client.settings.prefix, continuationToken: token, maxKeys: 2)
            keys += page.objects.map(\.key)
            token = page.isTruncated ? page.nextContinuationToken : nil
        } while token != nil
        #expect(keys.count == 3, "the blob, the sentinel and the foreign object: \(keys)")
        try await store.delete(jobID: id)
        #expect(try await store.get(jobID: id, role: "original") == nil)
        #expect(try await store.size(jobID: id, role: "original") == nil)
    }
}

/// The client against a fake S3 server, for what a real one does not show: the hashes sent, retries, timeouts,
/// redirects, bodiless errors.
@Suite struct S3ClientTests {
    /// What the fake server saw.
    final class Seen: Sendable {
        struct Request: Sendable {
            var method: String
            var path: String
            var headers: [String: String]
            var body: [UInt8]
        }

        let requests = Mutex<[Request]>([])
        var count: Int { requests.withLock { $0.count } }
    }

    /// Runs a fake S3 server answering with `answer(n, request)` (n counts from 1), and `body` with its endpoint.
    func withFake(_ answer: @escaping @Sendable (Int, Seen.Request) async -> (Int, [(String, String)], String),
                  _ body: @escaping @Sendable (URL, Seen) async throws -> Void) async throws {
        let seen = Seen()
        let router = Router()
        router.add(middleware: FakeS3(seen: seen, answer: answer))
        let port = Mutex<Int?>(nil)
        var quiet = Logger(label: "fake-s3")
        quiet.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } }, logger: quiet)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            while port.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(10)) }
            let endpoint = URL(string: "http://127.0.0.1:\(port.withLock { $0 }!)")!
            do {
                try await body(endpoint, seen)
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }

    struct FakeS3: RouterMiddleware {
        typealias Context = BasicRequestContext
        let seen: Seen
        let answer: @Sendable (Int, Seen.Request) async -> (Int, [(String, String)], String)

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            var buffer = try await request.body.collect(upTo: 64 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let seenRequest = Seen.Request(method: request.method.rawValue, path: request.uri.description, headers: headers,
                                           body: buffer.readBytes(length: buffer.readableBytes) ?? [])
            let n = seen.requests.withLock { $0.append(seenRequest); return $0.count }
            if request.uri.path.hasSuffix("/stall") {
                // The head and ten bytes of a hundred, then nothing: a body that stalls halfway.
                return Response(status: .ok, headers: [.contentLength: "100"], body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: "0123456789"))
                    try await Task.sleep(for: .seconds(5))
                    try await writer.finish(nil)
                })
            }
            let (status, extra, text) = await answer(n, seenRequest)
            var fields = HTTPFields()
            for (name, value) in extra { fields[HTTPField.Name(name)!] = value }
            return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }

    func client(_ endpoint: URL, attempts: Int = 3, timeout: Duration = .seconds(5)) -> S3Client {
        S3Client(settings: S3Settings(bucket: "bucket", endpoint: endpoint,
                                      credentials: AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret", sessionToken: "token"),
                                      timeout: timeout, attempts: attempts, retryBase: .milliseconds(10)))
    }

    static func errorXML(_ code: String) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>\(code)</Code><Message>fake \(code)</Message></Error>"
    }

    @Test("a PUT carries the body's real SHA-256 and MD5, a session token, path-style keys encoded once")
    func hashesSent() async throws {
        try await withFake({ _, _ in (200, [], "") }) { endpoint, seen in
            let bytes = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
            try await client(endpoint).putObject("p/ключ 1/original", bytes)
            let request = try #require(seen.requests.withLock { $0.first })
            #expect(request.method == "PUT")
            #expect(request.path == "/bucket/p/%D0%BA%D0%BB%D1%8E%D1%87%201/original")
            #expect(request.body == bytes)
            #expect(request.headers["x-amz-content-sha256"] == SigV4Signer.payloadHash(bytes))
            #expect(request.headers["content-md5"] == Data(Insecure.MD5.hash(data: bytes)).base64EncodedString())
            #expect(request.headers["x-amz-security-token"] == "token")
            #expect(request.headers["authorization"]?.hasPrefix("AWS4-HMAC-SHA256 Credential=AKID/") == true)
            #expect(request.headers["authorization"]?.contains("content-md5") == true, "Content-MD5 is signed")
        }
    }

    @Test("SlowDown and 5xx are tried again with backoff; past the attempts they are an outage")
    func retries() async throws {
        try await withFake({ n, _ in n <= 2 ? (503, [], Self.errorXML("SlowDown")) : (200, [], "") }) { endpoint, seen in
            try await client(endpoint).putObject("k", [1])
            #expect(seen.count == 3)
        }
        try await withFake({ _, _ in (500, [], "") }) { endpoint, seen in
            let error = await #expect(throws: S3Error.self) { _ = try await client(endpoint, attempts: 4).getObject("k") }
            #expect(error?.kind == .unavailable)
            #expect(error?.status == 500)
            #expect(seen.count == 4)
        }
    }

    @Test("a digest the store says does not match (SeaweedFS never checks one) is sent again, signed again over the same body's real SHA-256; past the attempts it is an outage")
    func digestMismatch() async throws {
        let bytes = (0..<5_000).map { UInt8(truncatingIfNeeded: $0 * 13) }
        try await withFake({ n, _ in
            switch n {
            case 1:
                // A second later, so that the next attempt's signature has another date.
                try? await Task.sleep(for: .milliseconds(1_100))
                return (400, [], Self.errorXML("XAmzContentSHA256Mismatch"))
            case 2: return (400, [], Self.errorXML("BadDigest"))
            default: return (200, [], "")
            }
        }) { endpoint, seen in
            try await client(endpoint).putObject("k", bytes)
            let requests = seen.requests.withLock { $0 }
            #expect(requests.count == 3)
            for request in requests {
                #expect(request.body == bytes)
                #expect(request.headers["x-amz-content-sha256"] == SigV4Signer.payloadHash(bytes))
                #expect(request.headers["content-md5"] == Data(Insecure.MD5.hash(data: bytes)).base64EncodedString())
            }
            #expect(requests[0].headers["x-amz-date"] != requests[1].headers["x-amz-date"], "each attempt is signed when it is sent")
            #expect(requests[0].headers["authorization"] != requests[1].headers["authorization"])
        }
        try await withFake({ _, _ in (400, [], Self.errorXML("BadDigest")) }) { endpoint, seen in
            let error = await #expect(throws: S3Error.self) { try await client(endpoint, attempts: 2).putObject("k", bytes) }
            #expect(error?.kind == .unavailable)
            #expect(error?.code == "BadDigest")
            #expect(seen.count == 2)
        }
    }

    @Test("a server that does not answer is an outage within attempts × timeout")
    func timeouts() async throws {
        try await withFake({ _, _ in
            try? await Task.sleep(for: .seconds(5))
            return (200, [], "")
        }) { endpoint, seen in
            let start = ContinuousClock.now
            let error = await #expect(throws: S3Error.self) {
                _ = try await client(endpoint, attempts: 2, timeout: .milliseconds(300)).getObject("k")
            }
            #expect(error?.kind == .unavailable)
            #expect(ContinuousClock.now - start < .seconds(3))
            #expect(seen.count == 2)
        }
    }

    @Test("a body that stalls after the head is an outage within attempts × timeout, like a server that never answers")
    func stalledBody() async throws {
        try await withFake({ _, _ in (200, [], "") }) { endpoint, seen in
            let start = ContinuousClock.now
            let error = await #expect(throws: S3Error.self) {
                _ = try await client(endpoint, attempts: 2, timeout: .milliseconds(300)).getObject("stall")
            }
            #expect(error?.kind == .unavailable)
            #expect(ContinuousClock.now - start < .seconds(3))
            #expect(seen.count == 2)
        }
    }

    @Test("a redirect is never followed: a configuration error (a wrong region or endpoint)")
    func redirects() async throws {
        try await withFake({ n, _ in
            n == 1 ? (301, [("Location", "/elsewhere/k")], Self.errorXML("PermanentRedirect")) : (200, [], "moved")
        }) { endpoint, seen in
            let error = await #expect(throws: S3Error.self) { _ = try await client(endpoint).getObject("k") }
            #expect(error?.kind == .configuration)
            #expect(error?.code == "PermanentRedirect")
            #expect(seen.count == 1, "the signed request went nowhere else")
        }
    }

    @Test("errors without a body are mapped from the status; a missing key is nil")
    func bodilessErrors() async throws {
        try await withFake({ n, request in
            switch request.path {
            case "/bucket/forbidden": return (403, [], "")
            case "/bucket/missing": return (404, [], request.method == "GET" ? Self.errorXML("NoSuchKey") : "")
            case "/bucket/nobucket": return (404, [], Self.errorXML("NoSuchBucket"))
            default: return (400, [], Self.errorXML("InvalidArgument"))
            }
        }) { endpoint, _ in
            let c = client(endpoint)
            let forbidden = await #expect(throws: S3Error.self) { _ = try await c.headObject("forbidden") }
            #expect(forbidden?.kind == .configuration)
            let missing = try await c.getObject("missing"), missingSize = try await c.headObject("missing")
            #expect(missing == nil)
            #expect(missingSize == nil)
            let noBucket = await #expect(throws: S3Error.self, "a 404 that is not a missing key") { _ = try await c.getObject("nobucket") }
            #expect(noBucket?.kind == .configuration && noBucket?.code == "NoSuchBucket")
            let noBucketDelete = await #expect(throws: S3Error.self) { try await c.deleteObject("nobucket") }
            #expect(noBucketDelete?.kind == .configuration)
            let bad = await #expect(throws: S3Error.self) { _ = try await c.getObject("other") }
            #expect(bad?.kind == .refused)
            #expect(bad?.code == "InvalidArgument")
        }
    }

    @Test("settings: s3://BUCKET/PREFIX, the endpoint, the region, and refusals of what cannot work")
    func settings() throws {
        let env = ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "MEDIAWORKER_S3_ENDPOINT": "http://127.0.0.1:8333",
                   "AWS_REGION": "eu-west-3"]
        let s = try S3Settings(store: "s3://media-bucket/desk/eu", settings: Settings(environment: env))
        #expect(s.bucket == "media-bucket")
        #expect(s.prefix == "desk/eu/")
        #expect(s.region == "eu-west-3")
        #expect(s.timeout == .seconds(5) && s.attempts == 3)
        let aws = try S3Settings(store: "s3://media-bucket", settings: Settings(environment: ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"]))
        #expect(aws.prefix == "" && aws.region == "us-east-1" && aws.endpoint == nil)
        for (store, extra) in [("s3://", [String: String]()), ("s3://UPPER", [:]), ("s3://ok-bucket//x", [:]),
                               ("s3://ok-bucket", ["MEDIAWORKER_S3_ENDPOINT": "ftp://x"]),
                               ("s3://ok-bucket", ["MEDIAWORKER_S3_ENDPOINT": "http://x/path"]),
                               ("s3://ok-bucket", ["MEDIAWORKER_S3_ATTEMPTS": "0"])] {
            #expect(throws: SettingsError.self, "\(store) \(extra)") {
                try S3Settings(store: store, settings: Settings(environment: env.merging(extra) { $1 }))
            }
        }
        #expect(throws: SettingsError.self, "no credentials") {
            try S3Settings(store: "s3://ok-bucket", settings: Settings(environment: [:]))
        }
        let own = try S3Settings(store: "s3://ok-bucket", settings: Settings(environment: env.merging(["MEDIAWORKER_S3_REGION": "ap-south-1"]) { $1 }))
        #expect(own.region == "ap-south-1", "MEDIAWORKER_S3_REGION wins over AWS_REGION")
        let badOwn = #expect(throws: SettingsError.self) {
            try S3Settings(store: "s3://ok-bucket", settings: Settings(environment: env.merging(["MEDIAWORKER_S3_REGION": "bad region/"]) { $1 }))
        }
        #expect(badOwn?.key == "MEDIAWORKER_S3_REGION", "the refusal names the setting that was given")
        let badAWS = #expect(throws: SettingsError.self) {
            try S3Settings(store: "s3://ok-bucket", settings: Settings(environment: env.merging(["AWS_REGION": "bad region/"]) { $1 }))
        }
        #expect(badAWS?.key == "AWS_REGION")
    }
}
