@preconcurrency import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import MediaDomain
import MediaQueue
import ServiceLifecycle

/// Delivers the outbox: each final job's event is POSTed to the gateway's callback URL, signed, retried with
/// backoff until the receiver answers 2xx. Events live in the database, so they survive restarts; several
/// processes may run dispatchers (a claimed event is hidden from the others for a while).
///
/// Headers: `X-Mediaworker-Event-Id` (the same on every retry, so the receiver can drop duplicates),
/// `X-Mediaworker-Timestamp` (Unix seconds of this attempt) and
/// `X-Mediaworker-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
public struct WebhookDispatcher: Service {
    let outbox: any EventOutbox
    let url: URL
    let secret: SymmetricKey
    let logger: Logger
    /// Longest wait between retries of one event, seconds.
    let maximumBackoff: TimeInterval
    let idlePoll: TimeInterval

    public init(outbox: any EventOutbox, url: URL, secret: String, logger: Logger,
                maximumBackoff: TimeInterval = 600, idlePoll: TimeInterval = 0.2) {
        self.outbox = outbox
        self.url = url
        self.secret = SymmetricKey(data: Data(secret.utf8))
        self.logger = logger
        self.maximumBackoff = maximumBackoff
        self.idlePoll = idlePoll
    }

    public func run() async throws {
        let session = URLSession(configuration: .ephemeral)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let events: [OutboxEvent]
            do {
                events = try await outbox.claimEvents(limit: 16, lease: 60, now: Date())
            } catch {
                logger.error("outbox unavailable", metadata: ["error": "\(error)"])
                events = []
            }
            for event in events { await deliver(event, session: session) }
            if events.isEmpty { try? await Task.sleep(for: .seconds(idlePoll)) }
        }
    }

    func deliver(_ event: OutboxEvent, session: URLSession) async {
        let timestamp = Int(Date().timeIntervalSince1970)
        let body = Data(event.payload.utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).".utf8) + body, using: secret)
        var request = URLRequest(url: url, timeoutInterval: 10)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(event.id, forHTTPHeaderField: "X-Mediaworker-Event-Id")
        request.setValue("\(timestamp)", forHTTPHeaderField: "X-Mediaworker-Timestamp")
        request.setValue("sha256=" + Hex.encode(mac),
                         forHTTPHeaderField: "X-Mediaworker-Signature")
        do {
            let (_, response) = try await session.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            guard (200..<300).contains(status) else { throw CallbackRefused(status: status) }
            try await outbox.markDelivered(id: event.id, now: Date())
            logger.debug("event delivered", metadata: ["event": "\(event.id)", "job": "\(event.jobID)"])
        } catch {
            let delay = Backoff.delay(after: event.attempts, base: 1, maximum: maximumBackoff)
            try? await outbox.markFailed(id: event.id, error: "\(error)", retryAt: Date().addingTimeInterval(delay))
            logger.warning("event delivery failed; will retry", metadata: [
                "event": "\(event.id)", "attempt": "\(event.attempts)", "retry_in_s": "\(Int(delay.rounded()))",
                "error": "\(error)"])
        }
    }
}

struct CallbackRefused: Error, CustomStringConvertible {
    var status: Int
    var description: String { "the callback answered HTTP \(status)" }
}
