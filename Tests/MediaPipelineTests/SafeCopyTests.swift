import Foundation
import MediaTestSupport
import Testing
@testable import MediaPipeline

/// The safe copy's parts on their own: the parent's page checks, the encoder's choice, the size limit's retry, and
/// the in-process pipeline's copies walked by the independent pikepdf checker.
@Suite(.offCooperativePool) struct SafeCopyTests {
    static let settings = PipelineSettings()

    /// A white page of `width` × `height` pixels sized for 150 DPI, with `draw` applied to its RGB bytes.
    static func page(_ width: Int, _ height: Int, draw: (inout [UInt8]) -> Void = { _ in }) -> PageRaster {
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        draw(&pixels)
        return PageRaster(width: width, height: height, pointWidth: Double(width) * 72 / 150, pointHeight: Double(height) * 72 / 150,
                          pixels: pixels)
    }

    @Test("the parent's page check: sides 1–10,000 px, at most 4 MP, exactly width × height × 3 bytes, a PDF page size, no finer than 150 DPI")
    func pageViolations() {
        #expect(PageRaster.violation(Self.page(1240, 1754), settings: Self.settings) == nil, "A4 at 150 DPI")
        var short = Self.page(100, 100)
        short.pixels.removeLast()
        #expect(PageRaster.violation(short, settings: Self.settings)?.contains("bytes") == true)
        let huge = PageRaster(width: 2100, height: 2100, pointWidth: 2100, pointHeight: 2100, pixels: [])
        #expect(PageRaster.violation(huge, settings: Self.settings)?.contains("pixels") == true)
        let wide = PageRaster(width: 10_001, height: 1, pointWidth: 10_001, pointHeight: 1, pixels: [])
        #expect(PageRaster.violation(wide, settings: Self.settings)?.contains("a side") == true)
        var fine = Self.page(300, 300)
        fine.pointWidth = 72  // one inch drawn with 300 px: 300 DPI
        #expect(PageRaster.violation(fine, settings: Self.settings)?.contains("DPI") == true)
        var nan = Self.page(10, 10)
        nan.pointHeight = .nan
        #expect(PageRaster.violation(nan, settings: Self.settings)?.contains("pt") == true)
    }

    @Test("the builder wants the page count first, within the limit, then exactly that many pages")
    func builderOrder() {
        var builder = SafeCopyBuilder(settings: Self.settings)
        #expect(builder.add(Self.page(10, 10)) != nil, "a page before the count")
        #expect(builder.begin(pageCount: 51) != nil, "over 50 pages")
        #expect(builder.begin(pageCount: 0) != nil)
        #expect(builder.begin(pageCount: 2) == nil)
        #expect(builder.begin(pageCount: 2) != nil, "a second count")
        #expect(builder.add(Self.page(10, 10)) == nil)
        guard case .violation = builder.finish() else { Issue.record("one page of two made a copy"); return }
        #expect(builder.add(Self.page(10, 10)) == nil)
        #expect(builder.add(Self.page(10, 10)) != nil, "a third page of two")
        guard case .copy(let copy) = builder.finish() else { Issue.record("no copy"); return }
        #expect(copy.role == .safeCopy && copy.contentType == MediaType.pdf && copy.pages == 2)
    }

    @Test("a page of few colours becomes an exact palette with Flate (1 bit for black on white); a photo-like page a JPEG; anti-aliased colour text a 256-colour palette")
    func encoderChoice() throws {
        let text = Self.page(400, 300) { p in for i in stride(from: 0, to: p.count / 2, by: 7) { p[i - i % 3] = 0; p[i - i % 3 + 1] = 0; p[i - i % 3 + 2] = 0 } }
        let encoded = try #require(PageEncoder.encode(text, quality: 75))
        #expect(encoded.filter == .flate)
        guard case .indexed(let palette, let bits) = encoded.colours else { Issue.record("not indexed: \(encoded.colours)"); return }
        #expect(palette.count == 6 && bits == 1)
        var generator = SystemRandomNumberGenerator()
        let noisy = Self.page(400, 300) { p in for i in p.indices { p[i] = UInt8(truncatingIfNeeded: (i * 7 + i / 1200 * 13) % 251 + Int(generator.next() as UInt8) % 5) } }
        let photo = try #require(PageEncoder.encode(noisy, quality: 75))
        #expect(photo.filter == .dct && photo.colours == .rgb)
        #expect(photo.data.starts(with: [0xFF, 0xD8, 0xFF]))
        // 600 colours in bands (what anti-aliased coloured text and lines make): more than an exact palette holds.
        let banded = Self.page(600, 400) { p in
            for i in stride(from: 0, to: p.count, by: 3) {
                let x = (i / 3) % 600, y = (i / 3) / 600
                guard (y / 20) % 2 == 0 else { continue }
                p[i] = UInt8(x % 200); p[i + 1] = UInt8(x / 200 * 60); p[i + 2] = 200
            }
        }
        #expect(PageEncoder.census(banded).distinct == 601, "600 in bands and the white between")
        let quantized = try #require(PageEncoder.encode(banded, quality: 75))
        #expect(quantized.filter == .flate, "\(quantized.filter) \(quantized.data.count) bytes")
    }

