import MediaPipeline

/// The parent's check of every helper answer against the contract, before anything is stored (threat-model.md,
/// layer 6): a helper may have been taken over by the file it decodes, so nothing it says is believed because it
/// said it. The kind must be one the channel's `AttachmentPolicy` gives the detected type for this sender; the roles
/// those that kind and sender have; every content type the service's own (`AnswerVerifier.contentTypes`), never the
/// helper's string; every artifact's bytes must start with its type's signature (the original too); and sizes,
/// dimensions, durations, the waveform and a rejection's message within what the pipeline's settings allow.
///
/// A pure function of the answer, the facts, the input and the settings, so each rule is tested alone.
package enum AnswerVerifier {
    /// The rule an answer broke.
    package enum Rule: String, Sendable, CaseIterable {
        /// The detected type is not one this sender may send on this channel, or the kind is not the one the policy
        /// gives it (a sticker may end as an image; an animation as a video when visitors' videos are allowed).
        case kind
        /// A sticker while `MEDIAWORKER_STICKERS` is off.
        case stickersOff
        /// A role missing (`original`; a thumbnail, playback or delivery the pipeline always makes), repeated, or
        /// one that kind or sender never has (`delivery` for a visitor, `playback` of an image).
        case roles
        /// A content type that is not the service's own for that role and kind.
        case contentType
        /// Bytes that do not start with their type's signature.
        case signature
        /// An artifact empty or larger than its role allows.
        case artifactSize
        /// A width or height where the role has none, missing where it has one, not positive, or over the limits.
        case dimensions
        /// A duration where the role has none, negative, or over the kind's limit.
        case duration
        /// `sendAs` missing on a delivery, on another role, or not matching the delivery's type.
        case sendAs
        /// A waveform or gain on something other than a voice note, or out of range.
        case voiceLevels
        /// A `previewUnavailable` the kind never has, or one that contradicts the artifacts.
        case previewUnavailable
        /// The outcome's size is not the input's, or an accepted file is empty or over the size limit.
        case size
        /// A detected type that is not a MIME type at all (or absurdly long).
        case detectedType
        /// A rejection the pipeline could not have reached for this file (reason, type and sender disagree).
        case rejection
        /// A rejection message empty or longer than `maxMessageBytes`.
        case message
        /// The outcome's detected type or kind contradicts the helper's own `transforming` report.
        case transforming
        /// Safe copy pages or a `safeCopyUnavailable` for a file that gets no copy; a page count or page outside the
        /// limits (`PageRaster.violation`); fewer pages than announced; a `too_large` the parent alone decides.
        case safeCopy
    }

    /// Why an answer failed: the rule and what was seen (for the log, never for the job's message).
    package struct Violation: Error, Sendable, Equatable, CustomStringConvertible {
        package var rule: Rule
        package var detail: String
        package var description: String { "\(rule.rawValue): \(detail)" }
    }

    /// The longest rejection message accepted, UTF-8 bytes (the pipeline's longest are a few hundred).
    package static let maxMessageBytes = 2048
    /// The longest detected type accepted (RFC 6838 allows 127 characters on each side).
    package static let maxTypeBytes = 255
    /// A GIF frame's longest delay, ms (a 16-bit count of centiseconds): bounds an animated GIF's video.
    static let maxGIFFrameMs = 655_350

    /// Checks `outcome` for the job with `facts` whose bytes were `input`; `transforming` is what the helper reported
    /// decoding (if it did). Returns the outcome with the service's own content types, or the first violation.
    package static func verify(_ outcome: Outcome, input: [UInt8], facts: AttachmentFacts, settings: PipelineSettings,
                               transforming: (String, AttachmentKind)? = nil) -> Result<Outcome, Violation> {
        do throws(Violation) {
            switch outcome {
            case .accepted(let accepted):
                return .success(.accepted(try verify(accepted, input: input, facts: facts, settings: settings,
                                                     transforming: transforming)))
            case .rejected(let rejection):
                try verify(rejection, inputSize: input.count, facts: facts, settings: settings, transforming: transforming)
                return .success(outcome)
            }
        } catch {
            return .failure(error)
        }
    }

    /// Checks a `transforming` report when it arrives: the type and kind the policy decided for this sender.
    package static func verify(transforming type: String, kind: AttachmentKind, facts: AttachmentFacts,
                               settings: PipelineSettings) -> Violation? {
        do throws(Violation) {
            try checkTypeSyntax(type)
            let decided = try policyKind(type, facts: facts, settings: settings)
            guard decided == kind else {
                throw Violation(rule: .kind, detail: "transforming \(type) as \(kind.rawValue), the policy says \(decided.rawValue)")
            }
            return nil
        } catch {
            return error
        }
    }

    // MARK: - Safe copies

    /// Whether a file gets a safe copy: a visitor's PDF while the setting is on.
    package static func getsSafeCopy(type: String, kind: AttachmentKind, facts: AttachmentFacts, settings: PipelineSettings) -> Bool {
        settings.safeCopies && facts.from == .visitor && kind == .document && type == MediaType.pdf
    }

    /// After `verify`: the copy the parent encoded from the helper's pages (`copy`; `end` the stream's last word:
    /// nil when no page stream came, `.some(nil)` when every page came) joins the outcome, or the outcome says why
    /// there is none. A helper may report `too_many_pages`, `time_limit`, `encrypted` or `unrenderable` (it saw the
    /// document; the parent cannot), never `too_large`; pages for a file that gets no copy, a reason beside pages,
    /// or fewer pages than announced are violations.
    package static func attachSafeCopy(to outcome: Outcome, copy: inout SafeCopyBuilder, end: SafeCopyUnavailable??,
                                       facts: AttachmentFacts, settings: PipelineSettings) -> Result<Outcome, Violation> {
        func violation(_ detail: String) -> Result<Outcome, Violation> { .failure(Violation(rule: .safeCopy, detail: detail)) }
        guard case .accepted(var a) = outcome,
              getsSafeCopy(type: a.detectedType, kind: a.kind, facts: facts, settings: settings) else {
            if copy.announced != nil || end != nil { return violation("safe copy pages for a file that gets no copy") }
            if case .accepted(let a) = outcome, a.safeCopyUnavailable != nil {
                return violation("safeCopyUnavailable for a file that gets no copy")
            }
            return .success(outcome)
        }
        if let why = a.safeCopyUnavailable {
            guard copy.announced == nil, end == nil else { return violation("pages, yet \(why.rawValue) in the outcome") }
            guard why != .tooLarge else { return violation("too_large from the helper") }
            return .success(outcome)
        }
        guard a.previewUnavailable == nil else { return violation("no thumbnail, yet no reason for the missing copy") }
        switch end {
        case .none:
            return violation("no safe copy pages for a PDF that previewed")
        case .some(.some(let why)):
            guard why != .tooLarge else { return violation("too_large from the helper") }
            a.safeCopyUnavailable = why
        case .some(.none):
            switch copy.finish() {
            case .copy(let artifact): a.artifacts.append(artifact)
            case .unavailable(let why): a.safeCopyUnavailable = why
            case .violation(let detail): return violation(detail)
            }
        }
        return .success(.accepted(a))
    }

    // MARK: - Accepted

    private static func verify(_ a: Outcome.Accepted, input: [UInt8], facts: AttachmentFacts, settings: PipelineSettings,
                               transforming: (String, AttachmentKind)?) throws(Violation) -> Outcome.Accepted {
        guard a.size == input.count else { throw Violation(rule: .size, detail: "size \(a.size), the input has \(input.count) bytes") }
        guard (1...settings.maxBytes).contains(a.size) else {
            throw Violation(rule: .size, detail: "an accepted file of \(a.size) bytes (limit \(settings.maxBytes))")
        }
        try checkTypeSyntax(a.detectedType)
        let decided = try policyKind(a.detectedType, facts: facts, settings: settings)
        guard finalKinds(decided, settings: settings).contains(a.kind) else {
            throw Violation(rule: .kind, detail: "\(a.detectedType) from a \(facts.from.rawValue) accepted as \(a.kind.rawValue)")
        }
        if let (type, kind) = transforming, type != a.detectedType || kind != decided {
            throw Violation(rule: .transforming, detail: "transforming \(type) as \(kind.rawValue), accepted \(a.detectedType) as \(a.kind.rawValue)")
        }
        try checkRoles(a, facts: facts)
        try checkPreviewUnavailable(a)
        try checkVoiceLevels(a, settings: settings)

        var checked: [Artifact] = []
        var signatures: [(Artifact, String)] = []
        for artifact in a.artifacts {
            let allowed = contentTypes(role: artifact.role, kind: a.kind, detectedType: a.detectedType, facts: facts,
                                       settings: settings)
            guard let type = allowed.first(where: { $0 == artifact.contentType }) else {
                throw Violation(rule: .contentType, detail: "\(artifact.role.rawValue) of a \(a.kind.rawValue) as \(quoted(artifact.contentType)), the service's table says \(allowed.joined(separator: " or "))")
            }
            try checkSendAs(artifact, type: type)
            try checkDimensions(artifact, type: type, kind: a.kind, settings: settings)
            try checkDuration(artifact, type: type, kind: a.kind, settings: settings)
            try checkArtifactSize(artifact, type: type, facts: facts, settings: settings, inputSize: input.count)
            // The stored content type is the service's own constant, never the helper's string.
            var trusted = artifact
            trusted.contentType = type
            if trusted.role == .original { trusted.bytes = input }
            checked.append(trusted)
            signatures.append((trusted, type))
        }
        // Signatures last, the original's after the others (its bytes are the parent's own input).
        for (artifact, type) in signatures.sorted(by: { ($0.0.role == .original ? 1 : 0) < ($1.0.role == .original ? 1 : 0) }) {
            guard hasSignature(artifact.bytes, of: type) else {
                throw Violation(rule: .signature, detail: "the \(artifact.role.rawValue)'s bytes are not \(type) (they start \(hexPrefix(artifact.bytes)))")
            }
        }
        var result = a
        result.artifacts = checked
        return result
    }

    /// The kind the policy gives `type` for this sender (stickers only while the setting allows them).
    private static func policyKind(_ type: String, facts: AttachmentFacts, settings: PipelineSettings) throws(Violation) -> AttachmentKind {
        switch AttachmentPolicy.forChannel(facts.channel).decide(type: type, from: facts.from) {
        case .failure(let r):
            throw Violation(rule: .kind, detail: "\(type) is not accepted from a \(facts.from.rawValue): \(r.reason.rawValue)")
        case .success(let kind):
            if kind == .sticker && !settings.stickers { throw Violation(rule: .stickersOff, detail: "a sticker while stickers are off") }
            return kind
        }
    }

    /// The kinds a file the policy calls `decided` may end as: a WebP that is not sticker-shaped is an image, a
    /// visitor's MP4 with sound a video (when allowed).
    static func finalKinds(_ decided: AttachmentKind, settings: PipelineSettings) -> Set<AttachmentKind> {
        switch decided {
        case .sticker: return [.sticker, .image]
        case .animation: return settings.visitorVideo ? [.animation, .video] : [.animation]
        default: return [decided]
        }
    }

    /// The roles the pipeline makes for a kind and sender, and which of them it always makes when it has a preview.
    static func allowedRoles(kind: AttachmentKind, from sender: Sender) -> Set<ArtifactRole> {
        switch kind {
        case .image, .document: return sender == .operator ? [.original, .thumbnail, .delivery] : [.original, .thumbnail]
        case .sticker: return [.original, .thumbnail]
        case .voiceNote: return [.original, .playback]
        case .animation, .video: return [.original, .thumbnail, .playback]
        }
    }

    private static func checkRoles(_ a: Outcome.Accepted, facts: AttachmentFacts) throws(Violation) {
        let roles = a.artifacts.map(\.role)
        guard Set(roles).count == roles.count else {
            throw Violation(rule: .roles, detail: "a role repeated: \(roles.map(\.rawValue))")
        }
        guard roles.contains(.original) else { throw Violation(rule: .roles, detail: "no original") }
        let allowed = allowedRoles(kind: a.kind, from: facts.from)
        if let extra = roles.first(where: { !allowed.contains($0) }) {
            throw Violation(rule: .roles, detail: "a \(extra.rawValue) for a \(facts.from.rawValue)'s \(a.kind.rawValue)")
        }
        // What the pipeline always makes while nothing stopped it.
        var required: [ArtifactRole] = []
        if a.previewUnavailable == nil {
            switch a.kind {
            case .image, .document, .sticker: required.append(.thumbnail)
            case .voiceNote, .animation, .video: required.append(.playback)
            }
        }
        if facts.from == .operator && a.previewUnavailable != .timeLimit { required.append(.delivery) }
        if let missing = required.first(where: { !roles.contains($0) }) {
            throw Violation(rule: .roles, detail: "no \(missing.rawValue) for a \(facts.from.rawValue)'s \(a.kind.rawValue) with a preview")
        }
    }

    private static func checkPreviewUnavailable(_ a: Outcome.Accepted) throws(Violation) {
        guard let why = a.previewUnavailable else { return }
        let fits: Bool
        switch why {
        case .timeLimit: fits = true
        case .encrypted, .unrenderable: fits = a.kind == .document
        case .unplayable: fits = a.kind == .video && !a.artifacts.contains { $0.role == .playback }
        }
        guard fits else { throw Violation(rule: .previewUnavailable, detail: "\(why.rawValue) for a \(a.kind.rawValue)") }
    }

    private static func checkVoiceLevels(_ a: Outcome.Accepted, settings: PipelineSettings) throws(Violation) {
        guard a.kind == .voiceNote else {
            guard a.waveform == nil, a.gainDb == nil else {
                throw Violation(rule: .voiceLevels, detail: "a waveform or gain for a \(a.kind.rawValue)")
            }
            return
        }
        if let waveform = a.waveform {
            guard waveform.count <= settings.waveformPoints else {
                throw Violation(rule: .voiceLevels, detail: "\(waveform.count) waveform points (at most \(settings.waveformPoints))")
            }
            guard waveform.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 1 }) else {
                throw Violation(rule: .voiceLevels, detail: "a waveform value outside 0…1")
            }
        }
        if let gain = a.gainDb {
            // Gain moves in 1.5 dB steps up to the setting; quiet notes are raised, loud ones never cut.
            guard gain.isFinite, gain >= 0, gain <= settings.voiceMaxGainDb + 1.5 else {
                throw Violation(rule: .voiceLevels, detail: "a gain of \(gain) dB (at most \(settings.voiceMaxGainDb))")
            }
        }
    }

    // MARK: - The service's content-type table

    /// The content types an artifact of `role` may have for a file of `kind` and `detectedType` from `facts.from`:
    /// the original is its detected type; a thumbnail the configured format; a voice note's playback MP3, an
    /// animation's or video's MP4; a delivery what the channel's `DeliveryRules` take for that file (a document
    /// type as it is; an image as one of the channel's image types; an animated GIF as its video type).
    package static func contentTypes(role: ArtifactRole, kind: AttachmentKind, detectedType: String,
                                     facts: AttachmentFacts, settings: PipelineSettings) -> [String] {
        switch role {
        case .original: return [detectedType]
        case .thumbnail: return [settings.thumbnailFormat.contentType]
        case .safeCopy: return [MediaType.pdf]
        case .playback: return kind == .voiceNote ? [MediaType.mpeg] : [MediaType.mp4]
        case .delivery:
            let rules = AttachmentPolicy.forChannel(facts.channel).delivery
            if rules.documentTypes.contains(detectedType) { return [detectedType] }
            var types = rules.imageTypes
            if !types.contains(rules.flattenedType) { types.append(rules.flattenedType) }
            if detectedType == MediaType.gif { types.append(rules.videoType) }
            return types
        }
    }

    private static func checkSendAs(_ artifact: Artifact, type: String) throws(Violation) {
        guard artifact.role == .delivery else {
            guard artifact.sendAs == nil else { throw Violation(rule: .sendAs, detail: "sendAs on a \(artifact.role.rawValue)") }
            return
        }
        let expected: SendAs = type.hasPrefix("image/") ? .image : type.hasPrefix("video/") ? .video : .document
        guard artifact.sendAs == expected else {
            throw Violation(rule: .sendAs, detail: "a \(type) delivery sent as \(artifact.sendAs?.rawValue ?? "nothing")")
        }
    }

    private static func checkDimensions(_ artifact: Artifact, type: String, kind: AttachmentKind, settings: PipelineSettings) throws(Violation) {
        let (width, height) = (artifact.width, artifact.height)
        let pictured = type.hasPrefix("image/") || type.hasPrefix("video/")
        // The pipeline gives sizes to what it made as a picture; the original and audio or documents have none.
        guard artifact.role != .original, pictured else {
            guard width == nil, height == nil else {
                throw Violation(rule: .dimensions, detail: "a width or height on a \(artifact.role.rawValue) of type \(type)")
            }
            return
        }
        guard let width, let height else {
            guard width == nil, height == nil, artifact.role != .thumbnail else {
                throw Violation(rule: .dimensions, detail: "a \(artifact.role.rawValue) without both width and height")
            }
            return
        }
        guard width > 0, height > 0 else { throw Violation(rule: .dimensions, detail: "\(width) × \(height)") }
        if artifact.role == .thumbnail {
            guard width <= settings.thumbnailSize, height <= settings.thumbnailSize else {
                throw Violation(rule: .dimensions, detail: "a \(width) × \(height) thumbnail (at most \(settings.thumbnailSize) px a side)")
            }
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= settings.maxPixels else {
            throw Violation(rule: .dimensions, detail: "a \(width) × \(height) \(artifact.role.rawValue) (at most \(settings.maxPixels) pixels)")
        }
    }

    private static func checkDuration(_ artifact: Artifact, type: String, kind: AttachmentKind, settings: PipelineSettings) throws(Violation) {
        let timed = artifact.role != .original && (type.hasPrefix("audio/") || type.hasPrefix("video/"))
        guard timed else {
            guard artifact.durationMs == nil else {
                throw Violation(rule: .duration, detail: "a duration on a \(artifact.role.rawValue) of type \(type)")
            }
            return
        }
        guard let ms = artifact.durationMs else { return }
        // A second of slack over the limit: the limit is checked in seconds, the artifact's length rounds.
        let limit: Double
        switch (artifact.role, kind) {
        case (.playback, .animation): limit = settings.animationMaxSeconds * 1000 + 1000
        case (.playback, _): limit = settings.maxDurationSeconds * 1000 + 1000
        default: limit = Double(settings.maxFrames) * Double(maxGIFFrameMs)
        }
        // A voice note that decodes has sound; a one-frame animation may last 0 ms.
        let least = type.hasPrefix("audio/") ? 1 : 0
        guard ms >= least, Double(ms) <= limit else {
            throw Violation(rule: .duration, detail: "a \(artifact.role.rawValue) of \(ms) ms (at most \(Int(limit)) ms)")
        }
    }

    private static func checkArtifactSize(_ artifact: Artifact, type: String, facts: AttachmentFacts,
                                          settings: PipelineSettings, inputSize: Int) throws(Violation) {
        guard artifact.role != .original else { return }
        let rules = AttachmentPolicy.forChannel(facts.channel).delivery
        let limit: Int
        switch artifact.role {
        case .original: limit = inputSize
        // Uncompressed RGBA of the largest thumbnail, plus room for the container.
        case .thumbnail: limit = 4 * settings.thumbnailSize * settings.thumbnailSize + (1 << 20)
        // MP3 at its highest bit rate (320 kbps) for the longest note; a video at most twice the input.
        case .playback: limit = type == MediaType.mpeg ? Int(settings.maxDurationSeconds * 40_000) + (1 << 20)
                                                        : 2 * settings.maxBytes + (16 << 20)
        case .safeCopy: limit = settings.safeCopyMaxBytes
        case .delivery: limit = rules.documentTypes.contains(type) ? rules.documentMaxBytes
                              : type == rules.videoType ? rules.videoMaxBytes : rules.imageMaxBytes
        }
        guard !artifact.bytes.isEmpty, artifact.bytes.count <= limit else {
            throw Violation(rule: .artifactSize, detail: "a \(artifact.role.rawValue) of \(artifact.bytes.count) bytes (at most \(limit))")
        }
    }

    // MARK: - Signatures

    /// True when `bytes` start as every file of `type` does: JPEG FF D8 FF, PNG's eight bytes, `GIF87a`/`GIF89a`,
    /// WebP `RIFF`…`WEBP`, PDF `%PDF-` (within the first 1,024 bytes), Ogg `OggS`, MP3 an ID3 tag or an MPEG audio frame sync, MP4 an `ftyp` box
    /// first, QuickTime an `ftyp`, `moov`, `mdat`, `wide`, `free`, `skip` or `pnot` atom first. Any other type: false.
    package static func hasSignature(_ bytes: [UInt8], of type: String) -> Bool {
        func at(_ offset: Int, _ text: String) -> Bool {
            let expected = Array(text.utf8)
            return bytes.count >= offset + expected.count && Array(bytes[offset..<(offset + expected.count)]) == expected
        }
        switch type {
        case MediaType.jpeg: return bytes.starts(with: [0xFF, 0xD8, 0xFF])
        case MediaType.png: return bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        case MediaType.gif: return at(0, "GIF87a") || at(0, "GIF89a")
        case MediaType.webp: return at(0, "RIFF") && at(8, "WEBP")
        // Where libmagic and PDF readers look for the header: anywhere in the first 1,024 bytes.
        case MediaType.pdf: return (0..<min(1024, max(0, bytes.count - 4))).contains { at($0, "%PDF-") }
        case MediaType.ogg: return at(0, "OggS")
        case MediaType.mpeg: return at(0, "ID3") || (bytes.count >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0)
        case MediaType.mp4: return at(4, "ftyp")
        case MediaType.quicktime: return ["ftyp", "moov", "mdat", "wide", "free", "skip", "pnot"].contains { at(4, $0) }
        default: return false
        }
    }

    // MARK: - Rejected

    private static func verify(_ r: Rejection, inputSize: Int, facts: AttachmentFacts, settings: PipelineSettings,
                               transforming: (String, AttachmentKind)?) throws(Violation) {
        guard r.size == inputSize else { throw Violation(rule: .size, detail: "size \(r.size), the input has \(inputSize) bytes") }
        guard !r.message.isEmpty, r.message.utf8.count <= maxMessageBytes else {
            throw Violation(rule: .message, detail: "a message of \(r.message.utf8.count) bytes (1 to \(maxMessageBytes))")
        }
        if let type = r.detectedType { try checkTypeSyntax(type) }
        if let (type, _) = transforming, r.detectedType != type {
            throw Violation(rule: .transforming, detail: "transforming \(type), rejected as \(r.detectedType ?? "nothing")")
        }
        // What the pipeline decides before decoding fixes the reason: the size first, then the policy.
        let reason = r.reason
        func implausible(_ why: String) -> Violation {
            Violation(rule: .rejection, detail: "\(reason.rawValue) \(why)")
        }
        if inputSize == 0 { guard reason == .empty else { throw implausible("for an empty file") }; return }
        if inputSize > settings.maxBytes { guard reason == .tooLarge else { throw implausible("for a file over the size limit") }; return }
        guard let type = r.detectedType else { throw implausible("without a detected type") }
        let decision = AttachmentPolicy.forChannel(facts.channel).decide(type: type, from: facts.from)
        switch reason {
        case .empty: throw implausible("for a file of \(inputSize) bytes")
        case .checksumMismatch: throw implausible("from the pipeline, which never decides it")
        case .operatorAudioNotAllowed:
            guard facts.from == .operator, MediaType.isAudio(type) else { throw implausible("for \(type) from a \(facts.from.rawValue)") }
        case .unsupportedType:
            break  // the policy, stickers turned off, a decoder that finds a codec it does not take
        case .corrupt, .tooManyPixels, .tooLong, .tooLarge:
            // Decoders run only on what the policy accepted.
            guard case .success = decision else { throw implausible("for \(type), which the policy refuses before decoding") }
        }
    }

    // MARK: - Helpers

    /// `type/subtype` with RFC 6838's name characters, at most `maxTypeBytes`.
    private static func checkTypeSyntax(_ type: String) throws(Violation) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&^_.+-".utf8)
        let parts = type.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard type.utf8.count <= maxTypeBytes, parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(allowed.contains) }) else {
            throw Violation(rule: .detectedType, detail: "detected type \(quoted(type))")
        }
    }

    /// A helper's string for the log: bounded, control characters escaped.
    static func quoted(_ text: String) -> String {
        let bounded = text.utf8.count > 80 ? String(decoding: text.utf8.prefix(80), as: UTF8.self) + "…" : text
        return "\"" + bounded.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined() + "\""
    }

    static func hexPrefix(_ bytes: [UInt8]) -> String {
        bytes.prefix(8).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: " ")
    }
}
