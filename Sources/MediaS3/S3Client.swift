import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import MediaDomain
import MediaStore
import Metrics
import NIOCore
import NIOHTTP1
import Synchronization

/// The five S3 calls the blob store needs (PutObject, GetObject with Range, HeadObject, DeleteObject,
/// ListObjectsV2) and CreateBucket for set-up, over AsyncHTTPClient, each attempt signed with SigV4 just before it
/// is sent (a request that waited in a retry loop never carries a stale date). Redirects are never followed.
///
/// Failures (docs/configuration.md, "Blob store on S3"):
/// - 5xx, `SlowDown`, `RequestTimeout`, timeouts and broken connections are tried again up to `attempts` times, with
///   backoff, then thrown as `S3Error.Kind.unavailable` (the job is postponed, an upload answers 503);
/// - a refused signature, an unknown key, a missing bucket, a redirect (wrong region or endpoint) are
///   `S3Error.Kind.configuration`: never retried, logged once per code;
/// - other refusals are `S3Error.Kind.refused`.
public final class S3Client: Sendable {
    public let settings: S3Settings
    let signer: SigV4Signer
    let logger: Logger
    /// Configuration error codes already logged (once each, then at debug level).
    private let reported = Mutex<Set<String>>([])

    /// Requests this client sent, each attempt counted.
    public var requestsSent: Int { ownCount.load(ordering: .relaxed) }
    private let ownCount = Atomic<Int>(0)

    public init(settings: S3Settings, logger: Logger = Logger(label: "mediaworker.s3")) {
        self.settings = settings
        self.signer = SigV4Signer(credentials: settings.credentials, region: settings.region)
        self.logger = logger
    }

    // MARK: The calls

    /// PutObject, with `Content-MD5` and the body's SHA-256 signed: the server refuses a body damaged on the way.
    public func putObject(_ key: String, _ bytes: [UInt8], contentType: String = "application/octet-stream",
                          attempts: Int? = nil) async throws {
        let md5 = Data(Insecure.MD5.hash(data: bytes)).base64EncodedString()
        _ = try await send("PutObject", method: .PUT, key: key, headers: [("Content-Type", contentType), ("Content-MD5", md5)],
                           body: bytes, attempts: attempts)
    }

    /// GetObject: the bytes, or nil when there is no such key. `range` asks for part of them (`bytes=0-9`): the
    /// answer is then that part.
    /// `attempts` overrides the setting (the readiness probe tries once).
    public func getObject(_ key: String, range: ClosedRange<Int>? = nil, attempts: Int? = nil) async throws -> [UInt8]? {
        let headers = range.map { [("Range", "bytes=\($0.lowerBound)-\($0.upperBound)")] } ?? []
        let response = try await send("GetObject", method: .GET, key: key, headers: headers, accept: [404], attempts: attempts)
        if response.status == 404 {
            if response.code == nil || response.code == "NoSuchKey" { return nil }
            throw error(response, operation: "GetObject")
        }
        return response.body
    }

    /// HeadObject: the size, or nil when there is no such key (a HEAD answer has no body to tell a missing key from
    /// a missing bucket; the readiness probe's GET does).
    public func headObject(_ key: String) async throws -> Int? {
        let response = try await send("HeadObject", method: .HEAD, key: key, accept: [404])
        if response.status == 404 { return nil }
        guard let length = response.headers.first(name: "content-length").flatMap(Int.init) else {
            throw S3Error(kind: .refused, operation: "HeadObject", status: response.status, code: nil,
                          message: "the answer has no Content-Length")
        }
        return length
    }

    /// DeleteObject (a missing key is not an error: S3 answers 204 either way).
    public func deleteObject(_ key: String) async throws {
        _ = try await send("DeleteObject", method: .DELETE, key: key, accept: [404])
    }

    /// One page of ListObjectsV2 under `prefix`, after `startAfter` or from `continuationToken`.
    public func listObjects(prefix: String, startAfter: String? = nil, continuationToken: String? = nil,
                            maxKeys: Int = 1000) async throws -> S3ListPage {
        var query: [(name: String, value: String)] = [("list-type", "2"), ("prefix", prefix), ("max-keys", "\(maxKeys)")]
        if let startAfter { query.append(("start-after", startAfter)) }
        if let continuationToken { query.append(("continuation-token", continuationToken)) }
        let response = try await send("ListObjectsV2", method: .GET, key: nil, query: query)
        guard let page = S3ListPage(xml: response.body) else {
            throw S3Error(kind: .refused, operation: "ListObjectsV2", status: response.status, code: nil,
                          message: "the answer is not a ListBucketResult")
        }
        return page
    }

