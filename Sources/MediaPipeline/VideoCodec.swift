import CAVCodec
import CVipsOperations

/// FFmpeg (libavformat + libavcodec + libswscale, libx264 for H.264) in this process, for animations: a
/// visitor's GIF that WhatsApp turned into MP4, and an operator's GIF that WhatsApp only takes as MP4.
///
/// libx264 through libavcodec rather than OpenH264: it is the encoder Debian's libavcodec is built with, it
/// honours CRF and presets (OpenH264 has only a bitrate target), and it makes smaller files at the same quality.
enum VideoCodec {
    /// FFmpeg's demuxer for each sniffed type (only that one may open the bytes).
    static func demuxer(for type: String) -> String? {
        switch type {
        case MediaType.mp4, MediaType.quicktime: return "mov"
        case MediaType.gif: return "gif"
        default: return nil
        }
    }

    private static let quiet: Void = mw_av_quiet()

    /// What demuxing and decoding an animation found.
    struct Inspection {
        var videoCodec: String
        var pixelFormat: String
        var audioCodec: String
        var width: Int
        var height: Int
        var audioStreams: Int
        var durationMs: Int
        /// Largest absolute audio sample, 0…1; nil when the audio does not decode.
        var audioPeak: Double?
        var thumbnail: Artifact?
    }

    enum Failure: Error {
        case corrupt(String)
        case tooManyPixels(width: Int, height: Int)
        case tooManyFrames(String)
        case timeLimit
        case tooLarge(String)
        case internalError(String)
        /// FFmpeg lacks, or cannot open, a demuxer or encoder it needs: the installation's fault, not the file's,
        /// so the job is retried (`PipelineError.codec`).
        case codecStart(String)

        /// The one reading of CAVCodec's status: nil for `.ok`. `message` is the C side's `error` text;
        /// `width` × `height` is the frame that was over the pixel limit.
        init?(_ status: mw_av_status, message: String, width: Int32, height: Int32) {
            switch status {
            case .ok: return nil
            case .corrupt: self = .corrupt(message)
            case .internal: self = .internalError(message)
            case .tooManyPixels: self = .tooManyPixels(width: Int(width), height: Int(height))
            case .tooManyFrames: self = .tooManyFrames(message)
            case .timeLimit: self = .timeLimit
            case .tooLarge: self = .tooLarge(message)
            case .codecMissing: self = .codecStart(message)
            }
        }
    }

    /// A fixed-size C string field (`error`, `video_codec`, …) as a Swift string.
    private static func string<T>(_ field: T) -> String {
        withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    static func deadline(_ settings: PipelineSettings) -> gint64 {
        mw_monotonic_us() + gint64(settings.timeLimitSeconds * 1_000_000)
    }

    /// Demuxes, decodes the first frame (made into a thumbnail) and every audio frame.
    static func inspect(_ bytes: UnsafeRawBufferPointer, type: String, settings: PipelineSettings) -> Result<Inspection, Failure> {
        _ = quiet
        guard let demuxer = demuxer(for: type), let base = bytes.baseAddress else { return .failure(.internalError("no demuxer for \(type)")) }
        var found = mw_av_inspection()
        let status = mw_av_inspect(base, bytes.count, demuxer, Int64(settings.maxPixels), Int64(deadline(settings)), &found)
        defer { mw_av_free(found.first_frame) }
        if let failure = Failure(status, message: string(found.error), width: found.width, height: found.height) {
            return .failure(failure)
        }
        guard let frame = found.first_frame else { return .failure(.corrupt("no video frame decodes")) }
        var inspection = Inspection(videoCodec: string(found.video_codec), pixelFormat: string(found.pixel_format),
                                    audioCodec: string(found.audio_codec), width: Int(found.width), height: Int(found.height),
                                    audioStreams: Int(found.audio_streams), durationMs: Int(found.duration_ms),
                                    audioPeak: found.audio_peak < 0 ? nil : found.audio_peak, thumbnail: nil)
        _ = try? VipsRuntime.start()
        switch ImagePreviewer(settings: settings).preview(rgba: frame, width: inspection.width, height: inspection.height) {
        case .thumbnail(let t): inspection.thumbnail = t
        case .rejected(let r): return .failure(.internalError(r.message))
        case .unavailable: break
        }
        return .success(inspection)
    }

    /// The animation (GIF, MP4, QuickTime) as H.264 in MP4: index first, no audio, every frame's duration kept.
    static func h264MP4(_ bytes: UnsafeRawBufferPointer, type: String, settings: PipelineSettings, maxBytes: Int,
                        role: ArtifactRole, sendAs: SendAs? = nil) -> Result<Artifact, Failure> {
        _ = quiet
        guard let demuxer = demuxer(for: type), let base = bytes.baseAddress else { return .failure(.internalError("no demuxer for \(type)")) }
        var made = mw_av_encoded()
        let status = mw_av_to_h264_mp4(base, bytes.count, demuxer, Int32(settings.videoMaxSide), Int32(settings.h264CRF),
                                       settings.h264Preset, Int32(settings.videoThreads), Int64(settings.maxPixels),
                                       Int64(settings.maxFrames), Int64(maxBytes), Int64(deadline(settings)), &made)
        defer { mw_av_free(made.data) }
        if let failure = Failure(status, message: string(made.error), width: made.width, height: made.height) {
            return .failure(failure)
        }
        guard let data = made.data else { return .failure(.internalError("no MP4 came out")) }
        let mp4 = [UInt8](UnsafeBufferPointer(start: data, count: Int(made.size)))
        return .success(Artifact(role: role, contentType: MediaType.mp4, bytes: mp4, width: Int(made.width),
                                 height: Int(made.height), durationMs: Int(made.duration_ms), sendAs: sendAs))
    }
}
