/// Output format of thumbnails.
public enum ThumbnailFormat: String, Sendable, CaseIterable {
    case webp, jpeg, png

    public var contentType: String {
        switch self {
        case .webp: return MediaType.webp
        case .jpeg: return MediaType.jpeg
        case .png: return MediaType.png
        }
    }
}

/// Every limit and knob of the pipeline, with the defaults documented in docs/configuration.md.
public struct PipelineSettings: Sendable, Equatable {
    /// Largest accepted attachment in bytes (`MEDIAWORKER_MAX_BYTES`, default 5 MiB = 5,242,880).
    public var maxBytes: Int = Settings.defaultMaxBytes
    /// Largest accepted width × height, read from the header before decoding (`MEDIAWORKER_MAX_PIXELS`).
    public var maxPixels: Int = 50_000_000
    /// Longest side of a thumbnail in pixels; smaller images are never upscaled (`MEDIAWORKER_THUMBNAIL_SIZE`).
    public var thumbnailSize: Int = 480
    /// Thumbnail encoding (`MEDIAWORKER_THUMBNAIL_FORMAT`: webp, jpeg or png).
    public var thumbnailFormat: ThumbnailFormat = .webp
    /// Lossy quality for WebP and JPEG thumbnails, 1–100 (`MEDIAWORKER_THUMBNAIL_QUALITY`).
    public var thumbnailQuality: Int = 80
    /// libwebp effort 0–6: higher is smaller and slower (`MEDIAWORKER_WEBP_EFFORT`, libwebp's default 4).
    public var webpEffort: Int = 4
    /// Per-file processing time limit in seconds (`MEDIAWORKER_TIME_LIMIT`): covers a thumbnail's
    /// evaluation and a voice note's whole conversion (a 30-minute note takes about 10 s on one core).
    public var timeLimitSeconds: Double = 60
    /// Longest accepted voice note in seconds (`MEDIAWORKER_MAX_DURATION`, default 30 minutes).
    public var maxDurationSeconds: Double = 30 * 60
    /// libmp3lame VBR quality of converted voice notes, 0 (best) to 9 (`MEDIAWORKER_VOICE_VBR_QUALITY`);
    /// 6 gives about 50 kbps for 24 kHz mono speech.
    public var voiceVBRQuality: Int = 6
    /// MP3 sample rate of converted voice notes, Hz (`MEDIAWORKER_VOICE_SAMPLE_RATE`: 16000, 22050 or 24000).
    public var voiceSampleRate: Int = 24_000
    /// libmp3lame's algorithm quality, 0 (best, slowest) to 9 (`MEDIAWORKER_MP3_QUALITY`).
    public var mp3Quality: Int = 5
    /// Boost quiet voice notes towards `voiceTargetDbfs` (`MEDIAWORKER_VOICE_NORMALIZE`: true or false).
    public var normalizeVoiceNotes: Bool = true
    /// Speech level quiet notes are raised to, dBFS RMS over voiced parts (`MEDIAWORKER_VOICE_TARGET_DBFS`).
    public var voiceTargetDbfs: Double = -20
    /// The most a note is boosted, dB (`MEDIAWORKER_VOICE_MAX_GAIN_DB`); loud notes are never cut.
    public var voiceMaxGainDb: Double = 15
    /// Number of peak values in a voice note's waveform (`MEDIAWORKER_WAVEFORM_POINTS`).
    public var waveformPoints: Int = 64
    /// Longest accepted visitor animation (a GIF WhatsApp turned into MP4), seconds (`MEDIAWORKER_ANIMATION_MAX_SECONDS`).
    public var animationMaxSeconds: Double = 30
    /// Visitors' WebP stickers accepted (`MEDIAWORKER_STICKERS`: true or false).
    public var stickers: Bool = true
    /// Visitors' videos with sound accepted as kind `video` (`MEDIAWORKER_VISITOR_VIDEO`: true or false; default
    /// false: `unsupported_type`).
    public var visitorVideo: Bool = false
    /// Most frames decoded from one animation (`MEDIAWORKER_MAX_FRAMES`).
    public var maxFrames: Int = 3000
    /// Longest side of an H.264 video made from an animation, pixels (`MEDIAWORKER_VIDEO_MAX_SIDE`).
    public var videoMaxSide: Int = 1280
    /// libx264 preset of videos made from animations (`MEDIAWORKER_H264_PRESET`).
    public var h264Preset: String = "veryfast"
    /// libx264 constant rate factor, 0 (lossless) to 51 (`MEDIAWORKER_H264_CRF`).
    public var h264CRF: Int = 23
    /// Encoder threads per video (`MEDIAWORKER_VIDEO_THREADS`); jobs run side by side, so 1 by default.
    public var videoThreads: Int = 1
    /// JPEG quality of re-encoded operator images sent to WhatsApp (`MEDIAWORKER_DELIVERY_JPEG_QUALITY`).
    public var deliveryJPEGQuality: Int = 85
    /// Visitors' PDFs get a `safe_copy` re-drawn from pixels (`MEDIAWORKER_SAFE_COPY`: true or false).
    public var safeCopies: Bool = true
    /// Most pages a safe copy is made of; longer PDFs get none (`MEDIAWORKER_SAFE_COPY_MAX_PAGES`).
    public var safeCopyMaxPages: Int = 50
    /// Time for rendering every page of a safe copy, seconds, apart from the thumbnail's
    /// (`MEDIAWORKER_SAFE_COPY_TIME_LIMIT`).
    public var safeCopyTimeLimitSeconds: Double = 30
    /// Largest safe copy in bytes, after one retry at `safeCopyRetryQuality` (`MEDIAWORKER_SAFE_COPY_MAX_BYTES`, 20 MiB).
    public var safeCopyMaxBytes: Int = 20 << 20
    /// Resolution pages are rendered at (`MEDIAWORKER_SAFE_COPY_DPI`); larger pages get less, see below.
    public var safeCopyDPI: Double = 150
    /// Most pixels of one rendered page (`MEDIAWORKER_SAFE_COPY_MAX_PAGE_PIXELS`): a page larger than this at
    /// `safeCopyDPI` is rendered at the resolution that fits.
    public var safeCopyMaxPagePixels: Int = 4_000_000
    /// JPEG quality of photo-like pages (`MEDIAWORKER_SAFE_COPY_JPEG_QUALITY`).
    public var safeCopyJPEGQuality: Int = 75
    /// JPEG quality of the one retry when a copy is over `safeCopyMaxBytes` (`MEDIAWORKER_SAFE_COPY_RETRY_QUALITY`).
    public var safeCopyRetryQuality: Int = 40

