import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MediaQueue
@testable import MediaServer
import MediaTestSupport
import Synchronization
import Testing

/// An outbox in memory: what the dispatcher claimed, delivered and failed.
final class MemoryOutbox: EventOutbox {
    struct State {
        var pending: [OutboxEvent] = []
        var due: [String: Date] = [:]
        var delivered: [String] = []
        var failures: [(id: String, error: String)] = []
    }
    let state: Mutex<State>

    init(_ events: [OutboxEvent]) { state = Mutex(State(pending: events)) }

    func claimEvents(limit: Int, lease: TimeInterval, now: Date) async throws -> [OutboxEvent] {
        state.withLock { s in
            let claimed = s.pending.filter { (s.due[$0.id] ?? .distantPast) <= now }.prefix(limit)
            for e in claimed { s.due[e.id] = now.addingTimeInterval(lease) }
            return Array(claimed)
        }
    }

    func markDelivered(id: String, now: Date) async throws {
        state.withLock { s in
            s.pending.removeAll { $0.id == id }
            s.delivered.append(id)
        }
    }

    func markFailed(id: String, error: String, retryAt: Date) async throws {
        state.withLock { s in
            s.failures.append((id, error))
            s.due[id] = retryAt
            if let i = s.pending.firstIndex(where: { $0.id == id }) { s.pending[i].attempts += 1 }
        }
    }

    func pendingEvents() async throws -> Int { state.withLock { $0.pending.count } }
}

/// The dispatcher in process, against a Hummingbird receiver on loopback.
@Suite(.serialized) struct WebhookDispatcherTests {
    /// Paths the receiver was asked for, with the signature headers of each.
    final class Receiver: Sendable {
        struct Hit: Sendable { var path: String; var eventID: String; var timestamp: String; var signature: String; var body: Data }
        let hits = Mutex<[Hit]>([])

        func router() -> Router<BasicRequestContext> {
            let router = Router()
            @Sendable func record(_ request: Request) async throws {
                let body = try await request.body.collect(upTo: 1 << 20)
                let hit = Hit(path: request.uri.path,
                              eventID: request.headers[HTTPField.Name("X-Mediaworker-Event-Id")!] ?? "",
                              timestamp: request.headers[HTTPField.Name("X-Mediaworker-Timestamp")!] ?? "",
                              signature: request.headers[HTTPField.Name("X-Mediaworker-Signature")!] ?? "",
                              body: Data(buffer: body))
                hits.withLock { $0.append(hit) }
            }
            router.post("/hook") { request, _ -> HTTPResponse.Status in try await record(request); return .noContent }
            router.post("/moved") { request, _ -> Response in
                try await record(request)
                return Response.redirect(to: "/elsewhere", type: .temporary)
            }
            router.post("/elsewhere") { request, _ -> HTTPResponse.Status in try await record(request); return .noContent }
            router.post("/broken") { request, _ -> HTTPResponse.Status in try await record(request); return .internalServerError }
            return router
        }
    }

    static func event(_ id: String) -> OutboxEvent {
        OutboxEvent(id: id, jobID: "job-" + id, payload: #"{"id":"\#(id)","type":"job.finished"}"#, attempts: 1,
                    createdAt: Date())
    }

    /// Runs a dispatcher to `path` until `done` holds (or 20 s pass), then cancels it; answers whether `run()`
    /// returned (its HTTP client shut down) once cancelled.
    static func dispatch(_ outbox: MemoryOutbox, port: Int, path: String, secret: String,
                         until done: @escaping @Sendable (MemoryOutbox.State) -> Bool) async throws {
        let dispatcher = WebhookDispatcher(outbox: outbox, url: URL(string: "http://127.0.0.1:\(port)\(path)")!, secret: secret,
                                           logger: Logger(label: "test"), idlePoll: .milliseconds(20), timeout: .seconds(5))
        let running = Task { try await dispatcher.run() }
        let deadline = ContinuousClock.now + .seconds(20)
        while !outbox.state.withLock({ done($0) }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        running.cancel()
        try await running.value
    }

    @Test("events are POSTed signed to the callback URL; a 3xx is not followed but failed and retried later, as is a 5xx; the client is shut down with the service")
    func deliveries() async throws {
        let port = CallbackTests.freePort()
        let receiver = Receiver()
        let app = Application(router: receiver.router(), configuration: .init(address: .hostname("127.0.0.1", port: port)))
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        let secret = "callback-secret-5e4d3c2b1a0f9e8d7c6b5a49"

        // Delivered (the dispatcher's own retries cover the receiver's start-up).
        let outbox = MemoryOutbox([Self.event("e1"), Self.event("e2")])
        try await Self.dispatch(outbox, port: port, path: "/hook", secret: secret) { $0.pending.isEmpty }
        #expect(outbox.state.withLock { $0.delivered.sorted() } == ["e1", "e2"])
        let hits = receiver.hits.withLock { $0 }.filter { $0.path == "/hook" }
        #expect(Set(hits.map(\.eventID)) == ["e1", "e2"])
        for hit in hits {
            let mac = HMAC<SHA256>.authenticationCode(for: Data("\(hit.timestamp).".utf8) + hit.body,
                                                      using: SymmetricKey(data: Data(secret.utf8)))
            #expect(hit.signature == "sha256=" + mac.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
            #expect(hit.body == Data(Self.event(hit.eventID).payload.utf8))
        }

        // A redirect is a refusal: the event stays, nothing reaches the redirect's target.
        let moved = MemoryOutbox([Self.event("e3")])
        try await Self.dispatch(moved, port: port, path: "/moved", secret: secret) { !$0.failures.isEmpty }
        #expect(receiver.hits.withLock { $0 }.contains { $0.path == "/moved" && $0.eventID == "e3" })
        #expect(!receiver.hits.withLock { $0 }.contains { $0.path == "/elsewhere" })
        #expect(moved.state.withLock { $0.delivered }.isEmpty)
        #expect(moved.state.withLock { $0.failures.first?.error } == "the callback answered HTTP 307")
        #expect(try await moved.pendingEvents() == 1)

        // A server error likewise, with its next try pushed back.
        let broken = MemoryOutbox([Self.event("e4")])
        try await Self.dispatch(broken, port: port, path: "/broken", secret: secret) { !$0.failures.isEmpty }
        #expect(broken.state.withLock { $0.failures.map(\.error) } == ["the callback answered HTTP 500"])
        #expect(broken.state.withLock { $0.due["e4"] ?? .distantPast } > Date())
    }
}
