import CVips
import CVipsOperations

/// One page of a PDF as raw pixels: all a renderer may hand over for a safe copy (Dangerzone's split).
public struct PageRaster: Sendable, Equatable {
    /// Pixels across and down.
    public var width: Int
    public var height: Int
    /// The page's size in PDF points (1/72 inch), which the copy keeps.
    public var pointWidth: Double
    public var pointHeight: Double
    /// Packed 8-bit RGB, row by row: exactly width × height × 3 bytes.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pointWidth: Double, pointHeight: Double, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pointWidth = pointWidth
        self.pointHeight = pointHeight
        self.pixels = pixels
    }

    /// Dangerzone's bound on a side, pixels.
    public static let maxSide = 10_000
    /// PDF's largest page side, points (200 inches).
    public static let maxPoints = 14_400.0

    /// Why `page` is not a page a renderer following `settings` can have made (nil when it is): a side outside
    /// 1…10,000 px, more pixels than `safeCopyMaxPagePixels`, a byte count other than width × height × 3, a page size
    /// outside PDF's, or more pixels than the page size at `safeCopyDPI` gives. The parent's check of every page a
    /// helper sends; the in-process pipeline runs it too.
    public static func violation(_ page: PageRaster, settings: PipelineSettings) -> String? {
        let (w, h) = (page.width, page.height)
        guard (1...maxSide).contains(w), (1...maxSide).contains(h) else { return "a \(w) × \(h) page (1 to \(maxSide) px a side)" }
        guard w * h <= settings.safeCopyMaxPagePixels else {
            return "a \(w) × \(h) page (at most \(settings.safeCopyMaxPagePixels) pixels)"
        }
        guard page.pixels.count == w * h * 3 else { return "\(page.pixels.count) bytes for a \(w) × \(h) RGB page (\(w * h * 3))" }
        let sizes = [page.pointWidth, page.pointHeight]
        guard sizes.allSatisfy({ $0.isFinite && $0 > 0 && $0 <= maxPoints }) else {
            return "a page of \(page.pointWidth) × \(page.pointHeight) pt (PDF allows 0 to \(Int(maxPoints)))"
        }
        // Rendered no finer than the setting (one pixel of rounding either way).
        let most = { (points: Double) in Int((points * settings.safeCopyDPI / 72).rounded(.up)) + 1 }
        guard w <= most(page.pointWidth), h <= most(page.pointHeight) else {
            return "a \(w) × \(h) page for \(page.pointWidth) × \(page.pointHeight) pt (over \(settings.safeCopyDPI) DPI)"
        }
        return nil
    }
}

/// Renders every page of a PDF to raw RGB with poppler through libvips, for a safe copy: runs where the file is
/// decoded (a helper), hands each page on as it is drawn, and keeps nothing of the document but pixels.
///
/// `safeCopyDPI` (150) per page, lower for a page that would pass `safeCopyMaxPagePixels` (4 MP) or 10,000 px a
/// side; the page count is read first (no page is drawn past `safeCopyMaxPages`); `safeCopyTimeLimitSeconds`
/// bounds the whole rendering (libvips's evaluation is stopped at the deadline).
public struct SafeCopyRenderer {
    public let settings: PipelineSettings

    public init(settings: PipelineSettings) { self.settings = settings }

    /// What the renderer hands on, in order: the page count once, then each page.
    public enum Event: Sendable {
        case begin(pages: Int)
        case page(PageRaster)
    }

    public enum Result: Sendable, Equatable {
        /// Every page was handed on.
        case rendered(pages: Int)
        /// No copy (nothing more is handed on).
        case unavailable(SafeCopyUnavailable)
        /// The receiver refused an event (its pipe closed, or it found a page wrong).
        case stopped
    }

