import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MediaTestSupport

/// A real `mediaworker serve` on a free loopback port with its own storage (SQLite + files, or PostgreSQL).
final class ServerProcess: HTTPTestServer, @unchecked Sendable {
    let process = Process()
    let storage: TestStorage
    /// The server's standard error (its log at `warning` and above).
    let logPath: String
    var folder: URL { storage.folder }
    let base: URL
    static let token = "test-token"
    static let signingKeys = "key-2026-11-6c1f0e2a9b8d4c7e5f3a1b0c9d8e7f6a,key-2026-10-3b2a1c0d9e8f7a6b5c4d3e2f1a0b9c8d"
    let session: URLSession

    /// Whether stopping this server also removes its storage's folder.
    private let ownsStorage: Bool

    convenience init(_ backend: TestBackend = .sqlite, env extra: [String: String] = [:]) throws {
        try self.init(storage: try backend.make("mw-serve"), ownsStorage: true, env: extra)
    }

    /// A server on `storage`, which other processes of the test may share.
    init(storage: TestStorage, ownsStorage: Bool = false, env extra: [String: String] = [:]) throws {
        self.storage = storage
        self.ownsStorage = ownsStorage
        process.executableURL = TestBinary.mediaworker
        process.arguments = ["serve", "--port", "0", "--data", storage.folder.path]
        var env = ProcessInfo.processInfo.environment
        env["MEDIAWORKER_TOKENS"] = Self.token
        env["MEDIAWORKER_SIGNING_KEYS"] = Self.signingKeys
        env["MEDIAWORKER_LOG_LEVEL"] = "warning"
        env["MEDIAWORKER_WORKERS"] = "2"
        for (k, v) in storage.environment { env[k] = v }
        for (k, v) in extra { env[k] = v }
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        // Its log (warnings and errors) beside its data, for a failing test to quote (`logTail`).
        logPath = storage.folder.appendingPathComponent("serve-\(UUID().uuidString.prefix(8)).log").path
        try? FileManager.default.createDirectory(at: storage.folder, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath) ?? FileHandle.nullDevice
        try process.run()
        // The first stdout line says where it listens.
        var line = Data()
        let handle = out.fileHandleForReading
        while !line.contains(0x0A) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let r = text.range(of: "http://"), let url = URL(string: String(text[r.lowerBound...]).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ServerDidNotStart(output: text)
        }
        base = url
        let config = URLSessionConfiguration.ephemeral
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.urlCache = nil
        session = URLSession(configuration: config)
    }

    /// The last lines of the server's log.
    func logTail(_ lines: Int = 15) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    deinit {
        stop()
        if ownsStorage { storage.remove() }
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    var port: Int { base.port ?? 0 }

    /// The server's resident memory, from /proc.
    var residentBytes: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:] }
        func header(_ name: String) -> String? { headers.first { $0.key.lowercased() == name.lowercased() }?.value }
    }

    func request(_ method: String, _ path: String, body: Data?, headers: [String: String],
                 auth: Bool) async throws -> Reply {
        var request = URLRequest(url: URL(string: path, relativeTo: base)!.absoluteURL)
        request.httpMethod = method
        request.httpBody = body
        if auth { request.setValue("Bearer \(Self.token)", forHTTPHeaderField: "Authorization") }
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (k, v) in http.allHeaderFields { fields["\(k)"] = "\(v)" }
        return Reply(status: http.statusCode, headers: fields, body: data)
    }
}

/// A server a test talks HTTP to: a `mediaworker serve` process or the application in-process (`TestServer`).
protocol HTTPTestServer: Sendable {
    func request(_ method: String, _ path: String, body: Data?, headers: [String: String], auth: Bool) async throws
        -> ServerProcess.Reply
}

extension HTTPTestServer {
    func request(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:],
                 auth: Bool = true) async throws -> ServerProcess.Reply {
        try await request(method, path, body: body, headers: headers, auth: auth)
    }

    /// Uploads a fixture and waits until its job is final; returns the job JSON.
    func uploadAndWait(_ file: String, query: String) async throws -> [String: Any] {
        let bytes = try Data(contentsOf: FixtureManifest.folder.appendingPathComponent(file))
        let posted = try await request("POST", "/v1/attachments?\(query)", body: bytes)
        guard let id = posted.json["id"] as? String else { throw Unexpected(reply: posted) }
        for _ in 0..<600 {
            let job = try await request("GET", "/v1/jobs/\(id)").json
            if ["accepted", "rejected", "dead"].contains(job["state"] as? String ?? "") { return job }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw Unexpected(reply: posted)
    }
}

struct ServerDidNotStart: Error { var output: String }
struct Unexpected: Error { var reply: ServerProcess.Reply }