    /// Every key under `prefix`, page after page.
    public func listAll(prefix: String) async throws -> [S3ListPage.Object] {
        var all: [S3ListPage.Object] = []
        var token: String?
        repeat {
            let page = try await listObjects(prefix: prefix, continuationToken: token)
            all += page.objects
            token = page.isTruncated ? page.nextContinuationToken : nil
        } while token != nil
        return all
    }

    /// CreateBucket (tests and first set-up); a bucket this account already owns is fine.
    public func createBucket() async throws {
        let response = try await send("CreateBucket", method: .PUT, key: nil, accept: [409])
        if response.status == 409, response.code != "BucketAlreadyOwnedByYou" {
            throw error(response, operation: "CreateBucket")
        }
    }

    // MARK: Sending

    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        /// The error XML's `Code`, when the body is one.
        var code: String? { S3ErrorBody(xml: body)?.code }
    }

    /// The largest body read from an answer: blobs are at most the upload cap's size or an artifact's.
    static let maxBody = 256 * 1024 * 1024

    /// The URL path (not encoded) of `key`, or of the bucket itself.
    func path(_ key: String?) -> String {
        let base = settings.base.pathPrefix
        guard let key else { return settings.endpoint == nil ? "/" : String(base.dropLast()) }
        return base + key
    }

    /// Sends one call, trying again what is worth trying again; answers 2xx (and the statuses in `accept`),
    /// throws `S3Error` otherwise.
    func send(_ operation: String, method: HTTPMethod, key: String?, query: [(name: String, value: String)] = [],
              headers extra: [(String, String)] = [], body: [UInt8]? = nil, accept: Set<Int> = [],
              attempts: Int? = nil) async throws -> Answer {
        let attempts = attempts ?? settings.attempts
        let payloadHash = SigV4Signer.payloadHash(body ?? [])
        var request = SigV4Request(method: method.rawValue, path: path(key), query: query,
                                   headers: [("Host", settings.base.host)] + extra.map { (name: $0.0, value: $0.1) })
        if let body { request.headers.append(("Content-Length", "\(body.count)")) }
        var attempt = 0
        while true {
            attempt += 1
            let failure: S3Error
            do {
                let answer = try await once(request, method: method, payloadHash: payloadHash, body: body)
                Counter(label: "mediaworker_s3_requests_total", dimensions: [("operation", operation), ("status", "\(answer.status)")])
                    .increment()
                if (200..<300).contains(answer.status) { return answer }
                // A 404 is an answer only for a missing key (NoSuchBucket is the settings' fault), a 409 only for
                // the caller to read.
                if accept.contains(answer.status), answer.status != 404 || answer.code == nil || answer.code == "NoSuchKey" {
                    return answer
                }
                failure = error(answer, operation: operation)
            } catch let cancelled as CancellationError {
                throw cancelled
            } catch let error as HTTPClientError where error == .cancelled || Task.isCancelled {
                throw CancellationError()
            } catch is NIOTooManyBytesError {
                Counter(label: "mediaworker_s3_requests_total", dimensions: [("operation", operation), ("status", "too_large")]).increment()
                throw S3Error(kind: .refused, operation: operation, status: nil, code: nil,
                              message: "the answer is larger than \(Self.maxBody) bytes")
            } catch {
                if Task.isCancelled { throw CancellationError() }
                Counter(label: "mediaworker_s3_requests_total", dimensions: [("operation", operation), ("status", "none")]).increment()
                failure = S3Error(kind: .unavailable, operation: operation, status: nil, code: nil,
                                  message: Self.describe(error))
            }
            guard failure.kind == .unavailable, attempt < attempts, !Task.isCancelled else {
                if failure.kind == .configuration { report(failure) }
                throw failure
            }
            let pause = Backoff.delay(after: attempt, base: settings.retryBase.inSeconds, maximum: 5)
            logger.debug("S3 call failed; trying again", metadata: ["operation": "\(operation)", "error": "\(failure)",
                                                                  "attempt": "\(attempt)", "in_s": "\(pause)"])
            try await Task.sleep(for: .seconds(pause))
        }
    }

    /// One attempt, signed now.
    func once(_ request: SigV4Request, method: HTTPMethod, payloadHash: String, body: [UInt8]?) async throws -> Answer {
        var http = HTTPClientRequest(url: settings.base.origin + request.encodedTarget)
        http.method = method
        for (name, value) in request.headers where name != "Content-Length" { http.headers.add(name: name, value: value) }
        for (name, value) in signer.sign(request, payloadSHA256: payloadHash, date: Date()) {
            http.headers.add(name: name, value: value)
        }
        if let body { http.body = .bytes(ByteBuffer(bytes: body)) }
        ownCount.add(1, ordering: .relaxed)
        let timeout = settings.timeout, prepared = http
        // AsyncHTTPClient's deadline ends with the answer's head; the body is read under the same limit here, so a
        // body that stalls halfway fails the attempt like a server that never answers.
        return try await withThrowingTaskGroup(of: Answer?.self) { group in
            group.addTask {
                let deadline = NIODeadline.now() + .nanoseconds(Int64(timeout.inSeconds * 1e9))
                let response = try await Self.http.execute(prepared, deadline: deadline, logger: nil)
                var collected = try await response.body.collect(upTo: method == .HEAD ? 0 : Self.maxBody)
                return Answer(status: Int(response.status.code), headers: response.headers,
                              body: collected.readBytes(length: collected.readableBytes) ?? [])
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let answer = first else { throw AttemptTimedOut() }
            return answer
        }
    }

    /// An attempt that did not end within `MEDIAWORKER_S3_TIMEOUT`.
    struct AttemptTimedOut: Error, CustomStringConvertible {
        var description: String { "no whole answer within the S3 timeout" }
    }

    /// The error an answer means, from its error XML or, without one, from its status.
    func error(_ answer: Answer, operation: String) -> S3Error {
        let parsed = S3ErrorBody(xml: answer.body)
        let code = parsed?.code
        let message = parsed?.message ?? HTTPResponseStatus(statusCode: answer.status).reasonPhrase
        return S3Error(kind: S3Error.kind(status: answer.status, code: code), operation: operation, status: answer.status,
                       code: code, message: message, requestID: answer.headers.first(name: "x-amz-request-id"))
    }

    /// A configuration error is logged the first time its code is seen, then only at debug level.
    func report(_ failure: S3Error) {
        let first = reported.withLock { $0.insert(failure.code ?? "\(failure.status ?? 0)").inserted }
        if first {
            logger.error("the S3 store refuses this service: check MEDIAWORKER_STORE, MEDIAWORKER_S3_ENDPOINT, AWS_REGION and the credentials",
                         metadata: ["error": "\(failure)", "bucket": "\(settings.bucket)"])
        } else {
            logger.debug("the S3 store still refuses this service", metadata: ["error": "\(failure)"])
        }
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? HTTPClientError {
            if e == .deadlineExceeded { return "no answer within the S3 timeout" }
            if e == .connectTimeout { return "could not connect within the S3 timeout" }
        }
        return "\(error)"
    }

    /// One HTTP client for every S3 store of the process, as long-lived as the process (like `HTTPClient.shared`):
    /// redirects are never followed (a redirect means a wrong region or endpoint, and following one would send the
    /// signed request elsewhere), HTTP/1.1 with kept-alive connections.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5)))
        configuration.httpVersion = .http1Only
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 32)
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()
}

