// libFuzzer target: the HTTP service's parsers of untrusted request parts; the first byte chooses which.
//   0 `Range` header (against a length from the next 4 bytes) · 1 file-name sanitiser (Content-Disposition)
//   2 signed-URL verification (path, expires, sig: three lines) · 3 a valid URL with one byte changed must not verify
// Built by `make fuzz` with `-sanitize=fuzzer,address -DFUZZING`; a debug build without FUZZING replays files.
import Foundation
import FuzzSupport
#if DEBUG
@testable import MediaServer

let signer = SignedMediaURL(keys: ["fuzz-key-0123456789abcdef0123456789abcdef"])
let now = Date(timeIntervalSince1970: 1_800_000_000)

func fuzzOne(_ input: [UInt8]) {
    guard let selector = input.first else { return }
    let rest = input.dropFirst()
    switch selector % 4 {
    case 0:
        let length = rest.prefix(4).reduce(0) { $0 << 8 | Int($1) }
        let header = String(decoding: rest.dropFirst(4), as: UTF8.self)
        if case .partial(let range) = ByteRangeRequest.parse(header, length: length) {
            precondition(range.lowerBound >= 0 && range.upperBound < length, "range \(range) outside 0..<\(length)")
        }
    case 1:
        let name = String(decoding: rest, as: UTF8.self)
        let header = ContentDisposition.header(contentType: "application/pdf", fileName: name, fallback: "file")
        precondition(!header.contains("\r") && !header.contains("\n") && !header.contains("/"), "unsafe header \(header)")
    case 2:
        let parts = String(decoding: rest, as: UTF8.self).split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
        let path = parts.first.map(String.init) ?? ""
        _ = signer.verify(method: "GET", path: path, expires: parts.count > 1 ? String(parts[1]) : nil,
                          sig: parts.count > 2 ? String(parts[2]) : nil, now: now)
    default:
        // A genuine URL with one byte of its signature or path changed never verifies.
        let url = signer.url(jobID: "0193a000-0000-7000-8000-000000000000", role: "thumbnail", expires: 1_800_000_600)
        var bytes = Array(url.utf8)
        guard rest.count >= 2, !bytes.isEmpty else { return }
        let at = Int(rest[rest.startIndex]) % bytes.count
        let value = rest[rest.startIndex + 1]
        guard bytes[at] != value else { return }
        bytes[at] = value
        let changed = String(decoding: bytes, as: UTF8.self)
        guard let q = changed.firstIndex(of: "?") else { return }
        let query = changed[changed.index(after: q)...].split(separator: "&")
        func item(_ name: String) -> String? {
            query.first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
        }
        let verdict = signer.verify(method: "GET", path: String(changed[..<q]), expires: item("expires"), sig: item("sig"), now: now)
        precondition(verdict != .valid || changed == url, "a changed URL verified: \(changed)")
    }
}

@main enum Target {
    static func main() { FuzzMain.run(fuzzOne) }
}
#else
@main enum Target {
    static func main() { FuzzMain.needsDebugBuild("fuzz-http") }
}
#endif
