import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MediaIntake
import MediaDomain
import MediaJSON
import MediaQueue
import MediaStore
import Metrics
import NIOCore
import NIOPosix
import Prometheus

/// The routes of docs/http-api.md: the gateway's uploads and job status (bearer token), the desk's signed media,
/// and the operational endpoints. Depends on the queue and the store, never on the codecs.
public struct MediaHTTPService: Sendable {
    public let queue: any JobQueue & EventOutbox
    public let store: any BlobStore
    public let settings: ServerSettings
    public let signer: SignedMediaURL
    let intake: AttachmentIntake
    let registry: PrometheusCollectorRegistry
    /// Called after each new job, so an in-process worker claims it at once.
    let wake: @Sendable () -> Void
    /// Artifacts of final jobs, ready to serve.
    let mediaCache: MediaCache
    /// Erases jobs for the gateway and the console; drops them from `mediaCache` as it goes.
    public let eraser: JobEraser
    /// Whether files can be processed here (the helper processes), for `/readyz`.
    let processing: @Sendable () -> ProcessingHealth
    /// Where the details `/readyz` does not answer with go.
    let logger = Logger(label: "mediaworker.http")
    /// What `/readyz` answered last, so that a load balancer polling it logs a problem once, not every few seconds.
    let readiness = ReadinessLog()

    public init(queue: any JobQueue & EventOutbox, store: any BlobStore, settings: ServerSettings,
                registry: PrometheusCollectorRegistry, wake: @escaping @Sendable () -> Void = {},
                processing: @escaping @Sendable () -> ProcessingHealth = { ProcessingHealth(failure: nil, missingProtections: []) }) {
        self.processing = processing
        self.queue = queue
        self.store = store
        self.settings = settings
        self.signer = SignedMediaURL(keys: settings.signingKeys)
        self.intake = AttachmentIntake(queue: queue, store: store)
        self.registry = registry
        self.wake = wake
        let cache = MediaCache(budget: settings.mediaCacheBytes)
        self.mediaCache = cache
        self.eraser = JobEraser(queue: queue, store: store, batch: settings.erasureBatch, onErased: { cache.drop(jobIDs: $0) })
    }

    public func router() -> Router<MediaRequestContext> {
        let router = Router(context: MediaRequestContext.self)
        // The gateway's routes: the bearer token is checked before the handler runs.
        let gateway = router.group().add(middleware: BearerTokenMiddleware(
            tokens: settings.tokens, missing: "an Authorization: Bearer token is required", invalid: "the token is not valid"))
        gateway.post("/v1/attachments") { request, context in try await upload(request, context) }
        gateway.get("/v1/jobs/:id") { request, context in try await job(request, context) }
        gateway.delete("/v1/jobs/:id") { request, context in try await eraseJob(request, context) }
        gateway.post("/v1/erasures") { request, context in try await erasures(request, context) }
        router.get("/v1/media/:jobId/:role") { request, context in try await media(request, context, head: false) }
        router.head("/v1/media/:jobId/:role") { request, context in try await media(request, context, head: true) }
        router.get("/healthz") { _, _ in Self.text(.ok, "ok\n") }
        router.get("/readyz") { _, _ in try await ready() }
        let operations = router.group()
        if let token = settings.metricsToken {
            let message = "/metrics needs the metrics token"
            operations.add(middleware: BearerTokenMiddleware(tokens: [token], missing: message, invalid: message))
        }
        operations.get("/metrics") { _, _ in try await metrics() }
        router.get("/openapi.yaml") { _, _ in Self.openAPI() }
        return router
    }

    // MARK: Gateway

