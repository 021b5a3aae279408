/// A byte-level look at a PDF that poppler refused, to tell a damaged file from a well-formed one
/// that simply cannot be previewed (most often because it needs a password).
struct PDFStructure {
    let bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// `%PDF-` at the start, and the cross-reference pointer and `%%EOF` in the tail.
    var isWellFormed: Bool {
        guard bytes.count > 32, contains("%PDF-", in: 0..<min(bytes.count, 1024)) else { return false }
        let tail = max(0, bytes.count - 2048)..<bytes.count
        return contains("%%EOF", in: tail) && contains("startxref", in: tail)
    }

    /// The trailer names an encryption dictionary.
    var isEncrypted: Bool { contains("/Encrypt", in: 0..<bytes.count) }

    func fallback(detail: String) -> PreviewResult {
        guard isWellFormed else { return .rejected(.corrupt, "the PDF does not parse: \(detail)") }
        return .unavailable(isEncrypted ? .encrypted : .unrenderable)
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
