/// An independent reader of MPEG audio Layer III streams for tests: walks every frame header, reads the
/// Xing/Info frame count and the LAME tag's encoder delay and padding, and so gives the exact duration a
/// gapless player shows.
public struct MP3Inspector {
    public var frames = 0
    public var sampleRate = 0
    public var allMono = true
    public var xingFrames: Int?
    public var delay = 0
    public var padding = 0
    public var hasLAMETag = false
    public var lameTagCRCValid = false

    public init?(_ b: [UInt8]) {
        var i = 0
        // Skip an ID3v2 tag if present.
        if b.count > 10, b[0] == 0x49, b[1] == 0x44, b[2] == 0x33 {
            i = 10 + (Int(b[6]) << 21 | Int(b[7]) << 14 | Int(b[8]) << 7 | Int(b[9]))
        }
        var first = true
        while i + 4 <= b.count {
            guard b[i] == 0xFF, b[i + 1] & 0xE0 == 0xE0 else { return nil }
            let version = (b[i + 1] >> 3) & 3
            let bitrateIndex = Int(b[i + 2] >> 4), rateIndex = Int((b[i + 2] >> 2) & 3)
            guard (b[i + 1] >> 1) & 3 == 1, version != 1, bitrateIndex > 0, bitrateIndex < 15, rateIndex < 3 else { return nil }
            let mpeg1 = version == 3
            let kbps = (mpeg1 ? [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
                              : [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160])[bitrateIndex]
            let rate = (version == 3 ? [44100, 48000, 32000] : version == 2 ? [22050, 24000, 16000] : [11025, 12000, 8000])[rateIndex]
            let mono = b[i + 3] >> 6 == 3
            let length = (mpeg1 ? 144 : 72) * kbps * 1000 / rate + Int((b[i + 2] >> 1) & 1)
            sampleRate = rate
            allMono = allMono && mono
            let side = mpeg1 ? (mono ? 17 : 32) : (mono ? 9 : 17)
            let x = i + 4 + side
            if first, x + 156 <= b.count, ["Xing", "Info"].contains(String(decoding: b[x..<x + 4], as: UTF8.self)) {
                let flags = Int(b[x + 7])
                if flags & 1 != 0 { xingFrames = Int(b[x + 8]) << 24 | Int(b[x + 9]) << 16 | Int(b[x + 10]) << 8 | Int(b[x + 11]) }
                if String(decoding: b[(x + 120)..<(x + 124)], as: UTF8.self) == "LAME" {
                    hasLAMETag = true
                    delay = Int(b[x + 141]) << 4 | Int(b[x + 142]) >> 4
                    padding = (Int(b[x + 142]) & 0x0F) << 8 | Int(b[x + 143])
                    let stored = UInt16(b[x + 154]) << 8 | UInt16(b[x + 155])
                    lameTagCRCValid = stored == Self.crc16(b[i..<(x + 154)])
                }
            } else {
                frames += 1
            }
            first = false
            i += length
        }
        guard frames > 0 else { return nil }
    }

    /// Samples per frame (MPEG-2/2.5 Layer III: 576; MPEG-1: 1152) times frames, less delay and padding.
    public var durationMs: Double {
        let perFrame = sampleRate >= 32000 ? 1152 : 576
        return Double(frames * perFrame - delay - padding) * 1000 / Double(sampleRate)
    }

    public static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xA001 : crc >> 1 }
        }
        return crc
    }
}