    func upload(_ request: Request, _ context: MediaRequestContext) async throws -> Response {
        let parameters: UploadParameters
        switch UploadParameters.parse(request.uri.queryParameters) {
        case .success(let parsed): parameters = parsed
        case .failure(let bad): throw APIError(.invalidParameter, bad.message)
        }

        // The size cap: refused from Content-Length before reading, or as soon as the stream passes it.
        let cap = settings.maxBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > cap {
            throw tooLarge(context, length: length)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(min(cap, request.headers[.contentLength].flatMap(Int.init) ?? 65_536))
        // Hashed as it streams: the digest is ready with the last chunk, for `sha256` and for idempotency.
        var hasher = SHA256()
        for try await chunk in request.body {
            guard bytes.count + chunk.readableBytes <= cap else { throw tooLarge(context, length: nil) }
            chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            bytes.append(contentsOf: chunk.readableBytesView)
        }
        let body = bytes, digest = Hex.encode(hasher.finalize())
        // Not the bytes the gateway checksummed: refused before anything is stored, queued or looked up by
        // idempotency key (so the key stays free for the right bytes).
        if let expected = parameters.sha256, expected != digest {
            throw checksumMismatch(.checksumMismatch(expected: expected, actual: digest, size: body.count), parameters: parameters)
        }
        let result: EnqueueResult
        do {
            result = try await intake.submit(body, parameters.metadata, expectedSHA256: parameters.sha256, contentSHA256: digest)
        } catch let rejection as Rejection {
            throw checksumMismatch(rejection, parameters: parameters)
        } catch {
            // The database or the store is away (a restart, a failover): say so, and that a retry is safe. A store that
            // refuses the settings has said so once in the log already (`/readyz` and the store's own report).
            logger.log(level: Self.isConfiguration(error) ? .debug : .warning, "upload not stored: the queue or the store failed",
                       metadata: ["error": "\(error)"])
            throw APIError(.storageUnavailable,
                           "the queue or the blob store cannot be reached; send the same upload again with the same idempotencyKey",
                           headers: [.retryAfter: "1"])
        }
        switch result {
        case .created(let job):
            wake()
            return Self.json(.accepted, jobJSON(job))
        case .existing(let job):
            return Self.json(.ok, jobJSON(try await fresh(job)))
        case .conflict(let job):
            return Self.json(.conflict, .object([
                ("error", .string("idempotency_conflict")),
                ("message", .string("idempotencyKey \(parameters.idempotencyKey ?? "") was already used for other bytes")),
                ("job", jobJSON(try await fresh(job))),
            ]))
        }
    }

    /// 422 `checksum_mismatch` (docs/http-api.md): nothing was stored or queued.
    func checksumMismatch(_ rejection: Rejection, parameters: UploadParameters) -> APIError {
        logger.warning("upload refused: checksum_mismatch", metadata: [
            "expected": "\(rejection.details["expected"] ?? "")", "actual": "\(rejection.details["actual"] ?? "")",
            "size": "\(rejection.size)", "idempotency_key": "\(parameters.idempotencyKey ?? "")",
        ])
        return APIError(.checksumMismatch, "\(rejection.message); nothing was stored")
    }

    /// 413, with the connection's input closed, so the rest of an oversize body is never read.
    func tooLarge(_ context: MediaRequestContext, length: Int?) -> APIError {
        context.channel.close(mode: .input, promise: nil)
        let what = length.map { "\(grouped($0)) bytes is" } ?? "the body is"
        return APIError(.tooLarge, "\(what) over the \(grouped(settings.maxBytes))-byte limit", headers: [.connection: "close"])
    }

    func fresh(_ job: Job) async throws -> Job {
        try await queue.job(id: job.id) ?? job
    }

    func job(_ request: Request, _ context: MediaRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard JobID.isValid(id), let job = try await queue.job(id: id) else {
            throw APIError(.notFound, "no job \(id)")
        }
        return Self.json(.ok, jobJSON(job))
    }

    /// `DELETE /v1/jobs/{id}`: the job's tombstone (200, again on a repeat), or 404.
    func eraseJob(_ request: Request, _ context: MediaRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard JobID.isValid(id) else { throw APIError(.notFound, "no job \(id)") }
        let tombstone: Job?
        do {
            tombstone = try await eraser.erase(jobID: id.lowercased())
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            logger.warning("erasure not finished: the queue or the store failed", metadata: ["error": "\(error)", "job": "\(id)"])
            throw APIError(.storageUnavailable, "the queue or the blob store cannot be reached; send the same erasure again",
                           headers: [.retryAfter: "1"])
        }
        guard let tombstone else { throw APIError(.notFound, "no job \(id)") }
        logger.notice("job erased on request", metadata: ["job": "\(id)"])
        return Self.json(.ok, jobJSON(tombstone))
    }

    /// `POST /v1/erasures` with exactly one of `{"conversationId":…}` and `{"businessNumber":…}`: every job it names,
    /// batch by batch (uploads keep flowing between batches); `{"erased": N}` once all are gone.
    func erasures(_ request: Request, _ context: MediaRequestContext) async throws -> Response {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: 16 * 1024)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.invalidParameter, "the body must be a small JSON object (at most 16 KiB) with exactly one of conversationId and businessNumber")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any], object.count == 1 else {
            throw APIError(.invalidParameter, "the body must be a JSON object with exactly one of conversationId and businessNumber")
        }
        let selector: ErasureSelector
        switch (object["conversationId"], object["businessNumber"]) {
        case (let id as String, nil) where !id.isEmpty && id.utf8.count <= 255 && !id.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }):
            selector = .conversation(id)
        case (nil, let number as String) where UploadParameters.isE164(number):
            selector = .businessNumber(number)
        case (nil, .some):
            throw APIError(.invalidParameter, "businessNumber must be an E.164 number such as +34600000000")
        case (.some, nil):
            throw APIError(.invalidParameter, "conversationId must be a string of 1–255 UTF-8 bytes without control characters")
        default:
            throw APIError(.invalidParameter, "the body must be a JSON object with exactly one of conversationId and businessNumber")
        }
        let erased: Int
        do {
            erased = try await eraser.erase(selector)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            logger.warning("erasure not finished: the queue or the store failed", metadata: ["error": "\(error)"])
            throw APIError(.storageUnavailable, "the queue or the blob store cannot be reached; send the same erasure again (what is erased stays erased)",
                           headers: [.retryAfter: "1"])
        }
        logger.notice("jobs erased on request", metadata: ["erased": "\(erased)",
                                                            "by": "\(object.keys.first ?? "")"])
        return Self.json(.ok, .object([("erased", .int(erased))]))
    }

    /// The job as docs/http-api.md shows it, each artifact with a signed URL valid for `urlTTL`.
    func jobJSON(_ job: Job) -> JSONValue {
        let expires = Int(Date().timeIntervalSince1970 + settings.urlTTL)
        return job.json(artifactURL: { signer.url(jobID: job.id, role: $0.role.rawValue, expires: expires) })
    }

    // MARK: Desk

    func media(_ request: Request, _ context: MediaRequestContext, head: Bool) async throws -> Response {
        let query = request.uri.queryParameters
        // The signature first: nothing is looked up for a forged or expired link.
        switch signer.verify(method: head ? "HEAD" : "GET", path: request.uri.path,
                             expires: query["expires"].map(String.init), sig: query["sig"].map(String.init), now: Date()) {
        case .forged: throw APIError(.forbidden, "the link's signature is not valid")
        case .expired: throw APIError(.expired, "the link has expired")
        case .valid: break
        }
        let jobID = try context.parameters.require("jobId"), role = try context.parameters.require("role")
        guard let served = try await servedArtifact(jobID: jobID, role: role) else {
            throw APIError(.notFound, "no \(role) for job \(jobID)")
        }
        let bytes = served.bytes
        let etag = served.etag
        let expires = Int(query["expires"].map(String.init) ?? "") ?? 0
        var headers: HTTPFields = [
            .contentType: served.contentType,
            .acceptRanges: "bytes",
            .eTag: etag,
            .cacheControl: "private, max-age=\(max(0, expires - Int(Date().timeIntervalSince1970)))",
            .xContentTypeOptions: "nosniff",
            .contentSecurityPolicy: served.role == ArtifactRole.safeCopy.rawValue ? Self.safeCopyCSP : Self.mediaCSP,
            .referrerPolicy: "no-referrer",
            // The sandboxed tab has an opaque origin, and Chrome's media document fetches with crossorigin=anonymous:
            // without this the audio never loads. The signed URL stays the only credential (no cookies involved).
            .accessControlAllowOrigin: "*",
            .contentDisposition: served.disposition,
        ]
        if let tags = request.headers[.ifNoneMatch], tags.split(separator: ",").contains(where: {
            let t = $0.trimmingCharacters(in: .whitespaces)
            return t == etag || t == "W/" + etag || t == "*"
        }) {
            return Response(status: .notModified, headers: headers)
        }
        var range = ByteRangeRequest.parse(request.headers[.range], length: bytes.readableBytes)
        if let condition = request.headers[.ifRange], condition != etag { range = .whole }  // changed: send it all
        switch range {
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(bytes.readableBytes)"
            throw APIError(.rangeNotSatisfiable, "the range starts past the last byte (\(bytes.readableBytes - 1))",
                           headers: headers.filter { ![.contentType, .contentDisposition, .cacheControl].contains($0.name) })
        case .whole:
            headers[.contentLength] = "\(bytes.readableBytes)"
            return Response(status: .ok, headers: headers, body: head ? .init() : .init(byteBuffer: bytes))
        case .partial(let r):
            headers[.contentRange] = "bytes \(r.lowerBound)-\(r.upperBound)/\(bytes.readableBytes)"
            headers[.contentLength] = "\(r.count)"
            // A slice shares the cached buffer's storage: no copy.
            return Response(status: .partialContent, headers: headers,
                            body: head ? .init() : .init(byteBuffer: bytes.getSlice(at: bytes.readerIndex + r.lowerBound, length: r.count)!))
        }
    }

    /// Audio plays and images show, but nothing can run: no script, no plugin, no fetch, a sandboxed origin.
    static let mediaCSP = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"

    /// A safe copy (an image-only PDF this service wrote) shows in the browser's PDF viewer: no `sandbox` (which keeps
    /// PDF viewers out in some browsers), `object-src 'self'` for viewers that count as a plugin of the document, and
    /// still no script, fetch, form or base from the document (`default-src 'none'`).
    static let safeCopyCSP = "default-src 'none'; object-src 'self'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

    /// An artifact ready to serve: bytes and headers. Final jobs never change, so what was served once is kept
    /// (within `MEDIAWORKER_MEDIA_CACHE_BYTES`) and later requests touch neither the database nor the disk.
    func servedArtifact(jobID: String, role roleName: String) async throws -> MediaCache.Entry? {
        guard JobID.isValid(jobID), let role = ArtifactRole(rawValue: roleName) else { return nil }
        let key = jobID + "/" + roleName
        await checkErasures()
        if let hit = mediaCache.get(key) { return hit }
        do {
            guard let job = try await queue.job(id: jobID) else { return nil }
            if job.state == .erased {
                throw APIError(.erased, "job \(jobID) was erased (\(job.erasure?.rawValue ?? "request")); its media are gone")
            }
            guard let artifact = job.artifacts.first(where: { $0.role == role }),
                  let bytes = try await store.get(jobID: jobID, role: roleName) else { return nil }
            let entry = MediaCache.Entry(
                bytes: ByteBuffer(bytes: bytes), contentType: artifact.contentType,
                etag: "\"\(artifact.etag ?? String(job.submission.contentSHA256.prefix(32)))\"",
                disposition: ContentDisposition.header(contentType: artifact.contentType, fileName: job.submission.fileName,
                                                       fallback: role == .original ? "attachment" : roleName,
                                                       inline: role == .safeCopy),
                role: roleName)
            if job.state.isFinal { mediaCache.put(key, entry) }
            return entry
        } catch let error as APIError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // The queue or the store is away (an S3 volume server down, a database restarting): a retry will do.
            logger.log(level: Self.isConfiguration(error) ? .debug : .warning, "media not served: the queue or the store failed",
                       metadata: ["error": "\(error)", "job": "\(jobID)"])
            throw APIError(.storageUnavailable, "the queue or the blob store cannot be reached; try again", headers: [.retryAfter: "1"])
        }
    }

    /// At most once a second, while the cache holds anything: drops the jobs other processes erased since the last
    /// look (a purge in `work`, another API server). Erasures in this process drop their entries at once.
    func checkErasures() async {
        let now = Date()
        let since: Date? = mediaCache.erasureCheck.withLock { check in
            guard !check.running, now.timeIntervalSince(check.last) >= 1 else { return nil }
            check.running = true
            check.last = now
            return check.at
        }
        guard let since else { return }
        guard !mediaCache.isEmpty else {
            // Nothing cached: nothing to drop; the next look starts from here.
            let asOf = (try? await queue.erasedIDs(since: Date(), limit: 0).asOf) ?? since
            mediaCache.erasureCheck.withLock { $0.at = asOf; $0.running = false }
            return
        }
        // `since` is the queue's clock at the last look (its `asOf`), less some slack for erasures committed after the
        // time they were stamped with.
        let found = try? await queue.erasedIDs(since: since.addingTimeInterval(-Self.erasureClockSlack), limit: Self.erasureCheckLimit)
        if let found {
            if found.ids.count == Self.erasureCheckLimit { mediaCache.removeAll() } else { mediaCache.drop(jobIDs: found.ids) }
        } else {
            mediaCache.removeAll()  // cannot tell what was erased: serve nothing stale
        }
        mediaCache.erasureCheck.withLock { $0.at = found?.asOf ?? since; $0.running = false }
    }

    /// How far back the erasure check looks past its last look, seconds.
    static let erasureClockSlack: TimeInterval = 30
    /// More erasures than this since the last look (a purge): the cache is emptied instead.
    static let erasureCheckLimit = 5_000

    // MARK: Operations

    /// Ready when the queue and the store answer and helper processes start. The answer names the part that is
    /// not ready, never its details (host names, paths, driver errors): those go to the log.
    func ready() async throws -> Response {
        let counts: [JobState: Int]
        do {
            counts = try await queue.activeCounts()
        } catch {
            throw readiness.notReady("the queue does not answer", error: error, logger: logger)
        }
        do {
            try await store.checkReadable()
        } catch let error as BlobStoreError where error.isConfigurationError {
            throw readiness.notReady("the blob store refuses this service's settings (credentials, bucket, region or endpoint)",
                                     error: error, logger: logger)
        } catch {
            throw readiness.notReady("the blob store cannot be read", error: error, logger: logger)
        }
        let health = processing()
        if let failure = health.failure {
            throw readiness.notReady("no helper process can be started", error: failure, logger: logger)
        }
        readiness.isReady(logger: logger)
        var members: [(String, JSONValue)] = [("status", .string("ready")), ("queued", .int(counts[.queued] ?? 0))]
        if !health.missingProtections.isEmpty {
            // Which protections, without the kernel's words: `seccomp`, `no_new_privs`, …
            let names = health.missingProtections.map { String($0.prefix { $0 != ":" }) }
            members.append(("sandboxMissing", .array(names.map { .string($0) })))
        }
        return Self.json(.ok, .object(members))
    }

    func metrics() async throws -> Response {
        // Index-backed counts only: queued, running, dead (final outcomes are counted as they happen in
        // mediaworker_jobs_total), and the outbox backlog.
        let counts = try await queue.activeCounts(), pending = try await queue.pendingEvents()
        for (state, n) in counts {
            Gauge(label: "mediaworker_queue_jobs", dimensions: [("state", state.rawValue)]).record(n)
        }
        Gauge(label: "mediaworker_outbox_pending").record(pending)
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }

    static func openAPI() -> Response {
        let text = Bundle.module.url(forResource: "openapi", withExtension: "yaml").flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
        return Response(status: text.isEmpty ? .internalServerError : .ok, headers: [.contentType: "application/yaml"],
                        body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: Responses

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue, extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: value.serialized() + "\n")))
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String, extra: HTTPFields = [:]) -> Response {
        json(status, .object([("error", .string(code)), ("message", .string(message))]), extra: extra)
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let contentSecurityPolicy = Self("Content-Security-Policy")!
}