    /// Resolution a page of `points` is rendered at: `safeCopyDPI`, or less to stay within the pixel and side limits.
    public func dpi(pointWidth: Double, pointHeight: Double) -> Double {
        var dpi = settings.safeCopyDPI
        let area = pointWidth * pointHeight
        if area > 0 { dpi = min(dpi, 72 * (Double(settings.safeCopyMaxPagePixels) / area).squareRoot()) }
        dpi = min(dpi, 72 * Double(PageRaster.maxSide) / max(pointWidth, pointHeight))
        // libvips rounds each side to the nearest pixel: step down until the rounded page fits.
        func pixels(_ d: Double) -> (Int, Int) { (Int((pointWidth * d / 72).rounded()), Int((pointHeight * d / 72).rounded())) }
        while dpi > 1, case let (w, h) = pixels(dpi), w * h > settings.safeCopyMaxPagePixels || max(w, h) > PageRaster.maxSide {
            dpi *= 0.995
        }
        return dpi
    }

    /// Renders `bytes` (a PDF that previewed), calling `emit` with `.begin` and then each page.
    public func render(_ bytes: UnsafeRawBufferPointer, emit: (Event) -> Bool) -> Result {
        guard let base = bytes.baseAddress else { return .unavailable(.unrenderable) }
        let deadline = mw_monotonic_us() + gint64(settings.safeCopyTimeLimitSeconds * 1_000_000)
        // Page sizes are read at 720 DPI (header only, nothing drawn): a tenth of a point.
        func size(_ index: Int) -> (Double, Double, Int)? {
            var header: UnsafeMutablePointer<VipsImage>? = nil
            guard mw_pdf_page(base, bytes.count, Int32(index), Self.sizingDPI, &header) == 0, let header else { return nil }
            let image = VipsImageRef(header)
            let scale = 72 / Self.sizingDPI
            return (Double(image.width) * scale, Double(image.height) * scale, Int(mw_pdf_n_pages(image.pointer)))
        }
        guard let (firstWidth, firstHeight, count) = size(0), count >= 1 else {
            _ = VipsError.take()
            return .unavailable(PDFStructure(bytes).isEncrypted ? .encrypted : .unrenderable)
        }
        guard count <= settings.safeCopyMaxPages else { return .unavailable(.tooManyPages) }
        guard emit(.begin(pages: count)) else { return .stopped }
        for index in 0..<count {
            if mw_monotonic_us() > deadline { return .unavailable(.timeLimit) }
            let points: (Double, Double)
            if index == 0 {
                points = (firstWidth, firstHeight)
            } else {
                guard let (w, h, _) = size(index) else { _ = VipsError.take(); return .unavailable(.unrenderable) }
                points = (w, h)
            }
            switch renderPage(base, bytes.count, index: index, points: points, deadline: deadline) {
            case .failure(let why): return .unavailable(why)
            case .success(let page): guard emit(.page(page)) else { return .stopped }
            }
        }
        return .rendered(pages: count)
    }

    /// Header reads that only measure pages use this resolution (sizes in tenths of a point).
    static let sizingDPI = 720.0

    private func renderPage(_ base: UnsafeRawPointer, _ count: Int, index: Int, points: (Double, Double),
                            deadline: gint64) -> Swift.Result<PageRaster, SafeCopyUnavailable> {
        let dpi = dpi(pointWidth: points.0, pointHeight: points.1)
        var opened: UnsafeMutablePointer<VipsImage>? = nil
        guard mw_pdf_page(base, count, Int32(index), dpi, &opened) == 0, let opened else {
            _ = VipsError.take()
            return .failure(.unrenderable)
        }
        let image = VipsImageRef(opened)
        let (width, height) = (image.width, image.height)
        guard width >= 1, height >= 1, width * height <= settings.safeCopyMaxPagePixels else { return .failure(.unrenderable) }
        let watch = mw_watch_deadline(image.pointer, deadline)
        var buffer: UnsafeMutableRawPointer? = nil
        var length = 0
        let status = mw_rgb8_pixels(image.pointer, &buffer, &length)
        defer { g_free(buffer) }
        guard status == 0, let buffer, length == width * height * 3 else {
            _ = VipsError.take()
            return .failure(watch?.pointee.fired ?? 0 != 0 ? .timeLimit : .unrenderable)
        }
        return .success(PageRaster(width: width, height: height, pointWidth: points.0, pointHeight: points.1,
                                   pixels: [UInt8](UnsafeRawBufferPointer(start: buffer, count: length))))
    }
}
