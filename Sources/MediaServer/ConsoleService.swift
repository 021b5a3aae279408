import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import HummingbirdBcrypt
import Logging
import MediaJSON
import Metrics
import MediaQueue
import NIOCore
import NIOPosix

/// What a console login keeps: who, and the token every form of that session must carry back (CSRF).
public struct ConsoleSession: Codable, Sendable {
    public var user: String
    public var csrf: String
}

/// The console's request context: the service's, plus the session (hummingbird-auth's session middleware).
public struct ConsoleContext: ChildRequestContext, SessionRequestContext {
    public typealias Session = ConsoleSession
    public var coreContext: CoreRequestContextStorage
    public let sessions: SessionContext<ConsoleSession>
    /// The client's address, for the login throttle.
    public let remoteAddress: String

    public init(context: MediaRequestContext) throws {
        coreContext = context.coreContext
        sessions = .init()
        remoteAddress = context.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}

/// The operations console under `/console`: overview, jobs, a job, retries. Server-rendered HTML (swift-mustache),
/// no script at all; every page but the login form needs a session, every action a CSRF token.
struct ConsoleService: Sendable {
    typealias Queue = any JobQueue & EventOutbox & ConsoleQueries
    let queue: Queue
    let service: MediaHTTPService
    let settings: ConsoleSettings
    let views: ConsoleViews
    let throttle = LoginThrottle()
    /// The process's password checks at once (one console per process).
    let checks: PasswordCheckSlots
    let logger = Logger(label: "mediaworker.console")
    /// Checked against for unknown users too, so a wrong name takes as long as a wrong password.
    let dummyHash: String

    /// Most dead jobs one "retry all" re-queues.
    static let retryLimit = 10_000

    init(queue: Queue, service: MediaHTTPService, settings: ConsoleSettings) throws {
        self.queue = queue
        self.service = service
        self.settings = settings
        self.views = try ConsoleViews()
        self.checks = PasswordCheckSlots(settings.loginConcurrency)
        self.dummyHash = settings.users.values.first ?? Bcrypt.hash("not a password", cost: 12)
    }

    /// Every console response: no framing, no inline script or style, nothing loaded from elsewhere, not cached.
    static let csp = "default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; form-action 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'"

