import Foundation
import Testing
@testable import MediaPipeline

/// `Fixtures/fixtures.json`: what each fixture file is and what must happen to it.
struct FixtureManifest: Decodable {
    var version: Int
    var fixtures: [Fixture]

    struct Fixture: Decodable, Sendable, CustomTestStringConvertible {
        var id: String
        var file: String
        var description: String
        var from: Sender
        var declaredType: String?
        var fileName: String?
        var derive: Derive?
        var expect: Expectation

        var testDescription: String { id }

        struct Derive: Decodable, Sendable {
            var appendBytes: Int?
        }

        struct Expectation: Decodable, Sendable {
            var status: String
            var reason: String?
            var detectedType: String?
            var kind: String?
            var thumbnail: Thumbnail??
            var previewUnavailable: String?
            var playback: Playback?

            enum CodingKeys: String, CodingKey {
                case status, reason, detectedType, kind, thumbnail, previewUnavailable, playback
            }

            init(from decoder: Decoder) throws {
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
            }
        }

        struct Thumbnail: Decodable, Sendable {
            var width: Int
            var height: Int
            var hasAlpha: Bool?
        }

        struct Playback: Decodable, Sendable {
            var durationMs: Int
        }

        /// The file's bytes, with the derivation applied.
        func bytes() throws -> [UInt8] {
            var data = [UInt8](try Data(contentsOf: FixtureManifest.folder.appendingPathComponent(file)))
            if let extra = derive?.appendBytes { data += [UInt8](repeating: 0, count: extra) }
            return data
        }

        var facts: AttachmentFacts {
            AttachmentFacts(from: from, declaredType: declaredType, fileName: fileName)
        }
    }

    /// The repository's `Fixtures/` folder.
    static let folder: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures", isDirectory: true)

    static func load() -> FixtureManifest {
        do {
            let data = try Data(contentsOf: folder.appendingPathComponent("fixtures.json"))
            return try JSONDecoder().decode(FixtureManifest.self, from: data)
        } catch {
            fatalError("Fixtures/fixtures.json cannot be read: \(error)")
        }
    }

    static let all = load().fixtures
}
