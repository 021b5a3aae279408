/// The RIFF container of a WebP file, just enough to drop metadata chunks.
enum WebPContainer {
    /// Chunks that carry metadata rather than pixels.
    static let metadataChunks: Set<[UInt8]> = [Array("EXIF".utf8), Array("XMP ".utf8), Array("ICCP".utf8)]

    /// The same image without EXIF, XMP and ICC chunks, with the VP8X flags and RIFF size fixed;
    /// nil when the bytes are not a well-formed WebP container.
    static func strippingMetadata(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= 20, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WEBP".utf8) else {
            return nil
        }
        var out: [UInt8] = Array(bytes[0..<12])
        out.reserveCapacity(bytes.count)
        var offset = 12
        while offset < bytes.count {
            guard offset + 8 <= bytes.count else { return nil }
            let fourCC = Array(bytes[offset..<offset + 4])
            let size = Int(bytes[offset + 4]) | Int(bytes[offset + 5]) << 8 | Int(bytes[offset + 6]) << 16 | Int(bytes[offset + 7]) << 24
            let end = offset + 8 + size + (size & 1)
            guard offset + 8 + size <= bytes.count else { return nil }
            if !metadataChunks.contains(fourCC) {
                let start = out.count
                out += bytes[offset..<min(end, bytes.count)]
                if fourCC.elementsEqual("VP8X".utf8) {
                    out[start + 8] &= ~UInt8(0x20 | 0x08 | 0x04)  // clear the ICC, EXIF and XMP flags
                }
            }
            offset = end
        }
        let riffSize = UInt32(out.count - 8)
        for i in 0..<4 { out[4 + i] = UInt8(truncatingIfNeeded: riffSize >> (8 * UInt32(i))) }
        return out
    }
}
