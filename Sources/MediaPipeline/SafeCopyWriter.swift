import CPageEncoding
import Glibc

/// One page of a safe copy, encoded: what the PDF's image XObject holds.
struct EncodedPage: Sendable {
    enum Colours: Sendable, Equatable {
        case rgb
        case gray
        /// `[/Indexed /DeviceRGB n-1 <palette>]`, `bits` per index.
        case indexed(palette: [UInt8], bits: Int)
    }
    enum Filter: String, Sendable { case dct = "DCTDecode", flate = "FlateDecode" }

    var width: Int
    var height: Int
    var pointWidth: Double
    var pointHeight: Double
    var colours: Colours
    var filter: Filter
    var data: [UInt8]
    /// The same page as a JPEG at the retry quality, when this page is a JPEG large enough to matter.
    var retry: [UInt8]?
}

/// Turns checked pixels into the smaller of a JPEG and an exact palette image compressed with Flate, and writes
/// the safe copy's PDF: one page per image, each page's content `q W 0 0 H 0 0 cm /Im0 Do Q`, nothing else (no
/// text, fonts, actions, annotations, names, outlines, metadata or encryption; no document information dictionary).
///
/// Reads no file format: it runs in the parent on pixels `PageRaster.violation` passed, so a renderer taken over
/// by its PDF cannot plant a byte of its choosing in the copy.
public struct SafeCopyBuilder: Sendable {
    public let settings: PipelineSettings
    /// The page count the renderer announced.
    public private(set) var announced: Int?
    private var pages: [EncodedPage] = []
    /// Time spent encoding pages and writing the PDF.
    public private(set) var encodingTime: Duration = .zero

    public init(settings: PipelineSettings) { self.settings = settings }

    /// Pages encoded so far.
    public var pageCount: Int { pages.count }

    /// The renderer's page count: a violation unless 1…`safeCopyMaxPages` and announced once, first.
    public mutating func begin(pageCount: Int) -> String? {
        guard announced == nil, pages.isEmpty else { return "a second page count" }
        guard (1...settings.safeCopyMaxPages).contains(pageCount) else {
            return "\(pageCount) pages announced (1 to \(settings.safeCopyMaxPages))"
        }
        announced = pageCount
        return nil
    }

    /// Checks and encodes one page; a violation when it is not a page the renderer can have made, or one too many.
    public mutating func add(_ page: PageRaster) -> String? {
        guard let announced else { return "a page before the page count" }
        guard pages.count < announced else { return "more than the \(announced) pages announced" }
        if let violation = PageRaster.violation(page, settings: settings) { return violation }
        let clock = ContinuousClock(), started = clock.now
        defer { encodingTime += clock.now - started }
        guard var encoded = PageEncoder.encode(page, quality: settings.safeCopyJPEGQuality) else {
            return "page \(pages.count + 1) does not encode"
        }
        // The retry's JPEG is made now, while the pixels are here, for pages whose share of the limit matters.
        if encoded.filter == .dct && encoded.data.count * announced > settings.safeCopyMaxBytes / 4 {
            encoded.retry = PageEncoder.jpeg(page, gray: encoded.colours == .gray, quality: settings.safeCopyRetryQuality)
        }
        pages.append(encoded)
        return nil
    }

    public enum Finished: Sendable {
        case copy(Artifact)
        case unavailable(SafeCopyUnavailable)
        /// Fewer pages than announced, or none.
        case violation(String)
    }

    /// The copy as a `safe_copy` artifact, retried once at the retry quality when over `safeCopyMaxBytes`.
    public mutating func finish() -> Finished {
        guard let announced, pages.count == announced else {
            return .violation("\(pages.count) pages of the \(announced ?? 0) announced")
        }
        let clock = ContinuousClock(), started = clock.now
        defer { encodingTime += clock.now - started }
        var pdf = SafeCopyPDF.write(pages, retry: false)
        if pdf.count > settings.safeCopyMaxBytes {
            pdf = SafeCopyPDF.write(pages, retry: true)
            guard pdf.count <= settings.safeCopyMaxBytes else { return .unavailable(.tooLarge) }
        }
        return .copy(Artifact(role: .safeCopy, contentType: MediaType.pdf, bytes: pdf, pages: pages.count))
    }
}

