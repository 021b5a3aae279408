import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import MediaQueue
import MediaTestSupport
import Testing

/// Receives callbacks on a fixed loopback port and records them.
final class CallbackReceiver: @unchecked Sendable {
    struct Delivery { var eventID: String; var timestamp: String; var signature: String; var body: Data }
    private var deliveries: [Delivery] = []
    private let lock = NSLock()

    var received: [Delivery] { lock.lock(); defer { lock.unlock() }; return deliveries }

    private func record(_ d: Delivery) {
        lock.lock()
        deliveries.append(d)
        lock.unlock()
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 20)
            let d = Delivery(eventID: request.headers[HTTPField.Name("X-Mediaworker-Event-Id")!] ?? "",
                             timestamp: request.headers[HTTPField.Name("X-Mediaworker-Timestamp")!] ?? "",
                             signature: request.headers[HTTPField.Name("X-Mediaworker-Signature")!] ?? "",
                             body: Data(buffer: body))
            self.record(d)
            return .noContent
        }
        return router
    }
}

@Suite(.serialized, .offCooperativePool) struct CallbackTests {
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test("a callback receiver that is down, then up, receives every event, signed, once per event id", arguments: TestBackend.allCases)
    func downThenUp(_ backend: TestBackend) async throws {
        let port = Self.freePort()
        let secret = "callback-secret-5e4d3c2b1a0f9e8d7c6b5a49"
        try await withServer(backend, env: ["MEDIAWORKER_CALLBACK_URL": "http://127.0.0.1:\(port)/hook", "MEDIAWORKER_CALLBACK_SECRET": secret]) { server in
            var ids: Set<String> = []
            for file in ["images/gif87a.gif", "hostile/cat.html", "audio/voice_note.ogg"] {
                let job = try await server.uploadAndWait(file, query: "from=visitor")
                ids.insert(job["id"] as? String ?? "")
            }
            // The receiver is down: the events wait in the outbox.
            let outbox = try await server.storage.queue()
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await outbox.pendingEvents() == 3)

            let receiver = CallbackReceiver()
            let app = Application(router: receiver.router(), configuration: .init(address: .hostname("127.0.0.1", port: port)))
            let running = Task { try await app.runService() }
            defer { running.cancel() }
            // The dispatcher backs off 1 s doubling (±50%) while the receiver is down: after 5 failures (a slow machine
            // keeps it down longer) the next try may be 48 s away. Bounded at 120 s; it normally takes a few.
            let deadline = Date().addingTimeInterval(120)
            while try await outbox.pendingEvents() > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(try await outbox.pendingEvents() == 0)

            let deliveries = receiver.received
            var seenJobs: Set<String> = []
            for d in deliveries {
                let mac = HMAC<SHA256>.authenticationCode(for: Data("\(d.timestamp).".utf8) + d.body, using: SymmetricKey(data: Data(secret.utf8)))
                #expect(d.signature == "sha256=" + mac.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
                let event = try JSONSerialization.jsonObject(with: d.body) as? [String: Any]
                #expect(event?["id"] as? String == d.eventID)
                #expect(event?["type"] as? String == "job.finished")
                let job = event?["job"] as? [String: Any]
                #expect(["accepted", "rejected"].contains(job?["state"] as? String ?? ""))
                seenJobs.insert(job?["id"] as? String ?? "")
            }
            #expect(seenJobs == ids)
            #expect(Set(deliveries.map(\.eventID)).count == 3)
        }
    }

    @Test("an erasure sends job.erased with the tombstone, signed like every event", arguments: TestBackend.allCases)
    func erasedEvent(_ backend: TestBackend) async throws {
        let port = Self.freePort()
        let secret = "callback-secret-5e4d3c2b1a0f9e8d7c6b5a49"
        let receiver = CallbackReceiver()
        let app = Application(router: receiver.router(), configuration: .init(address: .hostname("127.0.0.1", port: port)))
        let running = Task { try await app.runService() }
        defer { running.cancel() }
        try await withServer(backend, env: ["MEDIAWORKER_CALLBACK_URL": "http://127.0.0.1:\(port)/hook", "MEDIAWORKER_CALLBACK_SECRET": secret]) { server in
            let job = try await server.uploadAndWait("images/gif87a.gif", query: "from=visitor&fileName=secret-callback.gif&conversationId=conv-cb")
            let id = try #require(job["id"] as? String)
            #expect(try await server.request("DELETE", "/v1/jobs/\(id)").status == 200)
            let outbox = try await server.storage.queue()
            let deadline = Date().addingTimeInterval(30)
            while (receiver.received.contains { String(decoding: $0.body, as: UTF8.self).contains("job.erased") } == false) && Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let erased = try #require(receiver.received.first { String(decoding: $0.body, as: UTF8.self).contains("job.erased") })
            let mac = HMAC<SHA256>.authenticationCode(for: Data("\(erased.timestamp).".utf8) + erased.body, using: SymmetricKey(data: Data(secret.utf8)))
            #expect(erased.signature == "sha256=" + mac.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
            let event = try #require(try JSONSerialization.jsonObject(with: erased.body) as? [String: Any])
            let tombstone = try #require(event["job"] as? [String: Any])
            #expect(tombstone["id"] as? String == id && tombstone["state"] as? String == "erased" && tombstone["erasure"] as? String == "request")
            #expect(Set(tombstone.keys) == ErasureChecks.tombstoneKeys)
            #expect(!String(decoding: erased.body, as: UTF8.self).contains("secret-callback"))
            #expect(try await outbox.pendingEvents() == 0)
        }
    }
}
