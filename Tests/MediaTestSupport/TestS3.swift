import Foundation

/// The real S3 server the tests use: SeaweedFS, started by `make test` with `scripts/s3_server.sh` (which also says
/// what S3 answers while its volume server or filer is down, and for how long).
///
/// Every call that runs the script blocks its thread until the script is done (a bucket: ~0.1 s; `stopFiler`: ~6.5 s;
/// a new server: ~2 s): suites that use it run `.offCooperativePool`.
public enum TestS3 {
    /// `scripts/s3_server.sh`, found from this file's place in the checkout.
    public static let script: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/s3_server.sh")

    /// The variables `make test` sets for the server it started.
    public static let variables = ["MEDIAWORKER_TEST_S3_ENDPOINT", "MEDIAWORKER_TEST_S3_ACCESS_KEY",
                                   "MEDIAWORKER_TEST_S3_SECRET_KEY", "MEDIAWORKER_TEST_S3_DIR"]

    /// The server `make test` started (shared by every suite), from `MEDIAWORKER_TEST_S3_*`.
    public static func server() throws -> TestS3Server {
        let environment = ProcessInfo.processInfo.environment
        let values = variables.map { environment[$0] ?? "" }
        let missing = zip(variables, values).filter { $0.1.isEmpty }.map(\.0)
        guard missing.isEmpty else { throw MissingTestS3(missing: missing) }
        return TestS3Server(endpoint: values[0], accessKey: values[1], secretKey: values[2],
                            dir: URL(fileURLWithPath: values[3], isDirectory: true))
    }

    /// A new server of the caller's own (`scripts/s3_server.sh start` in a new temporary folder), for a test that stops
    /// its parts while the other suites keep using the shared one (the outage suites run beside them). Remove it with
    /// `remove()`.
    public static func startServer(_ prefix: String = "mw-s3") throws -> TestS3Server {
        let dir = try TestBinary.temporaryFolder(prefix)
        do {
            let endpoint = try run("start", dir.path).trimmingCharacters(in: .whitespacesAndNewlines)
            func read(_ name: String) throws -> String {
                try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return TestS3Server(endpoint: endpoint, accessKey: try read("access_key"),
                                secretKey: try read("secret_key"), dir: dir)
        } catch {
            _ = try? run("stop", dir.path)
            throw error
        }
    }

    /// Runs `scripts/s3_server.sh` with `arguments` to its end; its standard output, or `ScriptFailed` (with its
    /// standard error) when it exits non-zero. The script leaves the `weed` processes it starts no descriptor of
    /// ours, so waiting for it ends when it does.
    @discardableResult
    public static func run(_ arguments: String...) throws -> String {
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("mw-s3-\(UUID().uuidString).stderr")
        guard FileManager.default.createFile(atPath: errors.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: errors.path])
        }
        defer { try? FileManager.default.removeItem(at: errors) }
        let errorHandle = try FileHandle(forWritingTo: errors)
        defer { try? errorHandle.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.path] + arguments
        let output = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = errorHandle
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let stderr = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw ScriptFailed(arguments: arguments, status: process.terminationStatus, stderr: stderr)
        }
        return String(decoding: data, as: UTF8.self)
    }

    public struct ScriptFailed: Error, CustomStringConvertible {
        public var arguments: [String]
        public var status: Int32
        public var stderr: String

        public var description: String {
            "scripts/s3_server.sh \(arguments.joined(separator: " ")) failed (exit \(status)): \(stderr)"
        }
    }
}

public struct MissingTestS3: Error, CustomStringConvertible {
    public var missing: [String]

    public var description: String {
        "\(missing.joined(separator: ", ")) not set: run `make test` (it starts an S3 server), or start one with " +
            "`scripts/s3_server.sh start DIR` and export MEDIAWORKER_TEST_S3_ENDPOINT (what it prints), " +
            "MEDIAWORKER_TEST_S3_ACCESS_KEY and MEDIAWORKER_TEST_S3_SECRET_KEY (DIR/access_key, DIR/secret_key) and " +
            "MEDIAWORKER_TEST_S3_DIR (DIR); see docs/development.md"
    }
}

/// One S3 test server: where it listens, its credentials and its folder (the script's DIR).
public struct TestS3Server: Sendable {
    /// `http://127.0.0.1:PORT`.
    public let endpoint: String
    public let accessKey: String
    public let secretKey: String
    /// The server's folder: its data, logs, pids and credentials.
    public let dir: URL

    public init(endpoint: String, accessKey: String, secretKey: String, dir: URL) {
        self.endpoint = endpoint
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.dir = dir
    }

    /// A new, empty bucket of the caller's own: `prefix` (lower-cased, only letters, digits and dashes kept) and a
    /// random suffix, 3–63 characters in all.
    public func makeBucket(_ prefix: String = "mw-test") throws -> String {
        let name = Self.bucketName(prefix)
        try TestS3.run("bucket", dir.path, name)
        return name
    }

    /// A valid, unique bucket name starting with `prefix` (see `makeBucket`).
    public static func bucketName(_ prefix: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        var head = String(prefix.lowercased().map { allowed.contains($0) ? $0 : "-" })
        while head.hasPrefix("-") { head.removeFirst() }
        head = String(head.prefix(46))
        while head.hasSuffix("-") { head.removeLast() }
        let suffix = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        return head.isEmpty ? "mw-\(suffix)" : "\(head)-\(suffix)"
    }

    /// The variables a `mediaworker` process (or the settings reader) needs to keep its blobs in `bucket` on this
    /// server, under `prefix` when given.
    public func environment(bucket: String, prefix: String? = nil) -> [String: String] {
        var store = "s3://\(bucket)"
        if let prefix, !prefix.isEmpty { store += "/\(prefix)" }
        return [
            "MEDIAWORKER_STORE": store,
            "MEDIAWORKER_S3_ENDPOINT": endpoint,
            "AWS_ACCESS_KEY_ID": accessKey,
            "AWS_SECRET_ACCESS_KEY": secretKey,
            "AWS_REGION": "us-east-1",
        ]
    }

    /// Stops the volume server (SIGTERM; ~2 s): metadata requests still answer, object bytes do not.
    public func stopVolume() throws { try TestS3.run("stop-volume", dir.path) }

    /// Starts the volume server again on its port; returns once a signed PUT and GET work again (~0.5 s).
    public func startVolume() throws { try TestS3.run("start-volume", dir.path) }

    /// Stops the filer (SIGTERM, SIGKILL after 5 s: ~6.5 s): every S3 request fails meanwhile.
    public func stopFiler() throws { try TestS3.run("stop-filer", dir.path) }

    /// Starts the filer again on its port; returns once a signed PUT and GET work again (~0.5 s).
    public func startFiler() throws { try TestS3.run("start-filer", dir.path) }

    /// Stops a server from `TestS3.startServer` and deletes its folder (never the shared one of `TestS3.server()`).
    public func remove() {
        _ = try? TestS3.run("stop", dir.path)
        try? FileManager.default.removeItem(at: dir)
    }
}