extension SafeCopyBuilder {
    /// Dangerzone's way, for the benchmark's comparison: the same pages as lossless RGB with Flate (zlib level 6), in
    /// the same PDF structure. Nil when a page does not deflate.
    public static func losslessReference(_ pages: [PageRaster]) -> [UInt8]? {
        var encoded: [EncodedPage] = []
        for page in pages {
            guard let data = PageEncoder.deflate(page.pixels) else { return nil }
            encoded.append(EncodedPage(width: page.width, height: page.height, pointWidth: page.pointWidth,
                                       pointHeight: page.pointHeight, colours: .rgb, filter: .flate, data: data))
        }
        return SafeCopyPDF.write(encoded, retry: false)
    }
}

/// The choice between a JPEG and a palette for one page.
enum PageEncoder {
    /// Pages with at most this many colours (anti-aliased text, charts, coloured lines) also try a palette of 256
    /// made by libimagequant; more colours (a photo, a scan in colour) go straight to JPEG.
    static let quantizeUpTo = 4096

    /// The smallest of: a JPEG at `quality` (grey when every pixel is); the page's own colours as an indexed image
    /// (1, 2, 4 or 8 bits) with Flate when there are at most 256 (lossless); a libimagequant palette of 16 colours
    /// (or 256 when 16 cannot keep quality 50 and there are more than 256) with Flate when there are 17 to
    /// `quantizeUpTo`. Nil only when an encoder fails.
    static func encode(_ page: PageRaster, quality: Int) -> EncodedPage? {
        let census = census(page)
        let gray = census.exact?.gray ?? false
        guard let jpeg = jpeg(page, gray: gray, quality: quality) else { return nil }
        var best = EncodedPage(width: page.width, height: page.height, pointWidth: page.pointWidth, pointHeight: page.pointHeight,
                               colours: gray ? .gray : .rgb, filter: .dct, data: jpeg)
        /// Whether the indexed candidate won; false also when even a fast level-1 deflate is over twice the best so far
        /// (a noisy grey scan against its JPEG): level 6 will not win, nor will fewer colours of the same noise.
        func tryIndexed(_ palette: [UInt8], _ indices: [UInt8]) -> Bool? {
            let bits = palette.count <= 6 ? 1 : palette.count <= 12 ? 2 : palette.count <= 48 ? 4 : 8
            let packed = pack(indices, width: page.width, height: page.height, bits: bits)
            guard let quick = deflate(packed, level: 1), quick.count < 2 * best.data.count else { return nil }
            guard let flate = deflate(packed), flate.count < best.data.count else { return false }
            best.colours = .indexed(palette: palette, bits: bits)
            best.filter = .flate
            best.data = flate
            return true
        }
        var noisy = false
        if let exact = census.exact { noisy = tryIndexed(exact.palette, exact.indices) == nil }
        // 16 colours (4 bits) keep anti-aliased text readable at a fraction of the bytes of its 100-odd greys; 256 when
        // 16 cannot keep the quality. Pages of a few colours (≤ 16) are exact already.
        if !noisy, census.distinct > 16, census.distinct <= quantizeUpTo {
            if let (palette, indices) = quantized(page, colours: 16) { _ = tryIndexed(palette, indices) }
            else if census.exact == nil, let (palette, indices) = quantized(page, colours: 256) { _ = tryIndexed(palette, indices) }
        }
        return best
    }

    static func jpeg(_ page: PageRaster, gray: Bool, quality: Int) -> [UInt8]? {
        var samples = page.pixels
        if gray {
            samples = [UInt8](unsafeUninitializedCapacity: page.width * page.height) { out, count in
                page.pixels.withUnsafeBufferPointer { rgb in
                    for i in 0..<(page.width * page.height) { out[i] = rgb[3 * i] }
                }
                count = page.width * page.height
            }
        }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var length = 0
        let status = samples.withUnsafeBufferPointer {
            mw_jpeg_encode($0.baseAddress, Int32(page.width), Int32(page.height), gray ? 1 : 3, Int32(quality), &out, &length)
        }
        defer { free(out) }
        guard status == MW_PAGE_OK, let out else { return nil }
        return [UInt8](UnsafeBufferPointer(start: out, count: length))
    }

