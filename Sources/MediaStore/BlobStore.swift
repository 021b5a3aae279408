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
    /// Removes one blob (`mediaworker blobs gc`); nothing when there is none.
    func delete(jobID: String, role: String) async throws
    /// One page of every blob in the store, from `cursor` (nil: the first page); `next` is nil after the last.
    /// Entries the service did not make (foreign keys, temporary files) are left out. For `mediaworker blobs`.
    func blobs(from cursor: String?) async throws -> BlobPage
    /// Reads from the store (`/readyz`): throws unless reads work.
    func checkReadable() async throws
    /// Writes and reads back a small blob (the worker's probe while jobs wait out an outage): throws unless both work.
    func checkWritable() async throws
}

/// An error a store driver throws that may mean its settings are wrong rather than that it is away.
public protocol BlobStoreError: Error {
    /// The store refuses this service (credentials, bucket, region, endpoint): no retry will help until the
    /// settings change. `/readyz` says so.
    var isConfigurationError: Bool { get }
}

/// The write probe read back something else.
public struct StoreProbeFailed: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "the blob store's write probe did not read back what it wrote" }
}

/// One page of a store's listing.
public struct BlobPage: Sendable {
    public var blobs: [StoredBlob]
    /// Where the next page starts; nil when this is the last.
    public var next: String?

    public init(blobs: [StoredBlob], next: String?) {
        self.blobs = blobs
        self.next = next
    }
}

/// A blob as a listing reports it.
public struct StoredBlob: Sendable, Hashable {
    public var jobID: String
    public var role: String
    public var size: Int

    public init(jobID: String, role: String, size: Int) {
        self.jobID = jobID
        self.role = role
        self.size = size
    }
}

extension BlobStore {
    /// Writes a small blob under a reserved id and reads it back: the worker's probe while jobs wait out an outage (a
    /// full disk reads fine but does not write). `BlobKey.probeJobID` is never a job's: listings skip it.
    public func checkWritable() async throws {
        let bytes = Array("mediaworker write probe\n".utf8)
        try await put(jobID: BlobKey.probeJobID, role: "probe", bytes: bytes)
        guard try await get(jobID: BlobKey.probeJobID, role: "probe") == bytes else {
            throw StoreProbeFailed()
        }
    }

    /// Every blob, page after page.
    public func allBlobs() async throws -> [StoredBlob] {
        var all: [StoredBlob] = []
        var cursor: String?
        repeat {
            let page = try await blobs(from: cursor)
            all += page.blobs
            cursor = page.next
        } while cursor != nil
        return all
    }
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
    /// The id under which stores write their probe blob (a version-7 id at time 0: no job ever has it).
    public static let probeJobID = "00000000-0000-7000-8000-000000000000"

    /// True for a role word a store accepts.
    public static func isValid(role: some StringProtocol) -> Bool {
        !role.isEmpty && role.count <= 32 && role.allSatisfy { $0.isASCII && ($0.isLowercase || $0 == "_") }
    }

    public static func check(jobID: String) throws {
        guard JobID.isValid(jobID) else {
            throw InvalidBlobKey(jobID: jobID, role: "")
        }
    }

    public static func check(jobID: String, role: String) throws {
        try check(jobID: jobID)
        guard isValid(role: role) else {
            throw InvalidBlobKey(jobID: jobID, role: role)
        }
    }
}
