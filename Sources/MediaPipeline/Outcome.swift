/// Why an accepted file has no preview (the desk shows a generic icon instead).
public enum PreviewUnavailable: String, Sendable, Codable {
    /// A PDF that needs a password to open.
    case encrypted
    /// A well-formed PDF that the renderer could not draw.
    case unrenderable
    /// Rendering passed the per-file time limit.
    case timeLimit = "time_limit"
    /// A visitor video (allowed by setting) that browsers cannot play as it is; no playback was made.
    case unplayable
}

/// Why a visitor's PDF has no safe copy (the desk offers only the original, as a download).
public enum SafeCopyUnavailable: String, Sendable, Codable, CaseIterable, Error {
    /// More pages than `MEDIAWORKER_SAFE_COPY_MAX_PAGES`.
    case tooManyPages = "too_many_pages"
    /// Rendering every page took longer than `MEDIAWORKER_SAFE_COPY_TIME_LIMIT`.
    case timeLimit = "time_limit"
    /// Larger than `MEDIAWORKER_SAFE_COPY_MAX_BYTES`, even at the retry quality.
    case tooLarge = "too_large"
    /// The PDF needs a password to open.
    case encrypted
    /// The renderer could not draw a page.
    case unrenderable
}

/// One file the pipeline made (or the original it keeps).
public struct Artifact: Sendable, Equatable {
    public var role: ArtifactRole
    public var contentType: String
    /// The bytes; for `original` these are the input bytes.
    public var bytes: [UInt8]
    public var width: Int?
    public var height: Int?
    public var durationMs: Int?
    /// Delivery artifacts: the WhatsApp message type to send the bytes as.
    public var sendAs: SendAs?
    /// Safe copies: the number of pages.
    public var pages: Int?

    public init(role: ArtifactRole, contentType: String, bytes: [UInt8], width: Int? = nil, height: Int? = nil, durationMs: Int? = nil,
                sendAs: SendAs? = nil, pages: Int? = nil) {
        self.pages = pages
        self.sendAs = sendAs
        self.role = role
        self.contentType = contentType
        self.bytes = bytes
        self.width = width
        self.height = height
        self.durationMs = durationMs
    }
}

/// The final result of the pipeline for one attachment.
public enum Outcome: Sendable, Equatable {
    case accepted(Accepted)
    case rejected(Rejection)

    public struct Accepted: Sendable, Equatable {
        public var detectedType: String
        public var kind: AttachmentKind
        public var size: Int
        public var artifacts: [Artifact]
        /// Set when a document or image is accepted without a thumbnail.
        public var previewUnavailable: PreviewUnavailable?
        /// Voice notes: normalised peak values (loudest = 1) for the desk to draw.
        public var waveform: [Double]? = nil
        /// Voice notes: the loudness gain applied, dB (0 when none).
        public var gainDb: Double? = nil
        /// Visitors' PDFs without a `safe_copy`: why.
        public var safeCopyUnavailable: SafeCopyUnavailable? = nil

        public init(detectedType: String, kind: AttachmentKind, size: Int, artifacts: [Artifact],
                    previewUnavailable: PreviewUnavailable?, waveform: [Double]? = nil, gainDb: Double? = nil) {
            self.detectedType = detectedType
            self.kind = kind
            self.size = size
            self.artifacts = artifacts
            self.previewUnavailable = previewUnavailable
            self.waveform = waveform
            self.gainDb = gainDb
        }
    }

    /// The sniffed type, when sniffing got that far.
    public var detectedType: String? {
        switch self {
        case .accepted(let a): return a.detectedType
        case .rejected(let r): return r.detectedType
        }
    }

    public var size: Int {
        switch self {
        case .accepted(let a): return a.size
        case .rejected(let r): return r.size
        }
    }
}
