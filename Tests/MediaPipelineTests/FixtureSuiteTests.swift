import Foundation
import Testing
@testable import MediaPipeline

/// Every fixture in `Fixtures/fixtures.json` through the real pipeline, checked against its expectation.
@Suite struct FixtureSuiteTests {
    static let pipeline: MediaPipeline = {
        do { return try MediaPipeline() } catch { fatalError("pipeline cannot start: \(error)") }
    }()

    @Test("fixture outcome matches the manifest", arguments: FixtureManifest.all)
    func fixtureOutcome(_ fixture: FixtureManifest.Fixture) throws {
        let bytes = try fixture.bytes()
        let outcome = try Self.pipeline.process(bytes, facts: fixture.facts)
        let expect = fixture.expect

        check(outcome, fixture, bytes)
    }

    private func check(_ outcome: Outcome, _ fixture: FixtureManifest.Fixture, _ bytes: [UInt8]) {
        let expect = fixture.expect
        #expect(outcome.size == bytes.count)
        if let type = expect.detectedType { #expect(outcome.detectedType == type) }
        switch outcome {
        case .rejected(let r):
            #expect(expect.status == "rejected", "rejected with \(r.reason): \(r.message)")
            #expect(r.reason.rawValue == expect.reason)
            #expect(!r.message.isEmpty)
        case .accepted(let a):
            #expect(expect.status == "accepted")
            guard expect.status == "accepted" else { return }
            #expect(a.kind.rawValue == expect.kind)
            let original = a.artifacts.first { $0.role == .original }
            #expect(original?.bytes == bytes, "the original is kept byte for byte")
            #expect(original?.contentType == a.detectedType)
            let thumbnail = a.artifacts.first { $0.role == .thumbnail }
            #expect(a.previewUnavailable?.rawValue == expect.previewUnavailable)
            if let playback = expect.playback {
                let artifact = a.artifacts.first { $0.role == .playback }
                #expect(artifact?.contentType == MediaType.mpeg)
                if let ms = artifact?.durationMs { #expect(abs(ms - playback.durationMs) <= 50) }
                else { Issue.record("no playback artifact") }
            }
            switch expect.thumbnail {
            case .none: break
            case .some(.none):
                #expect(thumbnail == nil, "no preview expected")
            case .some(.some(let want)):
                guard let thumbnail else { Issue.record("no thumbnail"); return }
                checkThumbnail(thumbnail, want)
            }
        }
    }

    private func checkThumbnail(_ thumbnail: Artifact, _ want: FixtureManifest.Fixture.Thumbnail) {
        #expect(thumbnail.contentType == "image/webp")
        guard let webp = WebPInspector(thumbnail.bytes) else {
            Issue.record("thumbnail is not a WebP file"); return
        }
        // The artifact's reported size, the encoded size and the manifest agree (±1 px for rounding).
        #expect(webp.width == thumbnail.width && webp.height == thumbnail.height)
        #expect(abs(webp.width - want.width) <= 1 && abs(webp.height - want.height) <= 1,
                "thumbnail is \(webp.width)×\(webp.height), expected \(want.width)×\(want.height)")
        #expect(max(webp.width, webp.height) <= 480)
        if let alpha = want.hasAlpha { #expect(webp.hasAlpha == alpha) }
        #expect(Set(webp.chunks).isDisjoint(with: WebPInspector.metadataChunks),
                "metadata left in thumbnail: \(webp.chunks)")
    }
}
