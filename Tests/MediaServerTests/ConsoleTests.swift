import Foundation
import MediaQueue
import MediaServer
import MediaTestSupport
import Testing

/// The operations console's access rules against a real `mediaworker serve`, on both backends.
@Suite(.serialized, .offCooperativePool) struct ConsoleTests {
    static let password = "correct horse battery staple"
    /// bcrypt at cost 10 (made once; a test does not need the production cost).
    static let users: String = {
        let hash = ConsoleSettings.hash(password: password, cost: 10)
        return "ops:\(hash),admin:\(hash)"
    }()

    /// One HTTP/1.1 exchange on a fresh loopback connection, redirects not followed (what the tests look at).
    struct Reply {
        var status: Int
        var headers: [(String, String)]
        var body: String
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        func all(_ name: String) -> [String] { headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }
    }

    /// `headers` nil: a POST carries the `Origin` a browser on the console's own page sends.
    static func exchange(_ port: Int, _ method: String, _ path: String, cookie: String? = nil, form: [String: String]? = nil,
                         headers: [String: String]? = nil) -> Reply {
        let connection: HTTPHardeningTests.RawConnection
        do { connection = try HTTPHardeningTests.RawConnection(port: port) } catch { return Reply(status: 0, headers: [], body: "") }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let cookie { head += "Cookie: \(cookie)\r\n" }
        for (name, value) in headers ?? (method == "POST" ? ["Origin": "http://127.0.0.1:\(port)"] : [:]) {
            head += "\(name): \(value)\r\n"
        }
        var body = ""
        if let form {
            body = form.map { k, v in
                k + "=" + (v.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
            }.joined(separator: "&")
            head += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n"
        } else if method == "POST" {
            head += "Content-Length: 0\r\n"
        }
        connection.send(head + "\r\n" + body)
        let (text, _) = connection.readUntilClosed(seconds: 20)
        guard let split = text.range(of: "\r\n\r\n") else { return Reply(status: 0, headers: [], body: text) }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var rest = String(text[split.upperBound...])
        if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked") }) {
            rest = dechunk(rest)
        }
        return Reply(status: status, headers: headers, body: rest)
    }