    public init() {}

    /// Every variable `init(environment:)` reads: exactly what a helper process is given of the service's
    /// environment, with `HelperSettings.environmentKeys` (a test checks this list against the reader).
    public static let environmentKeys: Set<String> = [
        "MEDIAWORKER_MAX_BYTES",
        "MEDIAWORKER_ANIMATION_MAX_SECONDS",
        "MEDIAWORKER_DELIVERY_JPEG_QUALITY",
        "MEDIAWORKER_H264_CRF",
        "MEDIAWORKER_H264_PRESET",
        "MEDIAWORKER_MAX_DURATION",
        "MEDIAWORKER_MAX_FRAMES",
        "MEDIAWORKER_MAX_PIXELS",
        "MEDIAWORKER_MP3_QUALITY",
        "MEDIAWORKER_SAFE_COPY",
        "MEDIAWORKER_SAFE_COPY_DPI",
        "MEDIAWORKER_SAFE_COPY_JPEG_QUALITY",
        "MEDIAWORKER_SAFE_COPY_MAX_BYTES",
        "MEDIAWORKER_SAFE_COPY_MAX_PAGES",
        "MEDIAWORKER_SAFE_COPY_MAX_PAGE_PIXELS",
        "MEDIAWORKER_SAFE_COPY_RETRY_QUALITY",
        "MEDIAWORKER_SAFE_COPY_TIME_LIMIT",
        "MEDIAWORKER_STICKERS",
        "MEDIAWORKER_THUMBNAIL_FORMAT",
        "MEDIAWORKER_THUMBNAIL_QUALITY",
        "MEDIAWORKER_THUMBNAIL_SIZE",
        "MEDIAWORKER_TIME_LIMIT",
        "MEDIAWORKER_VIDEO_MAX_SIDE",
        "MEDIAWORKER_VIDEO_THREADS",
        "MEDIAWORKER_VISITOR_VIDEO",
        "MEDIAWORKER_VOICE_MAX_GAIN_DB",
        "MEDIAWORKER_VOICE_NORMALIZE",
        "MEDIAWORKER_VOICE_SAMPLE_RATE",
        "MEDIAWORKER_VOICE_TARGET_DBFS",
        "MEDIAWORKER_VOICE_VBR_QUALITY",
        "MEDIAWORKER_WAVEFORM_POINTS",
        "MEDIAWORKER_WEBP_EFFORT",
    ]

