import CVips
import CVipsOperations
import MediaJSON

/// What the gateway sends to WhatsApp for an operator's file, or why there is none.
enum DeliveryResult {
    case delivery(Artifact)
    case rejected(Rejection)
    /// The per-file time limit passed: the file is kept, without a delivery artifact.
    case timeLimit
}

/// Makes every accepted operator file's `delivery` artifact by the channel's `DeliveryRules`:
/// - PDF: unchanged, sent as a document;
/// - JPEG already fit to send (`JPEGConformance`) and within the size: byte for byte;
/// - other JPEGs, PNGs and single-frame GIFs: EXIF orientation applied, 8-bit sRGB, every piece of metadata
///   dropped (no GPS leaves the desk); transparency flattened onto white as JPEG (WhatsApp would turn it black);
///   opaque PNG/GIF stay PNG; scaled down until within the image size limit;
/// - animated GIFs: H.264 in MP4, index first, no audio, frame timing kept, within the video size limit.
struct DeliveryMaker {
    let settings: PipelineSettings
    let rules: DeliveryRules

    func make(_ bytes: UnsafeRawBufferPointer, original: [UInt8], type: String) throws -> DeliveryResult {
        if rules.documentTypes.contains(type) {
            guard bytes.count <= rules.documentMaxBytes else {
                return .rejected(Rejection(.tooLarge, "\(grouped(bytes.count)) bytes is over the channel's \(grouped(rules.documentMaxBytes))-byte document limit"))
            }
            return .delivery(Artifact(role: .delivery, contentType: type, bytes: original, sendAs: .document))
        }
        if type == MediaType.jpeg, bytes.count <= rules.imageMaxBytes, rules.imageTypes.contains(type),
           JPEGConformance.sendableAsIs(bytes) {
            try VipsRuntime.start()
            guard let base = bytes.baseAddress,
                  let opened = mw_image_header(base, bytes.count, Int32(VIPS_FAIL_ON_WARNING.rawValue)) else {
                return .rejected(Rejection(.corrupt, "the JPEG does not decode: \(VipsError.take())"))
            }
            let header = VipsImageRef(opened)
            return .delivery(Artifact(role: .delivery, contentType: type, bytes: original, width: header.width,
                                      height: header.height, sendAs: .image))
        }
        guard let base = bytes.baseAddress else { return .rejected(Rejection(.corrupt, "the file is empty")) }
        try VipsRuntime.start()
        if type == MediaType.gif, (GIFStructure.frameCount(bytes) ?? 1) > 1 {
            return try animation(bytes, type: type)
        }
        return image(base, count: bytes.count, type: type)
    }

    /// An animated GIF as an MP4 video; smaller and coarser once if the first try is over the size limit.
    private func animation(_ bytes: UnsafeRawBufferPointer, type: String) throws -> DeliveryResult {
        var tuned = settings
        for attempt in 0..<3 {
            switch VideoCodec.h264MP4(bytes, type: type, settings: tuned, maxBytes: rules.videoMaxBytes,
                                      role: .delivery, sendAs: .video) {
            case .success(let video): return .delivery(video)
            case .failure(.tooLarge) where attempt < 2:
                tuned.videoMaxSide = max(16, tuned.videoMaxSide / 2)
                tuned.h264CRF = min(51, tuned.h264CRF + 5)
            case .failure(.timeLimit): return .timeLimit
            case .failure(let failure):
                switch failure {
                case .corrupt(let why): return .rejected(Rejection(.corrupt, "the GIF does not decode: \(why)"))
                case .tooManyPixels(let w, let h):
                    return .rejected(Rejection(.tooManyPixels, "the GIF's frames are \(w) × \(h) pixels, over the pixel limit"))
                case .tooManyFrames(let why): return .rejected(Rejection(.tooLong, "the GIF has too many frames: \(why)"))
                case .tooLarge:
                    return .rejected(Rejection(.tooLarge, "as H.264 video the animation stays over the channel's \(grouped(rules.videoMaxBytes))-byte video limit"))
                case .internalError(let why): return .rejected(Rejection(.corrupt, "the GIF cannot be made into a video: \(why)"))
                case .codecStart(let why): throw PipelineError.codec(why)
                case .timeLimit: return .timeLimit
                }
            }
        }
        return .rejected(Rejection(.tooLarge, "as H.264 video the animation stays over the channel's \(grouped(rules.videoMaxBytes))-byte video limit"))
    }

    /// A still image re-encoded for the channel.
    private func image(_ base: UnsafeRawPointer, count: Int, type: String) -> DeliveryResult {
        let label = ImagePreviewer.label(type)
        guard let loaded = mw_image_full(base, count) else {
            return .rejected(Rejection(.corrupt, "the \(label) does not decode: \(VipsError.take())"))
        }
        var image = VipsImageRef(loaded)
        let watch = mw_watch_deadline(image.pointer, VideoCodec.deadline(settings))
        func failed() -> DeliveryResult {
            let why = VipsError.take()
            if watch?.pointee.fired ?? 0 != 0 { return .timeLimit }
            return .rejected(Rejection(.corrupt, "the \(label) does not decode: \(why)"))
        }
        func step(_ body: (UnsafeMutablePointer<VipsImage>, inout UnsafeMutablePointer<VipsImage>?) -> Int32) -> Bool {
            var out: UnsafeMutablePointer<VipsImage>? = nil
            guard body(image.pointer, &out) == 0, let out else { return false }
            image = VipsImageRef(out)
            return true
        }
        guard step({ mw_autorot($0, &$1) }) else { return failed() }
        if image.hasICCProfile {
            guard step({ mw_icc_to_srgb($0, &$1) }) else { return failed() }
        }
        guard step({ mw_to_srgb8($0, &$1) }) else { return failed() }
        // Transparency is flattened onto white and sent as JPEG; opaque PNG and GIF stay lossless.
        var asJPEG = type == MediaType.jpeg || !rules.imageTypes.contains(MediaType.png)
        if image.hasAlpha {
            guard step({ mw_flatten_white($0, &$1) }) else { return failed() }
            asJPEG = rules.flattenedType == MediaType.jpeg
        }
        for attempt in 0..<8 {
            var buffer: UnsafeMutableRawPointer? = nil
            var length = 0
            let status = asJPEG ? mw_save_jpeg(image.pointer, Int32(settings.deliveryJPEGQuality), &buffer, &length)
                                : mw_save_png8(image.pointer, &buffer, &length)
            defer { g_free(buffer) }
            guard status == 0, let buffer else { return failed() }
            if length <= rules.imageMaxBytes {
                let bytes = [UInt8](UnsafeRawBufferPointer(start: buffer, count: length))
                return .delivery(Artifact(role: .delivery, contentType: asJPEG ? MediaType.jpeg : MediaType.png, bytes: bytes,
                                          width: image.width, height: image.height, sendAs: .image))
            }
            // Over the limit: a PNG tries JPEG first, then the picture shrinks by a quarter each time.
            if !asJPEG { asJPEG = true; continue }
            guard attempt < 7, step({ mw_resize($0, 0.75, &$1) }) else { break }
        }
        return .rejected(Rejection(.tooLarge, "the \(label) stays over the channel's \(grouped(rules.imageMaxBytes))-byte image limit"))
    }
}
