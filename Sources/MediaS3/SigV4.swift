import Crypto
import Foundation
import MediaDomain

/// Credentials of an AWS-style account (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
public struct AWSCredentials: Sendable, Equatable {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// Temporary credentials (STS) carry a token, sent as `X-Amz-Security-Token`.
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// A request as Signature Version 4 sees it.
public struct SigV4Request: Sendable {
    public var method: String
    /// The path, not encoded (`/bucket/key with spaces/ключ`): the signer encodes it once, as it is sent.
    public var path: String
    /// Query parameters, not encoded, in any order.
    public var query: [(name: String, value: String)]
    /// Headers to sign, `Host` included (with its port when it is not the scheme's default).
    public var headers: [(name: String, value: String)]

    public init(method: String, path: String, query: [(name: String, value: String)] = [], headers: [(name: String, value: String)]) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }

    /// The path and query as they go on the wire (`/a%20b?list-type=2&prefix=x`).
    public var encodedTarget: String {
        let p = SigV4Signer.uriEncode(SigV4Signer.absolutePath(path), encodeSlash: false)
        guard !query.isEmpty else { return p }
        return p + "?" + SigV4Signer.canonicalQuery(query)
    }
}

/// AWS Signature Version 4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html), on
/// swift-crypto's HMAC-SHA256. S3 signs the path as sent: no normalization, encoded once (`normalize: false` in
/// aws-c-auth's suite); other services normalize it and encode it twice (`s3Style: false`).
public struct SigV4Signer: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service: String
    /// S3's path rules: the path as sent (no `.`/`..` removal, no second encoding).
    public var s3Style: Bool

    /// The payload hash S3 accepts when the body is not hashed (presigned URLs).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    public init(credentials: AWSCredentials, region: String, service: String = "s3", s3Style: Bool? = nil) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.s3Style = s3Style ?? (service == "s3")
    }

    // MARK: Header signing

    /// The headers to add to `request` so it is signed at `date`: `X-Amz-Date`, `X-Amz-Content-Sha256` (S3),
    /// `X-Amz-Security-Token` (with a session token) and `Authorization`. `payloadSHA256` is the body's SHA-256 in
    /// lower-case hex (of no bytes for an empty body), or `unsignedPayload`. A header of `request` that the signer sets
    /// itself (any of those four, whatever its case) is replaced, not signed twice, so a request can be signed again
    /// (a retry): send the returned headers instead of those.
    public func sign(_ request: SigV4Request, payloadSHA256: String, date: Date) -> [(name: String, value: String)] {
        let stamp = Self.timestamp(date)
        var added: [(name: String, value: String)] = [("X-Amz-Date", stamp)]
        if service == "s3" { added.append(("X-Amz-Content-Sha256", payloadSHA256)) }
        if let token = credentials.sessionToken { added.append(("X-Amz-Security-Token", token)) }
        let replaced = Set((added.map(\.name) + ["Authorization"]).map { $0.lowercased() })
        let headers = request.headers.filter { !replaced.contains($0.name.lowercased()) } + added
        let (canonical, signedHeaders) = canonicalRequest(method: request.method, path: request.path, query: request.query,
                                                          headers: headers, payloadSHA256: payloadSHA256)
        let signature = self.signature(stringToSign: stringToSign(canonicalRequest: canonical, date: date), date: date)
        added.append(("Authorization", "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope(date)), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"))
        return added
    }

    // MARK: Presigned URLs

    /// The query parameters to append to `request` (whose own query is kept) so that it can be sent by anyone until
    /// `expires` seconds after `date` (1 s–7 days): `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
    /// `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Security-Token` and `X-Amz-Signature`. Only `Host` (and any
    /// other header of `request`) is signed; the payload is `payloadSHA256`, `UNSIGNED-PAYLOAD` unless told (S3 takes
    /// that; other services want the body's SHA-256). Those parameters already in `request.query` are replaced.
    public func presign(_ request: SigV4Request, expires: Int, date: Date,
                        payloadSHA256: String = SigV4Signer.unsignedPayload) -> [(name: String, value: String)] {
        let signedHeaders = Self.canonicalHeaders(request.headers).names
        var added: [(name: String, value: String)] = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope(date))"),
            ("X-Amz-Date", Self.timestamp(date)),
            ("X-Amz-Expires", "\(expires)"),
            ("X-Amz-SignedHeaders", signedHeaders),
        ]
        if let token = credentials.sessionToken { added.append(("X-Amz-Security-Token", token)) }
        let replaced = Set(added.map(\.name) + ["X-Amz-Signature"])
        let query = request.query.filter { !replaced.contains($0.name) } + added
        let (canonical, _) = canonicalRequest(method: request.method, path: request.path, query: query,
                                              headers: request.headers, payloadSHA256: payloadSHA256)
        added.append(("X-Amz-Signature", signature(stringToSign: stringToSign(canonicalRequest: canonical, date: date), date: date)))
        return added
    }

    // MARK: The steps (public for the test vectors)

    /// Task 1: the canonical request, and the signed header names (`host;x-amz-date`).
    public func canonicalRequest(method: String, path: String, query: [(name: String, value: String)],
                                 headers: [(name: String, value: String)], payloadSHA256: String) -> (String, String) {
        let (headerBlock, names) = Self.canonicalHeaders(headers)
        let canonical = [method, canonicalURI(path), Self.canonicalQuery(query), headerBlock, names, payloadSHA256]
            .joined(separator: "\n")
        return (canonical, names)
    }

    /// Task 2: the string to sign.
    public func stringToSign(canonicalRequest: String, date: Date) -> String {
        let hash = Hex.encode(SHA256.hash(data: Data(canonicalRequest.utf8)))
        return "AWS4-HMAC-SHA256\n\(Self.timestamp(date))\n\(scope(date))\n\(hash)"
    }

    /// Task 3: the signature, with the key derived for the day, region and service.
    public func signature(stringToSign: String, date: Date) -> String {
        let day = String(Self.timestamp(date).prefix(8))
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return Hex.encode(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
    }

    /// `YYYYMMDD/region/service/aws4_request`.
    public func scope(_ date: Date) -> String {
        "\(Self.timestamp(date).prefix(8))/\(region)/\(service)/aws4_request"
    }

    func canonicalURI(_ path: String) -> String {
        let raw = Self.absolutePath(path)
        if s3Style { return Self.uriEncode(raw, encodeSlash: false) }
        // Other services: dot segments and empty segments removed, then the encoded path encoded again.
        var segments: [Substring] = []
        for segment in raw.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." { _ = segments.popLast(); continue }
            segments.append(segment)
        }
        var normalized = "/" + segments.joined(separator: "/")
        if raw.hasSuffix("/") && !segments.isEmpty { normalized += "/" }
        return Self.uriEncode(Self.uriEncode(normalized, encodeSlash: false), encodeSlash: false)
    }

    /// The path with its leading `/` (`/` for none): what goes on the wire and into the canonical request.
    static func absolutePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : "/" + path
    }

    /// Query parameters encoded (slashes too) and sorted by name, then value.
    public static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        let encoded: [(String, String)] = query.map { (uriEncode($0.name, encodeSlash: true), uriEncode($0.value, encodeSlash: true)) }
        let sorted = encoded.sorted { (a: (String, String), b: (String, String)) -> Bool in a.0 == b.0 ? a.1 < b.1 : a.0 < b.0 }
        return sorted.map { (pair: (String, String)) -> String in pair.0 + "=" + pair.1 }.joined(separator: "&")
    }

    /// Lower-case names sorted, values trimmed with inner runs of white space made one space, repeated names joined
    /// with `,` in the order given.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (block: String, names: String) {
        var byName: [String: [String]] = [:]
        for (name, value) in headers {
            byName[name.lowercased(), default: []].append(trimmed(value))
        }
        let names = byName.keys.sorted()
        let block = names.map { "\($0):\(byName[$0]!.joined(separator: ","))\n" }.joined()
        return (block, names.joined(separator: ";"))
    }

    /// AWS's Trimall: no white space before or after, and each inner run of it one space. White space is ASCII's
    /// (space, tab, LF, VT, FF, CR) as aws-c-auth has it, so a folded (multi-line) value signs as one line.
    static func trimmed(_ value: String) -> String {
        var out = ""
        var space = false
        for scalar in value.unicodeScalars {
            if scalar == " " || ("\t"..."\r").contains(scalar) {
                space = true
                continue
            }
            if space && !out.isEmpty { out.append(" ") }
            space = false
            out.unicodeScalars.append(scalar)
        }
        return out
    }

    /// AWS's UriEncode: every byte of the UTF-8 but `A-Z a-z 0-9 - . _ ~` as `%XY` (upper-case hex); `/` kept in paths.
    public static func uriEncode(_ string: String, encodeSlash: Bool) -> String {
        var out = [UInt8]()
        out.reserveCapacity(string.utf8.count)
        let hexDigits = Array("0123456789ABCDEF".utf8)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where !encodeSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `YYYYMMDDTHHMMSSZ` in UTC.
    public static func timestamp(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        func digits(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return digits(parts.tm_year + 1900, 4) + digits(parts.tm_mon + 1, 2) + digits(parts.tm_mday, 2) + "T"
            + digits(parts.tm_hour, 2) + digits(parts.tm_min, 2) + digits(parts.tm_sec, 2) + "Z"
    }

    /// The SHA-256 of `bytes` in lower-case hex, as `X-Amz-Content-Sha256` carries it.
    public static func payloadHash(_ bytes: some DataProtocol) -> String {
        Hex.encode(SHA256.hash(data: bytes))
    }
}
