import Foundation

/// A notification that a job reached a final state, written in the same transaction as that state, so it
/// can never be lost or sent for a state that did not happen. Delivered at least once; `id` lets the
/// receiver drop duplicates.
public struct OutboxEvent: Sendable, Equatable {
    public var id: String
    public var jobID: String
    /// The event as JSON: `{"id":…,"type":"job.finished","createdAt":…,"job":{…}}`.
    public var payload: String
    public var attempts: Int
    public var createdAt: Date

    public init(id: String, jobID: String, payload: String, attempts: Int, createdAt: Date) {
        self.id = id
        self.jobID = jobID
        self.payload = payload
        self.attempts = attempts
        self.createdAt = createdAt
    }
}

/// The outbox half of the queue contract (same database, same drivers).
public protocol EventOutbox: Sendable {
    /// Takes up to `limit` undelivered events that are due, hiding them from other senders for `lease` seconds.
    func claimEvents(limit: Int, lease: TimeInterval, now: Date) async throws -> [OutboxEvent]
    /// The receiver acknowledged the event.
    func markDelivered(id: String, now: Date) async throws
    /// Delivery failed; try again at `retryAt`.
    func markFailed(id: String, error: String, retryAt: Date) async throws
    /// Events not yet delivered.
    func pendingEvents() async throws -> Int
}
