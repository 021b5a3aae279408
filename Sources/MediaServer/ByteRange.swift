/// A single byte range from a `Range` header (RFC 9110 §14), resolved against the representation's length.
public enum ByteRangeRequest: Equatable, Sendable {
    /// No Range header, a malformed one, several ranges, or another unit: serve the whole representation (200).
    case whole
    /// Serve `range` (206 with `Content-Range: bytes first-last/length`).
    case partial(ClosedRange<Int>)
    /// Syntactically valid but no byte of it exists (416 with `Content-Range: bytes */length`).
    case unsatisfiable

    /// `bytes=a-b`, `bytes=a-` and the suffix form `bytes=-N` (the last N bytes).
    public static func parse(_ header: String?, length: Int) -> ByteRangeRequest {
        guard let header else { return .whole }
        let trimmed = header.trimmingSpaces
        guard trimmed.lowercased().hasPrefix("bytes=") else { return .whole }
        let spec = trimmed.dropFirst(6).trimmingSpaces
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash].trimmingSpaces, last = spec[spec.index(after: dash)...].trimmingSpaces
        func number(_ s: String) -> Int? {
            guard !s.isEmpty, s.count <= 18, s.allSatisfy(\.isASCIIDigit) else { return nil }
            return Int(s)
        }
        if first.isEmpty {
            guard let n = number(last) else { return .whole }
            guard n > 0, length > 0 else { return .unsatisfiable }
            return .partial(max(0, length - n)...(length - 1))
        }
        guard let a = number(first) else { return .whole }
        if last.isEmpty {
            return a < length ? .partial(a...(length - 1)) : .unsatisfiable
        }
        guard let b = number(last), b >= a else { return .whole }
        return a < length ? .partial(a...min(b, length - 1)) : .unsatisfiable
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

private extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
