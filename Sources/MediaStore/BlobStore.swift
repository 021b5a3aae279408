import Foundation
import MediaDomain

/// Where originals and artifacts live, keyed by job id and role, never by a user-supplied name.
public protocol BlobStore: Sendable {
    /// Stores `bytes` atomically: a reader sees the old blob or the whole new one, never a part.
    func put(jobID: String, role: String, bytes: [UInt8]) async throws
    /// The blob's bytes, or nil when there is none.
    func get(jobID: String, role: String) async throws -> [UInt8]?
    /// The blob's size, or nil when there is none.
    func size(jobID: String, role: String) async throws -> Int?
    /// Removes every blob of a job.
    func delete(jobID: String) async throws
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

/// The only keys a store accepts, whatever its backend: a job id (36 hex digits and dashes, as `JobID` makes) and
/// a role word (1–32 lower-case ASCII letters or `_`). Nothing user-made can become a path or a key.
public enum BlobKey {
    public static func check(jobID: String) throws {
        guard JobID.isValid(jobID) else {
            throw InvalidBlobKey(jobID: jobID, role: "")
        }
    }

    public static func check(jobID: String, role: String) throws {
        try check(jobID: jobID)
        guard !role.isEmpty, role.count <= 32, role.allSatisfy({ $0.isASCII && ($0.isLowercase || $0 == "_") }) else {
            throw InvalidBlobKey(jobID: jobID, role: role)
        }
    }
}
