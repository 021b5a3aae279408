import MediaJSON
import CVips
import CVipsOperations
/// The media pipeline: `(bytes, attachment facts, policy) → outcome`, with no queue, HTTP or database.
///
/// The CLI and the queue worker call exactly this. Content problems end in a `.rejected` outcome (final);
/// only internal failures throw (a job that sees one is retried).
public final class AttachmentPipeline: AttachmentProcessor {
    public let settings: PipelineSettings
    private let sniffer: MagicSniffer

    /// Checks libvips's version and starts libmagic; throws when either is unusable. libvips itself is started
    /// (hardened) on the first image or PDF, so a process that only converts voice notes never pays for it.
    public init(settings: PipelineSettings = PipelineSettings()) throws {
        try VipsRuntime.checkVersion()
        self.settings = settings
        self.sniffer = try MagicSniffer()
    }

    /// Judges and processes one attachment. Thread-safe; CPU-bound: call it from a worker thread.
    public func process(_ bytes: [UInt8], facts: AttachmentFacts) throws -> Outcome {
        var timings = PhaseTimings()
        return try process(bytes, facts: facts, timings: &timings)
    }

    /// The same, reporting how long sniffing and the transform took.
    public func process(_ bytes: [UInt8], facts: AttachmentFacts, timings: inout PhaseTimings) throws -> Outcome {
        try process(bytes, facts: facts, timings: &timings, transforming: nil)
    }

    /// The same; `transforming` is called with the sniffed type and kind once sniffing and policy have passed,
    /// just before decoding starts (a helper process tells its parent, which needs them if the decoder hangs).
    public func process(_ bytes: [UInt8], facts: AttachmentFacts, timings: inout PhaseTimings,
                        transforming: ((String, AttachmentKind) -> Void)?) throws -> Outcome {
        try process(bytes, facts: facts, timings: &timings, transforming: transforming, deferSafeCopy: false)
    }

    /// The same; with `deferSafeCopy`, a visitor's PDF that previews gets neither a `safe_copy` nor a
    /// `safeCopyUnavailable` here: the caller renders its pages afterwards with `renderSafeCopy` (a helper, whose
    /// parent encodes the copy from the pixels). Without it the copy is rendered and encoded here.
    public func process(_ bytes: [UInt8], facts: AttachmentFacts, timings: inout PhaseTimings,
                        transforming: ((String, AttachmentKind) -> Void)?, deferSafeCopy: Bool) throws -> Outcome {
        try bytes.withUnsafeBytes { raw in
            try process(raw, original: bytes, facts: facts, timings: &timings, transforming: transforming,
                        deferSafeCopy: deferSafeCopy)
        }
    }

    /// Whether `outcome` (for a file with `facts`) still waits for its safe copy: a visitor's PDF that previewed,
    /// processed with `deferSafeCopy`.
    public static func awaitsSafeCopy(_ outcome: Outcome, facts: AttachmentFacts, settings: PipelineSettings) -> Bool {
        guard case .accepted(let a) = outcome else { return false }
        return settings.safeCopies && facts.from == .visitor && a.kind == .document && a.detectedType == MediaType.pdf
            && a.previewUnavailable == nil && a.safeCopyUnavailable == nil && !a.artifacts.contains { $0.role == .safeCopy }
    }

    /// Renders a PDF's pages for its safe copy, handing each to `emit` (see `SafeCopyRenderer`).
    public func renderSafeCopy(_ bytes: [UInt8], emit: (SafeCopyRenderer.Event) -> Bool) -> SafeCopyRenderer.Result {
        bytes.withUnsafeBytes { SafeCopyRenderer(settings: settings).render($0, emit: emit) }
    }

