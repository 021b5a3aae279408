// libFuzzer target: the HTTP service's parsers of untrusted request parts; the first byte chooses which (modulo 8;
// 0–3 as before the upload parameters were added, so earlier findings replay the same way).
//   0 `Range` header (against a length from the next 4 bytes) · 1 file-name sanitiser (Content-Disposition)
//   2 signed-URL verification (path, expires, sig: three lines) · 3 a valid URL with one byte changed must not verify
//   4–7 the upload's query string (UploadParameters): never crashes, accepts exactly what the OpenAPI document
//       describes, and what it accepts comes back the same when encoded and parsed again
// Built by `make fuzz` with `-sanitize=fuzzer,address -DFUZZING`; a debug build without FUZZING replays files.
import Foundation
import FuzzSupport
#if DEBUG
import HummingbirdCore
@testable import MediaServer

let signer = SignedMediaURL(keys: ["fuzz-key-0123456789abcdef0123456789abcdef"])
let now = Date(timeIntervalSince1970: 1_800_000_000)

func fuzzOne(_ input: [UInt8]) {
    guard let selector = input.first else { return }
    let rest = input.dropFirst()
    switch selector % 8 {
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
    case 3:
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
    default:
        uploadParameters(String(decoding: rest, as: UTF8.self))
    }
}

/// The upload's query string through `UploadParameters.parse(query:)`.
func uploadParameters(_ query: String) {
    let result = UploadParameters.parse(query: query)
    // What the document says, checked byte by byte on the values as Hummingbird decodes them (first occurrence).
    let values = URI("/?" + query).queryParameters
    let expected = documented { values[$0[...]].map(String.init) }
    switch result {
    case .failure(let error):
        precondition(!expected, "refused what the document allows (\(error.message)): \(query)")
        precondition(["from", "channel", "declaredType", "fileName", "idempotencyKey", "conversationId", "businessNumber",
                      "sha256"].contains(error.name), "unknown parameter \(error.name)")
        precondition(!error.message.unicodeScalars.contains { $0.value < 0x20 }, "control character in \(error.message)")
    case .success(let parsed):
        precondition(expected, "accepted what the document refuses: \(query) → \(parsed)")
        if let digest = parsed.sha256 {
            precondition(digest.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }, "sha256 not lower case: \(digest)")
            precondition(values["sha256"].map { $0.lowercased() == digest } == true, "sha256 changed: \(digest)")
        }
        // Encoded again (every byte but the unreserved ones percent-encoded), it parses to the same parameters.
        let again = UploadParameters.parse(query: encode(parsed))
        precondition(again == .success(parsed), "round trip: \(parsed) → \(encode(parsed)) → \(again)")
    }
}

/// docs/contract.md and openapi.yaml's rules, written independently of UploadParameters: byte by byte.
func documented(_ value: (String) -> String?) -> Bool {
    func text(_ name: String) -> Bool {
        guard let v = value(name) else { return true }
        let bytes = Array(v.utf8)
        return (1...255).contains(bytes.count) && !bytes.contains { $0 < 0x20 || $0 == 0x7F }
    }
    guard let from = value("from"), from == "visitor" || from == "operator" else { return false }
    if let channel = value("channel"), channel != "whatsapp" { return false }
    guard text("declaredType"), text("fileName"), text("idempotencyKey"), text("conversationId") else { return false }
    if let number = value("businessNumber") {
        let bytes = Array(number.utf8)
        guard bytes.first == UInt8(ascii: "+"), (3...16).contains(bytes.count),
              bytes.dropFirst().allSatisfy({ (0x30...0x39).contains($0) }) else { return false }
    }
    if let digest = value("sha256") {
        let bytes = Array(digest.utf8)
        guard bytes.count == 64, bytes.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0) }) else {
            return false
        }
    }
    return true
}

func encode(_ p: UploadParameters) -> String {
    func escaped(_ s: String) -> String {
        s.utf8.map { b -> String in
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                return String(UnicodeScalar(b))
            default:
                return "%" + String(b, radix: 16, uppercase: true).leftPadded(2)
            }
        }.joined()
    }
    let items: [(String, String?)] = [
        ("from", p.from.rawValue), ("channel", p.channel.rawValue), ("declaredType", p.declaredType), ("fileName", p.fileName),
        ("idempotencyKey", p.idempotencyKey), ("conversationId", p.conversationId), ("businessNumber", p.businessNumber),
        ("sha256", p.sha256),
    ]
    return items.compactMap { name, value in value.map { "\(name)=\(escaped($0))" } }.joined(separator: "&")
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: Swift.max(0, width - count)) + self }
}

@main enum Target {
    static func main() { FuzzMain.run(fuzzOne) }
}
#else
@main enum Target {
    static func main() { FuzzMain.needsDebugBuild("fuzz-http") }
}
#endif