    static func deflate(_ bytes: [UInt8], level: Int = 6) -> [UInt8]? {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var length = 0
        let status = bytes.withUnsafeBufferPointer { mw_deflate($0.baseAddress, $0.count, Int32(level), &out, &length) }
        defer { free(out) }
        guard status == MW_PAGE_OK, let out else { return nil }
        return [UInt8](UnsafeBufferPointer(start: out, count: length))
    }

    /// At most `colours` colours chosen by libimagequant (speed 8, no dithering: text stays crisp), or nil when it
    /// cannot keep quality 80.
    static func quantized(_ page: PageRaster, colours maximum: Int) -> (palette: [UInt8], indices: [UInt8])? {
        var indices = [UInt8](repeating: 0, count: page.width * page.height)
        var palette = [UInt8](repeating: 0, count: 768)
        var colours: Int32 = 0
        let status = page.pixels.withUnsafeBufferPointer { rgb in
            indices.withUnsafeMutableBufferPointer { index in
                palette.withUnsafeMutableBufferPointer { entries in
                    mw_quantize(rgb.baseAddress, Int32(page.width), Int32(page.height), Int32(maximum), 8, maximum <= 16 ? 50 : 80, 0, index.baseAddress,
                                entries.baseAddress, &colours)
                }
            }
        }
        guard status == MW_PAGE_OK, (1...256).contains(colours) else { return nil }
        return (Array(palette.prefix(3 * Int(colours))), indices)
    }

    /// The page's distinct colours, counted up to `quantizeUpTo + 1`; when there are at most 256, the exact palette
    /// (RGB triplets, in order of first appearance), each pixel's index, and whether every colour is a grey. A photo
    /// stops within its first rows.
    static func census(_ page: PageRaster) -> (distinct: Int, exact: (palette: [UInt8], indices: [UInt8], gray: Bool)?) {
        let count = page.width * page.height
        var colours: [UInt32] = []
        colours.reserveCapacity(quantizeUpTo + 1)
        // Open addressing over colour + 1 (0: empty), 8,192 slots for at most 4,097 colours: a noisy scan changes
        // colour at every pixel, and Dictionary costs several times this per lookup.
        let slots = 8192, mask = UInt32(slots - 1)
        var keys = [UInt32](repeating: 0, count: slots)
        var values = [UInt16](repeating: 0, count: slots)
        var gray = true
        var indices = [UInt8](repeating: 0, count: count)
        page.pixels.withUnsafeBufferPointer { rgb in
            indices.withUnsafeMutableBufferPointer { index in
                keys.withUnsafeMutableBufferPointer { keys in
                    values.withUnsafeMutableBufferPointer { values in
                        var last: UInt32 = .max, lastIndex: UInt16 = 0
                        for i in 0..<count {
                            let r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2]
                            let colour = UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b)
                            if colour != last {
                                var slot = Int((colour &* 0x9E37_79B1) >> 19 & mask)
                                while true {
                                    let key = keys[slot]
                                    if key == colour &+ 1 { lastIndex = values[slot]; break }
                                    if key == 0 {
                                        guard colours.count <= quantizeUpTo else { return }
                                        lastIndex = UInt16(colours.count)
                                        keys[slot] = colour &+ 1
                                        values[slot] = lastIndex
                                        colours.append(colour)
                                        if r != g || g != b { gray = false }
                                        break
                                    }
                                    slot = (slot + 1) & Int(mask)
                                }
                                last = colour
                            }
                            index[i] = UInt8(truncatingIfNeeded: lastIndex)
                        }
                    }
                }
            }
        }
        guard colours.count <= 256 else { return (colours.count, nil) }
        let palette = colours.flatMap { [UInt8($0 >> 16 & 0xFF), UInt8($0 >> 8 & 0xFF), UInt8($0 & 0xFF)] }
        return (colours.count, (palette, indices, gray))
    }

    /// Indices packed at `bits` per pixel (rows start on a byte, the first pixel in the high bits).
    static func pack(_ indices: [UInt8], width: Int, height: Int, bits: Int) -> [UInt8] {
        guard bits < 8 else { return indices }
        let perByte = 8 / bits, rowBytes = (width + perByte - 1) / perByte
        var packed = [UInt8](repeating: 0, count: rowBytes * height)
        packed.withUnsafeMutableBufferPointer { out in
            indices.withUnsafeBufferPointer { index in
                for y in 0..<height {
                    for x in 0..<width {
                        let shift = 8 - bits * (x % perByte + 1)
                        out[y * rowBytes + x / perByte] |= index[y * width + x] << UInt8(shift)
                    }
                }
            }
        }
        return packed
    }
}

