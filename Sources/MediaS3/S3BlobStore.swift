import Foundation
import Logging
import MediaDomain
import MediaStore

/// Blobs as objects of an S3-compatible bucket (`MEDIAWORKER_STORE=s3://BUCKET[/PREFIX]`): the key of a blob is
/// `PREFIX/<job id>/<role>`. A PUT is atomic on every S3 server (a reader sees the old object or the new, whole), and
/// the bucket is never public: the service serves the media itself.
public final class S3BlobStore: BlobStore {
    public let client: S3Client

    public init(settings: S3Settings, logger: Logger = Logger(label: "mediaworker.s3")) {
        client = S3Client(settings: settings, logger: logger)
    }

    /// The object the readiness probe reads: `PREFIX/.mediaworker-readiness` (not a job id: listings skip it).
    public var sentinelKey: String { client.settings.prefix + ".mediaworker-readiness" }
    static let sentinelBytes = Array("mediaworker readiness probe\n".utf8)

    func key(_ jobID: String, _ role: String) throws -> String {
        try BlobKey.check(jobID: jobID, role: role)
        return client.settings.prefix + jobID.lowercased() + "/" + role
    }

    func folder(_ jobID: String) throws -> String {
        try BlobKey.check(jobID: jobID)
        return client.settings.prefix + jobID.lowercased() + "/"
    }

    public func put(jobID: String, role: String, bytes: [UInt8]) async throws {
        try await client.putObject(try key(jobID, role), bytes)
    }

    public func get(jobID: String, role: String) async throws -> [UInt8]? {
        try await client.getObject(try key(jobID, role))
    }

    /// Part of a blob (`GetObject` with `Range`).
    public func get(jobID: String, role: String, range: ClosedRange<Int>) async throws -> [UInt8]? {
        try await client.getObject(try key(jobID, role), range: range)
    }

    public func size(jobID: String, role: String) async throws -> Int? {
        try await client.headObject(try key(jobID, role))
    }

    /// Lists the job's keys and deletes each (a job has a handful: the original and its artifacts).
    public func delete(jobID: String) async throws {
        for object in try await client.listAll(prefix: try folder(jobID)) {
            try await client.deleteObject(object.key)
        }
    }

    public func delete(jobID: String, role: String) async throws {
        try await client.deleteObject(try key(jobID, role))
    }

    /// Pages of ListObjectsV2 (1,000 keys); the cursor is S3's continuation token.
    public func blobs(from cursor: String?) async throws -> BlobPage {
        let prefix = client.settings.prefix
        let page = try await client.listObjects(prefix: prefix, continuationToken: cursor)
        let blobs = page.objects.compactMap { object -> StoredBlob? in
            let parts = object.key.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, JobID.isValid(parts[0]), BlobKey.isValid(role: parts[1]) else { return nil }
            return StoredBlob(jobID: String(parts[0]), role: String(parts[1]), size: object.size)
        }
        return BlobPage(blobs: blobs, next: page.isTruncated ? page.nextContinuationToken : nil)
    }

    /// Writes the sentinel object and reads it back, each call tried once (the worker's outage probe: it asks again
    /// a second later anyway).
    public func checkWritable() async throws {
        try await client.putObject(sentinelKey, Self.sentinelBytes, contentType: "text/plain", attempts: 1)
        guard try await client.getObject(sentinelKey, attempts: 1) == Self.sentinelBytes else { throw StoreProbeFailed() }
    }

    /// Reads the sentinel object, writing it first when the bucket has none. A HEAD or a listing is not enough: with
    /// SeaweedFS's volume servers down both still answer 200 while no object can be read.
    public func checkReadable() async throws {
        if try await client.getObject(sentinelKey, attempts: 1) != nil { return }
        try await client.putObject(sentinelKey, Self.sentinelBytes, contentType: "text/plain", attempts: 1)
        guard try await client.getObject(sentinelKey, attempts: 1) != nil else {
            throw S3Error(kind: .unavailable, operation: "GetObject", status: 404, code: "NoSuchKey",
                          message: "the readiness object just written cannot be read back")
        }
    }
}
