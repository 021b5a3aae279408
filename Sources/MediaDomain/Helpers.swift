import Foundation

/// Lower-case hexadecimal text of bytes (digests, signatures, validators).
public enum Hex {
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// Exponential backoff with jitter: the one rule for job retries, outage postponements and webhook retries.
public enum Backoff {
    /// The delay after `failures` consecutive failures: `base` doubling per failure, capped at `maximum`, then
    /// scaled by a random factor in [0.5, 1.5).
    public static func delay(after failures: Int, base: Double, maximum: Double) -> Double {
        var exponential = base
        for _ in 0..<min(60, max(0, failures - 1)) where exponential < maximum { exponential *= 2 }
        return min(maximum, exponential) * Double.random(in: 0.5..<1.5)
    }
}

/// Time-ordered job ids (UUID version 7: 48-bit milliseconds, then random), lower-case with dashes.
public enum JobID {
    /// A new id for a job created at `millisecondsSince1970`.
    public static func make(millisecondsSince1970 ms: UInt64) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        var rng = SystemRandomNumberGenerator()
        let (a, b) = (rng.next(), rng.next())  // two draws, not sixteen (each is a getrandom call)
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: a >> (8 * UInt64(i))); bytes[8 + i] = UInt8(truncatingIfNeeded: b >> (8 * UInt64(i))) }
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: ms >> (8 * UInt64(5 - i))) }
        bytes[6] = (bytes[6] & 0x0F) | 0x70
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = Array(Hex.encode(bytes).utf8)
        var out = [UInt8]()
        out.reserveCapacity(36)
        for (i, digit) in hex.enumerated() {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
            out.append(digit)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// When a job id was made (its 48-bit millisecond time), or nil for a string that is not one.
    public static func createdAt(_ id: some StringProtocol) -> Date? {
        guard isValid(id) else { return nil }
        let hex = id.utf8.filter { $0 != UInt8(ascii: "-") }.prefix(12)
        guard let ms = UInt64(String(decoding: hex, as: UTF8.self), radix: 16) else { return nil }
        return Date(timeIntervalSince1970: Double(ms) / 1000)
    }

    /// True for the ids `make` produces: the only form ever used to build a storage path, looked up, or routed.
    public static func isValid(_ id: some StringProtocol) -> Bool {
        id.utf8.count == 36 && id.utf8.enumerated().allSatisfy { i, ch in
            [8, 13, 18, 23].contains(i) ? ch == UInt8(ascii: "-")
                : (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(ch) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(ch)
        }
    }
}