    @Test("PDF numbers: at most two decimals, no exponent")
    func numbers() {
        #expect(SafeCopyPDF.number(595.276) == "595.28")
        #expect(SafeCopyPDF.number(612) == "612")
        #expect(SafeCopyPDF.number(841.9) == "841.9")
        #expect(SafeCopyPDF.number(0.05) == "0.05")
    }

    /// The in-process pipeline's outcome for a fixture file under `environment`.
    func outcome(_ id: String, _ environment: [String: String] = [:]) throws -> Outcome.Accepted {
        let fixture = FixtureManifest.named(id)
        let pipeline = try AttachmentPipeline(settings: try PipelineSettings(environment: environment))
        guard case .accepted(let a) = try pipeline.process(try fixture.bytes(), facts: fixture.facts) else {
            throw Failure("\(id) not accepted")
        }
        return a
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    @Test("over MEDIAWORKER_SAFE_COPY_MAX_BYTES the copy is retried once at the retry quality: smaller, within the limit, still the same pages")
    func retryAtLowerQuality() throws {
        let plain = try outcome("pdf-image-only")
        let full = try #require(plain.artifacts.first { $0.role == .safeCopy })
        let limit = full.bytes.count - 1
        let retried = try outcome("pdf-image-only", ["MEDIAWORKER_SAFE_COPY_MAX_BYTES": "\(limit)"])
        let copy = try #require(retried.artifacts.first { $0.role == .safeCopy }, "\(retried.safeCopyUnavailable?.rawValue ?? "")")
        #expect(copy.bytes.count <= limit && copy.bytes.count < full.bytes.count * 3 / 4, "\(copy.bytes.count) of \(full.bytes.count)")
        let verdict = SafeCopyCheck.run(copy: copy.bytes, original: try FixtureManifest.named("pdf-image-only").bytes())
        #expect(verdict.ok, "\(verdict.output)")
        let refused = try outcome("pdf-image-only", ["MEDIAWORKER_SAFE_COPY_MAX_BYTES": "20000"])
        #expect(refused.safeCopyUnavailable == .tooLarge && !refused.artifacts.contains { $0.role == .safeCopy })
    }

    @Test("in-process too: every visitor PDF fixture that renders gets a copy that passes the pikepdf walk; MEDIAWORKER_SAFE_COPY=false makes none")
    func inProcessCopies() throws {
        for id in ["pdf-text-3-pages", "pdf-image-only", "pdf-encrypted-owner-only", "pdf-active-content"] {
            let a = try outcome(id)
            let copy = try #require(a.artifacts.first { $0.role == .safeCopy }, "\(id)")
            let verdict = SafeCopyCheck.run(copy: copy.bytes, original: try FixtureManifest.named(id).bytes())
            #expect(verdict.ok, "\(id): \(verdict.output)")
        }
        let off = try outcome("pdf-text-3-pages", ["MEDIAWORKER_SAFE_COPY": "false"])
        #expect(off.safeCopyUnavailable == nil && !off.artifacts.contains { $0.role == .safeCopy })
    }

    @Test("the hostile fixture's original fails the same walk (the check can fail), on every name it plants")
    func checkerFindsActiveContent() throws {
        let original = try FixtureManifest.named("pdf-active-content").bytes()
        let verdict = SafeCopyCheck.run(copy: original, original: original)
        #expect(!verdict.ok)
        for name in ["/JavaScript", "/JS", "/OpenAction", "/AA", "/Launch", "/URI", "/EmbeddedFile", "/EmbeddedFiles", "/AcroForm",
                     "/Annots", "/Names", "/Font", "/Metadata", "/Outlines"] {
            #expect(verdict.output.contains("\(name)\"") || verdict.output.contains("\(name) ") || verdict.output.contains("\(name)'"),
                    "\(name) not reported")
        }
    }
}
