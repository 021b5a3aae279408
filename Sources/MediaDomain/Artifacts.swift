#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MediaJSON

/// What a stored file of a job is: the blob store's key beside the job id, and the `{role}` of a media URL.
public enum ArtifactRole: String, Sendable, Codable, CaseIterable {
    /// The bytes as received.
    case original
    case thumbnail
    /// A voice note or animation as browsers play it.
    case playback
    /// An operator file as the gateway sends it to WhatsApp, unchanged (`sendAs` says how).
    case delivery
    /// A visitor's PDF re-drawn from pixels: one image per page, nothing else (`pages` says how many).
    case safeCopy = "safe_copy"
}

/// How the gateway sends a `delivery` artifact through WhatsApp's API.
public enum SendAs: String, Sendable, Codable {
    case image, video, document
}

/// One artifact as a job records it (docs/jobs.md): everything but the bytes, which are in the blob store.
public struct StoredArtifact: Sendable, Equatable {
    public var role: ArtifactRole
    public var contentType: String
    public var size: Int
    /// A strong HTTP validator: the first 16 bytes of the SHA-256 of the bytes, hex. Never shown by the API.
    public var etag: String?
    public var width: Int?
    public var height: Int?
    public var durationMs: Int?
    public var sendAs: SendAs?
    /// Safe copies: the number of pages.
    public var pages: Int?

    public init(role: ArtifactRole, contentType: String, size: Int, etag: String? = nil, width: Int? = nil,
                height: Int? = nil, durationMs: Int? = nil, sendAs: SendAs? = nil, pages: Int? = nil) {
        self.pages = pages
        self.role = role
        self.contentType = contentType
        self.size = size
        self.etag = etag
        self.width = width
        self.height = height
        self.durationMs = durationMs
        self.sendAs = sendAs
    }

    /// The JSON object, members in the order the `artifacts` column has always held them; `etag` only when asked
    /// (the column keeps it, the API does not show it); `url` last when given.
    public func json(etag withEtag: Bool = false, url: String? = nil) -> JSONValue {
        var m: [(String, JSONValue)] = [("role", .string(role.rawValue)), ("contentType", .string(contentType)),
                                        ("size", .int(size))]
        if withEtag, let etag { m.append(("etag", .string(etag))) }
        if let width { m.append(("width", .int(width))) }
        if let height { m.append(("height", .int(height))) }
        if let durationMs { m.append(("durationMs", .int(durationMs))) }
        if let sendAs { m.append(("sendAs", .string(sendAs.rawValue))) }
        if let pages { m.append(("pages", .int(pages))) }
        if let url { m.append(("url", .string(url))) }
        return .object(m)
    }

    /// The text the drivers store in a job's `artifacts` column.
    public static func columnText(_ artifacts: [StoredArtifact]) -> String {
        JSONValue.array(artifacts.map { $0.json(etag: true) }).serialized()
    }

    /// Reads the `artifacts` column back; nil (no artifacts) for SQL NULL. Throws on text this service never wrote.
    public static func fromColumn(_ text: String?) throws -> [StoredArtifact] {
        guard let text else { return [] }
        do {
            return try JSONDecoder().decode([StoredArtifact].self, from: Data(text.utf8))
        } catch {
            // Foundation throws on every malformed text (lone surrogates, truncation, nesting past its depth
            // limit), and the decoder on members of the wrong type: one error type for the drivers either way.
            throw StoredArtifactError(text: text)
        }
    }
}

/// Reads what `columnText` writes (members by name, so their order does not matter). A missing `role`,
/// `contentType` or `size`, an unknown role or `sendAs`, or a member of the wrong type is an error.
extension StoredArtifact: Decodable {
    private enum CodingKeys: String, CodingKey {
        case role, contentType, size, etag, width, height, durationMs, sendAs, pages
    }
}

/// A job's `artifacts` column holds something that is not a list of artifacts.
public struct StoredArtifactError: Error, CustomStringConvertible {
    /// The column's text as read.
    public var text: String
    /// The error and the start of the text, for the log.
    public var description: String { "unreadable artifacts column: \(text.prefix(200))" }
}
