import MediaJSON
import MediaTestSupport
import Testing
@testable import MediaPipeline

@Suite struct PolicyTests {
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

    @Test("visitors may send JPEG, PNG, GIF, PDF and Ogg voice notes; nothing else")
    func visitorTypes() throws {
        let allowed: [String: AttachmentKind] = ["image/jpeg": .image, "image/png": .image, "image/gif": .image,
                                                 "application/pdf": .document, "audio/ogg": .voiceNote]
        for (type, kind) in allowed { #expect(try policy.decide(type: type, from: .visitor).get() == kind) }
        for type in ["image/webp", "image/svg+xml", "text/html", "text/plain", "application/zip",
                     "application/x-executable", "image/heic", "video/mp4", "application/octet-stream"] {
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
        let pipeline = FixtureSuiteTests.pipeline
        let photo = try FixtureManifest.named("jpeg-whatsapp-photo").bytes()
        let outcome = try pipeline.process(photo, facts: AttachmentFacts(from: .visitor, channel: "telegram"))
        guard case .rejected(let r) = outcome else { Issue.record("accepted on an unknown channel"); return }
        #expect(r.reason == .unsupportedType)
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