    private func process(_ raw: UnsafeRawBufferPointer, original: [UInt8], facts: AttachmentFacts,
                         timings: inout PhaseTimings, transforming: ((String, AttachmentKind) -> Void)?,
                         deferSafeCopy: Bool) throws -> Outcome {
        let size = raw.count
        let clock = ContinuousClock()
        let started = clock.now
        // Sniff a bounded prefix: enough for every signature libmagic knows, cheap on any size.
        let detected = try sniffer.sniff(UnsafeRawBufferPointer(rebasing: raw.prefix(Self.sniffBytes)))
        let sniffed = clock.now
        timings.sniff = sniffed - started
        defer { timings.transform = clock.now - sniffed }
        func reject(_ reason: RejectionReason, _ message: String) -> Outcome {
            .rejected(Rejection(reason: reason, message: message, detectedType: detected, size: size))
        }
        func reject(_ r: Rejection) -> Outcome { .rejected(r.about(detectedType: detected, size: size)) }

        // Size first: decided before any decoding.
        if size == 0 { return reject(.empty, "the file is empty (0 bytes)") }
        if size > settings.maxBytes {
            return reject(.tooLarge, Self.tooLargeMessage(size: size, limit: settings.maxBytes))
        }
        let policy = AttachmentPolicy.forChannel(facts.channel)
        let kind: AttachmentKind
        switch policy.decide(type: detected, from: facts.from) {
        case .failure(let r): return reject(r)
        case .success(let k): kind = k
        }

        if kind == .sticker && !settings.stickers {
            return reject(.unsupportedType, "stickers (image/webp) are turned off (MEDIAWORKER_STICKERS)")
        }

        transforming?(detected, kind)
        let originalArtifact = Artifact(role: .original, contentType: detected, bytes: original)
        func accepted(_ kind: AttachmentKind, _ artifacts: [Artifact], _ why: PreviewUnavailable?,
                      safeCopy: SafeCopyUnavailable? = nil) -> Outcome {
            var a = Outcome.Accepted(detectedType: detected, kind: kind, size: size, artifacts: [originalArtifact] + artifacts,
                                     previewUnavailable: why)
            a.safeCopyUnavailable = safeCopy
            return .accepted(a)
        }
        switch kind {
        case .image, .document, .sticker:
            try VipsRuntime.start()
            var made: [Artifact] = []
            var why: PreviewUnavailable? = nil
            switch ImagePreviewer(settings: settings).preview(raw, type: detected) {
            case .rejected(let r): return reject(r)
            case .unavailable(let reason): why = reason
            case .thumbnail(let thumbnail): made.append(thumbnail)
            }
            var finalKind = kind
            if kind == .sticker && !Self.isSticker(raw) { finalKind = .image }
            // What the desk sends to the channel, made once here so a file WhatsApp would refuse fails now.
            if facts.from == .operator && why != .timeLimit {
                switch try DeliveryMaker(settings: settings, rules: policy.delivery).make(raw, original: original, type: detected) {
                case .delivery(let delivery): made.append(delivery)
                case .rejected(let r): return reject(r)
                case .timeLimit: why = why ?? .timeLimit
                }
            }
            var safeCopyWhy: SafeCopyUnavailable? = nil
            if kind == .document && facts.from == .visitor && settings.safeCopies {
                switch why {
                case .encrypted: safeCopyWhy = .encrypted
                case .timeLimit: safeCopyWhy = .timeLimit
                case .unrenderable, .unplayable: safeCopyWhy = .unrenderable
                case nil where deferSafeCopy: break
                case nil:
                    switch safeCopy(raw) {
                    case .success(let copy): made.append(copy)
                    case .failure(let reason): safeCopyWhy = reason
                    }
                }
            }
            return accepted(finalKind, made, why, safeCopy: safeCopyWhy)
        case .animation, .video:
            switch try AnimationProcessor(settings: settings).process(raw, type: detected) {
            case .rejected(let r): return reject(r)
            case .accepted(let finalKind, let made, let why): return accepted(finalKind, made, why)
            }
        case .voiceNote:
            switch try VoiceNoteTranscoder(settings: settings).transcode(raw, type: detected) {
            case .rejected(let r):
                return reject(r)
            case .unavailable(let why):
                return accepted(kind, [], why)
            case .playback(let playback, let waveform, let gainDb):
                return .accepted(.init(detectedType: detected, kind: kind, size: size,
                                       artifacts: [originalArtifact, playback], previewUnavailable: nil,
                                       waveform: waveform, gainDb: gainDb))
            }
        }
    }

    /// A PDF's safe copy, rendered and encoded here.
    private func safeCopy(_ raw: UnsafeRawBufferPointer) -> Result<Artifact, SafeCopyUnavailable> {
        let renderer = SafeCopyRenderer(settings: settings)
        var builder = SafeCopyBuilder(settings: settings)
        let rendered = renderer.render(raw) { event in
            switch event {
            case .begin(let count): return builder.begin(pageCount: count) == nil
            case .page(let page): return builder.add(page) == nil
            }
        }
        switch rendered {
        case .unavailable(let why): return .failure(why)
        case .stopped: return .failure(.unrenderable)
        case .rendered:
            switch builder.finish() {
            case .copy(let copy): return .success(copy)
            case .unavailable(let why): return .failure(why)
            case .violation: return .failure(.unrenderable)
            }
        }
    }

    /// WhatsApp's sticker shape: a 512 × 512 WebP of at most 100 KB (static) or 500 KB (animated). Other WebP
    /// from a visitor is an ordinary image, under the same pixel and size rules.
    static func isSticker(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress,
              let opened = mw_image_header(base, bytes.count, Int32(VIPS_FAIL_ON_WARNING.rawValue)) else { return false }
        let header = VipsImageRef(opened)
        let animated = mw_n_pages(header.pointer) > 1
        return header.width == 512 && header.height == 512 && bytes.count <= (animated ? 500 : 100) * 1024
    }

    /// Durations of the pipeline's phases for one file (logged per job by the worker).
    public struct PhaseTimings: Sendable {
        public var sniff: Duration = .zero
        public var transform: Duration = .zero
        public init() {}
    }

    /// The `too_large` message, also used where the size is known before the bytes are read (the CLI).
    public static func tooLargeMessage(size: Int, limit: Int) -> String {
        "\(grouped(size)) bytes is over the \(grouped(limit))-byte limit"
    }

    /// libmagic reads at most this many leading bytes.
    static let sniffBytes = 1 << 20
}

/// Something that turns one attachment into its outcome: the pipeline itself (in this process) or the
/// sandboxed helper processes that run it (`MediaSandbox`). The worker and the CLI hold one of these.
public protocol AttachmentProcessor: Sendable {
    /// Judges and processes one attachment; throws only for internal failures (the job is retried).
    func process(_ bytes: [UInt8], facts: AttachmentFacts, timings: inout AttachmentPipeline.PhaseTimings) throws -> Outcome
    /// False while nothing could process a file (no helper process can be started): workers stop claiming. Never
    /// blocks; a sandboxed pool may try a new helper start in the background when it answers false.
    func canProcess() -> Bool
}

extension AttachmentPipeline {
    /// In-process: ready once constructed.
    public func canProcess() -> Bool { true }
}
