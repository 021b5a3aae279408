/// An independent reader of WebP containers (RIFF chunks), so tests check thumbnails without the
/// code under test: dimensions, alpha, and whether any metadata chunk survived.
public struct WebPInspector {
    public var width = 0
    public var height = 0
    public var hasAlpha = false
    public var chunks: [String] = []

    /// Chunks that carry metadata; a stripped thumbnail has none of them.
    public static let metadataChunks: Set<String> = ["EXIF", "XMP ", "ICCP"]

    public init?(_ b: [UInt8]) {
        guard b.count >= 30, String(decoding: b[0..<4], as: UTF8.self) == "RIFF",
              String(decoding: b[8..<12], as: UTF8.self) == "WEBP" else { return nil }
        func le24(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 }
        func le32(_ i: Int) -> Int { le24(i) | Int(b[i + 3]) << 24 }
        var offset = 12
        var sawVP8X = false
        while offset + 8 <= b.count {
            let fourCC = String(decoding: b[offset..<offset + 4], as: UTF8.self)
            let size = le32(offset + 4)
            let body = offset + 8
            guard body + size <= b.count else { return nil }
            chunks.append(fourCC)
            switch fourCC {
            case "VP8X":
                sawVP8X = true
                hasAlpha = b[body] & 0x10 != 0
                width = le24(body + 4) + 1
                height = le24(body + 7) + 1
            case "VP8 " where !sawVP8X:
                width = (Int(b[body + 6]) | Int(b[body + 7]) << 8) & 0x3fff
                height = (Int(b[body + 8]) | Int(b[body + 9]) << 8) & 0x3fff
            case "VP8L" where !sawVP8X:
                let bits = le32(body + 1)
                width = (bits & 0x3fff) + 1
                height = ((bits >> 14) & 0x3fff) + 1
                hasAlpha = (bits >> 28) & 1 == 1
            default: break
            }
            offset = body + size + (size & 1)
        }
    }
}
