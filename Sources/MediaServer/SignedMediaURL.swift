@preconcurrency import Crypto
import Foundation

/// Media URLs for the desk: `/v1/media/{jobId}/{role}?expires=UNIX&sig=…`, where `sig` is HMAC-SHA256 over the
/// method, the path and the expiry. The signature is the only credential, so it is checked — in constant
/// time, against every configured key — before anything is read.
public struct SignedMediaURL: Sendable {
    let keys: [SymmetricKey]

    public init(keys: [String]) {
        precondition(!keys.isEmpty, "at least one signing key")
        self.keys = keys.map { SymmetricKey(data: Data($0.utf8)) }
    }

    static func message(method: String, path: String, expires: Int) -> Data {
        // HEAD is a GET without a body: one signature serves both.
        let m = method == "HEAD" ? "GET" : method
        return Data("\(m)\n\(path)\n\(expires)".utf8)
    }

    /// A signed URL (path and query) valid until `expires`, signed with the first key.
    public func url(jobID: String, role: String, expires: Int) -> String {
        let path = "/v1/media/\(jobID)/\(role)"
        let mac = HMAC<SHA256>.authenticationCode(for: Self.message(method: "GET", path: path, expires: expires), using: keys[0])
        return "\(path)?expires=\(expires)&sig=\(Data(mac).base64URL)"
    }

    public enum Verdict: Equatable, Sendable {
        case valid, expired, forged
    }

    /// Checks a request's signature; an expired link is refused even when the signature is right.
    public func verify(method: String, path: String, expires: String?, sig: String?, now: Date) -> Verdict {
        // Only the canonical encoding of a MAC counts: base64url spends 2 spare bits in its last character, so four
        // spellings decode to the same 32 bytes (found by make fuzz: a link with its last character changed verified).
        guard let expires, let expiry = Int(expires), let sig, let given = Data(base64URL: sig), given.count == 32,
              given.base64URL == sig else {
            return .forged
        }
        let message = Self.message(method: method, path: path, expires: expiry)
        // Every key is tried (no early exit), and each comparison is constant-time.
        var matched = false
        for key in keys where HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: message, using: key) {
            matched = true
        }
        guard matched else { return .forged }
        return Double(expiry) < now.timeIntervalSince1970 ? .expired : .valid
    }
}

extension Data {
    /// Decodes unpadded base64url (RFC 4648 §5) from its ASCII bytes; nil on any other character.
    init?(base64URL: String) {
        let input = Array(base64URL.utf8)
        guard input.count <= 64, input.count % 4 != 1 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(input.count * 3 / 4)
        var accumulator: UInt32 = 0, bits = 0
        for c in input {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"): v = 62
            case UInt8(ascii: "_"): v = 63
            default: return nil
            }
            accumulator = accumulator << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        self.init(out)
    }
}

/// Constant-time equality for bearer tokens (no early exit on the first differing byte or on length).
func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var diff = UInt8(truncatingIfNeeded: x.count ^ y.count)
    for i in 0..<max(x.count, y.count) {
        diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return diff == 0
}
