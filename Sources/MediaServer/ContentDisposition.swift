import MediaDomain

/// `Content-Disposition` for a served file (RFC 6266): a file name built from the user's, made harmless, with
/// the extension of the type the bytes really are.
public enum ContentDisposition {
    /// Types a browser may show inline under the sandbox CSP; everything else downloads.
    public static func isInline(_ contentType: String) -> Bool {
        contentType.hasPrefix("image/") && contentType != "image/svg+xml" || contentType.hasPrefix("audio/")
            || contentType == MediaType.mp4 || contentType == MediaType.quicktime
    }

    /// The header value for serving `contentType` to the desk, named after the sender's `fileName`; `inline` forces
    /// `inline` (a safe copy: a PDF this service wrote, for the browser's viewer).
    public static func header(contentType: String, fileName: String?, fallback: String, inline: Bool = false) -> String {
        let name = safeName(fileName, fallback: fallback) + "." + MediaType.fileExtension(contentType)
        let ascii = String(name.unicodeScalars.map { $0.isASCII && $0 != "\"" && $0 != "\\" && $0 != "/" ? Character($0) : "_" })
        return "\(inline || isInline(contentType) ? "inline" : "attachment"); filename=\"\(ascii)\"; filename*=UTF-8''\(percentEncoded(name))"
    }

    /// The user's name without any path, control or bidirectional-override characters, and without its own
    /// extension (the sniffed one replaces it); `fallback` when nothing usable is left.
    static func safeName(_ fileName: String?, fallback: String) -> String {
        // By scalars, not characters: a slash followed by a combining mark is one Character that is not "/"
        // (found by make fuzz: `x/\u{300}y` kept its slash).
        let scalars = Array((fileName ?? "").unicodeScalars)
        let name = scalars.lastIndex(where: { $0 == "/" || $0 == "\\" }).map { scalars[($0 + 1)...] } ?? scalars[...]
        let cleaned = name.filter { s in
            !(s.value < 0x20 || s.value == 0x7F || (0x80...0x9F).contains(s.value)       // C0, DEL, C1
              || (0x202A...0x202E).contains(s.value) || (0x2066...0x2069).contains(s.value) // bidi overrides/isolates
              || s.value == 0x200E || s.value == 0x200F || s.value == 0x061C                 // bidi marks
              || s.value == 0xFEFF || (0xD800...0xDFFF).contains(s.value))
        }
        var result = String(String.UnicodeScalarView(cleaned))
        if let dot = result.lastIndex(of: "."), dot != result.startIndex { result = String(result[..<dot]) }
        while result.hasPrefix(".") { result.removeFirst() }
        result = String(result.prefix(100)).trimmingCharacters(in: " ")
        return result.isEmpty ? fallback : result
    }

    /// RFC 8187 value characters.
    static func percentEncoded(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if byte < 0x80 && (c.isLetter || c.isNumber || "!#$&+-.^_`|~".contains(c)) {
                out.append(c)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return out
    }
}

private extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
    func trimmingCharacters(in c: Character) -> String {
        var s = Substring(self)
        while s.first == c { s = s.dropFirst() }
        while s.last == c { s = s.dropLast() }
        return String(s)
    }
}
