import Foundation
import MediaTestSupport
import Testing
@testable import MediaPipeline

@Suite(.offCooperativePool) struct VoiceNoteTests {
    func convert(_ id: String, _ configure: (inout PipelineSettings) -> Void = { _ in }) throws -> Outcome {
        var settings = PipelineSettings()
        configure(&settings)
        let fixture = FixtureManifest.named(id)
        return try AttachmentPipeline(settings: settings).process(try fixture.bytes(), facts: fixture.facts)
    }

    func playback(_ outcome: Outcome) -> Artifact? {
        guard case .accepted(let a) = outcome else { return nil }
        return a.artifacts.first { $0.role == .playback }
    }

    /// Decodes an MP3 with libmpg123 and returns its RMS level.
    func rms(_ mp3: [UInt8]) throws -> Double {
        try mp3.withUnsafeBytes { raw in
            let decoder = try MP3StreamDecoder(raw)
            var chunk: [Float] = [], energy = 0.0, count = 0
            while try decoder.readMono(into: &chunk) {
                for s in chunk { energy += Double(s * s) }
                count += chunk.count
            }
            return (energy / Double(max(1, count))).squareRoot()
        }
    }

    @Test("raising global gain by 4 steps doubles the decoded amplitude and keeps the LAME tag valid")
    func globalGain() throws {
        guard var mp3 = playback(try convert("ogg-opus-voice-note") { $0.normalizeVoiceNotes = false })?.bytes else {
            Issue.record("no playback"); return
        }
        let before = try rms(mp3)
        let granules = MP3GainAdjuster.apply(steps: 4, to: &mp3)
        #expect(granules > 100)
        let after = try rms(mp3)
        #expect(abs(after / before - 2) < 0.1, "ratio \(after / before)")
        let inspected = MP3Inspector(mp3)
        #expect(inspected?.lameTagCRCValid == true)
        #expect(inspected.map { abs($0.durationMs - 5131) <= 50 } == true)
    }

    @Test("a quiet note is raised losslessly towards speech level, within the peak's headroom")
    func quietNoteRaised() throws {
        guard let quiet = FixtureManifest.all.first(where: { $0.id == "ogg-opus-quiet" }) else { return }
        guard case .accepted(let a) = try convert(quiet.id), let raised = playback(.accepted(a)),
              let plain = playback(try convert(quiet.id) { $0.normalizeVoiceNotes = false }) else {
            Issue.record("not converted"); return
        }
        let gain = a.gainDb ?? 0
        #expect(gain >= 12 && gain <= 15, "fixture is −38 dBFS RMS with its peak at −17.9 dBFS: \(gain) dB")
        let measured = 20 * log10(try rms(raised.bytes) / rms(plain.bytes))
        #expect(abs(measured - gain) < 0.5, "decoded level rose \(measured) dB for a \(gain) dB gain")
        #expect(MP3Inspector(raised.bytes)?.lameTagCRCValid == true)
    }

    @Test("a note already at speech level is not boosted")
    func normalLevelUntouched() throws {
        guard case .accepted(let a) = try convert("ogg-opus-voice-note") else { Issue.record("not accepted"); return }
        #expect(a.gainDb == 0)
    }

    @Test("the duration limit is read from the container before decoding")
    func durationLimit() throws {
        let clock = ContinuousClock()
        var outcome: Outcome?
        let elapsed = try clock.measure { outcome = try convert("ogg-opus-voice-note") { $0.maxDurationSeconds = 3 } }
        guard case .rejected(let r) = outcome else { Issue.record("accepted"); return }
        #expect(r.reason == .tooLong)
        #expect(r.message == "the note lasts 0:05, over the 0:03 limit")
        #expect(elapsed < .seconds(2))
    }

    @Test("past the time limit a note is kept without playback")
    func timeLimit() throws {
        guard case .accepted(let a) = try convert("ogg-opus-voice-note", { $0.timeLimitSeconds = 0.000_001 }) else {
            Issue.record("not accepted"); return
        }
        #expect(a.previewUnavailable == .timeLimit)
        #expect(a.artifacts.map(\.role) == [.original])
    }

    @Test("Ogg streams are told apart by the codec inside")
    func oggCodecs() {
        func page(_ payload: [UInt8]) -> [UInt8] {
            Array("OggS".utf8) + [0, 2] + [UInt8](repeating: 0, count: 20) + [1, UInt8(payload.count)] + payload
        }
        func identify(_ b: [UInt8]) -> String {
            b.withUnsafeBytes { raw in
                switch OggCodec.identify(raw) {
                case .opus: return "opus"
                case .vorbis: return "vorbis"
                case .other(let what): return what
                }
            }
        }
        #expect(identify(page(Array("OpusHead".utf8) + [1, 1, 0, 0])) == "opus")
        #expect(identify(page([1] + Array("vorbis".utf8) + [0, 0])) == "vorbis")
        #expect(identify(page([0x7F] + Array("FLAC".utf8) + [1, 0, 0])) == "FLAC")
        #expect(identify(page(Array("Speex   ".utf8))) == "Speex")
        #expect(identify(Array("OggS".utf8)) == "not an Ogg stream")
    }

    @Test("the halfband decimator halves the rate exactly, keeps speech and removes what would alias")
    func decimator() {
        func tone(_ hz: Double, _ n: Int) -> [Float] { (0..<n).map { Float(sin(2 * .pi * hz * Double($0) / 48_000)) } }
        func level(_ x: [Float]) -> Double { (x.dropFirst(200).dropLast(200).reduce(0) { $0 + Double($1 * $1) } / Double(x.count - 400)).squareRoot() }
        for n in [1, 2, 47, 48_000, 48_001] {
            var d = HalfbandDecimator(), out: [Float] = [], total: [Float] = []
            // Odd chunk sizes on purpose: the stream must not depend on how it is cut.
            var input = tone(1000, n)[...]
            while !input.isEmpty {
                let take = min(input.count, 777)
                d.process(Array(input.prefix(take)), into: &out); total += out
                input = input.dropFirst(take)
            }
            d.finish(into: &out); total += out
            #expect(total.count == (n + 1) / 2, "n=\(n)")
        }
        var d = HalfbandDecimator(), speech: [Float] = [], alias: [Float] = [], tail: [Float] = []
        d.process(tone(3000, 48_000), into: &speech); d.finish(into: &tail); speech += tail
        var e = HalfbandDecimator()
        e.process(tone(16_000, 48_000), into: &alias); e.finish(into: &tail); alias += tail
        #expect(abs(level(speech) - 0.7071) < 0.01, "3 kHz passes at unity: \(level(speech))")
        #expect(level(alias) < 0.01, "16 kHz is stopped: \(level(alias))")
    }

    @Test("MP3 → MP3: a visitor's MP3 is re-encoded to the speech settings without its ID3 tag")
    func mp3Input() throws {
        guard let id = FixtureManifest.all.first(where: { $0.expect.detectedType == "audio/mpeg" && $0.from == .visitor })?.id else {
            return  // the MP3 fixture arrives with the audio fixture set
        }
        guard let out = playback(try convert(id)) else { Issue.record("no playback"); return }
        #expect(!out.bytes.starts(with: Array("ID3".utf8)))
        #expect(MP3Inspector(out.bytes)?.sampleRate == 24_000)
    }
}
