import AsyncHTTPClient
@preconcurrency import Crypto
import Foundation
import Logging
import MediaDomain
import MediaQueue
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Delivers the outbox: each final job's event is POSTed to the gateway's callback URL, signed, retried with
/// backoff until the receiver answers 2xx. Events live in the database, so they survive restarts; several
/// processes may run dispatchers (a claimed event is hidden from the others for a while).
///
/// Headers: `X-Mediaworker-Event-Id` (the same on every retry, so the receiver can drop duplicates),
/// `X-Mediaworker-Timestamp` (Unix seconds of this attempt) and
/// `X-Mediaworker-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
///
/// Redirects are never followed: a 3xx is a failed delivery, retried later, so a signed event only ever goes to
/// the configured URL.
public struct WebhookDispatcher: Service {
    let outbox: any EventOutbox
    let url: URL
    let secret: SymmetricKey
    let logger: Logger
    /// Longest wait between retries of one event.
    let maximumBackoff: Duration
    /// The wait before looking at the outbox again when it had nothing due.
    let idlePoll: Duration
    /// How long one delivery may take, connecting included.
    let timeout: Duration

    /// A dispatcher for `outbox` to `url`, signing with `secret`.
    public init(outbox: any EventOutbox, url: URL, secret: String, logger: Logger,
                maximumBackoff: Duration = .seconds(600), idlePoll: Duration = .milliseconds(200),
                timeout: Duration = .seconds(10)) {
        self.outbox = outbox
        self.url = url
        self.secret = SymmetricKey(data: Data(secret.utf8))
        self.logger = logger
        self.maximumBackoff = maximumBackoff
        self.idlePoll = idlePoll
        self.timeout = timeout
    }

    /// The client's settings: no redirects, and the delivery's time limit for connecting and between reads too.
    var clientConfiguration: HTTPClient.Configuration {
        HTTPClient.Configuration(redirectConfiguration: .disallow,
                                 timeout: .init(connect: TimeAmount(timeout), read: TimeAmount(timeout)))
    }

    /// Delivers until the service group shuts down. The client is this service's own (`HTTPClient.shared` follows
    /// redirects) and `withHTTPClient` shuts it down when the loop ends, however it ends.
    public func run() async throws {
        try await HTTPClient.withHTTPClient(configuration: clientConfiguration) { client in
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let events: [OutboxEvent]
                do {
                    events = try await outbox.claimEvents(limit: 16, lease: 60, now: Date())
                } catch {
                    logger.error("outbox unavailable", metadata: ["error": "\(error)"])
                    events = []
                }
                for event in events { await deliver(event, client: client) }
                if events.isEmpty { try? await Task.sleep(for: idlePoll) }
            }
        }
    }

    /// One attempt at `event`: delivered on 2xx, otherwise failed with its next try after the backoff.
    func deliver(_ event: OutboxEvent, client: HTTPClient) async {
        let timestamp = Int(Date().timeIntervalSince1970)
        let body = Data(event.payload.utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).".utf8) + body, using: secret)
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.body = .bytes(ByteBuffer(bytes: body))
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Mediaworker-Event-Id", value: event.id)
        request.headers.add(name: "X-Mediaworker-Timestamp", value: "\(timestamp)")
        request.headers.add(name: "X-Mediaworker-Signature", value: "sha256=" + Hex.encode(mac))
        do {
            // The answer's body is never read: the status decides, and dropping the response ends its stream.
            let response = try await client.execute(request, timeout: TimeAmount(timeout), logger: logger)
            let status = Int(response.status.code)
            guard (200..<300).contains(status) else { throw CallbackRefused(status: status) }
            try await outbox.markDelivered(id: event.id, now: Date())
            logger.debug("event delivered", metadata: ["event": "\(event.id)", "job": "\(event.jobID)"])
        } catch {
            let delay = Backoff.delay(after: event.attempts, base: 1, maximum: Self.seconds(maximumBackoff))
            try? await outbox.markFailed(id: event.id, error: "\(error)", retryAt: Date().addingTimeInterval(delay))
            logger.warning("event delivery failed; will retry", metadata: [
                "event": "\(event.id)", "attempt": "\(event.attempts)", "retry_in_s": "\(Int(delay.rounded()))",
                "error": "\(error)"])
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// The callback URL answered, but not with 2xx (a 3xx included: redirects are not followed).
struct CallbackRefused: Error, CustomStringConvertible {
    var status: Int
    var description: String { "the callback answered HTTP \(status)" }
}
