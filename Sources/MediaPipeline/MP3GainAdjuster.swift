/// Lossless loudness change of an MP3 in 1.5 dB steps, as mp3gain does it: every granule's `global_gain`
/// in the side information is raised by the same number of steps, so the decoded samples scale by
/// 2^(steps/4) (1.5 dB) without re-encoding. The LAME tag's music and tag CRCs are recomputed after.
///
/// This is what lets voice-note normalisation decode the note only once: the level is measured while the
/// note is being encoded, and the gain is applied to the finished MP3.
enum MP3GainAdjuster {
    /// One `global_gain` step, in dB.
    static let stepDb = 1.5

    /// Raises every granule of `mp3` by `steps` (clamped to the field's 0…255); returns the number of
    /// granules changed. Frames with a CRC (never written by libmp3lame's defaults) are left alone.
    @discardableResult
    static func apply(steps: Int, to mp3: inout [UInt8]) -> Int {
        guard steps != 0 else { return 0 }
        var changed = 0
        var offset = 0
        var tag: (frameStart: Int, xing: Int)? = nil
        var firstAudioFrame: Int? = nil
        while offset + 4 <= mp3.count {
            guard let frame = FrameHeader(mp3, at: offset), offset + frame.length <= mp3.count else { break }
            let sideInfo = offset + 4
            let isTagFrame = offset == 0 && sideInfo + frame.sideInfoLength + 4 <= mp3.count
                && ["Xing", "Info"].contains(String(decoding: mp3[(sideInfo + frame.sideInfoLength)..<(sideInfo + frame.sideInfoLength + 4)], as: UTF8.self))
            if isTagFrame {
                tag = (offset, sideInfo + frame.sideInfoLength)
            } else if frame.hasCRC == false {
                if firstAudioFrame == nil { firstAudioFrame = offset }
                for bit in frame.globalGainBitOffsets {
                    let old = readByte(mp3, bitOffset: sideInfo * 8 + bit)
                    let new = UInt8(max(0, min(255, Int(old) + steps)))
                    writeByte(&mp3, bitOffset: sideInfo * 8 + bit, value: new)
                    changed += 1
                }
            }
            offset += frame.length
        }
        if let tag, tag.xing + 156 <= mp3.count, mp3[(tag.xing + 120)..<(tag.xing + 124)].elementsEqual("LAME".utf8) {
            let musicStart = firstAudioFrame ?? mp3.count
            let music = crc16(mp3[musicStart..<mp3.count])
            mp3[tag.xing + 152] = UInt8(music >> 8)
            mp3[tag.xing + 153] = UInt8(music & 0xFF)
            let tagCRC = crc16(mp3[tag.frameStart..<(tag.xing + 154)])
            mp3[tag.xing + 154] = UInt8(tagCRC >> 8)
            mp3[tag.xing + 155] = UInt8(tagCRC & 0xFF)
        }
        return changed
    }

    /// The fields of an MPEG audio Layer III frame header this adjuster needs.
    struct FrameHeader {
        var length: Int
        var sideInfoLength: Int
        var hasCRC: Bool
        var globalGainBitOffsets: [Int]

        init?(_ b: [UInt8], at i: Int) {
            guard b[i] == 0xFF, b[i + 1] & 0xE0 == 0xE0 else { return nil }
            let version = (b[i + 1] >> 3) & 3       // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
            let layer = (b[i + 1] >> 1) & 3         // 1: Layer III
            guard version != 1, layer == 1 else { return nil }
            hasCRC = b[i + 1] & 1 == 0
            let bitrateIndex = Int(b[i + 2] >> 4), rateIndex = Int((b[i + 2] >> 2) & 3)
            guard bitrateIndex > 0, bitrateIndex < 15, rateIndex < 3 else { return nil }
            let padding = Int((b[i + 2] >> 1) & 1)
            let mono = b[i + 3] >> 6 == 3
            let mpeg1 = version == 3
            let kbps = (mpeg1 ? [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
                              : [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160])[bitrateIndex]
            let rate = (version == 3 ? [44100, 48000, 32000] : version == 2 ? [22050, 24000, 16000] : [11025, 12000, 8000])[rateIndex]
            length = (mpeg1 ? 144 : 72) * kbps * 1000 / rate + padding
            let channels = mono ? 1 : 2
            if mpeg1 {
                sideInfoLength = mono ? 17 : 32
                let base = 9 + (mono ? 5 : 3) + 4 * channels
                globalGainBitOffsets = (0..<(2 * channels)).map { base + 59 * $0 + 21 }
            } else {
                sideInfoLength = mono ? 9 : 17
                let base = 8 + (mono ? 1 : 2)
                globalGainBitOffsets = (0..<channels).map { base + 63 * $0 + 21 }
            }
        }
    }

    static func readByte(_ b: [UInt8], bitOffset: Int) -> UInt8 {
        let i = bitOffset >> 3, shift = bitOffset & 7
        let word = UInt16(b[i]) << 8 | UInt16(b[i + 1])
        return UInt8(truncatingIfNeeded: word >> (8 - shift))
    }

    static func writeByte(_ b: inout [UInt8], bitOffset: Int, value: UInt8) {
        let i = bitOffset >> 3, shift = bitOffset & 7
        var word = UInt16(b[i]) << 8 | UInt16(b[i + 1])
        let mask = UInt16(0xFF) << (8 - shift)
        word = (word & ~mask) | (UInt16(value) << (8 - shift))
        b[i] = UInt8(word >> 8)
        b[i + 1] = UInt8(word & 0xFF)
    }

    /// CRC-16/ARC (reflected polynomial 0xA001, initial 0), the checksum the LAME tag uses.
    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xA001 : crc >> 1 }
        }
        return crc
    }
}