    func register(on router: Router<MediaRequestContext>) {
        let group = router.group("console", context: ConsoleContext.self)
        let secure = settings.cookieIsSecure(listeningOn: service.settings.host)
        if !secure {
            logger.notice("console session cookie not marked Secure", metadata: [
                "reason": "\(settings.secureCookie == false ? "MEDIAWORKER_CONSOLE_SECURE_COOKIE=false" : "plain http on loopback")"])
        }
        group.add(middleware: ConsoleHeaders())
        group.add(middleware: ConsoleOriginCheck(console: self))
        group.add(middleware: SessionMiddleware<ConsoleContext>(
            storage: MemoryPersistDriver(),
            configuration: .init(sessionCookieParameters: .init(name: "mw_console", path: "/console",
                                                                secure: secure, sameSite: .strict),
                                 keyPrefix: "console.", defaultSessionExpiration: .seconds(settings.sessionTTL))))
        group.add(middleware: ConsoleGate())
        group.get("static/console.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=3600"],
                     body: .init(byteBuffer: ByteBuffer(string: ConsoleViews.css)))
        }
        group.get("login") { request, _ in loginPage(next: request.uri.queryParameters["next"].map(String.init), message: nil) }
        group.post("login") { request, context in try await login(request, context) }
        group.post("logout") { request, context in try await logout(request, context) }
        group.get { _, context in try await overview(context) }
        group.get("jobs") { request, context in try await jobsPage(request, context) }
        group.get("jobs/:id") { _, context in try await jobPage(context) }
        group.post("jobs/:id/retry") { request, context in try await retryOne(request, context) }
        group.get("jobs/:id/erase") { _, context in try await confirmErase(context) }
        group.post("jobs/:id/erase") { request, context in try await eraseOne(request, context) }
        group.get("retry") { request, context in try await confirmRetry(request, context) }
        group.post("retry") { request, context in try await retryAll(request, context) }
        group.get("media/:jobId/:role") { _, context in try media(context) }
    }

    // MARK: Login

    func loginPage(next: String?, message: String?, status: HTTPResponse.Status = .ok, extra: HTTPFields = [:]) -> Response {
        var data: [String: Any] = ["title": "Log in", "next": safeNext(next) ?? "/console"]
        if let message { data["message"] = message }
        if settings.users.isEmpty { data["noUsers"] = true }
        return html(status, views.render("login", data), extra: extra)
    }

    /// Only a console path is a place to go back to after login (never another site).
    func safeNext(_ next: String?) -> String? {
        guard let next, next.hasPrefix("/console"), !next.contains("//"), !next.contains("\\") else { return nil }
        return next
    }

    func login(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let form = try await Self.form(LoginForm.self, request)
        let user = form.user ?? "", password = form.password ?? ""
        let next = safeNext(form.next) ?? "/console"
        let key = user.lowercased() + "|" + context.remoteAddress
        // The attempt is counted before its check runs, so concurrent attempts cannot all pass the throttle.
        let wait = throttle.admit(key, now: Date())
        if wait > 0 {
            Self.count("throttled")
            logger.warning("console login refused: too many failures", metadata: ["user": "\(user.prefix(64))", "address": "\(context.remoteAddress)"])
            return loginPage(next: next, message: "Too many failed attempts; try again in \(Int(wait.rounded(.up))) s.",
                             status: .tooManyRequests, extra: [.retryAfter: "\(Int(wait.rounded(.up)))"])
        }
        // At most MEDIAWORKER_CONSOLE_LOGIN_CONCURRENCY bcrypt checks at once in the process; past it, 503 at once
        // (not counted against the name: no password was checked).
        guard checks.take() else {
            throttle.withdrawn(key)
            Self.count("busy")
            logger.warning("console login refused: every password check is busy", metadata: ["user": "\(user.prefix(64))", "address": "\(context.remoteAddress)"])
            return loginPage(next: next, message: "The console is busy checking other logins; try again in a moment.",
                             status: .serviceUnavailable, extra: [.retryAfter: "1"])
        }
        let hash = settings.users[user]
        let dummy = dummyHash
        let ok: Bool
        do {
            defer { checks.give() }
            ok = try await NIOThreadPool.singleton.runIfActive {
                // An unknown user costs a bcrypt check all the same.
                let matches = Bcrypt.verify(password, hash: hash ?? dummy)
                return hash != nil && matches
            }
        } catch {
            throttle.withdrawn(key)
            throw error
        }
        Self.count(ok ? "ok" : "wrong")
        guard ok else {
            let delay = throttle.failed(key, now: Date())
            logger.warning("console login failed", metadata: ["user": "\(user.prefix(64))", "address": "\(context.remoteAddress)"])
            try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            return loginPage(next: next, message: "Wrong name or password.", status: .unauthorized)
        }
        throttle.succeeded(key)
        context.sessions.createSession(ConsoleSession(user: user, csrf: ServerSettings.randomSecret()),
                                       expiresIn: .seconds(settings.sessionTTL))
        logger.notice("console login", metadata: ["user": "\(user)", "address": "\(context.remoteAddress)"])
        return Response.redirect(to: next, type: .normal)
    }

    func logout(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let (session, refused) = try await checkedAction(request, context)
        if let refused { return refused }
        context.sessions.clearSession()
        logger.notice("console logout", metadata: ["user": "\(session.user)"])
        return Response.redirect(to: "/console/login", type: .normal)
    }

    // MARK: Pages

    func overview(_ context: ConsoleContext) async throws -> Response {
        let session = try requireSession(context)
        let queue = self.queue
        let o = try await QueueOverview.read(queue)
        let health = service.processing()
        return html(.ok, views.render("overview", views.overview(o, health: health, session: session)))
    }

    func filter(_ q: [String: String]) -> JobFilter {
        filter(FilterFields(state: q["state"], kind: q["kind"], reason: q["reason"], business: q["business"],
                            conversation: q["conversation"]))
    }

    func filter(_ f: FilterFields) -> JobFilter {
        func value(_ v: String?) -> String? {
            guard let v = v?.trimmingCharacters(in: .whitespaces), !v.isEmpty, v.count <= 200 else { return nil }
            return v
        }
        return JobFilter(state: value(f.state).flatMap(JobState.init(rawValue:)), kind: value(f.kind), reason: value(f.reason),
                         businessNumber: value(f.business), conversationId: value(f.conversation))
    }

    func jobsPage(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let session = try requireSession(context)
        let query = Self.dictionary(request.uri.queryParameters)
        let filter = filter(query)
        let before = query["before"].flatMap { JobID.isValid($0) ? $0 : nil }
        let limit = settings.pageSize, queue = self.queue
        let jobs = try await queue.jobs(matching: filter, before: before, limit: limit + 1)
        let page = Array(jobs.prefix(limit))
        let older = jobs.count > limit ? page.last?.id : nil
        return html(.ok, views.render("jobs", views.jobs(page, filter: filter, older: older, first: before == nil,
                                                         retried: query["retried"].flatMap(Int.init), session: session)))
    }

    func jobPage(_ context: ConsoleContext) async throws -> Response {
        let session = try requireSession(context)
        let id = try context.parameters.require("id")
        let queue = self.queue
        guard JobID.isValid(id), let job = try await queue.job(id: id) else {
            return html(.notFound, views.render("message", views.page(session: session, title: "Not found",
                                                                      extra: ["message": "No job \(id)."])))
        }
        return html(.ok, views.render("job", views.job(job, session: session)))
    }

    // MARK: Actions

    func retryOne(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let (session, refused) = try await checkedAction(request, context)
        if let refused { return refused }
        let id = try context.parameters.require("id")
        guard JobID.isValid(id) else { return Response.redirect(to: "/console/jobs", type: .normal) }
        let queue = self.queue
        let done = try await queue.retry(id: id, now: Date())
        if done {
            service.wake()
            logger.notice("console: dead job re-queued", metadata: ["user": "\(session.user)", "job": "\(id)"])
        }
        return Response.redirect(to: "/console/jobs/\(id)", type: .normal)
    }

    /// The erase button's page: erasing cannot be undone, so it asks first.
    func confirmErase(_ context: ConsoleContext) async throws -> Response {
        let session = try requireSession(context)
        let id = try context.parameters.require("id")
        let queue = self.queue
        guard JobID.isValid(id), let job = try await queue.job(id: id), job.state != .erased else {
            return Response.redirect(to: JobID.isValid(id) ? "/console/jobs/\(id)" : "/console/jobs", type: .normal)
        }
        return html(.ok, views.render("confirmErase", views.page(session: session, title: "Erase job \(id)", extra: ["id": id])))
    }

    /// Erases one job as `DELETE /v1/jobs/{id}` does (same eraser: blobs, personal fields, cache, events).
    func eraseOne(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let (session, refused) = try await checkedAction(request, context)
        if let refused { return refused }
        let id = try context.parameters.require("id")
        guard JobID.isValid(id) else { return Response.redirect(to: "/console/jobs", type: .normal) }
        if try await service.eraser.erase(jobID: id) != nil {
            logger.notice("console: job erased", metadata: ["user": "\(session.user)", "job": "\(id)"])
        }
        return Response.redirect(to: "/console/jobs/\(id)", type: .normal)
    }

    func confirmRetry(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let session = try requireSession(context)
        let filter = filter(Self.dictionary(request.uri.queryParameters))
        let queue = self.queue
        let ids = try await queue.deadJobIDs(matching: filter, limit: Self.retryLimit)
        return html(.ok, views.render("confirm", views.confirm(count: ids.count, limit: Self.retryLimit, filter: filter,
                                                               session: session)))
    }

    func retryAll(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let form = try await Self.form(RetryAllForm.self, request)
        let (session, refused) = try checked(csrf: form.csrf, context)
        if let refused { return refused }
        let filter = filter(form.filter)
        let queue = self.queue
        var retried = 0
        for id in try await queue.deadJobIDs(matching: filter, limit: Self.retryLimit) where try await queue.retry(id: id, now: Date()) {
            retried += 1
        }
        if retried > 0 { service.wake() }
        logger.notice("console: dead jobs re-queued", metadata: [
            "user": "\(session.user)", "count": "\(retried)", "filter": "\(ConsoleViews.query(filter, state: nil))",
        ])
        var q = ConsoleViews.query(filter, state: nil)
        q += (q.isEmpty ? "" : "&") + "retried=\(retried)"
        return Response.redirect(to: "/console/jobs?" + q, type: .normal)
    }

    /// A console thumbnail, preview or recording: after the session check, the same signed URL the desk gets.
    func media(_ context: ConsoleContext) throws -> Response {
        _ = try requireSession(context)
        let jobID = try context.parameters.require("jobId"), role = try context.parameters.require("role")
        guard JobID.isValid(jobID), ArtifactRole(rawValue: role) != nil else {
            return html(.notFound, "not found\n")
        }
        let expires = Int(Date().timeIntervalSince1970 + min(service.settings.urlTTL, 3600))
        return Response.redirect(to: service.signer.url(jobID: jobID, role: role, expires: expires), type: .found)
    }

    /// `mediaworker_console_logins_total{outcome}`: `ok` and `wrong` ran a password check; `throttled`, `busy` and
    /// `cross_site` did not.
    static func count(_ outcome: String) {
        Counter(label: "mediaworker_console_logins_total", dimensions: [("outcome", outcome)]).increment()
    }

    /// Why a console POST does not come from the console's own pages (nil: it does). A browser sends `Origin` with
    /// every POST; `Referer` is the fallback when a browser left `Origin` out; a POST with neither is refused too,
    /// since a cross-site page can strip `Referer` and old browsers sent no `Origin` with forms.
    func crossSite(_ request: Request) -> String? {
        let source: ConsoleOrigin
        if let origin = request.headers[.origin] {
            guard let o = ConsoleOrigin(origin) else { return "Origin \(origin.prefix(100))" }
            source = o
        } else if let referer = request.headers[.referer] {
            guard let o = ConsoleOrigin(pageURL: referer) else { return "Referer \(referer.prefix(100))" }
            source = o
        } else {
            return "neither Origin nor Referer"
        }
        if let own = settings.origin {
            return source == own ? nil : "Origin \(source)"
        }
        // No origin configured: the page's must be the host this request was sent to (either scheme: a TLS proxy
        // may be in front).
        guard let host = request.head.authority, let own = ConsoleOrigin("\(source.scheme)://\(host)"), own == source else {
            return "Origin \(source) for Host \((request.head.authority ?? "").prefix(100))"
        }
        return nil
    }

    // MARK: Helpers

    func requireSession(_ context: ConsoleContext) throws -> ConsoleSession {
        guard let session = context.sessions.session else { throw HTTPError(.unauthorized) }  // the gate redirects first
        return session
    }

    /// The session and the form's CSRF token checked; a refusal otherwise.
    func checkedAction(_ request: Request, _ context: ConsoleContext) async throws -> (ConsoleSession, Response?) {
        try checked(csrf: try await Self.form(ActionForm.self, request).csrf, context)
    }

    func checked(csrf: String?, _ context: ConsoleContext) throws -> (ConsoleSession, Response?) {
        let session = try requireSession(context)
        guard let token = csrf, constantTimeEquals(token, session.csrf) else {
            logger.warning("console action refused: missing or wrong CSRF token", metadata: ["user": "\(session.user)"])
            return (session, html(.forbidden, views.render("message", views.page(
                session: session, title: "Refused", extra: ["message": "This action lacks a valid form token (CSRF). Reload the page and try again."]))))
        }
        return (session, nil)
    }

    /// Most bytes a console form may hold; real ones (retry-all with its hidden filter) are a few KiB at most.
    static let formLimit = 64 * 1024

    /// A console form (`application/x-www-form-urlencoded`, at most `formLimit` bytes) through Hummingbird's
    /// `URLEncodedFormDecoder`. A form the decoder refuses (bad percent-encoding, a repeated field, a field that is
    /// not a plain value) counts as a form without fields: every field is optional, so the action is then refused
    /// as it would be for a missing field (no CSRF token, no name), never answered with a decoder's error.
    static func form<Form: ConsoleForm>(_ type: Form.Type, _ request: Request) async throws -> Form {
        var request = request
        let body = try await request.collectBody(upTo: formLimit)
        return decodeForm(type, String(buffer: body))
    }

    static func decodeForm<Form: ConsoleForm>(_ type: Form.Type, _ text: String) -> Form {
        (try? URLEncodedFormDecoder().decode(type, from: text)) ?? Form()
    }

    static func dictionary(_ parameters: Parameters) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in parameters { out[String(k)] = String(v) }
        return out
    }

    func html(_ status: HTTPResponse.Status, _ body: String, extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8"]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// The console's security headers on every answer (pages, redirects, errors).
struct ConsoleHeaders: RouterMiddleware {
    typealias Context = ConsoleContext
    func handle(_ request: Request, context: ConsoleContext, next: (Request, ConsoleContext) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.contentSecurityPolicy] = ConsoleService.csp
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.referrerPolicy] = "same-origin"
        if request.uri.path != "/console/static/console.css" { response.headers[.cacheControl] = "no-store" }
        return response
    }
}

