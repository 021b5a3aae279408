import MediaJSON
/// What became of a visitor's MP4/QuickTime (a GIF as WhatsApp carries it, or a video).
enum AnimationResult {
    case accepted(AttachmentKind, [Artifact], PreviewUnavailable?)
    case rejected(Rejection)
}

/// A visitor's MP4 is an `animation` when it is what WhatsApp makes of a GIF: no sound (no audio stream, or one
/// whose every sample is below -60 dBFS) and at most `animationMaxSeconds` long. Decided by demuxing and decoding,
/// never by the label. Artifacts: a thumbnail of the first frame, and a `playback` every browser plays in a tab —
/// the original when it already is H.264 (4:2:0) in MP4 with its index first, else re-encoded.
struct AnimationProcessor {
    let settings: PipelineSettings

    /// Audio below this peak (-60 dBFS) is silence: some phones add a silent track to a GIF's MP4.
    static let silencePeak = 0.001

    func process(_ bytes: UnsafeRawBufferPointer, type: String) throws -> AnimationResult {
        let label = type == MediaType.quicktime ? "QuickTime video" : "MP4"
        // The boxes must tile the file: a download cut short (its `mdat` running past the end) still demuxes
        // and its first frame may decode, but it is not the visitor's file.
        guard MP4Boxes.topLevel(bytes) != nil else {
            return .rejected(Rejection(.corrupt, "the \(label) is cut short or damaged: its top-level boxes do not fit the file"))
        }
        let inspection: VideoCodec.Inspection
        switch VideoCodec.inspect(bytes, type: type, settings: settings) {
        case .success(let i): inspection = i
        case .failure(let failure): return try Self.rejection(failure, label: label, kind: .animation)
        }
        let hasSound = inspection.audioStreams > 0 && (inspection.audioPeak ?? 1) > Self.silencePeak
        let seconds = Double(inspection.durationMs) / 1000
        let kind: AttachmentKind
        if hasSound {
            guard settings.visitorVideo else {
                let what = inspection.audioPeak == nil ? "an audio track that does not decode" : "sound"
                return .rejected(Rejection(.unsupportedType,
                    "\(label == "MP4" ? "an" : "a") \(label) with \(what) is a video, not an animation (GIF); visitors' videos are not accepted"))
            }
            kind = .video
            if seconds > settings.maxDurationSeconds {
                return .rejected(Rejection(.tooLong, "the video lasts \(Self.format(seconds)) s, over the \(Self.format(settings.maxDurationSeconds)) s limit"))
            }
        } else {
            kind = .animation
            if seconds > settings.animationMaxSeconds {
                return .rejected(Rejection(.tooLong,
                    "the animation lasts \(Self.format(seconds)) s, over the \(Self.format(settings.animationMaxSeconds)) s limit"))
            }
        }
        var artifacts: [Artifact] = []
        if let thumbnail = inspection.thumbnail { artifacts.append(thumbnail) }

        // Playable as it is: H.264 4:2:0 in MP4 (not QuickTime), index first, and sound (if any) in AAC.
        let playableAsIs = type == MediaType.mp4 && inspection.videoCodec == "h264"
            && ["yuv420p", "yuvj420p"].contains(inspection.pixelFormat)
            && (inspection.audioStreams == 0 || inspection.audioCodec == "aac") && MP4Boxes.indexFirst(bytes)
        if playableAsIs {
            artifacts.append(Artifact(role: .playback, contentType: MediaType.mp4, bytes: [UInt8](bytes),
                                      width: inspection.width, height: inspection.height, durationMs: inspection.durationMs))
            return .accepted(kind, artifacts, nil)
        }
        // A video's sound would be lost by the silent re-encode: its original stays the only copy.
        if kind == .video { return .accepted(kind, artifacts, .unplayable) }
        switch VideoCodec.h264MP4(bytes, type: type, settings: settings, maxBytes: Int.max / 2, role: .playback) {
        case .success(let playback):
            artifacts.append(playback)
            return .accepted(kind, artifacts, nil)
        case .failure(let failure):
            return try Self.rejection(failure, label: label, kind: kind)
        }
    }

    /// A decoding failure as the outcome the contract gives it (internal failures throw: the job is retried).
    static func rejection(_ failure: VideoCodec.Failure, label: String, kind: AttachmentKind) throws -> AnimationResult {
        switch failure {
        case .corrupt(let why): return .rejected(Rejection(.corrupt, "the \(label) does not decode: \(why)"))
        case .tooManyPixels(let w, let h):
            return .rejected(Rejection(.tooManyPixels, "the \(label)'s frames are \(w) × \(h) = \(grouped(w * h)) pixels, over the pixel limit"))
        case .tooManyFrames(let why): return .rejected(Rejection(.tooLong, "the \(label) has too many frames: \(why)"))
        case .timeLimit: return .accepted(kind, [], .timeLimit)
        case .tooLarge(let why): return .rejected(Rejection(.tooLarge, "the \(label) as H.264 video: \(why)"))
        case .codecStart(let why): throw PipelineError.codec(why)
        // Anything else (an allocation the helper's memory limit refused, a frame that does not convert) is
        // this file's doing: final, like every decoder failure.
        case .internalError(let why): return .rejected(Rejection(.corrupt, "the \(label) cannot be processed: \(why)"))
        }
    }

    static func format(_ seconds: Double) -> String {
        let tenths = (seconds * 10).rounded() / 10
        return tenths == tenths.rounded() ? String(Int(tenths)) : String(tenths)
    }
}
