import Foundation
import MediaJSON
import MediaTestSupport
import Testing
@testable import MediaPipeline

@Suite(.offCooperativePool) struct PolicyTests {
    let policy = AttachmentPolicy.whatsapp

    @Test("operators may send no audio of any kind, whatever it is")
    func operatorAudio() {
        for type in ["audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr", "audio/wav", "video/webm", "audio/webm"] {
            guard case .failure(let r) = policy.decide(type: type, from: .operator) else {
                Issue.record("\(type) from an operator was allowed"); continue
            }
            #expect(r.reason == .operatorAudioNotAllowed)
        }
    }

    @Test("visitors may send JPEG, PNG, GIF, PDF, Ogg voice notes, GIFs as MP4 and WebP stickers; nothing else")
    func visitorTypes() throws {
        let allowed: [String: AttachmentKind] = ["image/jpeg": .image, "image/png": .image, "image/gif": .image,
                                                 "application/pdf": .document, "audio/ogg": .voiceNote,
                                                 "video/mp4": .animation, "video/quicktime": .animation,
                                                 "image/webp": .sticker]
        for (type, kind) in allowed { #expect(try policy.decide(type: type, from: .visitor).get() == kind) }
        for type in ["image/svg+xml", "text/html", "text/plain", "application/zip", "video/x-matroska",
                     "application/x-executable", "image/heic", "video/3gpp", "application/octet-stream"] {
            guard case .failure(let r) = policy.decide(type: type, from: .visitor) else {
                Issue.record("\(type) from a visitor was allowed"); continue
            }
            #expect(r.reason == .unsupportedType)
            #expect(r.message.contains(type))
        }
    }

    @Test("operators get the same images and documents")
    func operatorImages() {
        for type in ["image/jpeg", "image/png", "image/gif", "application/pdf"] {
            #expect((try? policy.decide(type: type, from: .operator).get()) != nil)
        }
        // WhatsApp refuses WebP images, and the desk sends animations as GIFs (made into MP4 on the way out).
        for type in ["image/webp", "video/mp4", "video/quicktime"] {
            guard case .failure(let r) = policy.decide(type: type, from: .operator) else {
                Issue.record("\(type) from an operator was allowed"); continue
            }
            #expect(r.reason == .unsupportedType)
        }
    }

    @Test("WhatsApp's outbound rules are one table: JPEG/PNG ≤ 5 MB, MP4 ≤ 16 MB, PDF documents")
    func deliveryRules() {
        let rules = policy.delivery
        #expect(rules.imageTypes == ["image/jpeg", "image/png"] && rules.flattenedType == "image/jpeg")
        #expect(rules.imageMaxBytes == 5_000_000 && rules.videoMaxBytes == 16_000_000)
        #expect(rules.videoType == "video/mp4" && rules.documentTypes == ["application/pdf"])
    }

    @Test("JPEG conformance: a clean baseline JPEG passes; EXIF, ICC, CMYK, 12-bit and arithmetic coding do not")
    func jpegConformance() throws {
        func sendable(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { JPEGConformance.sendableAsIs($0) } }
        #expect(sendable(try FixtureManifest.named("jpeg-whatsapp-photo").bytes()))
        #expect(!sendable(try Data(contentsOf: FixtureManifest.folder.appendingPathComponent("images/exif_rotated_gps.jpg")).map { $0 }))
        #expect(!sendable(try Data(contentsOf: FixtureManifest.folder.appendingPathComponent("images/cmyk.jpg")).map { $0 }))
        // Hand-made segments: SOI, SOF0 with 12-bit precision or 4 components, SOF9 (arithmetic), then SOS.
        func jpeg(_ marker: UInt8, precision: UInt8, components: UInt8) -> [UInt8] {
            [0xFF, 0xD8, 0xFF, marker, 0x00, 0x0B, precision, 0x00, 0x10, 0x00, 0x10, components, 1, 0x11, 0,
             0xFF, 0xDA, 0x00, 0x02]
        }
        #expect(sendable(jpeg(0xC0, precision: 8, components: 3)))
        #expect(sendable(jpeg(0xC2, precision: 8, components: 3)))
        #expect(!sendable(jpeg(0xC0, precision: 12, components: 3)))
        #expect(!sendable(jpeg(0xC0, precision: 8, components: 4)))
        #expect(!sendable(jpeg(0xC9, precision: 8, components: 3)))
        #expect(!sendable([0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x04, 0, 0] + jpeg(0xC0, precision: 8, components: 3).dropFirst(2)))
        #expect(!sendable([0xFF, 0xD8]))
    }

    @Test("GIF frames are counted from the blocks: animated, still, 3,500 frames; garbage is not a GIF")
    func gifFrames() throws {
        func frames(_ path: String) throws -> Int? {
            try Data(contentsOf: FixtureManifest.folder.appendingPathComponent(path)).withUnsafeBytes { GIFStructure.frameCount($0) }
        }
        #expect(try frames("animations/operator_anim.gif") == 10)
        #expect(try frames("animations/still.gif") == 1)
        #expect(try frames("hostile/gif_3500_frames.gif") == 3500)
        #expect(try frames("images/gif87a.gif") == 1)
        Array("GIF89a not really".utf8).withUnsafeBytes { #expect(GIFStructure.frameCount($0) == nil) }
    }

    @Test("MP4 boxes: the index before the media data, or not; broken box sizes are not a layout")
    func mp4Boxes() {
        func box(_ type: String, _ payload: Int) -> [UInt8] {
            let size = UInt32(8 + payload)
            return withUnsafeBytes(of: size.bigEndian, Array.init) + Array(type.utf8) + [UInt8](repeating: 0, count: payload)
        }
        let faststart = box("ftyp", 8) + box("moov", 20) + box("mdat", 40)
        let late = box("ftyp", 8) + box("mdat", 40) + box("moov", 20)
        faststart.withUnsafeBytes { #expect(MP4Boxes.indexFirst($0)); #expect(MP4Boxes.topLevel($0) == ["ftyp", "moov", "mdat"]) }
        late.withUnsafeBytes { #expect(!MP4Boxes.indexFirst($0)) }
        Array(faststart.dropLast()).withUnsafeBytes { #expect(MP4Boxes.topLevel($0) == nil) }
        ([0, 0, 0, 4] + Array("moov".utf8)).withUnsafeBytes { #expect(MP4Boxes.topLevel($0) == nil) }
    }

    @Test("libmagic's aliases map to canonical types")
    func canonical() {
        #expect(MediaType.canonical("audio/x-m4a") == "audio/mp4")
        #expect(MediaType.canonical("audio/x-hx-aac-adts") == "audio/aac")
        #expect(MediaType.canonical("image/jpeg") == "image/jpeg")
    }

    @Test("messages write numbers with thousands separators")
    func grouping() {
        #expect(grouped(5_242_880) == "5,242,880")
        #expect(grouped(999) == "999")
        #expect(grouped(1000) == "1,000")
        #expect(grouped(0) == "0")
    }

    @Test("an unknown channel is refused, not processed under another channel's rules")
    func unknownChannel() throws {
        // The channel is typed: an unknown name is refused where text comes in (the upload's `channel`, the CLI's
        // `--channel`, a queue row's `channel` column), so it never reaches the pipeline…
        #expect(MessagingChannel(rawValue: "telegram") == nil)
        #expect(throws: UnknownColumnValue.self) { try MessagingChannel(column: "channel", "telegram") }
        // …and every channel that can is processed under its own policy.
        for channel in MessagingChannel.allCases { #expect(AttachmentPolicy.forChannel(channel).channel == channel) }
        let pipeline = FixtureSuiteTests.pipeline
        let photo = try FixtureManifest.named("jpeg-whatsapp-photo").bytes()
        let outcome = try pipeline.process(photo, facts: AttachmentFacts(from: .visitor, channel: .whatsapp))
        guard case .accepted = outcome else { Issue.record("refused on its own channel: \(outcome)"); return }
    }

    @Test("a codec that does not start is an internal error (the job is retried), never a corrupt file")
    func codecStartIsInternal() throws {
        for failure in ["libx264 does not open", "FFmpeg has no libx264 encoder", "FFmpeg has no gif demuxer"] {
            #expect(throws: PipelineError.self) {
                try AnimationProcessor.rejection(.codecStart(failure), label: "GIF", kind: .animation)
            }
        }
        for failure in [AudioDecodeError.codecStart("libmp3lame cannot start"), .codecStart("libmpg123 cannot start (11)")] {
            #expect(throws: PipelineError.self) { try VoiceNoteTranscoder.verdict(failure) }
        }
        // What the file does stays a verdict on the file.
        guard case .rejected(let r) = try AnimationProcessor.rejection(.corrupt("no video frame decodes"), label: "GIF", kind: .animation),
              case .rejected(let v) = try VoiceNoteTranscoder.verdict(.corrupt("the Opus data does not decode")) else {
            Issue.record("a damaged file was not rejected"); return
        }
        #expect(r.reason == .corrupt && v.reason == .corrupt)
    }

    @Test("settings come from MEDIAWORKER_* variables and refuse bad values")
    func settingsFromEnvironment() throws {
        let s = try PipelineSettings(environment: ["MEDIAWORKER_MAX_PIXELS": "1000", "MEDIAWORKER_THUMBNAIL_FORMAT": "JPEG",
                                                   "MEDIAWORKER_TIME_LIMIT": "2.5"])
        #expect(s.maxPixels == 1000 && s.thumbnailFormat == .jpeg && s.timeLimitSeconds == 2.5)
        #expect(s.maxBytes == 5_242_880 && s.thumbnailSize == 480 && s.thumbnailQuality == 80)
        #expect(throws: SettingsError.self) { try PipelineSettings(environment: ["MEDIAWORKER_MAX_BYTES": "lots"]) }
        #expect(throws: SettingsError.self) { try PipelineSettings(environment: ["MEDIAWORKER_THUMBNAIL_FORMAT": "bmp"]) }
        #expect(throws: SettingsError.self) { try PipelineSettings(environment: ["MEDIAWORKER_THUMBNAIL_QUALITY": "0"]) }
    }
}
