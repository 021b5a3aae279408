import Testing
@testable import MediaPipeline
@testable import MediaSandbox

/// `AnswerVerifier` on hand-built answers: what the pipeline really makes passes; each forged part fails on the
/// rule that forbids it (so each test fails if its rule is removed).
@Suite struct AnswerVerifierTests {
    typealias Rule = AnswerVerifier.Rule

    static let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 7, count: 60)
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 7, count: 60)
    static let webp: [UInt8] = Array("RIFF".utf8) + [60, 0, 0, 0] + Array("WEBPVP8 ".utf8) + [UInt8](repeating: 7, count: 52)
    static let pdf: [UInt8] = Array("%PDF-1.7\n".utf8) + [UInt8](repeating: 7, count: 60)
    static let ogg: [UInt8] = Array("OggS".utf8) + [UInt8](repeating: 7, count: 60)
    static let mp3: [UInt8] = Array("ID3".utf8) + [4, 0] + [UInt8](repeating: 7, count: 60)
    static let mp4: [UInt8] = [0, 0, 0, 0x18] + Array("ftypisom".utf8) + [UInt8](repeating: 7, count: 60)
    static let gif: [UInt8] = Array("GIF89a".utf8) + [UInt8](repeating: 7, count: 60)
    static let html: [UInt8] = Array("<!doctype html><script>alert(document.cookie)</script>".utf8)

    let settings = PipelineSettings()
    let visitor = AttachmentFacts(from: .visitor)
    let desk = AttachmentFacts(from: .operator)

    // MARK: - What the pipeline makes

    func thumbnail(_ type: String = MediaType.webp, _ bytes: [UInt8] = webp, width: Int? = 480, height: Int? = 300) -> Artifact {
        Artifact(role: .thumbnail, contentType: type, bytes: bytes, width: width, height: height)
    }

    func accepted(_ type: String, _ kind: AttachmentKind, input: [UInt8], _ artifacts: [Artifact],
                  why: PreviewUnavailable? = nil) -> Outcome.Accepted {
        Outcome.Accepted(detectedType: type, kind: kind, size: input.count,
                         artifacts: [Artifact(role: .original, contentType: type, bytes: input)] + artifacts,
                         previewUnavailable: why)
    }

    var visitorImage: Outcome.Accepted { accepted(MediaType.jpeg, .image, input: Self.jpeg, [thumbnail()]) }
    var operatorImage: Outcome.Accepted {
        accepted(MediaType.png, .image, input: Self.png, [
            thumbnail(), Artifact(role: .delivery, contentType: MediaType.jpeg, bytes: Self.jpeg, width: 1600, height: 1000, sendAs: .image)])
    }
    var operatorPDF: Outcome.Accepted {
        accepted(MediaType.pdf, .document, input: Self.pdf, [
            Artifact(role: .delivery, contentType: MediaType.pdf, bytes: Self.pdf, sendAs: .document)], why: .encrypted)
    }
    var operatorAnimatedGIF: Outcome.Accepted {
        accepted(MediaType.gif, .image, input: Self.gif, [
            thumbnail(), Artifact(role: .delivery, contentType: MediaType.mp4, bytes: Self.mp4, width: 320, height: 240,
                                  durationMs: 4000, sendAs: .video)])
    }
    var voiceNote: Outcome.Accepted {
        var a = accepted(MediaType.ogg, .voiceNote, input: Self.ogg, [
            Artifact(role: .playback, contentType: MediaType.mpeg, bytes: Self.mp3, durationMs: 6228)])
        a.waveform = [0, 0.5, 1]
        a.gainDb = 4.5
        return a
    }
    var animation: Outcome.Accepted {
        accepted(MediaType.mp4, .animation, input: Self.mp4, [
            thumbnail(), Artifact(role: .playback, contentType: MediaType.mp4, bytes: Self.mp4, width: 320, height: 240, durationMs: 2000)])
    }
    var sticker: Outcome.Accepted { accepted(MediaType.webp, .sticker, input: Self.webp, [thumbnail(width: 480, height: 480)]) }
    var timeLimit: Outcome.Accepted { accepted(MediaType.png, .image, input: Self.png, [], why: .timeLimit) }

    func input(of a: Outcome.Accepted) -> [UInt8] { a.artifacts.first { $0.role == .original }?.bytes ?? [] }

    func verify(_ a: Outcome.Accepted, _ facts: AttachmentFacts, settings: PipelineSettings? = nil, input: [UInt8]? = nil,
                transforming: (String, AttachmentKind)? = nil) -> Result<Outcome, AnswerVerifier.Violation> {
        AnswerVerifier.verify(.accepted(a), input: input ?? self.input(of: a), facts: facts,
                              settings: settings ?? self.settings, transforming: transforming)
    }

    func verify(_ r: Rejection, _ facts: AttachmentFacts, input: [UInt8], settings: PipelineSettings? = nil,
                transforming: (String, AttachmentKind)? = nil) -> Result<Outcome, AnswerVerifier.Violation> {
        AnswerVerifier.verify(.rejected(r), input: input, facts: facts, settings: settings ?? self.settings, transforming: transforming)
    }

    /// The rule `result` broke (nil when it passed).
    func broken(_ result: Result<Outcome, AnswerVerifier.Violation>) -> Rule? {
        if case .failure(let violation) = result { return violation.rule }
        return nil
    }

    /// `a` with `change` applied to its artifact of `role`.
    func changing(_ a: Outcome.Accepted, _ role: ArtifactRole, _ change: (inout Artifact) -> Void) -> Outcome.Accepted {
        var a = a
        for i in a.artifacts.indices where a.artifacts[i].role == role { change(&a.artifacts[i]) }
        return a
    }

    @Test("what the pipeline makes passes: images, PDFs, animated GIFs for the desk, voice notes, animations, stickers, the time limit, rejections")
    func genuineAnswersPass() {
        for (a, facts) in [(visitorImage, visitor), (operatorImage, desk), (operatorPDF, desk), (operatorAnimatedGIF, desk),
                           (voiceNote, visitor), (animation, visitor), (sticker, visitor), (timeLimit, desk), (timeLimit, visitor)] {
            #expect(broken(verify(a, facts)) == nil, "\(a.detectedType) from \(facts.from): \(verify(a, facts))")
        }
        var video = animation
        video.kind = .video
        video.artifacts.removeLast()
        video.previewUnavailable = .unplayable
        var allowVideo = settings
        allowVideo.visitorVideo = true
        #expect(broken(verify(video, visitor, settings: allowVideo)) == nil)
        var stickerAsImage = sticker
        stickerAsImage.kind = .image
        #expect(broken(verify(stickerAsImage, visitor)) == nil)
        #expect(broken(verify(visitorImage, visitor, transforming: (MediaType.jpeg, .image))) == nil)
        #expect(broken(verify(Rejection(reason: .corrupt, message: "the JPEG does not decode", detectedType: MediaType.jpeg,
                                        size: Self.jpeg.count), visitor, input: Self.jpeg)) == nil)
        #expect(broken(verify(Rejection(reason: .unsupportedType, message: "text/html is not allowed", detectedType: "text/html",
                                        size: Self.html.count), visitor, input: Self.html)) == nil)
        #expect(broken(verify(Rejection(reason: .operatorAudioNotAllowed, message: "operators may not send audio",
                                        detectedType: MediaType.ogg, size: Self.ogg.count), desk, input: Self.ogg)) == nil)
        #expect(broken(verify(Rejection(reason: .empty, message: "the file is empty", detectedType: MediaType.empty, size: 0),
                              visitor, input: [])) == nil)
        #expect(AnswerVerifier.verify(transforming: MediaType.webp, kind: .sticker, facts: visitor, settings: settings) == nil)
    }

    @Test("the stored answer carries the service's own content types and the parent's own original bytes")
    func trustedParts() throws {
        var a = visitorImage
        a.artifacts[0].bytes = Self.html  // what a helper could claim the original is
        guard case .accepted(let verified) = try verify(a, visitor, input: Self.jpeg).get() else { Issue.record("not accepted"); return }
        #expect(verified.artifacts[0].bytes == Self.jpeg)
        #expect(verified.artifacts.map(\.contentType) == [MediaType.jpeg, MediaType.webp])
        #expect(AnswerVerifier.contentTypes(role: .delivery, kind: .image, detectedType: MediaType.gif, facts: desk, settings: settings)
                == [MediaType.jpeg, MediaType.png, MediaType.mp4])
        #expect(AnswerVerifier.contentTypes(role: .delivery, kind: .document, detectedType: MediaType.pdf, facts: desk, settings: settings)
                == [MediaType.pdf])
    }

    @Test("kind: only what the policy gives the detected type for this sender")
    func kindRule() {
        #expect(broken(verify(accepted("text/html", .image, input: Self.html, [thumbnail()]), visitor)) == .kind)
        var document = visitorImage
        document.kind = .document
        #expect(broken(verify(document, visitor)) == .kind)
        #expect(broken(verify(voiceNote, desk)) == .kind)  // operators never send audio
        var video = animation
        video.kind = .video
        #expect(broken(verify(video, visitor)) == .kind)  // visitors' videos are off by default
        #expect(AnswerVerifier.verify(transforming: "text/html", kind: .image, facts: visitor, settings: settings)?.rule == .kind)
        #expect(AnswerVerifier.verify(transforming: MediaType.jpeg, kind: .document, facts: visitor, settings: settings)?.rule == .kind)
    }

    @Test("stickersOff: no sticker (nor a WebP turned image) while MEDIAWORKER_STICKERS is off")
    func stickersOffRule() {
        var off = settings
        off.stickers = false
        #expect(broken(verify(sticker, visitor, settings: off)) == .stickersOff)
        var asImage = sticker
        asImage.kind = .image
        #expect(broken(verify(asImage, visitor, settings: off)) == .stickersOff)
        #expect(AnswerVerifier.verify(transforming: MediaType.webp, kind: .sticker, facts: visitor, settings: off)?.rule == .stickersOff)
    }

    @Test("roles: never a delivery for a visitor, no repeats, an original always, what the kind always has")
    func rolesRule() {
        var delivery = visitorImage
        delivery.artifacts.append(Artifact(role: .delivery, contentType: MediaType.jpeg, bytes: Self.jpeg, width: 4, height: 4, sendAs: .image))
        #expect(broken(verify(delivery, visitor)) == .roles)
        var twice = visitorImage
        twice.artifacts.append(thumbnail())
        #expect(broken(verify(twice, visitor)) == .roles)
        var noOriginal = visitorImage
        noOriginal.artifacts.removeFirst()
        #expect(broken(verify(noOriginal, visitor, input: Self.jpeg)) == .roles)
        var playback = visitorImage
        playback.artifacts.append(Artifact(role: .playback, contentType: MediaType.mp4, bytes: Self.mp4))
        #expect(broken(verify(playback, visitor)) == .roles)
        var noThumbnail = visitorImage
        noThumbnail.artifacts.removeLast()
        #expect(broken(verify(noThumbnail, visitor)) == .roles)
        var noDelivery = operatorImage
        noDelivery.artifacts.removeLast()
        #expect(broken(verify(noDelivery, desk)) == .roles)
        var noPlayback = voiceNote
        noPlayback.artifacts.removeLast()
        #expect(broken(verify(noPlayback, visitor)) == .roles)
    }

    @Test("contentType: from the service's table by role and kind, never the helper's string")
    func contentTypeRule() {
        #expect(broken(verify(changing(visitorImage, .thumbnail) { $0.contentType = "text/html" }, visitor)) == .contentType)
        #expect(broken(verify(changing(visitorImage, .thumbnail) { $0.contentType = "image/svg+xml" }, visitor)) == .contentType)
        #expect(broken(verify(changing(visitorImage, .original) { $0.contentType = "text/html" }, visitor)) == .contentType)
        #expect(broken(verify(changing(voiceNote, .playback) { $0.contentType = MediaType.ogg }, visitor)) == .contentType)
        #expect(broken(verify(changing(operatorPDF, .delivery) { $0.contentType = MediaType.jpeg }, desk)) == .contentType)
        var jpegThumbnails = settings
        jpegThumbnails.thumbnailFormat = .jpeg
        #expect(broken(verify(visitorImage, visitor, settings: jpegThumbnails)) == .contentType)
    }

    @Test("signature: every artifact's bytes start as its type does, the original included")
    func signatureRule() {
        #expect(broken(verify(changing(visitorImage, .thumbnail) { $0.bytes = Self.html }, visitor)) == .signature)
        #expect(broken(verify(changing(operatorImage, .delivery) { $0.bytes = Self.png }, desk)) == .signature)
        #expect(broken(verify(changing(voiceNote, .playback) { $0.bytes = Self.ogg }, visitor)) == .signature)
        #expect(broken(verify(changing(animation, .playback) { $0.bytes = Self.gif }, visitor)) == .signature)
        // An HTML upload claimed to be a PNG, with everything else in order.
        var htmlAsPNG = accepted(MediaType.png, .image, input: Self.html, [thumbnail()])
        htmlAsPNG.artifacts[0].bytes = Self.html
        #expect(broken(verify(htmlAsPNG, visitor)) == .signature)
        // The time limit's answer is the original alone, and it too must be what the helper named.
        #expect(broken(verify(accepted(MediaType.png, .image, input: Self.html, [], why: .timeLimit), visitor)) == .signature)
    }

    @Test("signatures: JPEG, PNG, GIF, WebP, PDF, Ogg, MP3 (ID3 or frame sync), MP4 ftyp, QuickTime atoms; nothing else")
    func signatures() {
        let cases: [(String, [UInt8])] = [(MediaType.jpeg, Self.jpeg), (MediaType.png, Self.png), (MediaType.gif, Self.gif),
                                          (MediaType.webp, Self.webp), (MediaType.pdf, Self.pdf), (MediaType.ogg, Self.ogg),
                                          (MediaType.mpeg, Self.mp3), (MediaType.mpeg, [0xFF, 0xFB, 0x90, 0x64]),
                                          (MediaType.mp4, Self.mp4), (MediaType.quicktime, [0, 0, 0, 8] + Array("wide".utf8))]
        for (type, bytes) in cases {
            #expect(AnswerVerifier.hasSignature(bytes, of: type), "\(type)")
            #expect(!AnswerVerifier.hasSignature(Self.html, of: type), "\(type)")
            #expect(!AnswerVerifier.hasSignature(Array(bytes.prefix(1)), of: type), "\(type) cut short")
        }
        #expect(!AnswerVerifier.hasSignature(Array("RIFF\u{0}\u{0}\u{0}\u{0}WAVE".utf8), of: MediaType.webp))
        // A PDF's header may follow up to 1 KiB of anything (libmagic and PDF readers find it there), not more.
        #expect(AnswerVerifier.hasSignature([UInt8](repeating: 1, count: 1000) + Self.pdf, of: MediaType.pdf))
        #expect(!AnswerVerifier.hasSignature([UInt8](repeating: 1, count: 1100) + Self.pdf, of: MediaType.pdf))
        #expect(!AnswerVerifier.hasSignature(Self.html, of: "text/html"))
        #expect(!AnswerVerifier.hasSignature(Self.mp4, of: "image/svg+xml"))
    }

    @Test("artifactSize: nothing empty, nothing over its role's limit (a delivery over the channel's)")
    func artifactSizeRule() {
        #expect(broken(verify(changing(visitorImage, .thumbnail) { $0.bytes = [] }, visitor)) == .artifactSize)
        let big = Self.jpeg + [UInt8](repeating: 0, count: DeliveryRules.whatsapp.imageMaxBytes)
        #expect(broken(verify(changing(operatorImage, .delivery) { $0.bytes = big }, desk)) == .artifactSize)
        var small = settings
        small.thumbnailSize = 16
        let huge = Self.webp + [UInt8](repeating: 0, count: 2 << 20)
        #expect(broken(verify(changing(visitorImage, .thumbnail) { $0.bytes = huge; $0.width = 16; $0.height = 10 }, visitor,
                              settings: small)) == .artifactSize)
    }

    @Test("dimensions: positive, a thumbnail within the thumbnail size, nothing over the pixel limit, none on the original")
    func dimensionsRule() {
        #expect(broken(verify(changing(visitorImage, .thumbnail) { $0.width = 1_000_000; $0.height = 1_000_000 }, visitor)) == .dimensions)
        #expect(broken(verify(changing(visitorImage, .thumbnail) { $0.width = 481 }, visitor)) == .dimensions)
        #expect(broken(verify(changing(visitorImage, .thumbnail) { $0.width = 0 }, visitor)) == .dimensions)
        #expect(broken(verify(changing(visitorImage, .thumbnail) { $0.height = -3 }, visitor)) == .dimensions)
        #expect(broken(verify(changing(visitorImage, .thumbnail) { $0.width = nil }, visitor)) == .dimensions)
        #expect(broken(verify(changing(visitorImage, .original) { $0.width = 10; $0.height = 10 }, visitor)) == .dimensions)
        #expect(broken(verify(changing(operatorImage, .delivery) { $0.width = 10_000; $0.height = 10_000 }, desk)) == .dimensions)
        #expect(broken(verify(changing(voiceNote, .playback) { $0.width = 10; $0.height = 10 }, visitor)) == .dimensions)
    }

    @Test("duration: only on audio and video, positive for a voice note, within the kind's limit")
    func durationRule() {
        #expect(broken(verify(changing(voiceNote, .playback) { $0.durationMs = 31 * 60 * 1000 }, visitor)) == .duration)
        #expect(broken(verify(changing(voiceNote, .playback) { $0.durationMs = 0 }, visitor)) == .duration)
        #expect(broken(verify(changing(animation, .playback) { $0.durationMs = 60_000 }, visitor)) == .duration)
        #expect(broken(verify(changing(animation, .playback) { $0.durationMs = -1 }, visitor)) == .duration)
        #expect(broken(verify(changing(visitorImage, .thumbnail) { $0.durationMs = 5 }, visitor)) == .duration)
        #expect(broken(verify(changing(visitorImage, .original) { $0.durationMs = 5 }, visitor)) == .duration)
    }

    @Test("sendAs: every delivery says how it goes out, matching its type; nothing else has one")
    func sendAsRule() {
        #expect(broken(verify(changing(operatorImage, .delivery) { $0.sendAs = nil }, desk)) == .sendAs)
        #expect(broken(verify(changing(operatorImage, .delivery) { $0.sendAs = .document }, desk)) == .sendAs)
        #expect(broken(verify(changing(operatorAnimatedGIF, .delivery) { $0.sendAs = .image }, desk)) == .sendAs)
        #expect(broken(verify(changing(visitorImage, .thumbnail) { $0.sendAs = .image }, visitor)) == .sendAs)
    }

    @Test("voiceLevels: waveform and gain only on voice notes, within their ranges")
    func voiceLevelsRule() {
        var waveform = visitorImage
        waveform.waveform = [0.5]
        #expect(broken(verify(waveform, visitor)) == .voiceLevels)
        var long = voiceNote
        long.waveform = [Double](repeating: 0.5, count: settings.waveformPoints + 1)
        #expect(broken(verify(long, visitor)) == .voiceLevels)
        var outOfRange = voiceNote
        outOfRange.waveform = [0, 2]
        #expect(broken(verify(outOfRange, visitor)) == .voiceLevels)
        var gain = voiceNote
        gain.gainDb = .nan
        #expect(broken(verify(gain, visitor)) == .voiceLevels)
        gain.gainDb = 90
        #expect(broken(verify(gain, visitor)) == .voiceLevels)
    }

    @Test("previewUnavailable: encrypted and unrenderable only for documents, unplayable only for a video without playback")
    func previewUnavailableRule() {
        var encrypted = visitorImage
        encrypted.artifacts.removeLast()
        encrypted.previewUnavailable = .encrypted
        #expect(broken(verify(encrypted, visitor)) == .previewUnavailable)
        var unplayable = animation
        unplayable.previewUnavailable = .unplayable
        #expect(broken(verify(unplayable, visitor)) == .previewUnavailable)
    }

    @Test("size: the outcome's size is the input's; an accepted file is within the size limit")
    func sizeRule() {
        var wrong = visitorImage
        wrong.size += 1
        #expect(broken(verify(wrong, visitor)) == .size)
        var small = settings
        small.maxBytes = 10
        #expect(broken(verify(visitorImage, visitor, settings: small)) == .size)
        #expect(broken(verify(Rejection(reason: .corrupt, message: "m", detectedType: MediaType.jpeg, size: 3), visitor,
                              input: Self.jpeg)) == .size)
    }

    @Test("detectedType: a MIME type, not a header injection or a novel")
    func detectedTypeRule() {
        for type in ["text/html\r\nSet-Cookie: a=b", "image/png; charset=x", "nonsense", "a/" + String(repeating: "b", count: 300), "/png"] {
            #expect(broken(verify(Rejection(reason: .unsupportedType, message: "m", detectedType: type, size: Self.html.count),
                                  visitor, input: Self.html)) == .detectedType, "\(type)")
        }
        #expect(AnswerVerifier.verify(transforming: "image/jpeg\n", kind: .image, facts: visitor, settings: settings)?.rule == .detectedType)
    }

    @Test("rejection: a reason the pipeline can reach for this file, sender and type")
    func rejectionRule() {
        func rejected(_ reason: RejectionReason, _ type: String?, _ facts: AttachmentFacts, input: [UInt8] = Self.jpeg,
                      settings: PipelineSettings? = nil) -> Rule? {
            broken(verify(Rejection(reason: reason, message: "m", detectedType: type, size: input.count), facts, input: input,
                          settings: settings))
        }
        #expect(rejected(.checksumMismatch, MediaType.jpeg, visitor) == .rejection)
        #expect(rejected(.corrupt, "text/html", visitor, input: Self.html) == .rejection)  // never decoded
        #expect(rejected(.tooManyPixels, MediaType.ogg, desk, input: Self.ogg) == .rejection)
        #expect(rejected(.operatorAudioNotAllowed, MediaType.ogg, visitor, input: Self.ogg) == .rejection)
        #expect(rejected(.empty, MediaType.jpeg, visitor) == .rejection)
        #expect(rejected(.corrupt, nil, visitor) == .rejection)
        #expect(rejected(.corrupt, MediaType.empty, visitor, input: []) == .rejection)
        var small = settings
        small.maxBytes = 10
        #expect(rejected(.corrupt, MediaType.jpeg, visitor, settings: small) == .rejection)
        #expect(rejected(.tooLarge, MediaType.jpeg, visitor, settings: small) == nil)
    }

    @Test("message: a rejection says something, briefly (a taken-over helper's channel out through the job's message)")
    func messageRule() {
        for message in ["", String(repeating: "x", count: AnswerVerifier.maxMessageBytes + 1)] {
            #expect(broken(verify(Rejection(reason: .corrupt, message: message, detectedType: MediaType.jpeg, size: Self.jpeg.count),
                                  visitor, input: Self.jpeg)) == .message)
        }
    }

    @Test("transforming: the outcome agrees with what the helper said it was decoding")
    func transformingRule() {
        #expect(broken(verify(visitorImage, visitor, transforming: (MediaType.png, .image))) == .transforming)
        #expect(broken(verify(sticker, visitor, transforming: (MediaType.webp, .image))) == .transforming)
        #expect(broken(verify(Rejection(reason: .corrupt, message: "m", detectedType: MediaType.png, size: Self.jpeg.count),
                              visitor, input: Self.jpeg, transforming: (MediaType.jpeg, .image))) == .transforming)
    }
}
