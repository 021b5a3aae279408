import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MediaQueue
import MediaServer
import MediaTestSupport
import Testing

/// Slow and oversized clients, weak secrets, the metrics token: against the application in-process on a live port,
/// and a real `mediaworker serve` where the process is what is tested (its connection cap, its refusal to start).
@Suite(.offCooperativePool) struct HTTPHardeningTests {
    /// A raw loopback TCP connection (the client a slowloris attacker writes by hand).
    final class RawConnection: @unchecked Sendable {
        let fd: Int32

        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard fd >= 0, rc == 0 else { throw POSIXError(.ECONNREFUSED) }
        }

        deinit { close(fd) }

        /// False once the server has closed the connection (a write then fails).
        @discardableResult
        func send(_ text: String) -> Bool {
            Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } > 0
        }

        /// What the server sent until `marker` appeared in it, it closed the connection or `seconds` passed.
        func read(until marker: String, seconds: Double) -> String {
            var text = ""
            let end = Date().addingTimeInterval(seconds)
            while Date() < end && !text.contains(marker) {
                let read = readUntilClosed(seconds: 0.05)
                text += read.text
                if read.closed { break }
            }
            return text
        }

        /// What the server sent until it closed the connection or `seconds` passed; `closed` tells which.
        func readUntilClosed(seconds: Double) -> (text: String, closed: Bool) {
            var received: [UInt8] = []
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 100) > 0 else { continue }
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return (String(decoding: received, as: UTF8.self), true) }
                received += chunk[0..<n]
            }
            return (String(decoding: received, as: UTF8.self), false)
        }
    }

    /// Runs `body` on an OS thread of its own: the timings measured there do not depend on the test pool, which
    /// other suites' blocking tests can keep busy for seconds on a 2-core machine.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }

    @Test("a head dripped a byte at a time is cut at the header timeout; an idle connection at the idle timeout; others are served")
    func slowClients() async throws {
        try await withServer(env: ["MEDIAWORKER_HTTP_HEADER_TIMEOUT": "1", "MEDIAWORKER_HTTP_IDLE_TIMEOUT": "2", "MEDIAWORKER_WORKERS": "0"], .live) { server in
            let slow = try RawConnection(port: server.port)
            let idle = try RawConnection(port: server.port)
            let opened = Date()
            async let dripped = Self.onThread { () -> TimeInterval? in
                let started = Date()
                slow.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                for _ in 0..<100 {
                    usleep(100_000)
                    if !slow.send("X") || slow.readUntilClosed(seconds: 0.01).closed { return Date().timeIntervalSince(started) }
                }
                return nil
            }
            // A request from someone else is answered while the slow head drips.
            #expect(try await server.request("GET", "/healthz", auth: false).status == 200)
            let cut = await dripped
            // 1 s after its first byte, plus slack for a loaded machine; without the timeout, never.
            #expect(cut != nil && cut! < 8, "the slow head was cut after \(cut.map { "\($0) s" } ?? "never")")
            let idleOutcome = await Self.onThread { idle.readUntilClosed(seconds: 8) }
            #expect(idleOutcome.closed, "the idle connection stayed open")
            #expect(Date().timeIntervalSince(opened) >= 1.5, "the idle connection was closed before the idle timeout")
        }
    }

    @Test("a keep-alive connection: quick requests pass, a later slow head is cut too")
    func slowSecondRequest() async throws {
        try await withServer(env: ["MEDIAWORKER_HTTP_HEADER_TIMEOUT": "1", "MEDIAWORKER_WORKERS": "0"], .live) { server in
            let connection = try RawConnection(port: server.port)
            connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            try await Task.sleep(for: .milliseconds(300))
            connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let first = connection.readUntilClosed(seconds: 0.5)
            #expect(first.text.components(separatedBy: "HTTP/1.1 200").count == 3, "two answers: \(first.text)")
            let closedAfter = await Self.onThread { () -> TimeInterval? in
                connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                let started = Date()
                while Date().timeIntervalSince(started) < 10 {
                    if !connection.send("y") || connection.readUntilClosed(seconds: 0.2).closed { return Date().timeIntervalSince(started) }
                }
                return nil
            }
            #expect(closedAfter != nil && closedAfter! < 8, "cut after \(closedAfter.map { "\($0) s" } ?? "never")")
        }
    }

    /// What a body dripper saw: the seconds from its first body byte until the server closed the connection (nil:
    /// still open when the dripper gave up) and what the server answered.
    struct Dripped: Sendable {
        var cutAfter: TimeInterval?
        var answer: String
    }

    /// Sends `head` and then body bytes: `first` at once, then one byte every `every` seconds, until the server closes
    /// the connection or `limit` seconds pass.
    static func drip(_ connection: RawConnection, head: String, first: Int = 1, every: Double, limit: Double) -> Dripped {
        connection.send(head + String(repeating: "x", count: first))
        let started = Date()
        var answer = ""
        while Date().timeIntervalSince(started) < limit {
            let read = connection.readUntilClosed(seconds: every)
            answer += read.text
            if read.closed || !connection.send("x") { return Dripped(cutAfter: Date().timeIntervalSince(started), answer: answer) }
        }
        return Dripped(cutAfter: nil, answer: answer)
    }

    static func uploadHead(port: Int, length: Int, token: String? = ServerProcess.token) -> String {
        "POST /v1/attachments?from=visitor HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/octet-stream\r\n"
            + (token.map { "Authorization: Bearer \($0)\r\n" } ?? "") + "Content-Length: \(length)\r\n\r\n"
    }

    @Test("a request body that stops, or drips slower than MEDIAWORKER_HTTP_MIN_BODY_RATE, is answered 408 and closed; a slow but steady upload and a normal one are accepted; no cut body becomes a job")
    func slowBodies() async throws {
        try await withServer(env: ["MEDIAWORKER_HTTP_BODY_TIMEOUT": "2", "MEDIAWORKER_WORKERS": "0"], .live) { server in
            let port = server.port
            let stalled = try RawConnection(port: port), dripper = try RawConnection(port: port)
            // Stops after 10 bytes of 100,000: only the no-progress rule can cut it.
            async let stalledOutcome = Self.onThread {
                Self.drip(stalled, head: Self.uploadHead(port: port, length: 100_000), first: 10, every: 30, limit: 30)
            }
            // A byte every 0.25 s (4 bytes/s): never 2 s without a byte, so only the rate rule (1,024 bytes/s by default,
            // checked once the body has taken 2 s) can cut it.
            async let drippedOutcome = Self.onThread {
                Self.drip(dripper, head: Self.uploadHead(port: port, length: 100_000), every: 0.25, limit: 30)
            }
            // Slow but within the rules: 8 KiB every 0.4 s (20 KiB/s), 10 pieces.
            let steady = try RawConnection(port: port)
            let steadyAnswer = await Self.onThread { () -> String in
                let piece = String(repeating: "s", count: 8192)
                steady.send(Self.uploadHead(port: port, length: 10 * 8192)
                    .replacingOccurrences(of: "Content-Type:", with: "Connection: close\r\nContent-Type:"))
                for _ in 0..<10 {
                    steady.send(piece)
                    usleep(400_000)
                }
                return steady.readUntilClosed(seconds: 10).text
            }
            #expect(steadyAnswer.hasPrefix("HTTP/1.1 202"), "a slow but steady upload: \(steadyAnswer.prefix(200))")
            let normal = try await server.request("POST", "/v1/attachments?from=visitor", body: Data(repeating: 7, count: 1 << 20))
            #expect(normal.status == 202, "a normal 1 MiB upload while others drip")

            for (name, outcome) in [("stalled", await stalledOutcome), ("dripping", await drippedOutcome)] {
                // 2 s of waiting (or 2 s and the rate), plus slack for a loaded machine; without the rules, never.
                #expect(outcome.cutAfter != nil && outcome.cutAfter! < 20, "\(name): cut after \(outcome.cutAfter.map { "\($0) s" } ?? "never")")
                #expect(outcome.cutAfter == nil || outcome.cutAfter! > 1.5, "\(name): cut before the body timeout")
                #expect(outcome.answer.hasPrefix("HTTP/1.1 408"), "\(name): \(outcome.answer.prefix(200))")
                #expect(outcome.answer.contains("request_timeout") && outcome.answer.lowercased().contains("connection: close"),
                        "\(name): \(outcome.answer)")
            }
            // The two accepted uploads are the only jobs: a cut body is never taken for a whole one.
            let counts = try await server.storage.queue().activeCounts()
            #expect(counts[.queued] == 2, "jobs: \(counts)")
            #expect(try await server.request("GET", "/healthz", auth: false).status == 200)
        }
    }

    @Test("drippers do not keep connection slots: with MEDIAWORKER_HTTP_MAX_CONNECTIONS=4 taken by four body drippers (with and without a token), a fifth client is served once they are cut")
    func drippersFreeTheirSlots() async throws {
        // A header timeout past the test's horizon: after an early answer (the 401) the head clock would otherwise
        // take the dripped body for a new request's head and cut it at its own timeout.
        let server = try ServerProcess(env: ["MEDIAWORKER_HTTP_MAX_CONNECTIONS": "4", "MEDIAWORKER_HTTP_BODY_TIMEOUT": "2", "MEDIAWORKER_HTTP_HEADER_TIMEOUT": "120", "MEDIAWORKER_WORKERS": "0"])
        let port = server.port
        let drippers = try (0..<4).map { _ in try RawConnection(port: port) }
        // Each is served a first request, so all four hold a slot before the fifth connects (connections waiting
        // together in the backlog would be accepted in one go).
        for connection in drippers {
            connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(connection.read(until: "\r\n\r\nok\n", seconds: 30).hasPrefix("HTTP/1.1 200"))
        }
        let outcomes = await withTaskGroup(of: Dripped.self) { group in
            for (i, connection) in drippers.enumerated() {
                // Without a token the 401 is answered at once, but the body is still read (to reach the next request).
                let head = Self.uploadHead(port: port, length: 1_000_000, token: i % 2 == 0 ? ServerProcess.token : nil)
                group.addTask { await Self.onThread { Self.drip(connection, head: head, every: 0.25, limit: 30) } }
            }
            // The fifth connection waits in the backlog while the four hold every slot.
            let fifth = try? RawConnection(port: port)
            fifth?.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            let served = await Self.onThread { fifth?.readUntilClosed(seconds: 30) }
            #expect(served?.text.hasPrefix("HTTP/1.1 200") == true, "the fifth client: \(served?.text.prefix(100) ?? "no connection")")
            var all: [Dripped] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        for outcome in outcomes {
            #expect(outcome.cutAfter != nil && outcome.cutAfter! < 20, "cut after \(outcome.cutAfter.map { "\($0) s" } ?? "never")")
        }
        #expect(outcomes.filter { $0.answer.hasPrefix("HTTP/1.1 408") }.count == 2, "the token holders get 408: \(outcomes.map { $0.answer.prefix(12) })")
        #expect(outcomes.filter { $0.answer.hasPrefix("HTTP/1.1 401") }.count == 2, "the others their 401, then the cut")
        #expect(try await server.request("GET", "/healthz", auth: false).status == 200)
    }

    @Test("malformed body limits, business numbers and console limits are refused at start-up, naming the variable")
    func malformedLimits() throws {
        let defaults = try ServerSettings(environment: [:])
        #expect(defaults.bodyTimeout == .seconds(10) && defaults.minBodyRate == 1024 && defaults.metricsBusinessNumbers.isEmpty)
        let set = try ServerSettings(environment: ["MEDIAWORKER_HTTP_BODY_TIMEOUT": "2.5", "MEDIAWORKER_HTTP_MIN_BODY_RATE": "0",
                                                   "MEDIAWORKER_METRICS_BUSINESS_NUMBERS": "+15550001, +15550002"])
        #expect(set.bodyTimeout == .seconds(2.5) && set.minBodyRate == 0 && set.metricsBusinessNumbers == ["+15550001", "+15550002"])
        for (key, bad) in [("MEDIAWORKER_HTTP_BODY_TIMEOUT", "0"), ("MEDIAWORKER_HTTP_BODY_TIMEOUT", "soon"),
                           ("MEDIAWORKER_HTTP_MIN_BODY_RATE", "-1"), ("MEDIAWORKER_HTTP_MIN_BODY_RATE", "1.5"),
                           ("MEDIAWORKER_METRICS_BUSINESS_NUMBERS", "+15550001,15550002"),
                           ("MEDIAWORKER_METRICS_BUSINESS_NUMBERS", "+1555abc")] {
            Self.expectRefused(key, bad) { _ = try ServerSettings(environment: [key: bad]) }
        }
        for (key, bad) in [("MEDIAWORKER_CONSOLE_LOGIN_CONCURRENCY", "0"), ("MEDIAWORKER_CONSOLE_LOGIN_CONCURRENCY", "many"),
                           ("MEDIAWORKER_CONSOLE_ORIGIN", "ftp://ops.example.com"),
                           ("MEDIAWORKER_CONSOLE_ORIGIN", "https://ops.example.com/console"),
                           ("MEDIAWORKER_CONSOLE_ORIGIN", "http://ops.example.com")] {
            Self.expectRefused(key, bad) { _ = try ConsoleSettings(environment: [key: bad]) }
        }
        // Plain http off loopback only when insecure cookies are asked for.
        #expect(try ConsoleSettings(environment: ["MEDIAWORKER_CONSOLE_ORIGIN": "http://ops.example.com",
                                                  "MEDIAWORKER_CONSOLE_SECURE_COOKIE": "false"]).origin?.description == "http://ops.example.com")
        #expect(try ConsoleSettings(environment: ["MEDIAWORKER_CONSOLE_ORIGIN": "HTTPS://Ops.Example.com:443/"]).origin?.description
                == "https://ops.example.com")
    }

    /// `read` refuses `key=bad` with a `SettingsError` naming `key`.
    static func expectRefused(_ key: String, _ bad: String, _ read: () throws -> Void) {
        do {
            try read()
            Issue.record("\(key)=\(bad) was accepted")
        } catch let error as SettingsError {
            #expect(error.key == key, "\(key)=\(bad): \(error)")
        } catch {
            Issue.record("\(key)=\(bad): \(error)")
        }
    }

    @Test("a request head over MEDIAWORKER_HTTP_MAX_HEAD_BYTES is refused")
    func oversizedHead() async throws {
        try await withServer(env: ["MEDIAWORKER_HTTP_MAX_HEAD_BYTES": "2048", "MEDIAWORKER_WORKERS": "0"], .live) { server in
            let connection = try RawConnection(port: server.port)
            connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: \(String(repeating: "a", count: 8192))\r\n\r\n")
            let answer = connection.readUntilClosed(seconds: 3)
            #expect(answer.closed)
            #expect(!answer.text.contains("200 OK"), "answered \(answer.text.prefix(80))")
            #expect(try await server.request("GET", "/healthz", auth: false).status == 200)
        }
    }

    @Test("configured signing keys and callback secrets shorter than 32 bytes are refused at start-up")
    func weakSecrets() throws {
        for (env, name) in [(["MEDIAWORKER_SIGNING_KEYS": "short-key"], "MEDIAWORKER_SIGNING_KEYS"),
                            (["MEDIAWORKER_CALLBACK_URL": "http://127.0.0.1:9/hook"], "MEDIAWORKER_CALLBACK_SECRET"),
                            (["MEDIAWORKER_CALLBACK_URL": "http://127.0.0.1:9/hook", "MEDIAWORKER_CALLBACK_SECRET": "s3cret"],
                             "MEDIAWORKER_CALLBACK_SECRET")] {
            let process = Process()
            process.executableURL = TestBinary.mediaworker
            let folder = try TestBinary.temporaryFolder("mw-weak")
            defer { try? FileManager.default.removeItem(at: folder) }
            process.arguments = ["serve", "--port", "0", "--data", folder.path]
            process.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus != 0, "\(env) was accepted")
            #expect(text.contains(name) && text.contains("32 bytes"), "\(text)")
        }
    }

    @Test("with MEDIAWORKER_METRICS_TOKEN, /metrics needs it; /readyz names no internals")
    func metricsToken() async throws {
        let token = "metrics-token-for-the-scraper"
        try await withServer(env: ["MEDIAWORKER_METRICS_TOKEN": token, "MEDIAWORKER_WORKERS": "0"]) { server in
            #expect(try await server.request("GET", "/metrics", auth: false).status == 401)
            #expect(try await server.request("GET", "/metrics", headers: ["Authorization": "Bearer wrong"], auth: false).status == 401)
            #expect(try await server.request("GET", "/metrics", headers: ["Authorization": "Bearer \(token)"], auth: false).status == 200)
            let ready = try await server.request("GET", "/readyz", auth: false)
            #expect(ready.status == 200)
            let body = String(decoding: ready.body, as: UTF8.self)
            #expect(!body.contains(server.folder.path) && !body.contains("/tmp"), "\(body)")
        }
    }
}
