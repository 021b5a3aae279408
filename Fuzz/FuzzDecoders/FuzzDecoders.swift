// libFuzzer target: each decoder entry of the pipeline on its own; the first byte chooses which, the rest is the
// input. Built by `make fuzz` with `-sanitize=fuzzer,address -DFUZZING`; without FUZZING it replays files.
//   0 Ogg/Opus (libopusfile) · 1 Ogg Vorbis (libvorbisfile) · 2 MP3 (libmpg123) · 3 Ogg codec identification
//   4 PDF structure check · 5 WebP chunk stripper · 6 MP3 gain adjuster · 7 libmagic sniff + policy
//   8 voice-note transcoder (decode → resample → LAME → gain) · 9 MP4 box walk + JPEG conformance (the delivery
//   pass-through check) · 10 FFmpeg MP4/QuickTime inspection (demux, first frame, audio peak, thumbnail)
//   11 FFmpeg animation → H.264 MP4 (GIF or MP4 input, small frame and size limits)
import Foundation
import FuzzSupport
// The decoders are internal to AttachmentPipeline: reached through @testable, which only debug builds allow.
#if DEBUG
@testable import MediaPipeline

let sniffer: MagicSniffer = {
    do { return try MagicSniffer() } catch { fatalError("libmagic cannot start: \(error)") }
}()

let settings: PipelineSettings = {
    var s = PipelineSettings()
    s.timeLimitSeconds = 2
    s.maxDurationSeconds = 120
    s.maxFrames = 50
    s.videoMaxSide = 64
    s.maxPixels = 4_000_000
    return s
}()

/// Decodes the whole stream, at most `limit` chunks (a long valid note is not what is being looked for).
func drain(_ decoder: any AudioDecoder, limit: Int = 20_000) throws(AudioDecodeError) {
    var mono: [Float] = []
    var chunks = 0
    while try decoder.readMono(into: &mono), chunks < limit { chunks += 1 }
}

func fuzzOne(_ input: [UInt8]) {
    guard let selector = input.first else { return }
    let bytes = Array(input.dropFirst())
    bytes.withUnsafeBytes { raw in
        switch selector % 12 {
        case 0: _ = try? drain(OpusStreamDecoder(raw))
        case 1: _ = try? drain(VorbisStreamDecoder(raw))
        case 2: _ = try? drain(MP3StreamDecoder(raw))
        case 3: _ = OggCodec.identify(raw)
        case 4: _ = PDFStructure(raw).fallback(detail: "")
        case 5: _ = WebPContainer.strippingMetadata(bytes)
        case 6:
            var copy = bytes
            _ = MP3GainAdjuster.apply(steps: Int(selector / 9) % 11, to: &copy)
        case 7:
            if let type = try? sniffer.sniff(raw) {
                _ = AttachmentPolicy.forChannel(.whatsapp).decide(type: type, from: selector & 16 == 0 ? .visitor : .operator)
            }
        case 8:
            for type in [MediaType.ogg, MediaType.mpeg] { _ = try? VoiceNoteTranscoder(settings: settings).transcode(raw, type: type) }
        case 9:
            _ = MP4Boxes.indexFirst(raw)
            _ = JPEGConformance.sendableAsIs(raw)
            _ = GIFStructure.frameCount(raw)
        case 10: _ = VideoCodec.inspect(raw, type: selector & 16 == 0 ? MediaType.mp4 : MediaType.quicktime, settings: settings)
        default:
            _ = VideoCodec.h264MP4(raw, type: selector & 16 == 0 ? MediaType.gif : MediaType.mp4, settings: settings,
                                   maxBytes: 1 << 20, role: .delivery)
        }
    }
}

@main enum Target {
    static func main() { FuzzMain.run(fuzzOne) }
}
#else
@main enum Target {
    static func main() { FuzzMain.needsDebugBuild("fuzz-decoders") }
}
#endif
