import MediaJSON
import CVips
import CVipsOperations

/// What the previewer made of one image or PDF.
enum PreviewResult {
    /// A thumbnail was made: the file decoded, so it is what its bytes claim.
    case thumbnail(Artifact)
    /// The file is acceptable but has no preview (encrypted or unrenderable PDF, time limit).
    case unavailable(PreviewUnavailable)
    /// The file is refused.
    case rejected(Rejection)
}

/// Verifies images and PDFs by decoding them with libvips and makes their thumbnails.
///
/// Order matters for safety: the header alone is read first (cheap), the pixel limit is enforced on it,
/// and only then is anything decoded, shrinking on load where the format allows it.
struct ImagePreviewer {
    let settings: PipelineSettings

    /// Strict decoding: truncated or damaged images fail instead of decoding silently. libvips 8.14
    /// reports a truncated JPEG and a damaged PNG stream only as warnings, so the level is `warning`.
    private var failOn: Int32 { Int32(VIPS_FAIL_ON_WARNING.rawValue) }

    /// The libvips loader each sniffed type must be opened by; any other loader means the bytes
    /// disagree with libmagic, and the file is corrupt.
    static func loader(for type: String) -> String? {
        switch type {
        case MediaType.jpeg: return "jpegload_buffer"
        case MediaType.png: return "pngload_buffer"
        case MediaType.gif: return "gifload_buffer"
        case MediaType.pdf: return "pdfload_buffer"
        case MediaType.webp: return "webpload_buffer"
        default: return nil
        }
    }

    func preview(_ bytes: UnsafeRawBufferPointer, type: String) -> PreviewResult {
        let isPDF = type == MediaType.pdf
        let deadline = mw_monotonic_us() + gint64(settings.timeLimitSeconds * 1_000_000)
        guard let base = bytes.baseAddress, let expectedLoader = Self.loader(for: type) else {
            return .rejected(Rejection(.unsupportedType, "\(type) has no previewer"))
        }
        let label = Self.label(type)

        // 0. libnsgif clamps an absurd logical screen to the first frame, so read the GIF's own header.
        if type == MediaType.gif, bytes.count >= 10 {
            let width = Int(bytes[6]) | Int(bytes[7]) << 8, height = Int(bytes[8]) | Int(bytes[9]) << 8
            if width * height > settings.maxPixels {
                return .rejected(Rejection(.tooManyPixels,
                    "the GIF's screen is \(width) × \(height) = \(grouped(width * height)) pixels, over the \(grouped(settings.maxPixels))-pixel limit"))
            }
        }

        // 1. Header only.
        guard let opened = mw_image_header(base, bytes.count, failOn) else {
            let detail = VipsError.take()
            if isPDF { return PDFStructure(bytes).fallback(detail: detail) }
            return .rejected(Rejection(.corrupt, "the \(label) does not decode: \(detail)"))
        }
        let header = VipsImageRef(opened)
        guard header.loader == expectedLoader else {
            return .rejected(Rejection(.corrupt, "the bytes look like \(label) but libvips reads them as \(header.loader ?? "nothing")"))
        }
        let (width, height) = (header.width, header.height)
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        if overflow || pixels > settings.maxPixels {
            let what = isPDF ? "the first page at 72 DPI is" : (type == MediaType.gif ? "the GIF's screen is" : "the image is")
            return .rejected(Rejection(.tooManyPixels,
                "\(what) \(width) × \(height) = \(grouped(pixels)) pixels, over the \(grouped(settings.maxPixels))-pixel limit"))
        }

        // 2. Decode and shrink. Colour management only where there is something to manage: an embedded
        //    ICC profile is honoured (then dropped); untagged images are sRGB already, and CMYK without a
        //    profile is imported by libvips with its default CMYK profile either way.
        let exportProfile: String? = header.hasICCProfile ? "srgb" : nil
        var thumbnailPointer: UnsafeMutablePointer<VipsImage>? = nil
        let decoded = exportProfile.withOptionalCString { profile -> Int32 in
            let shrink = Self.jpegShrink(width: width, height: height, target: settings.thumbnailSize)
            if type == MediaType.jpeg && shrink > 1 {
                // libjpeg decodes at 1/2, 1/4 or 1/8 while the longest side stays ≥ the target (libvips
                // itself keeps 2× more, decoding a 1600 px photo at full size for a 480 px thumbnail).
                var shrunk: UnsafeMutablePointer<VipsImage>? = nil
                guard mw_jpeg_shrunk(base, bytes.count, Int32(shrink), &shrunk) == 0, let shrunk else { return -1 }
                let loaded = VipsImageRef(shrunk)
                return mw_thumbnail_image(loaded.pointer, Int32(settings.thumbnailSize), profile, &thumbnailPointer)
            }
            return mw_thumbnail(base, bytes.count, Int32(settings.thumbnailSize), "fail_on=warning", profile, &thumbnailPointer)
        }
        guard decoded == 0, let thumbnailPointer else {
            let detail = VipsError.take()
            if isPDF { return .unavailable(.unrenderable) }
            return .rejected(Rejection(.corrupt, "the \(label) does not decode: \(detail)"))
        }
        let thumbnail = VipsImageRef(thumbnailPointer)
        // Images derived from the thumbnail inherit the deadline, so it stops the evaluation below.
        let watch = mw_watch_deadline(thumbnail.pointer, deadline)
        return encode(thumbnail, isPDF: isPDF, label: label, watch: watch)
    }

