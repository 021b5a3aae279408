import MediaJSON
/// The media pipeline: `(bytes, attachment facts, policy) → outcome`, with no queue, HTTP or database.
///
/// The CLI and the queue worker call exactly this. Content problems end in a `.rejected` outcome (final);
/// only internal failures throw (a job that sees one is retried).
public final class MediaPipeline: Sendable {
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
        try bytes.withUnsafeBytes { raw in try process(raw, original: bytes, facts: facts, timings: &timings) }
    }

    private func process(_ raw: UnsafeRawBufferPointer, original: [UInt8], facts: AttachmentFacts,
                         timings: inout PhaseTimings) throws -> Outcome {
        let size = raw.count
        let clock = ContinuousClock()
        let started = clock.now
        // Sniff a bounded prefix: enough for every signature libmagic knows, cheap on any size.
        let detected = try sniffer.sniff(UnsafeRawBufferPointer(rebasing: raw.prefix(Self.sniffBytes)))
        let sniffed = clock.now
        timings.sniff = sniffed - started
        defer { timings.transform = clock.now - sniffed }
        func reject(_ reason: RejectionReason, _ message: String) -> Outcome {
            .rejected(.init(reason: reason, message: message, detectedType: detected, size: size))
        }

        // Size first: decided before any decoding.
        if size == 0 { return reject(.empty, "the file is empty (0 bytes)") }
        if size > settings.maxBytes {
            return reject(.tooLarge, "\(grouped(size)) bytes is over the \(grouped(settings.maxBytes))-byte limit")
        }
        guard let policy = AttachmentPolicy.forChannel(facts.channel) else {
            return reject(.unsupportedType, "channel \(facts.channel) has no attachment policy")
        }
        let kind: AttachmentKind
        switch policy.decide(type: detected, from: facts.from) {
        case .failure(let r): return reject(r.reason, r.message)
        case .success(let k): kind = k
        }

        let originalArtifact = Artifact(role: .original, contentType: detected, bytes: original)
        switch kind {
        case .image, .document:
            try VipsRuntime.start()
            switch ImagePreviewer(settings: settings).preview(raw, type: detected) {
            case .rejected(let reason, let message):
                return reject(reason, message)
            case .unavailable(let why):
                return .accepted(.init(detectedType: detected, kind: kind, size: size,
                                       artifacts: [originalArtifact], previewUnavailable: why))
            case .thumbnail(let thumbnail):
                return .accepted(.init(detectedType: detected, kind: kind, size: size,
                                       artifacts: [originalArtifact, thumbnail], previewUnavailable: nil))
            }
        case .voiceNote:
            switch VoiceNoteTranscoder(settings: settings).transcode(raw, type: detected) {
            case .rejected(let reason, let message):
                return reject(reason, message)
            case .unavailable(let why):
                return .accepted(.init(detectedType: detected, kind: kind, size: size,
                                       artifacts: [originalArtifact], previewUnavailable: why))
            case .playback(let playback, let waveform, let gainDb):
                return .accepted(.init(detectedType: detected, kind: kind, size: size,
                                       artifacts: [originalArtifact, playback], previewUnavailable: nil,
                                       waveform: waveform, gainDb: gainDb))
            }
        }
    }

    /// Durations of the pipeline's phases for one file (logged per job by the worker).
    public struct PhaseTimings: Sendable {
        public var sniff: Duration = .zero
        public var transform: Duration = .zero
        public init() {}
    }

    /// libmagic reads at most this many leading bytes.
    static let sniffBytes = 1 << 20
}