/// An S3 call that failed, and what kind of failure it is.
public struct S3Error: BlobStoreError, CustomStringConvertible, Sendable, Equatable {
    public var isConfigurationError: Bool { kind == .configuration }

    public enum Kind: String, Sendable {
        /// Retried, then a storage outage: the job is postponed, an upload answers 503.
        case unavailable
        /// The store refuses this service's settings: credentials, bucket, region, endpoint. `/readyz` answers 503.
        case configuration
        /// Any other refusal (a request this driver should not have sent).
        case refused
    }

    public var kind: Kind
    public var operation: String
    public var status: Int?
    public var code: String?
    public var message: String
    public var requestID: String?

    public init(kind: Kind, operation: String, status: Int?, code: String?, message: String, requestID: String? = nil) {
        self.kind = kind
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        self.requestID = requestID
    }

    public var description: String {
        var parts = ["S3 \(operation) failed (\(kind.rawValue))"]
        if let status { parts.append("HTTP \(status)") }
        if let code { parts.append(code) }
        parts.append(message)
        if let requestID { parts.append("request id \(requestID)") }
        return parts.joined(separator: ": ")
    }

    /// Codes that mean the settings are wrong, whatever the status.
    static let configurationCodes: Set<String> = [
        "SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "NoSuchBucket", "AuthorizationHeaderMalformed",
        "InvalidToken", "ExpiredToken", "TokenRefreshRequired", "RequestTimeTooSkewed", "PermanentRedirect", "InvalidBucketName",
        "AllAccessDisabled", "AccountProblem", "MissingSecurityHeader", "NotSignedUp", "InvalidSecurity",
    ]
    /// Codes worth trying again.
    static let transientCodes: Set<String> = [
        "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "OperationAborted",
        // A body damaged or cut on the way: sent again, whole.
        "BadDigest", "XAmzContentSHA256Mismatch", "IncompleteBody", "TemporaryRedirect",
    ]

    static func kind(status: Int, code: String?) -> Kind {
        if let code {
            if transientCodes.contains(code) { return .unavailable }
            if configurationCodes.contains(code) { return .configuration }
        }
        switch status {
        case 501: return .configuration  // NotImplemented: this server lacks a call the driver needs
        case 500...599, 429, 408, 307: return .unavailable
        case 300...399, 401, 403: return .configuration
        default: return .refused
        }
    }
}
