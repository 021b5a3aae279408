import Foundation
import MediaSandbox
import MediaTestSupport
import Testing
@testable import MediaPipeline

/// Every fixture in `Fixtures/fixtures.json` through the path the worker and the CLI use (the pipeline in a
/// sandboxed helper process of the built `mediaworker`), checked against its expectation.
@Suite(.offCooperativePool) struct FixtureSuiteTests {
    /// In-process, for the suites that test the pipeline's own behaviour (thread safety, hardening).
    static let pipeline: AttachmentPipeline = {
        do { return try AttachmentPipeline() } catch { fatalError("pipeline cannot start: \(error)") }
    }()

    /// One helper pool per distinct fixture `settings` (most fixtures run on the defaults).
    static let pools = Locked([[String: String]: SandboxedPipeline]())

    static func sandboxed(_ settings: [String: String]) throws -> SandboxedPipeline {
        try pools.withLock { pools in
            if let pool = pools[settings] { return pool }
            let pool = try SandboxedPipeline(environment: settings, capacity: 2, executable: TestBinary.mediaworker.path)
            pools[settings] = pool
            return pool
        }
    }

    @Test("fixture outcome matches the manifest (through a helper process)", arguments: FixtureManifest.all)
    func fixtureOutcome(_ fixture: FixtureManifest.Fixture) throws {
        let bytes = try fixture.bytes()
        let pipeline = try Self.sandboxed(fixture.settings ?? [:])
        let started = ContinuousClock.now
        var timings = AttachmentPipeline.PhaseTimings()
        let outcome = try pipeline.process(bytes, facts: fixture.facts, timings: &timings)
        let took = ContinuousClock.now - started
        if let within = fixture.expect.withinSeconds {
            #expect(took < .milliseconds(Int64(within * 1000)), "took \(took), limit \(within) s")
        }
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
                guard let artifact = a.artifacts.first(where: { $0.role == .playback }) else {
                    Issue.record("no playback artifact"); return
                }
                if artifact.contentType == MediaType.mp4 {
                    checkVideo(artifact, expectedMs: playback.durationMs, tolerance: playback.toleranceMs ?? 100)
                } else {
                    checkPlayback(artifact, a, expectedMs: playback.durationMs)
                }
            }
            let delivery = a.artifacts.first { $0.role == .delivery }
            if fixture.from == .operator {
                // Every accepted operator file carries what the gateway sends to WhatsApp.
                #expect(delivery != nil || a.previewUnavailable == .timeLimit, "no delivery artifact")
            } else {
                #expect(delivery == nil, "delivery artifacts are for operator files only")
            }
            if let want = expect.delivery {
                guard let delivery else { Issue.record("no delivery artifact"); return }
                checkDelivery(delivery, want, original: bytes)
            }
            checkSafeCopy(a, fixture, original: bytes)
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

    /// A visitor's PDF has a safe copy that passes the independent pikepdf walk, or says why it has none; nothing else
    /// has either.
    private func checkSafeCopy(_ a: Outcome.Accepted, _ fixture: FixtureManifest.Fixture, original: [UInt8]) {
        let copy = a.artifacts.first { $0.role == .safeCopy }
        #expect(a.safeCopyUnavailable?.rawValue == fixture.expect.safeCopyUnavailable)
        guard fixture.from == .visitor, a.detectedType == MediaType.pdf else {
            #expect(copy == nil && a.safeCopyUnavailable == nil, "safe copies are for visitors' PDFs only")
            return
        }
        #expect((copy == nil) != (a.safeCopyUnavailable == nil), "a safe copy, or the reason there is none")
        switch fixture.expect.safeCopy {
        case .none: break
        case .some(.none): #expect(copy == nil, "no safe copy expected")
        case .some(.some(let want)):
            guard let copy else { Issue.record("no safe copy"); return }
            #expect(copy.contentType == MediaType.pdf)
            #expect(copy.pages == want.pages)
            let verdict = SafeCopyCheck.run(copy: copy.bytes, original: original)
            #expect(verdict.ok, "\(verdict.output)")
            #expect(verdict.output.contains("\"pages\": \(want.pages)"), "\(verdict.output)")
        }
    }

    private func checkPlayback(_ artifact: Artifact, _ accepted: Outcome.Accepted, expectedMs: Int) {
        #expect(artifact.contentType == MediaType.mpeg)
        #expect(abs((artifact.durationMs ?? -1000) - expectedMs) <= 50, "reported \(artifact.durationMs ?? -1) ms")
        // The file itself, read independently: mono 24 kHz MP3 whose gapless duration matches the source.
        guard let mp3 = MP3Inspector(artifact.bytes) else { Issue.record("playback is not an MP3 stream"); return }
        #expect(mp3.allMono)
        #expect(mp3.sampleRate == 24_000)
        #expect(mp3.hasLAMETag && mp3.lameTagCRCValid)
        #expect(mp3.xingFrames == mp3.frames, "Xing frame count \(mp3.xingFrames ?? -1) vs \(mp3.frames) frames")
        #expect(abs(mp3.durationMs - Double(expectedMs)) <= 50, "MP3 lasts \(mp3.durationMs) ms, source \(expectedMs) ms")
        // The waveform for the desk: 64 peaks in [0, 1], the loudest 1.
        let waveform = accepted.waveform ?? []
        #expect(waveform.count == min(64, max(1, expectedMs / 10)))
        #expect(waveform.allSatisfy { (0...1).contains($0) })
        #expect(waveform.max() == 1)
    }

    /// An MP4 for browsers, checked by the independent reader of WhatsApp's rules (ffprobe underneath).
    private func checkVideo(_ artifact: Artifact, expectedMs: Int, tolerance: Int) {
        #expect(abs((artifact.durationMs ?? -100_000) - expectedMs) <= tolerance, "reported \(artifact.durationMs ?? -1) ms, expected \(expectedMs)")
        let verdict = DeliveryCheck.run(artifact.bytes, sendAs: "video")
        #expect(verdict.ok, "\(verdict.output)")
        if let probed = verdict.durationMs {
            #expect(abs(probed - expectedMs) <= tolerance, "ffprobe says \(probed) ms, expected \(expectedMs)")
        }
    }

    private func checkDelivery(_ artifact: Artifact, _ want: FixtureManifest.Fixture.Delivery, original: [UInt8]) {
        #expect(artifact.sendAs?.rawValue == want.sendAs)
        #expect(artifact.contentType == want.contentType)
        if let same = want.sameBytes { #expect((artifact.bytes == original) == same, "byte for byte: expected \(same)") }
        if let w = want.width { #expect(artifact.width == w) }
        if let h = want.height { #expect(artifact.height == h) }
        if let ms = want.durationMs {
            #expect(abs((artifact.durationMs ?? -100_000) - ms) <= (want.toleranceMs ?? 50), "reported \(artifact.durationMs ?? -1) ms, expected \(ms)")
        }
        let verdict = DeliveryCheck.run(artifact.bytes, sendAs: want.sendAs)
        #expect(verdict.ok, "\(verdict.output)")
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