    /// Reads `MEDIAWORKER_*` variables over the defaults; throws on a malformed value.
    public init(environment: [String: String]) throws {
        self.init()
        let env = Settings(environment: environment)
        maxBytes = try env.maxBytes()
        if let v = try env.int("MEDIAWORKER_MAX_PIXELS", 1...(1 << 40)) { maxPixels = v }
        if let v = try env.int("MEDIAWORKER_THUMBNAIL_SIZE", 16...4096) { thumbnailSize = v }
        if let v = try env.int("MEDIAWORKER_THUMBNAIL_QUALITY", 1...100) { thumbnailQuality = v }
        if let v = try env.int("MEDIAWORKER_WEBP_EFFORT", 0...6) { webpEffort = v }
        if let v = try env.positive("MEDIAWORKER_TIME_LIMIT") { timeLimitSeconds = v }
        if let v = try env.positive("MEDIAWORKER_MAX_DURATION") { maxDurationSeconds = v }
        if let v = try env.int("MEDIAWORKER_VOICE_VBR_QUALITY", 0...9) { voiceVBRQuality = v }
        if let v = try env.int("MEDIAWORKER_VOICE_SAMPLE_RATE", 8000...48000) { voiceSampleRate = v }
        if let v = try env.int("MEDIAWORKER_MP3_QUALITY", 0...9) { mp3Quality = v }
        if let v = try env.int("MEDIAWORKER_WAVEFORM_POINTS", 8...1000) { waveformPoints = v }
        if let v = try env.positive("MEDIAWORKER_VOICE_MAX_GAIN_DB") { voiceMaxGainDb = v }
        if let v = try env.positive("MEDIAWORKER_ANIMATION_MAX_SECONDS") { animationMaxSeconds = v }
        if let v = try env.bool("MEDIAWORKER_STICKERS") { stickers = v }
        if let v = try env.bool("MEDIAWORKER_VISITOR_VIDEO") { visitorVideo = v }
        if let v = try env.int("MEDIAWORKER_MAX_FRAMES", 1...100_000) { maxFrames = v }
        if let v = try env.int("MEDIAWORKER_VIDEO_MAX_SIDE", 16...8192) { videoMaxSide = v }
        if let v = try env.int("MEDIAWORKER_H264_CRF", 0...51) { h264CRF = v }
        if let v = try env.int("MEDIAWORKER_VIDEO_THREADS", 0...64) { videoThreads = v }
        if let v = try env.int("MEDIAWORKER_DELIVERY_JPEG_QUALITY", 1...100) { deliveryJPEGQuality = v }
        if let v = try env.choice("MEDIAWORKER_H264_PRESET", H264Preset.self) { h264Preset = v.rawValue }
        if let v = try env.parsed("MEDIAWORKER_VOICE_TARGET_DBFS", expected: "a level between -60 and 0", {
            Double($0).flatMap { $0 < 0 && $0 > -60 ? $0 : nil }
        }) { voiceTargetDbfs = v }
        if let v = try env.bool("MEDIAWORKER_VOICE_NORMALIZE") { normalizeVoiceNotes = v }
        if let v = try env.choice("MEDIAWORKER_THUMBNAIL_FORMAT", ThumbnailFormat.self) { thumbnailFormat = v }
        if let v = try env.bool("MEDIAWORKER_SAFE_COPY") { safeCopies = v }
        if let v = try env.int("MEDIAWORKER_SAFE_COPY_MAX_PAGES", 1...10_000) { safeCopyMaxPages = v }
        if let v = try env.positive("MEDIAWORKER_SAFE_COPY_TIME_LIMIT") { safeCopyTimeLimitSeconds = v }
        if let v = try env.int("MEDIAWORKER_SAFE_COPY_MAX_BYTES", 1024...(1 << 30)) { safeCopyMaxBytes = v }
        if let v = try env.parsed("MEDIAWORKER_SAFE_COPY_DPI", expected: "a resolution from 36 to 600", {
            Double($0).flatMap { $0 >= 36 && $0 <= 600 ? $0 : nil }
        }) { safeCopyDPI = v }
        if let v = try env.int("MEDIAWORKER_SAFE_COPY_MAX_PAGE_PIXELS", 10_000...50_000_000) { safeCopyMaxPagePixels = v }
        if let v = try env.int("MEDIAWORKER_SAFE_COPY_JPEG_QUALITY", 1...100) { safeCopyJPEGQuality = v }
        if let v = try env.int("MEDIAWORKER_SAFE_COPY_RETRY_QUALITY", 1...100) { safeCopyRetryQuality = v }
    }
}

/// libx264's presets, fastest first.
enum H264Preset: String, CaseIterable {
    case ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow
}