    /// A thumbnail of one decoded frame (an animation's first), packed RGBA already on white.
    func preview(rgba: UnsafePointer<UInt8>, width: Int, height: Int) -> PreviewResult {
        guard let raw = mw_image_from_rgba(rgba, Int32(width), Int32(height)) else {
            return .rejected(Rejection(.corrupt, "the first frame does not convert: \(VipsError.take())"))
        }
        let frame = VipsImageRef(raw)
        var thumbnailPointer: UnsafeMutablePointer<VipsImage>? = nil
        guard mw_thumbnail_image(frame.pointer, Int32(settings.thumbnailSize), nil, &thumbnailPointer) == 0,
              let thumbnailPointer else {
            return .rejected(Rejection(.corrupt, "the first frame does not scale: \(VipsError.take())"))
        }
        return encode(VipsImageRef(thumbnailPointer), isPDF: false, label: "video frame", watch: nil)
    }

    /// Steps 3 and 4 for any thumbnail-sized image.
    private func encode(_ thumbnail: VipsImageRef, isPDF: Bool, label: String, watch: UnsafePointer<MwDeadline>?) -> PreviewResult {
        // 3. 8-bit sRGB (CMYK, 16-bit, grey and palette images included), alpha kept.
        var converted: UnsafeMutablePointer<VipsImage>? = nil
        guard mw_to_srgb8(thumbnail.pointer, &converted) == 0, let converted else {
            return failure(isPDF: isPDF, label: label, fired: watch?.pointee.fired ?? 0)
        }
        var output = VipsImageRef(converted)
        // PDF pages are paper: poppler's alpha channel is dropped onto white.
        if (settings.thumbnailFormat == .jpeg || isPDF) && output.hasAlpha {
            var flat: UnsafeMutablePointer<VipsImage>? = nil
            guard mw_flatten_white(output.pointer, &flat) == 0, let flat else {
                return failure(isPDF: isPDF, label: label, fired: watch?.pointee.fired ?? 0)
            }
            output = VipsImageRef(flat)
        }

        // 4. Encode with every piece of metadata stripped (EXIF, GPS, XMP, ICC, comments).
        var buffer: UnsafeMutableRawPointer? = nil
        var length = 0
        let status: Int32
        switch settings.thumbnailFormat {
        case .webp: status = mw_save_webp(output.pointer, Int32(settings.thumbnailQuality), Int32(settings.webpEffort), &buffer, &length)
        case .jpeg: status = mw_save_jpeg(output.pointer, Int32(settings.thumbnailQuality), &buffer, &length)
        case .png: status = mw_save_png(output.pointer, &buffer, &length)
        }
        defer { g_free(buffer) }
        guard status == 0, let buffer else {
            return failure(isPDF: isPDF, label: label, fired: watch?.pointee.fired ?? 0)
        }
        var encoded = [UInt8](UnsafeRawBufferPointer(start: buffer, count: length))
        if settings.thumbnailFormat == .webp {
            // libvips 8.14's webpsave writes EXIF and ICC chunks even with `strip`; remove them here.
            guard let stripped = WebPContainer.strippingMetadata(encoded) else {
                return .rejected(Rejection(.corrupt, "the thumbnail encoder produced an unreadable WebP"))
            }
            encoded = stripped
        }
        return .thumbnail(Artifact(role: .thumbnail, contentType: settings.thumbnailFormat.contentType,
                                   bytes: encoded, width: output.width, height: output.height))
    }

    private func failure(isPDF: Bool, label: String, fired: Int32) -> PreviewResult {
        let detail = VipsError.take()
        if fired != 0 { return .unavailable(.timeLimit) }
        if isPDF { return .unavailable(.unrenderable) }
        return .rejected(Rejection(.corrupt, "the \(label) does not decode: \(detail)"))
    }

    /// The largest libjpeg scale-down (8, 4 or 2) that keeps the longest side at least `target`.
    static func jpegShrink(width: Int, height: Int, target: Int) -> Int {
        let longest = max(width, height)
        for shrink in [8, 4, 2] where longest / shrink >= target { return shrink }
        return 1
    }

    static func label(_ type: String) -> String {
        switch type {
        case MediaType.jpeg: return "JPEG"
        case MediaType.png: return "PNG"
        case MediaType.gif: return "GIF"
        case MediaType.pdf: return "PDF"
        case MediaType.webp: return "WebP"
        default: return type
        }
    }
}
