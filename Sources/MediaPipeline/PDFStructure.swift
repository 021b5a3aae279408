/// A byte-level look at a PDF that poppler refused, to tell a PDF that only needs a password from a damaged file
/// or a polyglot (a ZIP or a program behind a `%PDF-` header and a `%%EOF`).
///
/// Poppler refusing a file is proof enough that it is not a document the desk can use, unless it refused for
/// the password: then the file must still show a PDF's skeleton, which a polyglot does not have.
struct PDFStructure {
    let bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// `%PDF-1.` at byte 0, and the last `startxref` of the tail naming an offset inside the file where a
    /// cross-reference table (`xref`) or stream (`N G obj`) begins, with `%%EOF` after it.
    var isWellFormed: Bool {
        guard bytes.count > 32, starts(with: "%PDF-1.", at: 0) || starts(with: "%PDF-2.", at: 0) else { return false }
        let tailStart = max(0, bytes.count - 2048)
        guard let keyword = lastIndex(of: "startxref", from: tailStart) else { return false }
        var i = keyword + 9
        while i < bytes.count, isWhitespace(bytes[i]) { i += 1 }
        var offset = 0, digits = 0
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39, digits < 12 {
            offset = offset * 10 + Int(bytes[i] - 0x30)
            i += 1
            digits += 1
        }
        guard digits > 0, offset >= 9, offset < keyword, contains("%%EOF", in: i..<bytes.count) else { return false }
        return starts(with: "xref", at: offset) || isObjectHeader(at: offset)
    }

    /// The trailer names an encryption dictionary.
    var isEncrypted: Bool { contains("/Encrypt", in: 0..<bytes.count) }

    func fallback(detail: String) -> PreviewResult {
        guard isWellFormed, isEncrypted else {
            return .rejected(Rejection(.corrupt, "the PDF does not parse: \(detail.isEmpty ? "no usable structure" : detail)"))
        }
        return .unavailable(.encrypted)
    }

    /// `N G obj` (an object number, a generation, the keyword) at `offset`.
    private func isObjectHeader(at offset: Int) -> Bool {
        var i = offset
        for _ in 0..<2 {
            let start = i
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39, i - start < 10 { i += 1 }
            guard i > start, i < bytes.count, isWhitespace(bytes[i]) else { return false }
            while i < bytes.count, isWhitespace(bytes[i]) { i += 1 }
        }
        return starts(with: "obj", at: i)
    }

    private func isWhitespace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 || b == 0x0C || b == 0x00 }

    private func starts(with text: String, at offset: Int) -> Bool {
        let pattern = Array(text.utf8)
        guard offset >= 0, offset + pattern.count <= bytes.count else { return false }
        for (k, b) in pattern.enumerated() where bytes[offset + k] != b { return false }
        return true
    }

    private func lastIndex(of text: String, from start: Int) -> Int? {
        let pattern = Array(text.utf8)
        var i = bytes.count - pattern.count
        while i >= start {
            if starts(with: text, at: i) { return i }
            i -= 1
        }
        return nil
    }

    private func contains(_ needle: String, in range: Range<Int>) -> Bool {
        let pattern = Array(needle.utf8)
        guard range.count >= pattern.count else { return false }
        var i = range.lowerBound
        let last = range.upperBound - pattern.count
        while i <= last {
            if bytes[i] == pattern[0] {
                var j = 1
                while j < pattern.count && bytes[i + j] == pattern[j] { j += 1 }
                if j == pattern.count { return true }
            }
            i += 1
        }
        return false
    }
}