    static func dechunk(_ text: String) -> String {
        var bytes = Array(text.utf8)[...]
        var out: [UInt8] = []
        while let crlf = bytes.firstIndex(of: 0x0D), let size = Int(String(decoding: bytes[bytes.startIndex..<crlf], as: UTF8.self), radix: 16), size > 0 {
            let start = crlf + 2
            out += bytes[start..<min(bytes.endIndex, start + size)]
            bytes = bytes[min(bytes.endIndex, start + size + 2)...]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Logs in; the session cookie (`name=value`).
    static func login(_ port: Int, user: String = "ops") throws -> String {
        let reply = exchange(port, "POST", "/console/login", form: ["user": user, "password": password, "next": "/console/jobs"])
        #expect(reply.status == 303)
        #expect(reply.header("Location") == "/console/jobs")
        let cookie = try #require(reply.all("Set-Cookie").first { $0.hasPrefix("mw_console=") })
        return String(cookie.prefix { $0 != ";" })
    }

    static func csrf(in html: String) -> String? {
        guard let r = html.range(of: "name=\"csrf\" value=\"") else { return nil }
        return String(html[r.upperBound...].prefix { $0 != "\"" })
    }

    /// A dead job written straight into the server's queue (its workers are off).
    static func deadJob(_ storage: TestStorage, business: String = "+34600000001") async throws -> String {
        let queue = try await storage.queue()
        let id = JobID.make()
        _ = try await queue.enqueue(NewJob(from: .visitor, declaredType: "image/jpeg", fileName: "x.jpg", conversationId: "c-9",
                                     businessNumber: business, contentSHA256: "ab", size: 3), id: id, now: Date())
        let job = try await #require(try await queue.claim(worker: "test", lease: 60, maxAttempts: 5, now: Date()))
        #expect(job.id == id)
        #expect(try await queue.fail(id: id, worker: "test", error: "helper crashed", retryAt: nil, now: Date()))
        return id
    }

    /// The console's set-up: its users, and no workers (dead jobs are written straight into the queue).
    static let consoleEnvironment = ["MEDIAWORKER_CONSOLE_USERS": users, "MEDIAWORKER_WORKERS": "0"]

    @Test("without a session every console URL (pages, actions, thumbnails) redirects to the login form", arguments: TestBackend.allCases)
    func noSession(_ backend: TestBackend) async throws {
        try await withServer(backend, env: Self.consoleEnvironment, .live) { server in
            let id = try await Self.deadJob(server.storage)
            for path in ["/console", "/console/jobs", "/console/jobs?state=dead&reason=too_large", "/console/jobs/\(id)",
                         "/console/retry?state=dead", "/console/media/\(id)/thumbnail", "/console/media/\(id)/playback"] {
                let reply = Self.exchange(server.port, "GET", path)
                #expect(reply.status == 303, "\(path)")
                #expect(reply.header("Location")?.hasPrefix("/console/login") == true, "\(path)")
                #expect(!reply.body.contains(id), "\(path)")
            }
            for path in ["/console/jobs/\(id)/retry", "/console/retry", "/console/logout"] {
                let reply = Self.exchange(server.port, "POST", path, form: ["csrf": "x"])
                #expect(reply.status == 303 && reply.header("Location") == "/console/login", "\(path)")
            }
            // A forged session cookie is no session.
            let forged = Self.exchange(server.port, "GET", "/console", cookie: "mw_console=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            #expect(forged.status == 303)
            let form = Self.exchange(server.port, "GET", "/console/login")
            #expect(form.status == 200)
            let csp = try #require(form.header("Content-Security-Policy"))
            #expect(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"))
            #expect(form.header("X-Frame-Options") == "DENY")
            #expect(!form.body.contains("<script"))
            #expect(try await server.storage.queue().job(id: id)?.state == .dead)
        }
    }

    @Test("login: a wrong password is refused, repeated failures are slowed down then refused for a while; the right one sets an HttpOnly SameSite=Strict cookie",
          arguments: TestBackend.allCases)
    func login(_ backend: TestBackend) async throws {
        try await withServer(backend, env: Self.consoleEnvironment, .live) { server in
            var timings: [Double] = []
            for _ in 0..<3 {
                let start = Date()
                let reply = Self.exchange(server.port, "POST", "/console/login", form: ["user": "admin", "password": "wrong"])
                timings.append(Date().timeIntervalSince(start))
                #expect(reply.status == 401)
                #expect(reply.body.contains("Wrong name or password"))
                #expect(reply.all("Set-Cookie").isEmpty)
            }
            #expect(timings[2] > timings[0] + 0.3, "each failure answers later: \(timings)")
            let locked = Self.exchange(server.port, "POST", "/console/login", form: ["user": "admin", "password": Self.password])
            #expect(locked.status == 429, "even the right password waits after repeated failures")
            #expect(locked.header("Retry-After") != nil)
            let unknown = Self.exchange(server.port, "POST", "/console/login", form: ["user": "nobody", "password": Self.password])
            #expect(unknown.status == 401)

            let ok = Self.exchange(server.port, "POST", "/console/login", form: ["user": "ops", "password": Self.password, "next": "https://evil.example/"])
            #expect(ok.status == 303)
            #expect(ok.header("Location") == "/console", "never sent to another site")
            let cookie = try #require(ok.all("Set-Cookie").first { $0.hasPrefix("mw_console=") })
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.lowercased().contains("samesite=strict"))
            #expect(cookie.contains("Path=/console"))
            let session = String(cookie.prefix { $0 != ";" })
            let overview = Self.exchange(server.port, "GET", "/console", cookie: session)
            #expect(overview.status == 200)
            #expect(overview.body.contains("id=\"count-queued\""))
            #expect(overview.body.contains("<svg"))
            #expect(!overview.body.contains("<script"))
            // Logging out ends the session.
            let csrf = try #require(Self.csrf(in: overview.body))
            #expect(Self.exchange(server.port, "POST", "/console/logout", cookie: session, form: ["csrf": csrf]).status == 303)
            #expect(Self.exchange(server.port, "GET", "/console", cookie: session).status == 303)
        }
    }

    @Test("actions: without the CSRF token refused (403, nothing changes); with it a dead job goes back to queued",
          arguments: TestBackend.allCases)
    func retry(_ backend: TestBackend) async throws {
        try await withServer(backend, env: Self.consoleEnvironment, .live) { server in
            let queue = try await server.storage.queue()
            let id = try await Self.deadJob(server.storage)
            let others = [try await Self.deadJob(server.storage, business: "+34600000002"), try await Self.deadJob(server.storage, business: "+34600000002")]
            let session = try Self.login(server.port)
            let page = Self.exchange(server.port, "GET", "/console/jobs/\(id)", cookie: session)
            #expect(page.status == 200)
            #expect(page.body.contains("helper crashed"))
            let csrf = try #require(Self.csrf(in: page.body))

            let bare = Self.exchange(server.port, "POST", "/console/jobs/\(id)/retry", cookie: session)
            #expect(bare.status == 403)
            let wrong = Self.exchange(server.port, "POST", "/console/jobs/\(id)/retry", cookie: session, form: ["csrf": "not-the-token"])
            #expect(wrong.status == 403)
            #expect(try await queue.job(id: id)?.state == .dead)

            let done = Self.exchange(server.port, "POST", "/console/jobs/\(id)/retry", cookie: session, form: ["csrf": csrf])
            #expect(done.status == 303 && done.header("Location") == "/console/jobs/\(id)")
            let job = try await #require(try await queue.job(id: id))
            #expect(job.state == .queued && job.attempts == 0)

            // All dead jobs of a filter: a confirmation page, then the POST (with its token) re-queues exactly those.
            let confirm = Self.exchange(server.port, "GET", "/console/retry?business=%2B34600000002", cookie: session)
            #expect(confirm.status == 200)
            #expect(confirm.body.contains("id=\"confirm-count\">2<"))
            #expect(Self.exchange(server.port, "POST", "/console/retry", cookie: session, form: ["business": "+34600000002"]).status == 403)
            for id in others { #expect(try await queue.job(id: id)?.state == .dead) }
            let all = Self.exchange(server.port, "POST", "/console/retry", cookie: session,
                                    form: ["business": "+34600000002", "csrf": try #require(Self.csrf(in: confirm.body))])
            #expect(all.status == 303)
            #expect(all.header("Location")?.contains("retried=2") == true)
            for id in others { #expect(try await queue.job(id: id)?.state == .queued) }

            // The jobs list filters, and a thumbnail link goes (with a session) to a signed media URL.
            let list = Self.exchange(server.port, "GET", "/console/jobs?state=queued&business=%2B34600000002", cookie: session)
            #expect(list.status == 200)
            #expect(list.body.components(separatedBy: "class=\"job\"").count - 1 == 2)
            let media = Self.exchange(server.port, "GET", "/console/media/\(id)/thumbnail", cookie: session)
            #expect(media.status == 302)
            #expect(media.header("Location")?.hasPrefix("/v1/media/\(id)/thumbnail?expires=") == true)
        }
    }

    @Test("erasing from a job's page: a confirmation page, refused without the CSRF token, then a tombstone page without media",
          arguments: TestBackend.allCases)
    func erase(_ backend: TestBackend) async throws {
        try await withServer(backend, env: Self.consoleEnvironment, .live) { server in
            let queue = try await server.storage.queue()
            let id = try await Self.deadJob(server.storage, business: "+34600000042")
            let session = try Self.login(server.port)
            let page = Self.exchange(server.port, "GET", "/console/jobs/\(id)", cookie: session)
            #expect(page.body.contains("id=\"erase\"") && page.body.contains("x.jpg"))
            let confirm = Self.exchange(server.port, "GET", "/console/jobs/\(id)/erase", cookie: session)
            #expect(confirm.status == 200 && confirm.body.contains("id=\"confirm-erase\""))
            #expect(try await queue.job(id: id)?.state == .dead, "asking is not erasing")
            #expect(Self.exchange(server.port, "POST", "/console/jobs/\(id)/erase", cookie: session).status == 403)
            #expect(Self.exchange(server.port, "POST", "/console/jobs/\(id)/erase", cookie: session, form: ["csrf": "wrong"]).status == 403)
            #expect(Self.exchange(server.port, "POST", "/console/jobs/\(id)/erase", form: ["csrf": "x"]).status == 303, "no session: to the login form")
            #expect(try await queue.job(id: id)?.state == .dead)

            let done = Self.exchange(server.port, "POST", "/console/jobs/\(id)/erase", cookie: session,
                                     form: ["csrf": try #require(Self.csrf(in: confirm.body))])
            #expect(done.status == 303 && done.header("Location") == "/console/jobs/\(id)")
            let job = try #require(try await queue.job(id: id))
            #expect(job.state == .erased && job.erasure == .request)
            let tombstone = Self.exchange(server.port, "GET", "/console/jobs/\(id)", cookie: session)
            #expect(tombstone.status == 200 && tombstone.body.contains("id=\"tombstone\""))
            for personal in ["x.jpg", "c-9", "+34600000042", "helper crashed"] { #expect(!tombstone.body.contains(personal), "\(personal)") }
            #expect(!tombstone.body.contains("id=\"erase\"") && !tombstone.body.contains("/console/media/"))
            let list = Self.exchange(server.port, "GET", "/console/jobs?state=erased", cookie: session)
            #expect(list.body.contains("data-id=\"\(id)\"") && list.body.contains("data-state=\"erased\""))
            // Its media through the console: the signed link it redirects to answers 410.
            let redirect = Self.exchange(server.port, "GET", "/console/media/\(id)/original", cookie: session)
            let location = try #require(redirect.header("Location"))
            #expect(Self.exchange(server.port, "GET", location).status == 410)
        }
    }

    @Test("console POSTs from another site are refused 403 (Origin, else Referer; neither is refused too); the console's own origin passes")
    func crossSite() async throws {
        try await withServer(.sqlite, env: Self.consoleEnvironment, .live) { server in
            let port = server.port
            let login = ["user": "ops", "password": Self.password]
            for headers in [["Origin": "https://evil.example"], ["Origin": "null"], ["Origin": "http://127.0.0.1:\(port + 1)"],
                            ["Origin": "http://localhost:\(port)"], ["Referer": "https://evil.example/login.html"], [:],
                            ["Origin": "https://evil.example", "Referer": "http://127.0.0.1:\(port)/console/login"]] {
                let reply = Self.exchange(port, "POST", "/console/login", form: login, headers: headers)
                #expect(reply.status == 403, "\(headers)")
                #expect(reply.all("Set-Cookie").isEmpty, "\(headers): no session")
            }
            // The console's own page: Origin (either scheme, as behind a TLS proxy keeping Host), or Referer alone.
            for headers in [["Origin": "http://127.0.0.1:\(port)"], ["Origin": "https://127.0.0.1:\(port)"],
                            ["Referer": "http://127.0.0.1:\(port)/console/login?next=%2Fconsole"]] {
                let reply = Self.exchange(port, "POST", "/console/login", form: login, headers: headers)
                #expect(reply.status == 303 && reply.all("Set-Cookie").contains { $0.hasPrefix("mw_console=") }, "\(headers)")
            }
            // Actions too: a valid session and token from another site's form is refused; nothing changes.
            let id = try await Self.deadJob(server.storage)
            let session = try Self.login(port)
            let csrf = try #require(Self.csrf(in: Self.exchange(port, "GET", "/console/jobs/\(id)", cookie: session).body))
            let forged = Self.exchange(port, "POST", "/console/jobs/\(id)/retry", cookie: session, form: ["csrf": csrf],
                                       headers: ["Origin": "https://evil.example"])
            #expect(forged.status == 403)
            #expect(try await server.storage.queue().job(id: id)?.state == .dead)

            // With MEDIAWORKER_CONSOLE_ORIGIN the configured origin is the only one, whatever Host says.
            let proxied = try ServerProcess(.sqlite, env: ["MEDIAWORKER_CONSOLE_USERS": Self.users, "MEDIAWORKER_WORKERS": "0",
                                                           "MEDIAWORKER_CONSOLE_ORIGIN": "https://ops.example.com"])
            #expect(Self.exchange(proxied.port, "POST", "/console/login", form: login,
                                  headers: ["Origin": "https://ops.example.com"]).status == 303)
            #expect(Self.exchange(proxied.port, "POST", "/console/login", form: login,
                                  headers: ["Origin": "http://127.0.0.1:\(proxied.port)"]).status == 403)
        }
    }

    @Test("the session cookie is Secure unless the console is plain http on loopback; MEDIAWORKER_CONSOLE_SECURE_COOKIE overrides")
    func secureCookie() throws {
        func cookie(_ env: [String: String], origin: String? = nil) throws -> String {
            let server = try ServerProcess(.sqlite, env: ["MEDIAWORKER_CONSOLE_USERS": Self.users, "MEDIAWORKER_WORKERS": "0"] .merging(env) { $1 })
            let reply = Self.exchange(server.port, "POST", "/console/login", form: ["user": "ops", "password": Self.password],
                                      headers: ["Origin": origin ?? "http://127.0.0.1:\(server.port)"])
            #expect(reply.status == 303, "\(env)")
            return try #require(reply.all("Set-Cookie").first { $0.hasPrefix("mw_console=") }, "\(env)")
        }
        func secure(_ c: String) -> Bool { c.split(separator: ";").contains { $0.trimmingCharacters(in: .whitespaces).lowercased() == "secure" } }
        #expect(!secure(try cookie([:])), "plain http on loopback (the browser test's set-up)")
        #expect(secure(try cookie(["MEDIAWORKER_HOST": "0.0.0.0"])), "listening beyond loopback")
        #expect(!secure(try cookie(["MEDIAWORKER_HOST": "0.0.0.0", "MEDIAWORKER_CONSOLE_SECURE_COOKIE": "false"])), "explicitly off")
        #expect(secure(try cookie(["MEDIAWORKER_CONSOLE_ORIGIN": "https://ops.example.com"], origin: "https://ops.example.com")),
                "behind a TLS proxy")
        #expect(secure(try cookie(["MEDIAWORKER_CONSOLE_SECURE_COOKIE": "true"])), "explicitly on")
    }

    /// Sends `count` login POSTs on connections of their own, all but the last byte first, then every last byte at
    /// once (so they reach the server together, whatever the machine's speed); answers their statuses.
    static func concurrentLogins(_ port: Int, count: Int, user: @escaping @Sendable (Int) -> String, password: String) async -> [Int] {
        await HTTPHardeningTests.onThread { () -> [Int] in
            let requests = (0..<count).map { i -> (HTTPHardeningTests.RawConnection?, String) in
                let body = "user=\(user(i))&password=\(password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
                let text = "POST /console/login HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nOrigin: http://127.0.0.1:\(port)\r\n"
                    + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
                return (try? HTTPHardeningTests.RawConnection(port: port), text)
            }
            for (connection, text) in requests { connection?.send(String(text.dropLast())) }
            usleep(200_000)
            for (connection, text) in requests { connection?.send(String(text.last!)) }
            return requests.map { connection, _ in
                let text = connection?.readUntilClosed(seconds: 60).text ?? ""
                return Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
            }
        }
    }

    /// `mediaworker_console_logins_total{outcome="…"}` from `/metrics`.
    static func logins(_ server: ServerProcess, _ outcome: String) async throws -> Int {
        let text = String(decoding: try await server.request("GET", "/metrics", auth: false).body, as: UTF8.self)
        let prefix = #"mediaworker_console_logins_total{outcome=""# + outcome + #""} "#
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
    }

    @Test("40 concurrent wrong passwords for one name: the throttle counts each attempt before bcrypt, so at most 3 are checked; another user still logs in, and the name itself after its lock")
    func concurrentWrongPasswords() async throws {
        // Enough password-check slots that none is refused as busy: only the throttle stands in the way.
        let server = try ServerProcess(.sqlite, env: ["MEDIAWORKER_CONSOLE_USERS": Self.users, "MEDIAWORKER_WORKERS": "0", "MEDIAWORKER_CONSOLE_LOGIN_CONCURRENCY": "8"])
        let statuses = await Self.concurrentLogins(server.port, count: 40, user: { _ in "admin" }, password: "wrong")
        let checked = try await Self.logins(server, "wrong")
        // Counted after the check, as before, all 40 would pass the throttle and be checked.
        #expect(checked == 3, "bcrypt checks: \(checked); answers \(statuses)")
        #expect(statuses.filter { $0 == 401 }.count == 3 && statuses.filter { $0 == 429 }.count == 37, "\(statuses)")
        #expect(try await Self.logins(server, "throttled") == 37)
        // Another user from the same address is not held up by admin's failures.
        _ = try Self.login(server.port, user: "ops")
        #expect(try await Self.logins(server, "ok") == 1)
        // admin itself: refused (without a check) until its lock, 5 s after the third failure's answer, has passed.
        #expect(Self.exchange(server.port, "POST", "/console/login", form: ["user": "admin", "password": Self.password]).status == 429)
        try await Task.sleep(for: .seconds(8))
        _ = try Self.login(server.port, user: "admin")
    }

    @Test("password checks are capped for the process: with MEDIAWORKER_CONSOLE_LOGIN_CONCURRENCY=1, 40 concurrent logins under 40 names get 503 instead of a check, not 40 checks; a login afterwards works")
    func passwordCheckCap() async throws {
        // bcrypt cost 12 (the production cost): each check takes long enough that 40 arriving together cannot all
        // find the one slot free.
        let hash = ConsoleSettings.hash(password: Self.password, cost: 12)
        let server = try ServerProcess(.sqlite, env: ["MEDIAWORKER_CONSOLE_USERS": "ops:\(hash)", "MEDIAWORKER_WORKERS": "0", "MEDIAWORKER_CONSOLE_LOGIN_CONCURRENCY": "1"])
        let statuses = await Self.concurrentLogins(server.port, count: 40, user: { "visitor\($0)" }, password: "wrong")
        let checked = try await Self.logins(server, "wrong"), busy = try await Self.logins(server, "busy")
        #expect(statuses.allSatisfy { [401, 503].contains($0) }, "\(statuses)")
        #expect(checked + busy == 40 && statuses.filter { $0 == 503 }.count == busy, "checked \(checked), busy \(busy): \(statuses)")
        #expect(checked <= 20, "bcrypt checks: \(checked) of 40")
        let reply = Self.exchange(server.port, "POST", "/console/login", form: ["user": "ops", "password": Self.password])
        #expect(reply.status == 303, "a login once the checks are done")
    }

    @Test("MEDIAWORKER_CONSOLE=false: no console at all")
    func off() async throws {
        try await withServer(.sqlite, env: ["MEDIAWORKER_CONSOLE_USERS": Self.users, "MEDIAWORKER_CONSOLE": "false"], .live) { server in
            #expect(Self.exchange(server.port, "GET", "/console").status == 404)
            #expect(Self.exchange(server.port, "GET", "/console/login").status == 404)
        }
    }
}