/// Every console POST (login included) must come from the console's own pages (`Origin`, else `Referer`): a
/// cross-site form is answered 403 before its handler runs, so another site can neither log a browser in (into the
/// attacker's account) nor spend password checks through visitors' browsers.
struct ConsoleOriginCheck: RouterMiddleware {
    typealias Context = ConsoleContext
    let console: ConsoleService

    func handle(_ request: Request, context: ConsoleContext, next: (Request, ConsoleContext) async throws -> Response) async throws -> Response {
        guard request.method == .post, let reason = console.crossSite(request) else { return try await next(request, context) }
        console.logger.warning("console POST refused: not from the console's own pages", metadata: [
            "path": "\(request.uri.path)", "reason": "\(reason)", "address": "\(context.remoteAddress)"])
        if request.uri.path == "/console/login" {
            ConsoleService.count("cross_site")
            return console.loginPage(next: nil, message: "This form was sent from another site; open the console's own login page.",
                                     status: .forbidden)
        }
        return console.html(.forbidden, "<!doctype html><title>Refused</title><p>This form was sent from another site.</p>\n")
    }
}

/// Without a session, every console URL but the login form and the style sheet sends the browser to the login form.
struct ConsoleGate: RouterMiddleware {
    typealias Context = ConsoleContext
    func handle(_ request: Request, context: ConsoleContext, next: (Request, ConsoleContext) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path == "/console/login" || path == "/console/static/console.css" || context.sessions.session != nil {
            return try await next(request, context)
        }
        let back = request.method == .get && !path.hasPrefix("/console/media/") ? "?next=" + (request.uri.string
            .addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") : ""
        return Response.redirect(to: "/console/login" + back, type: .normal)
    }
}

/// A form the console's pages post; every field optional, so `init()` is the form without fields.
protocol ConsoleForm: Decodable {
    init()
}

/// `POST /console/login`.
struct LoginForm: ConsoleForm {
    var user: String?
    var password: String?
    /// The console page to go back to after login.
    var next: String?
}

/// An action that carries only the session's CSRF token (`logout`, `jobs/:id/retry`).
struct ActionForm: ConsoleForm {
    var csrf: String?
}

/// The jobs list's filter fields, from its query string or the retry-all form.
struct FilterFields: Decodable {
    var state: String?
    var kind: String?
    var reason: String?
    var business: String?
    var conversation: String?
}

/// `POST /console/retry`: the CSRF token and the filter of the dead jobs to re-queue (hidden fields).
struct RetryAllForm: ConsoleForm {
    var csrf: String?
    var filter = FilterFields()

    init() {}

    private enum CodingKeys: String, CodingKey { case csrf }

    init(from decoder: any Decoder) throws {
        csrf = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(String.self, forKey: .csrf)
        // The filter's fields sit beside the token at the top level of the form.
        filter = try FilterFields(from: decoder)
    }
}

extension HTTPField.Name {
    static let xFrameOptions = Self("X-Frame-Options")!
}

extension MediaHTTPService {
    /// Adds the operations console (`/console`) to `router`. False when the queue driver cannot answer the console's
    /// reads (then nothing is added).
    public func addConsole(to router: Router<MediaRequestContext>, settings: ConsoleSettings) throws -> Bool {
        guard let queue = queue as? any JobQueue & EventOutbox & ConsoleQueries else { return false }
        try ConsoleService(queue: queue, service: self, settings: settings).register(on: router)
        return true
    }
}
