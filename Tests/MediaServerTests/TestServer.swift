import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MediaApplication
import MediaTestSupport
import NIOCore
import Prometheus
import Synchronization

/// The application `mediaworker serve` runs — built by the same composition root (`buildApplication`), with its
/// worker, helper pool, PostgreSQL client and callback dispatcher as services — in this test's process, driven
/// through HummingbirdTesting. `.router` hands requests to the router directly; `.live` opens a real port (for tests
/// that speak raw HTTP/1.1 or need the hardened channel). Files are still decoded only in helper processes (the
/// built `mediaworker helper`).
struct TestServer: HTTPTestServer {
    let client: any TestClientProtocol
    let storage: TestStorage
    var folder: URL { storage.folder }
    static let token = ServerProcess.token

    /// The live server's port (`.live` only).
    var port: Int {
        guard let port = client.port else { preconditionFailure("a raw connection needs withServer(…, .live)") }
        return port
    }

    typealias Reply = ServerProcess.Reply

    func request(_ method: String, _ path: String, body: Data?, headers: [String: String],
                 auth: Bool) async throws -> Reply {
        var fields = HTTPFields()
        if auth { fields[.authorization] = "Bearer \(Self.token)" }
        for (name, value) in headers {
            guard let field = HTTPField.Name(name) else { continue }
            fields[field] = value
        }
        if let body, fields[.contentLength] == nil { fields[.contentLength] = "\(body.count)" }
        let response = try await client.executeRequest(uri: path, method: HTTPRequest.Method(method)!, headers: fields,
                                                       body: body.map { ByteBuffer(bytes: $0) })
        var replyHeaders: [String: String] = [:]
        for field in response.headers { replyHeaders[field.name.canonicalName] = field.value }
        return Reply(status: response.status.code, headers: replyHeaders, body: Data(buffer: response.body))
    }
}

/// Builds the service on `storage` (new and removed afterwards when nil) with the settings `ServerProcess` gives a
/// `mediaworker serve` plus `env`, runs it for `body`, and shuts it down gracefully (the worker drains).
func withServer<T: Sendable>(_ backend: TestBackend = .sqlite, env extra: [String: String] = [:], _ setup: TestingSetup = .router,
                             storage given: TestStorage? = nil,
                             _ body: @Sendable (TestServer) async throws -> T) async throws -> T {
    TestLogging.bootstrap()
    let storage = try given ?? backend.make("mw-app")
    defer { if given == nil { storage.remove() } }
    var environment = ProcessInfo.processInfo.environment
    environment["MEDIAWORKER_TOKENS"] = ServerProcess.token
    environment["MEDIAWORKER_SIGNING_KEYS"] = ServerProcess.signingKeys
    environment["MEDIAWORKER_WORKERS"] = "2"
    for (k, v) in storage.environment { environment[k] = v }
    for (k, v) in extra { environment[k] = v }
    var configuration = ApplicationConfiguration(environment: environment, dataFolder: storage.folder.path, port: 0)
    configuration.helperExecutable = TestBinary.mediaworker.path
    var logger = Logger(label: "mediaworker")
    logger.logLevel = .warning
    let app = try await buildApplication(configuration, registry: PrometheusCollectorRegistry(), logger: logger)
    return try await app.test(setup) { client in
        try await body(TestServer(client: client, storage: storage))
    }
}

/// The test process's log: warnings and errors on standard error, bootstrapped once.
enum TestLogging {
    private static let done = Mutex(false)

    static func bootstrap() {
        let first = done.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
    }
}
