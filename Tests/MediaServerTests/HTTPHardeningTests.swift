import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MediaTestSupport
import Testing

/// Slow and oversized clients, weak secrets, the metrics token: against a real `mediaworker serve`.
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
        let server = try ServerProcess(env: ["MEDIAWORKER_HTTP_HEADER_TIMEOUT": "1", "MEDIAWORKER_HTTP_IDLE_TIMEOUT": "2",
                                             "MEDIAWORKER_WORKERS": "0"])
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

    @Test("a keep-alive connection: quick requests pass, a later slow head is cut too")
    func slowSecondRequest() async throws {
        let server = try ServerProcess(env: ["MEDIAWORKER_HTTP_HEADER_TIMEOUT": "1", "MEDIAWORKER_WORKERS": "0"])
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

    @Test("a request head over MEDIAWORKER_HTTP_MAX_HEAD_BYTES is refused")
    func oversizedHead() async throws {
        let server = try ServerProcess(env: ["MEDIAWORKER_HTTP_MAX_HEAD_BYTES": "2048", "MEDIAWORKER_WORKERS": "0"])
        let connection = try RawConnection(port: server.port)
        connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: \(String(repeating: "a", count: 8192))\r\n\r\n")
        let answer = connection.readUntilClosed(seconds: 3)
        #expect(answer.closed)
        #expect(!answer.text.contains("200 OK"), "answered \(answer.text.prefix(80))")
        #expect(try await server.request("GET", "/healthz", auth: false).status == 200)
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
        let server = try ServerProcess(env: ["MEDIAWORKER_METRICS_TOKEN": token, "MEDIAWORKER_WORKERS": "0"])
        #expect(try await server.request("GET", "/metrics", auth: false).status == 401)
        #expect(try await server.request("GET", "/metrics", headers: ["Authorization": "Bearer wrong"], auth: false).status == 401)
        #expect(try await server.request("GET", "/metrics", headers: ["Authorization": "Bearer \(token)"], auth: false).status == 200)
        let ready = try await server.request("GET", "/readyz", auth: false)
        #expect(ready.status == 200)
        let body = String(decoding: ready.body, as: UTF8.self)
        #expect(!body.contains(server.folder.path) && !body.contains("/tmp"), "\(body)")
    }
}