/// A minimal PDF 1.4 writer for image-only pages.
enum SafeCopyPDF {
    static func write(_ pages: [EncodedPage], retry: Bool) -> [UInt8] {
        var out: [UInt8] = Array("%PDF-1.4\n%\u{E2}\u{E3}\u{CF}\u{D3}\n".utf8)
        var offsets: [Int] = []
        func object(_ body: String, stream: [UInt8]? = nil) {
            offsets.append(out.count)
            out.append(contentsOf: "\(offsets.count) 0 obj\n\(body)\n".utf8)
            if let stream {
                out.append(contentsOf: "stream\n".utf8)
                out.append(contentsOf: stream)
                out.append(contentsOf: "\nendstream\n".utf8)
            }
            out.append(contentsOf: "endobj\n".utf8)
        }
        // 1 the catalog, 2 the page tree, then per page: the page, its content stream, its image.
        let kids = pages.indices.map { "\(3 + 3 * $0) 0 R" }.joined(separator: " ")
        object("<< /Type /Catalog /Pages 2 0 R >>")
        object("<< /Type /Pages /Kids [\(kids)] /Count \(pages.count) >>")
        for (i, page) in pages.enumerated() {
            let first = 3 + 3 * i
            let (w, h) = (number(page.pointWidth), number(page.pointHeight))
            object("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 \(w) \(h)] /Resources << /XObject << /Im0 \(first + 2) 0 R >> >> /Contents \(first + 1) 0 R >>")
            let content = Array("q \(w) 0 0 \(h) 0 0 cm /Im0 Do Q".utf8)
            object("<< /Length \(content.count) >>", stream: content)
            var colours = page.colours, filter = page.filter, data = page.data
            if retry, let smaller = page.retry, smaller.count < data.count {
                filter = .dct
                data = smaller
                if colours != .gray { colours = .rgb }
            }
            let space: String, bits: Int
            switch colours {
            case .rgb: (space, bits) = ("/DeviceRGB", 8)
            case .gray: (space, bits) = ("/DeviceGray", 8)
            case .indexed(let palette, let b):
                (space, bits) = ("[/Indexed /DeviceRGB \(palette.count / 3 - 1) <\(hex(palette))>]", b)
            }
            object("<< /Type /XObject /Subtype /Image /Width \(page.width) /Height \(page.height) /ColorSpace \(space) /BitsPerComponent \(bits) /Filter /\(filter.rawValue) /Length \(data.count) >>",
                   stream: data)
        }
        let xref = out.count
        var table = "xref\n0 \(offsets.count + 1)\n0000000000 65535 f \n"
        for offset in offsets {
            let digits = String(offset)
            table += String(repeating: "0", count: 10 - digits.count) + digits + " 00000 n \n"
        }
        table += "trailer\n<< /Size \(offsets.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        out.append(contentsOf: table.utf8)
        return out
    }

    /// A PDF real with at most two decimals, no exponent.
    static func number(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let whole = hundredths / 100, fraction = hundredths % 100
        if fraction == 0 { return "\(whole)" }
        return fraction % 10 == 0 ? "\(whole).\(fraction / 10)" : "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xF)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
