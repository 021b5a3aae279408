import Foundation

/// Where originals and artifacts live, keyed by job id and role, never by a user-supplied name.
public protocol BlobStore: Sendable {
    /// Stores `bytes` atomically: a reader sees the old blob or the whole new one, never a part.
    func put(jobID: String, role: String, bytes: [UInt8]) throws
    /// The blob's bytes, or nil when there is none.
    func get(jobID: String, role: String) throws -> [UInt8]?
    /// The blob's size, or nil when there is none.
    func size(jobID: String, role: String) throws -> Int?
    /// Removes every blob of a job.
    func delete(jobID: String) throws
}

/// A key that is not a job id or a role the service makes (it would be a path to somewhere else).
public struct InvalidBlobKey: Error, CustomStringConvertible {
    public var jobID: String
    public var role: String
    public init(jobID: String, role: String) {
        self.jobID = jobID
        self.role = role
    }
    public var description: String { "invalid blob key \(jobID)/\(role)" }
}
