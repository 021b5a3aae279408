import Foundation
import Testing
import MediaPipeline

/// `Fixtures/fixtures.json`: what each fixture file is and what must happen to it.
public struct FixtureManifest: Decodable, Sendable {
    public var version: Int
    public var fixtures: [Fixture]

    public struct Fixture: Decodable, Sendable, CustomTestStringConvertible {
        public var id: String
        public var file: String
        public var description: String
        public var from: Sender
        public var declaredType: String?
        public var fileName: String?
        public var derive: Derive?
        /// `MEDIAWORKER_*` settings this case runs under (a tighter limit than the default). Cases with settings
        /// are decoder attacks (hangs, memory; empty settings: heavy on the defaults) that only the helper processes
        /// contain: never run them in-process.
        public var settings: [String: String]?
        public var expect: Expectation

        public var testDescription: String { id }

        public struct Derive: Decodable, Sendable {
            public var appendBytes: Int?
        }

        public struct Expectation: Decodable, Sendable {
            public var status: String
            public var reason: String?
            public var detectedType: String?
            public var kind: String?
            public var thumbnail: Thumbnail??
            public var previewUnavailable: String?
            public var playback: Playback?
            /// Operator files: the artifact the gateway sends to WhatsApp.
            public var delivery: Delivery?
            /// The outcome must arrive within this many seconds (decoder attacks stopped by a limit).
            public var withinSeconds: Double?
            /// Visitors' PDFs: absent, no expectation; null, no safe copy; an object, the copy's page count.
            public var safeCopy: SafeCopy??
            public var safeCopyUnavailable: String?

            enum CodingKeys: String, CodingKey {
                case status, reason, detectedType, kind, thumbnail, previewUnavailable, playback, delivery, withinSeconds
                case safeCopy, safeCopyUnavailable
            }

            public init(from decoder: Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                status = try c.decode(String.self, forKey: .status)
                reason = try c.decodeIfPresent(String.self, forKey: .reason)
                detectedType = try c.decodeIfPresent(String.self, forKey: .detectedType)
                kind = try c.decodeIfPresent(String.self, forKey: .kind)
                // Absent: no expectation; null: explicitly no thumbnail; object: its size.
                if c.contains(.thumbnail) {
                    thumbnail = .some(try c.decodeIfPresent(Thumbnail.self, forKey: .thumbnail))
                } else {
                    thumbnail = .none
                }
                previewUnavailable = try c.decodeIfPresent(String.self, forKey: .previewUnavailable)
                playback = try c.decodeIfPresent(Playback.self, forKey: .playback)
                delivery = try c.decodeIfPresent(Delivery.self, forKey: .delivery)
                withinSeconds = try c.decodeIfPresent(Double.self, forKey: .withinSeconds)
                safeCopy = c.contains(.safeCopy) ? .some(try c.decodeIfPresent(SafeCopy.self, forKey: .safeCopy)) : .none
                safeCopyUnavailable = try c.decodeIfPresent(String.self, forKey: .safeCopyUnavailable)
            }
        }

        public struct SafeCopy: Decodable, Sendable {
            public var pages: Int
        }

        public struct Thumbnail: Decodable, Sendable {
            public var width: Int
            public var height: Int
            public var hasAlpha: Bool?
        }

        public struct Playback: Decodable, Sendable {
            public var durationMs: Int
            /// Videos: how far the playback's duration may be from `durationMs` (voice notes: 50 ms).
            public var toleranceMs: Int?
        }

        public struct Delivery: Decodable, Sendable {
            public var sendAs: String
            public var contentType: String
            /// The original goes out byte for byte.
            public var sameBytes: Bool?
            public var width: Int?
            public var height: Int?
            public var durationMs: Int?
            public var toleranceMs: Int?
        }

        /// The file's bytes, with the derivation applied.
        public func bytes() throws -> [UInt8] {
            var data = [UInt8](try Data(contentsOf: FixtureManifest.folder.appendingPathComponent(file)))
            if let extra = derive?.appendBytes { data += [UInt8](repeating: 0, count: extra) }
            return data
        }

        public var facts: AttachmentFacts {
            AttachmentFacts(from: from, declaredType: declaredType, fileName: fileName)
        }
    }

    /// The repository's `Fixtures/` folder.
    public static let folder: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures", isDirectory: true)

    public static func load() -> FixtureManifest {
        do {
            let data = try Data(contentsOf: folder.appendingPathComponent("fixtures.json"))
            return try JSONDecoder().decode(FixtureManifest.self, from: data)
        } catch {
            fatalError("Fixtures/fixtures.json cannot be read: \(error)")
        }
    }

    public static let all = load().fixtures

    /// The fixtures that are safe to decode inside a test process (every one without `settings`).
    public static let inProcess = all.filter { $0.settings == nil }

    /// The fixture with this id (a test that names a missing one stops).
    public static func named(_ id: String) -> Fixture {
        guard let f = all.first(where: { $0.id == id }) else { fatalError("no fixture \(id)") }
        return f
    }
}
