import MediaTestSupport
import Testing
@testable import MediaPipeline

/// Each limit is a setting: changing it changes the outcome on real files.
@Suite(.offCooperativePool) struct LimitsTests {
    func run(_ id: String, _ configure: (inout PipelineSettings) -> Void) throws -> Outcome {
        var settings = PipelineSettings()
        configure(&settings)
        let fixture = FixtureManifest.named(id)
        return try AttachmentPipeline(settings: settings).process(try fixture.bytes(), facts: fixture.facts)
    }

    @Test("the byte limit is a setting, with the sizes in the message")
    func byteLimit() throws {
        let outcome = try run("jpeg-whatsapp-photo") { $0.maxBytes = 100_000 }
        guard case .rejected(let r) = outcome else { Issue.record("accepted"); return }
        #expect(r.reason == .tooLarge)
        #expect(r.message.hasSuffix("bytes is over the 100,000-byte limit"))
    }

    @Test("the pixel limit is checked on the header, before decoding")
    func pixelLimit() throws {
        let outcome = try run("jpeg-whatsapp-photo") { $0.maxPixels = 1_000_000 }
        guard case .rejected(let r) = outcome else { Issue.record("accepted"); return }
        #expect(r.reason == .tooManyPixels)
        #expect(r.message.contains("1600 × 1000 = 1,600,000 pixels"))
    }

    @Test("the thumbnail size is a setting")
    func thumbnailSize() throws {
        guard case .accepted(let a) = try run("jpeg-exif-rotated-gps", { $0.thumbnailSize = 128 }),
              let t = a.artifacts.first(where: { $0.role == .thumbnail }) else { Issue.record("no thumbnail"); return }
        #expect(t.height == 128 && abs((t.width ?? 0) - 85) <= 1, "portrait after EXIF rotation: \(t.width)×\(t.height)")
    }

    @Test("JPEG thumbnails carry no EXIF, GPS, XMP, ICC or comment segments")
    func jpegThumbnailStripped() throws {
        guard case .accepted(let a) = try run("jpeg-exif-rotated-gps", { $0.thumbnailFormat = .jpeg }),
              let t = a.artifacts.first(where: { $0.role == .thumbnail }) else { Issue.record("no thumbnail"); return }
        #expect(t.contentType == "image/jpeg")
        #expect(t.width == 320 && t.height == 480)
        let markers = JPEGMarkers(t.bytes)
        #expect(markers.first == 0xD8)
        for forbidden: UInt8 in [0xE1, 0xE2, 0xED, 0xFE] {  // APP1 Exif/XMP, APP2 ICC, APP13 IPTC, COM
            #expect(!markers.contains(forbidden), "segment FF\(String(forbidden, radix: 16)) left in the thumbnail")
        }
        #expect(!t.bytes.containsSequence(Array("GPS".utf8)))
    }

    @Test("PNG thumbnails keep alpha and carry no metadata chunks")
    func pngThumbnail() throws {
        guard case .accepted(let a) = try run("png-rgba-alpha", { $0.thumbnailFormat = .png }),
              let t = a.artifacts.first(where: { $0.role == .thumbnail }) else { Issue.record("no thumbnail"); return }
        #expect(t.contentType == "image/png")
        let chunks = PNGChunks(t.bytes)
        #expect(chunks.colourType == 6, "RGBA")
        #expect(chunks.bitDepth == 8)
        #expect(Set(chunks.names).isDisjoint(with: ["eXIf", "iCCP", "tEXt", "zTXt", "iTXt"]), "\(chunks.names)")
    }

    @Test("CMYK, 16-bit and palette sources come out as 8-bit sRGB")
    func eightBitSRGB() throws {
        for id in ["jpeg-cmyk", "png-16bit-rgb", "png-palette", "jpeg-greyscale"] {
            guard case .accepted(let a) = try run(id, { $0.thumbnailFormat = .png }),
                  let t = a.artifacts.first(where: { $0.role == .thumbnail }) else { Issue.record("\(id): no thumbnail"); continue }
            let png = PNGChunks(t.bytes)
            #expect(png.bitDepth == 8 && png.colourType == 2, "\(id): depth \(png.bitDepth) colour type \(png.colourType)")
        }
    }

    @Test("past the time limit, processing stops and the file is kept without a preview")
    func timeLimit() throws {
        let outcome = try run("jpeg-camera-5mib") { $0.timeLimitSeconds = 0.000_001 }
        guard case .accepted(let a) = outcome else { Issue.record("not accepted: \(outcome)"); return }
        #expect(a.previewUnavailable == .timeLimit)
        #expect(a.artifacts.map(\.role) == [.original])
    }
}

/// Markers of a JPEG stream up to the start of scan.
func JPEGMarkers(_ b: [UInt8]) -> [UInt8] {
    var markers: [UInt8] = []
    var i = 0
    while i + 4 <= b.count, b[i] == 0xFF {
        let m = b[i + 1]
        markers.append(m)
        if m == 0xD8 { i += 2; continue }
        if m == 0xDA { break }
        i += 2 + (Int(b[i + 2]) << 8 | Int(b[i + 3]))
    }
    return markers
}

/// Chunk names and IHDR facts of a PNG.
struct PNGChunks {
    var names: [String] = []
    var bitDepth = 0
    var colourType = -1

    init(_ b: [UInt8]) {
        var i = 8
        while i + 8 <= b.count {
            let length = Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3])
            let name = String(decoding: b[i + 4..<i + 8], as: UTF8.self)
            names.append(name)
            if name == "IHDR", i + 18 <= b.count { bitDepth = Int(b[i + 16]); colourType = Int(b[i + 17]) }
            i += 12 + length
        }
    }
}

extension Array where Element == UInt8 {
    func containsSequence(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { self[$0..<$0 + needle.count].elementsEqual(needle) }
    }
}
