/// Small structural readers of the bytes, independent of the codecs: what decides whether a file can be served
/// or sent as it is.
public enum MP4Boxes {
    /// The top-level box types of an ISO-BMFF (MP4/QuickTime) file in order, or nil when the boxes do not tile
    /// the file (a size past the end, a box smaller than its header).
    public static func topLevel(_ bytes: UnsafeRawBufferPointer) -> [String]? {
        var types: [String] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 8 else { return nil }
            var size = Int(bytes.loadBigEndianUInt32(at: offset))
            var header = 8
            if size == 1 {
                guard bytes.count - offset >= 16 else { return nil }
                let large = bytes.loadBigEndianUInt64(at: offset + 8)
                guard large <= UInt64(Int.max) else { return nil }
                size = Int(large)
                header = 16
            } else if size == 0 {
                size = bytes.count - offset
            }
            guard size >= header, size <= bytes.count - offset else { return nil }
            types.append(String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self))
            offset += size
            if types.count > 10_000 { return nil }
        }
        return types
    }

    /// True when the index (`moov`) comes before the media data (`mdat`): a browser starts playing at once.
    public static func indexFirst(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let types = topLevel(bytes), let moov = types.firstIndex(of: "moov") else { return false }
        guard let mdat = types.firstIndex(of: "mdat") else { return true }
        return moov < mdat
    }
}

/// Whether a JPEG can go to WhatsApp byte for byte: baseline or progressive Huffman, 8-bit, three components
/// (YCbCr), and no metadata that must not leave the desk or that WhatsApp would misread: no EXIF (GPS,
/// orientation), XMP, ICC profile (not sRGB-tagged input is converted) or Photoshop/IPTC block.
public enum JPEGConformance {
    public static func sendableAsIs(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return false }
        var offset = 2
        var frameOK = false
        while offset + 4 <= bytes.count {
            guard bytes[offset] == 0xFF else { return false }
            let marker = bytes[offset + 1]
            if marker == 0xFF { offset += 1; continue }              // fill byte
            if marker == 0xD8 || (0xD0...0xD7).contains(marker) || marker == 0x01 { offset += 2; continue }
            if marker == 0xDA { return frameOK }                      // start of scan: every header was seen
            if marker == 0xD9 { return false }
            let length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            guard length >= 2, offset + 2 + length <= bytes.count else { return false }
            let body = offset + 4
            switch marker {
            case 0xE1, 0xE2, 0xED: return false                       // APP1 EXIF/XMP, APP2 ICC/FlashPix, APP13 IPTC
            case 0xC0, 0xC1, 0xC2:
                guard length >= 8 else { return false }
                let precision = bytes[body], components = bytes[body + 5]
                guard precision == 8, components == 3, !frameOK else { return false }
                frameOK = true
            case 0xC3, 0xC5...0xC7, 0xC9...0xCB, 0xCD...0xCF: return false  // lossless, hierarchical, arithmetic
            default: break
            }
            offset += 2 + length
        }
        return false
    }
}

extension UnsafeRawBufferPointer {
    func loadBigEndianUInt32(at offset: Int) -> UInt32 {
        (offset..<(offset + 4)).reduce(UInt32(0)) { $0 << 8 | UInt32(self[$1]) }
    }

    func loadBigEndianUInt64(at offset: Int) -> UInt64 {
        (offset..<(offset + 8)).reduce(UInt64(0)) { $0 << 8 | UInt64(self[$1]) }
    }
}

/// A GIF's frames counted by walking its blocks (no LZW decoding): what decides whether an operator's GIF goes
/// to WhatsApp as a video or as an image, without a second pass of the image library over the file.
public enum GIFStructure {
    /// Image descriptors before the trailer, or nil when the blocks do not parse.
    public static func frameCount(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 13, bytes[0] == 0x47, bytes[1] == 0x49, bytes[2] == 0x46 else { return nil }
        var offset = 13
        if bytes[10] & 0x80 != 0 { offset += 3 << (Int(bytes[10] & 0x07) + 1) }
        var frames = 0
        /// Skips a chain of data sub-blocks; false when it runs past the end.
        func skipSubBlocks() -> Bool {
            while offset < bytes.count {
                let length = Int(bytes[offset])
                offset += 1 + length
                if length == 0 { return offset <= bytes.count }
            }
            return false
        }
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x3B: return frames
            case 0x21:
                offset += 2
                guard skipSubBlocks() else { return nil }
            case 0x2C:
                guard offset + 10 <= bytes.count else { return nil }
                let packed = bytes[offset + 9]
                offset += 10
                if packed & 0x80 != 0 { offset += 3 << (Int(packed & 0x07) + 1) }
                offset += 1                                   // LZW minimum code size
                guard offset <= bytes.count, skipSubBlocks() else { return nil }
                frames += 1
            default: return nil
            }
        }
        return frames > 0 ? frames : nil                      // no trailer: what decoded so far (libnsgif does the same)
    }
}
