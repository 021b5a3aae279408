import Crypto
import Foundation
import Testing

@testable import MediaS3

// The SigV4 signer against three references:
//  1. aws-c-auth's signing test suite (all 38 v4 cases, header and query forms),
//  2. the worked S3 examples of AWS's documentation (GET with Range, PUT, ?lifecycle, ListObjects, presigned GET),
//  3. botocore, run live on requests shaped like the S3 driver's (Tests/MediaS3Tests/botocore_sign.py),
// then the small parts one by one.

/// `2015-08-30T12:36:00Z`, aws-c-auth's signing time.
private let awsCAuthDate = Date(timeIntervalSince1970: 1_440_938_160)
/// `2013-05-24T00:00:00Z`, the signing time of AWS's S3 examples.
private let s3ExamplesDate = Date(timeIntervalSince1970: 1_369_353_600)
private let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/// The value of `name` (any case) among `pairs`.
private func value(_ pairs: [(name: String, value: String)], _ name: String) -> String? {
    pairs.first { $0.name.lowercased() == name.lowercased() }?.value
}

/// `Credential`, `SignedHeaders` and `Signature` of an `AWS4-HMAC-SHA256 …` Authorization value (with or without
/// spaces after the commas: AWS's examples have none, botocore and this signer put one).
private func authorizationParts(_ authorization: String?) -> [String: String] {
    guard let authorization, authorization.hasPrefix("AWS4-HMAC-SHA256 ") else { return [:] }
    var parts: [String: String] = [:]
    for item in authorization.dropFirst("AWS4-HMAC-SHA256 ".count).split(separator: ",") {
        let item = item.trimmingCharacters(in: .whitespaces)
        guard let equals = item.firstIndex(of: "=") else { continue }
        parts[String(item[..<equals])] = String(item[item.index(after: equals)...])
    }
    return parts
}

/// The encoded `name=value` items of a query string, sorted (so that two orders of the same parameters compare equal).
private func queryItems(_ query: Substring) -> [String] {
    query.isEmpty ? [] : query.split(separator: "&", omittingEmptySubsequences: false).map(String.init).sorted()
}

/// The same, each name and value percent-decoded.
private func decodedQueryItems(_ query: Substring) -> [String] {
    queryItems(query).map { item in
        item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            .map { String($0).removingPercentEncoding ?? String($0) }.joined(separator: "=")
    }.sorted()
}

// MARK: - 1. aws-c-auth's test suite

/// One case of https://github.com/awslabs/aws-c-auth/tree/main/tests/aws-signing-test-suite/v4 (files copied verbatim
/// from commit 495329c2433034bd8fd53fc6ba9e0202d3fac876): `request.txt`, the `header-*` and `query-*` expectations and
/// the flags of `context.json`. Every case there signs for region `us-east-1`, service `service`, at
/// 2015-08-30T12:36:00Z, with `AKIDEXAMPLE` / `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`, presigned URLs for 3600 s.
struct AWSCAuthCase: Sendable, CustomTestStringConvertible {
    let name: String
    /// `normalize` in context.json: dot segments and empty segments removed (every service but S3).
    let normalize: Bool
    /// `sign_body`: the body's SHA-256 is signed and sent as `X-Amz-Content-Sha256` (else the empty body's hash).
    let signBody: Bool
    let sessionToken: String?
    /// `omit_session_token`: the token is added after signing (not signed), as some services want.
    let omitSessionToken: Bool
    let request: String
    let headerCanonicalRequest: String
    let headerStringToSign: String
    let headerSignature: String
    /// The `Authorization` line of `header-signed-request.txt`.
    let headerAuthorization: String
    let queryCanonicalRequest: String
    let queryStringToSign: String
    let querySignature: String
    /// The request line of `query-signed-request.txt`.
    let querySignedRequestLine: String

    var testDescription: String { name }

    static let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE",
                                            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")

    /// `request.txt` read the way aws-c-auth's test reads it: `METHOD <uri> HTTP/1.1` (the URI may hold spaces), then
    /// headers, a line starting with white space continuing the previous header's value (newline kept), then a blank
    /// line and the body. The query is split on `&` and `=` and percent-decoded, since `SigV4Request` takes it as is.
    struct Parsed {
        var method: String
        var path: String
        var query: [(name: String, value: String)]
        var headers: [(name: String, value: String)]
        var body: [UInt8]
    }

    var parsed: Parsed {
        let lines = request.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines[0]
        let method = String(requestLine.prefix { $0 != " " })
        let target = String(requestLine.dropFirst(method.count + 1).dropLast(" HTTP/1.1".count))
        let (path, queryString) = target.firstIndex(of: "?").map { (String(target[..<$0]), String(target[target.index(after: $0)...])) }
            ?? (target, "")
        let query: [(name: String, value: String)] = queryString.isEmpty ? [] : queryString.split(separator: "&").map { item in
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let name = pair[0], value = pair.count > 1 ? pair[1] : ""
            return (name.removingPercentEncoding ?? name, value.removingPercentEncoding ?? value)
        }
        var headers: [(name: String, value: String)] = []
        var index = 1
        while index < lines.count, !lines[index].isEmpty {
            let line = lines[index]
            if line.first == " " || line.first == "\t" {
                headers[headers.count - 1].value += "\n" + line
            } else {
                let colon = line.firstIndex(of: ":")!
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
            index += 1
        }
        let body = index + 1 < lines.count ? lines[(index + 1)...].joined(separator: "\n") : ""
        return Parsed(method: method, path: path, query: query, headers: headers, body: Array(body.utf8))
    }

    /// The signer as the case asks. aws-c-auth reads the request line's path as already encoded and encodes it once
    /// more (`use_double_uri_encode`); its paths hold nothing encoded, so that is one encoding of the path as written,
    /// which is what `SigV4Signer` does in S3 style with an unencoded path. Normalized cases use the signer's
    /// normalizing style, which also encodes twice: the same for paths of unreserved characters, not for the two
    /// normalized cases whose path has a space or UTF-8 (`get-space-normalized`, `get-utf8`). Those paths have nothing
    /// to normalize, so they are signed in S3 style (the test checks that normalizing would not change them), and the
    /// double encoding of the normalizing style is checked against botocore instead.
    func signer(credentials: AWSCredentials) -> SigV4Signer {
        let path = parsed.path
        let needsEncoding = SigV4Signer.uriEncode(path, encodeSlash: false) != path
        return SigV4Signer(credentials: credentials, region: "us-east-1", service: "service",
                           s3Style: !normalize || needsEncoding)
    }

    /// The credentials that sign: with `omit_session_token` the token is not part of the signature (aws-c-auth adds it
    /// to the request after signing), so the signature is the one made without a token.
    var signingCredentials: AWSCredentials {
        var credentials = Self.credentials
        if !omitSessionToken { credentials.sessionToken = sessionToken }
        return credentials
    }
}

@Suite("SigV4: aws-c-auth's signing test suite")
struct SigV4AWSCAuthSuiteTests {
    @Test("every case of the suite is here, and those S3 depends on")
    func coverage() {
        let names = Set(AWSCAuthCase.all.map(\.name))
        #expect(names.count == 38)
        for required in ["get-vanilla", "get-vanilla-query-order-key-case", "get-vanilla-with-session-token",
                         "post-x-www-form-urlencoded", "get-relative-unnormalized", "get-relative-relative-unnormalized",
                         "get-slash-dot-slash-unnormalized", "get-slash-pointless-dot-unnormalized", "get-slash-unnormalized",
                         "get-slashes-unnormalized", "get-space-unnormalized"] {
            #expect(names.contains(required), "\(required)")
        }
        #expect(AWSCAuthCase.all.filter { !$0.normalize }.count == 7)
    }

    @Test("header signing: canonical request, string to sign, signature, Authorization", arguments: AWSCAuthCase.all)
    func header(_ vector: AWSCAuthCase) throws {
        let parsed = vector.parsed
        let signer = vector.signer(credentials: vector.signingCredentials)
        if signer.s3Style && vector.normalize {
            let normalizing = SigV4Signer(credentials: AWSCredentials(accessKeyID: "", secretAccessKey: ""), region: "",
                                          service: "service", s3Style: false)
            // Normalizing would leave the path as it is (then encode it twice).
            #expect(normalizing.canonicalURI(parsed.path)
                    == SigV4Signer.uriEncode(signer.canonicalURI(parsed.path), encodeSlash: false))
        }
        let bodyHash = vector.signBody ? SigV4Signer.payloadHash(parsed.body) : emptySHA256
        var headers = parsed.headers
        // A service other than S3 gets `X-Amz-Content-Sha256` only if told: here, as a header of the request.
        if vector.signBody { headers.append(("X-Amz-Content-Sha256", bodyHash)) }
        let request = SigV4Request(method: parsed.method, path: parsed.path, query: parsed.query, headers: headers)

        let added = signer.sign(request, payloadSHA256: bodyHash, date: awsCAuthDate)
        #expect(value(added, "Authorization") == vector.headerAuthorization)
        #expect(value(added, "X-Amz-Date") == "20150830T123600Z")
        #expect(value(added, "X-Amz-Content-Sha256") == nil, "only S3 gets it unasked")
        #expect(value(added, "X-Amz-Security-Token") == signer.credentials.sessionToken)

        // The steps, with the headers `sign` adds.
        var signed = headers + [("X-Amz-Date", "20150830T123600Z")]
        if let token = signer.credentials.sessionToken { signed.append(("X-Amz-Security-Token", token)) }
        let (canonical, signedHeaders) = signer.canonicalRequest(method: parsed.method, path: parsed.path, query: parsed.query,
                                                                 headers: signed, payloadSHA256: bodyHash)
        #expect(canonical == vector.headerCanonicalRequest)
        #expect(authorizationParts(vector.headerAuthorization)["SignedHeaders"] == signedHeaders)
        let stringToSign = signer.stringToSign(canonicalRequest: canonical, date: awsCAuthDate)
        #expect(stringToSign == vector.headerStringToSign)
        #expect(signer.signature(stringToSign: stringToSign, date: awsCAuthDate) == vector.headerSignature)
    }

    @Test("query signing (presigned): canonical request, string to sign, signature, parameters", arguments: AWSCAuthCase.all)
    func query(_ vector: AWSCAuthCase) throws {
        let parsed = vector.parsed
        let signer = vector.signer(credentials: vector.signingCredentials)
        let bodyHash = vector.signBody ? SigV4Signer.payloadHash(parsed.body) : emptySHA256
        let request = SigV4Request(method: parsed.method, path: parsed.path, query: parsed.query, headers: parsed.headers)

        let added = signer.presign(request, expires: 3600, date: awsCAuthDate, payloadSHA256: bodyHash)
        #expect(added.last?.name == "X-Amz-Signature")
        #expect(value(added, "X-Amz-Signature") == vector.querySignature)

        let (canonical, _) = signer.canonicalRequest(method: parsed.method, path: parsed.path,
                                                     query: parsed.query + added.dropLast(), headers: parsed.headers,
                                                     payloadSHA256: bodyHash)
        #expect(canonical == vector.queryCanonicalRequest)
        let stringToSign = signer.stringToSign(canonicalRequest: canonical, date: awsCAuthDate)
        #expect(stringToSign == vector.queryStringToSign)
        #expect(signer.signature(stringToSign: stringToSign, date: awsCAuthDate) == vector.querySignature)

        // The parameters of the signed request, in any order (the token comes after signing when omitted), decoded
        // (the suite writes UTF-8 unencoded in request lines).
        let line = vector.querySignedRequestLine
        let target = line.dropFirst(parsed.method.count + 1).dropLast(" HTTP/1.1".count)
        var expected = decodedQueryItems(target[target.index(after: target.firstIndex(of: "?")!)...])
        if vector.omitSessionToken { expected.removeAll { $0.hasPrefix("X-Amz-Security-Token=") } }
        let ours = SigV4Request(method: parsed.method, path: parsed.path, query: parsed.query + added, headers: parsed.headers)
        let ourTarget = ours.encodedTarget
        #expect(decodedQueryItems(ourTarget[ourTarget.index(after: ourTarget.firstIndex(of: "?")!)...]) == expected)
    }
}

// MARK: - 2. AWS's S3 examples

/// "Examples: Signature Calculations" of https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
/// (GET object with Range, PUT object, GET ?lifecycle, GET bucket with max-keys and prefix) and of
/// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html (presigned GET): bucket `examplebucket`,
/// us-east-1, 2013-05-24T00:00:00Z, `AKIAIOSFODNN7EXAMPLE` / `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`. The canonical
/// requests, strings to sign and signatures are those the pages print.
@Suite("SigV4: AWS's S3 signature examples")
struct SigV4S3ExampleTests {
    static let signer = SigV4Signer(credentials: AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                                                                secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                                    region: "us-east-1")
    static let host = ("Host", "examplebucket.s3.amazonaws.com")

    /// Signs `request` as the page does and checks each step and the Authorization header.
    func check(_ request: SigV4Request, payloadSHA256: String, canonicalRequest: String, stringToSign: String,
               signature: String, signedHeaders: String) {
        let signer = Self.signer
        let added = signer.sign(request, payloadSHA256: payloadSHA256, date: s3ExamplesDate)
        #expect(value(added, "X-Amz-Date") == "20130524T000000Z")
        #expect(value(added, "X-Amz-Content-Sha256") == payloadSHA256)
        let parts = authorizationParts(value(added, "Authorization"))
        #expect(parts["Credential"] == "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request")
        #expect(parts["SignedHeaders"] == signedHeaders)
        #expect(parts["Signature"] == signature)

        let (canonical, names) = signer.canonicalRequest(method: request.method, path: request.path, query: request.query,
                                                         headers: request.headers + added.dropLast(),
                                                         payloadSHA256: payloadSHA256)
        #expect(canonical == canonicalRequest)
        #expect(names == signedHeaders)
        let sts = signer.stringToSign(canonicalRequest: canonical, date: s3ExamplesDate)
        #expect(sts == stringToSign)
        #expect(signer.signature(stringToSign: sts, date: s3ExamplesDate) == signature)
    }

    @Test("GET object with Range")
    func getObject() {
        check(SigV4Request(method: "GET", path: "/test.txt", headers: [Self.host, ("Range", "bytes=0-9")]),
              payloadSHA256: emptySHA256,
              canonicalRequest: """
              GET
              /test.txt

              host:examplebucket.s3.amazonaws.com
              range:bytes=0-9
              x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
              x-amz-date:20130524T000000Z

              host;range;x-amz-content-sha256;x-amz-date
              e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
              """,
              stringToSign: """
              AWS4-HMAC-SHA256
              20130524T000000Z
              20130524/us-east-1/s3/aws4_request
              7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
              """,
              signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
              signedHeaders: "host;range;x-amz-content-sha256;x-amz-date")
    }

    @Test("PUT object: `$` in the key, Date and x-amz-storage-class signed, body hashed")
    func putObject() {
        let payload = SigV4Signer.payloadHash(Array("Welcome to Amazon S3.".utf8))
        #expect(payload == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let request = SigV4Request(method: "PUT", path: "/test$file.text",
                                   headers: [Self.host, ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                                             ("x-amz-storage-class", "REDUCED_REDUNDANCY")])
        #expect(request.encodedTarget == "/test%24file.text")
        check(request, payloadSHA256: payload,
              canonicalRequest: """
              PUT
              /test%24file.text

              date:Fri, 24 May 2013 00:00:00 GMT
              host:examplebucket.s3.amazonaws.com
              x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072
              x-amz-date:20130524T000000Z
              x-amz-storage-class:REDUCED_REDUNDANCY

              date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class
              44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072
              """,
              stringToSign: """
              AWS4-HMAC-SHA256
              20130524T000000Z
              20130524/us-east-1/s3/aws4_request
              9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d
              """,
              signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
              signedHeaders: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class")
    }

    @Test("GET bucket ?lifecycle: a parameter without a value")
    func getLifecycle() {
        check(SigV4Request(method: "GET", path: "/", query: [("lifecycle", "")], headers: [Self.host]),
              payloadSHA256: emptySHA256,
              canonicalRequest: """
              GET
              /
              lifecycle=
              host:examplebucket.s3.amazonaws.com
              x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
              x-amz-date:20130524T000000Z

              host;x-amz-content-sha256;x-amz-date
              e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
              """,
              stringToSign: """
              AWS4-HMAC-SHA256
              20130524T000000Z
              20130524/us-east-1/s3/aws4_request
              9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca
              """,
              signature: "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
              signedHeaders: "host;x-amz-content-sha256;x-amz-date")
    }

    @Test("GET bucket (list objects) ?max-keys=2&prefix=J, parameters given out of order")
    func listObjects() {
        check(SigV4Request(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")], headers: [Self.host]),
              payloadSHA256: emptySHA256,
              canonicalRequest: """
              GET
              /
              max-keys=2&prefix=J
              host:examplebucket.s3.amazonaws.com
              x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
              x-amz-date:20130524T000000Z

              host;x-amz-content-sha256;x-amz-date
              e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
              """,
              stringToSign: """
              AWS4-HMAC-SHA256
              20130524T000000Z
              20130524/us-east-1/s3/aws4_request
              df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7
              """,
              signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
              signedHeaders: "host;x-amz-content-sha256;x-amz-date")
    }

    @Test("presigned GET, X-Amz-Expires=86400")
    func presignedGet() {
        let signer = Self.signer
        let request = SigV4Request(method: "GET", path: "/test.txt", headers: [Self.host])
        let added = signer.presign(request, expires: 86400, date: s3ExamplesDate)
        #expect(added.map(\.name) == ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                                      "X-Amz-SignedHeaders", "X-Amz-Signature"])
        #expect(value(added, "X-Amz-Signature") == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")

        let (canonical, _) = signer.canonicalRequest(method: "GET", path: "/test.txt", query: Array(added.dropLast()),
                                                     headers: request.headers, payloadSHA256: SigV4Signer.unsignedPayload)
        #expect(canonical == """
            GET
            /test.txt
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host
            host:examplebucket.s3.amazonaws.com

            host
            UNSIGNED-PAYLOAD
            """)
        #expect(signer.stringToSign(canonicalRequest: canonical, date: s3ExamplesDate) == """
            AWS4-HMAC-SHA256
            20130524T000000Z
            20130524/us-east-1/s3/aws4_request
            3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04
            """)
        // The page's URL, parameters in any order.
        let page = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        let target = SigV4Request(method: "GET", path: "/test.txt", query: added, headers: request.headers).encodedTarget
        #expect(target.hasPrefix("/test.txt?"))
        #expect(queryItems(target.split(separator: "?").last!) == queryItems(page[...]))
    }
}

// MARK: - 3. botocore, live

/// A request signed by both botocore (through botocore_sign.py) and `SigV4Signer`. The fields botocore_sign.py reads.
struct BotocoreCase: Sendable, Encodable, CustomTestStringConvertible {
    enum Kind: String, Sendable, Encodable { case header, query }
    var label: String
    var kind: Kind = .header
    var service = "s3"
    var method: String
    var scheme = "https"
    var host = "mediabucket.s3.eu-central-1.amazonaws.com"
    /// Not encoded.
    var path: String
    /// Not encoded, in the order sent.
    var query: [[String]] = []
    /// Besides Host (botocore takes Host from the URL; the Swift side sends `host` as Host).
    var headers: [[String]] = []
    var body: [UInt8] = []
    /// Header signing with `UNSIGNED-PAYLOAD` (S3 over HTTPS, as botocore does with payload signing off).
    var unsignedPayload = false
    var accessKey = "AKIAIOSFODNN7EXAMPLE"
    var secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    var sessionToken: String?
    var region = "eu-central-1"
    /// The signing time, `YYYYMMDDTHHMMSSZ`.
    var timestamp = "20261202T032723Z"
    var expires = 3600

    var testDescription: String { label }

    enum CodingKeys: String, CodingKey {
        case kind, service, method, scheme, host, path, query, headers, region, timestamp, expires
        case bodyHex = "body_hex", unsignedPayload = "unsigned_payload", accessKey = "access_key",
             secretKey = "secret_key", sessionToken = "session_token"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(service, forKey: .service)
        try container.encode(method, forKey: .method)
        try container.encode(scheme, forKey: .scheme)
        try container.encode(host, forKey: .host)
        try container.encode(path, forKey: .path)
        try container.encode(query, forKey: .query)
        try container.encode(headers, forKey: .headers)
        try container.encode(body.map { String(format: "%02x", $0) }.joined(), forKey: .bodyHex)
        try container.encode(unsignedPayload, forKey: .unsignedPayload)
        try container.encode(accessKey, forKey: .accessKey)
        try container.encode(secretKey, forKey: .secretKey)
        try container.encodeIfPresent(sessionToken, forKey: .sessionToken)
        try container.encode(region, forKey: .region)
        try container.encode(timestamp, forKey: .timestamp)
        try container.encode(expires, forKey: .expires)
    }

    var date: Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.date(from: timestamp)!
    }

    var signer: SigV4Signer {
        SigV4Signer(credentials: AWSCredentials(accessKeyID: accessKey, secretAccessKey: secretKey, sessionToken: sessionToken),
                    region: region, service: service)
    }

    var request: SigV4Request {
        SigV4Request(method: method, path: path, query: query.map { ($0[0], $0[1]) },
                     headers: [("Host", host)] + headers.map { ($0[0], $0[1]) })
    }

    static let oggBody = Array("OggS\u{0}\u{2} a voice note, more or less".utf8)
    static let md5OfOgg = Data(Insecure.MD5.hash(data: oggBody)).base64EncodedString()
    static let oddKey = "media/a b+c~d=e!f'g(h)i*j&k$l@m:n,o;p%q#r?s[t]u{v}w^x`y|z\"<>.ogg"

    /// Shaped like the S3 driver's requests: path-style and virtual-hosted, AWS and MinIO (port, plain HTTP).
    static let all: [BotocoreCase] = [
        BotocoreCase(label: "PUT object: body, Content-MD5, Content-Type", method: "PUT",
                     path: "/voice/2026/12/02/3f2a.ogg",
                     headers: [["Content-MD5", md5OfOgg], ["Content-Type", "audio/ogg"]], body: oggBody),
        BotocoreCase(label: "PUT object, path-style: UTF-8 key, Content-Length signed, session token", method: "PUT",
                     host: "s3.eu-central-1.amazonaws.com", path: "/mediabucket/prefix/ключ/файл.ogg",
                     headers: [["Content-Length", "\(oggBody.count)"], ["Content-MD5", md5OfOgg],
                               ["Content-Type", "audio/ogg; codecs=opus"]],
                     body: oggBody,
                     sessionToken: "FwoGZXIvYXdzEBYaDH+token/with+slashes/and=equals=="),
        BotocoreCase(label: "PUT object with UNSIGNED-PAYLOAD (HTTPS, Content-MD5)", method: "PUT",
                     path: "/voice/unsigned.ogg", headers: [["Content-MD5", md5OfOgg], ["Content-Type", "audio/ogg"]],
                     body: oggBody, unsignedPayload: true),
        BotocoreCase(label: "PUT of an empty object", method: "PUT", path: "/empty",
                     headers: [["Content-Type", "application/octet-stream"]]),
        BotocoreCase(label: "GET with Range, key with spaces, + ~ = and other punctuation", method: "GET",
                     path: "/" + oddKey, headers: [["Range", "bytes=0-1023"]]),
        BotocoreCase(label: "GET with Range on MinIO (localhost:9000, HTTP), session token", method: "GET",
                     scheme: "http", host: "localhost:9000", path: "/media/prefix/ключ/файл.ogg",
                     headers: [["Range", "bytes=1024-"]], sessionToken: "minio-session-token", region: "us-east-1",
                     timestamp: "20240229T235959Z"),
        BotocoreCase(label: "HEAD object", method: "HEAD", path: "/images/photo 1.webp"),
        BotocoreCase(label: "DELETE object, decomposed UTF-8 key (e + U+0301 kept as sent)", method: "DELETE",
                     path: "/caf\u{65}\u{301}/r\u{E9}sum\u{E9}.txt"),
        BotocoreCase(label: "ListObjectsV2, first page", method: "GET", host: "s3.eu-central-1.amazonaws.com",
                     path: "/mediabucket",
                     query: [["list-type", "2"], ["prefix", "voice/2026/"], ["max-keys", "1000"]]),
        BotocoreCase(label: "ListObjectsV2, next page: continuation-token with / + =, UTF-8 prefix, delimiter, empty value",
                     method: "GET", path: "/",
                     query: [["list-type", "2"], ["prefix", "prefix/ключ/ a+b"], ["delimiter", "/"],
                             ["continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM+/k=="],
                             ["max-keys", "2"], ["fetch-owner", ""], ["start-after", "voice/~tilde"]]),
        BotocoreCase(label: "DeleteObjects: ?delete, Content-MD5, XML body", method: "POST", path: "/", query: [["delete", ""]],
                     headers: [["Content-MD5", Data(Insecure.MD5.hash(data: Array("<Delete/>".utf8))).base64EncodedString()],
                               ["Content-Type", "application/xml"]],
                     body: Array("<Delete/>".utf8)),
        BotocoreCase(label: "header values: runs of white space, tabs, leading and trailing; repeated and UTF-8 metadata",
                     method: "PUT", path: "/meta.bin",
                     headers: [["Content-Type", "  text/plain;   charset=utf-8  "], ["X-Amz-Meta-Note", "a\t\tb   c"],
                               ["x-amz-meta-tag", "second"], ["X-Amz-Meta-Tag", "first"],
                               ["X-Amz-Meta-Name", "файл  с пробелами"]],
                     body: Array("text".utf8)),
        BotocoreCase(label: "presigned GET", kind: .query, method: "GET", path: "/voice/2026/12/02/3f2a.ogg", expires: 900),
        BotocoreCase(label: "presigned GET: session token, response-content-disposition with a UTF-8 file name", kind: .query,
                     method: "GET", path: "/prefix/ключ/файл.ogg",
                     query: [["response-content-disposition", "attachment; filename=\"файл 1.ogg\""],
                             ["response-content-type", "audio/ogg"]],
                     sessionToken: "FwoGZXIvYXdzEBYaDH+token/with+slashes/and=equals==", expires: 604_800),
        BotocoreCase(label: "presigned GET on MinIO (localhost:9000, HTTP), odd key", kind: .query, method: "GET", scheme: "http",
                     host: "localhost:9000", path: "/media/" + oddKey, region: "us-east-1", timestamp: "20240229T235959Z"),
        BotocoreCase(label: "presigned PUT with Content-Type signed", kind: .query, method: "PUT", path: "/upload/a b.ogg",
                     headers: [["Content-Type", "audio/ogg"]]),
        // Another service: the normalizing, double-encoding style (botocore's SigV4Auth / SigV4QueryAuth).
        BotocoreCase(label: "another service, header: dot segments, space, UTF-8, query", service: "execute-api",
                     method: "POST", host: "abc123.execute-api.eu-central-1.amazonaws.com",
                     path: "/stage/./a/../b c/ключ/", query: [["q", "a b/c"], ["Z", "1"]],
                     headers: [["Content-Type", "application/json"]], body: Array("{\"k\":1}".utf8),
                     sessionToken: "token"),
        BotocoreCase(label: "another service, presigned: dot segments, space, UTF-8", kind: .query, service: "execute-api",
                     method: "GET", host: "abc123.execute-api.eu-central-1.amazonaws.com", path: "//stage/x/../b c/ключ"),
    ]
}

/// What botocore_sign.py answers for one request.
struct BotocoreAnswer: Sendable, Decodable {
    var authorization: String?
    var headers: [[String]]
    var url: String
    var canonical_request: String?
    var string_to_sign: String?

    func header(_ name: String) -> String? {
        headers.first { $0[0].lowercased() == name.lowercased() }?[1]
    }
}

struct BotocoreRun: Sendable, Decodable {
    var botocore: String
    var results: [BotocoreAnswer]
}

struct BotocoreUnavailable: Error, CustomStringConvertible {
    var description: String
}

/// Runs botocore_sign.py once for all the cases, with the project's tool venv (`make` installs
/// scripts/python-tools.txt into .build-tools/venv), or the Python named by `MEDIAWORKER_TEST_PYTHON`.
enum Botocore {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("botocore_sign.py")
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let run: Result<BotocoreRun, BotocoreUnavailable> = Result { try sign(BotocoreCase.all) }
        .mapError { $0 as? BotocoreUnavailable ?? BotocoreUnavailable(description: "\($0)") }

    static func python() throws(BotocoreUnavailable) -> String {
        if let python = ProcessInfo.processInfo.environment["MEDIAWORKER_TEST_PYTHON"], !python.isEmpty { return python }
        let python = repositoryRoot.appendingPathComponent(".build-tools/venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw BotocoreUnavailable(description: """
                The botocore cross-check needs \(python) with botocore installed (scripts/python-tools.txt): run \
                `make .build-tools/venv/.ready` (or `make test`), or set MEDIAWORKER_TEST_PYTHON to a Python that has \
                botocore.
                """)
        }
        return python
    }

    static func sign(_ cases: [BotocoreCase]) throws -> BotocoreRun {
        let python = try python()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sigv4-botocore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("requests.json"), errors = folder.appendingPathComponent("stderr")
        try JSONEncoder().encode(cases).write(to: input)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path]
        process.standardInput = try FileHandle(forReadingFrom: input)
        process.standardError = try FileHandle(forWritingTo: errors)
        let output = Pipe()
        process.standardOutput = output
        do {
            try process.run()
        } catch {
            throw BotocoreUnavailable(description: "Could not run \(python) \(script.path): \(error)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let stderr = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw BotocoreUnavailable(description: """
                \(python) \(script.path) exited with \(process.terminationStatus)\
                \(process.terminationStatus == 3 ? " (botocore is missing: install scripts/python-tools.txt)" : ""):
                \(stderr)
                """)
        }
        let run = try JSONDecoder().decode(BotocoreRun.self, from: data)
        guard run.results.count == cases.count else {
            throw BotocoreUnavailable(description: "botocore_sign.py answered \(run.results.count) of \(cases.count) requests")
        }
        return run
    }

    static func answer(for vector: BotocoreCase) throws -> BotocoreAnswer {
        let run = try Botocore.run.get()
        return run.results[BotocoreCase.all.firstIndex { $0.label == vector.label }!]
    }
}

@Suite("SigV4: the same signatures as botocore")
struct SigV4BotocoreTests {
    @Test("botocore is there and the requests are distinct")
    func botocoreRuns() throws {
        let run = try Botocore.run.get()
        #expect(!run.botocore.isEmpty)
        #expect(Set(BotocoreCase.all.map(\.label)).count == BotocoreCase.all.count)
    }

    @Test("header signing", arguments: BotocoreCase.all.filter { $0.kind == .header })
    func header(_ vector: BotocoreCase) throws {
        let boto = try Botocore.answer(for: vector)
        let signer = vector.signer, request = vector.request
        let payload = vector.unsignedPayload ? SigV4Signer.unsignedPayload : SigV4Signer.payloadHash(vector.body)
        let added = signer.sign(request, payloadSHA256: payload, date: vector.date)
        let (canonical, _) = signer.canonicalRequest(method: request.method, path: request.path, query: request.query,
                                                     headers: request.headers + added.filter { $0.name != "Authorization" },
                                                     payloadSHA256: payload)
        #expect(canonical == boto.canonical_request)
        #expect(value(added, "Authorization") == boto.authorization)
        for (name, ours) in added {
            #expect(ours == boto.header(name), "\(name)")
        }
        for signerHeader in ["X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Security-Token"] where boto.header(signerHeader) != nil {
            #expect(value(added, signerHeader) != nil, "botocore adds \(signerHeader)")
        }
        // What goes on the wire is what was signed: botocore's URL (its own encoding of the key and query).
        let url = "\(vector.scheme)://\(vector.host)"
        #expect(boto.url.hasPrefix(url))
        let (botoPath, botoQuery) = split(String(boto.url.dropFirst(url.count)))
        let (ourPath, ourQuery) = split(request.encodedTarget)
        #expect(ourPath == botoPath)
        #expect(queryItems(ourQuery[...]) == queryItems(botoQuery[...]))
    }

    @Test("query signing (presigned URLs)", arguments: BotocoreCase.all.filter { $0.kind == .query })
    func query(_ vector: BotocoreCase) throws {
        let boto = try Botocore.answer(for: vector)
        let signer = vector.signer, request = vector.request
        let payload = vector.service == "s3" ? SigV4Signer.unsignedPayload : SigV4Signer.payloadHash(vector.body)
        let added = signer.presign(request, expires: vector.expires, date: vector.date, payloadSHA256: payload)
        let (canonical, _) = signer.canonicalRequest(method: request.method, path: request.path,
                                                     query: request.query + added.dropLast(), headers: request.headers,
                                                     payloadSHA256: payload)
        #expect(canonical == boto.canonical_request)
        let url = "\(vector.scheme)://\(vector.host)"
        #expect(boto.url.hasPrefix(url))
        let (botoPath, botoQuery) = split(String(boto.url.dropFirst(url.count)))
        let presigned = SigV4Request(method: request.method, path: request.path, query: request.query + added,
                                     headers: request.headers)
        let (ourPath, ourQuery) = split(presigned.encodedTarget)
        #expect(ourPath == botoPath)
        #expect(queryItems(ourQuery[...]) == queryItems(botoQuery[...]))
        #expect(queryItems(ourQuery[...]).contains("X-Amz-Signature=" + (value(added, "X-Amz-Signature") ?? "?")))
    }

    private func split(_ target: String) -> (path: String, query: String) {
        guard let mark = target.firstIndex(of: "?") else { return (target, "") }
        return (String(target[..<mark]), String(target[target.index(after: mark)...]))
    }
}

// MARK: - 4. The parts

@Suite("SigV4: the parts")
struct SigV4PartTests {
    @Test("uriEncode: unreserved characters kept, everything else %XY of its UTF-8, upper-case hex")
    func uriEncodeCharacters() {
        let unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
        #expect(SigV4Signer.uriEncode(unreserved, encodeSlash: true) == unreserved)
        #expect(SigV4Signer.uriEncode(" !\"#$%&'()*+,:;<=>?@[\\]^`{|}", encodeSlash: true)
                == "%20%21%22%23%24%25%26%27%28%29%2A%2B%2C%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D")
        #expect(SigV4Signer.uriEncode("ключ", encodeSlash: true) == "%D0%BA%D0%BB%D1%8E%D1%87")
        #expect(SigV4Signer.uriEncode("ü", encodeSlash: true) == "%C3%BC")
        #expect(SigV4Signer.uriEncode("🎵", encodeSlash: true) == "%F0%9F%8E%B5")
        #expect(SigV4Signer.uriEncode("\u{0}\u{7F}\n", encodeSlash: true) == "%00%7F%0A")
        // The bytes as given: no Unicode normalization (S3 keys are bytes).
        #expect(SigV4Signer.uriEncode("\u{E9}", encodeSlash: true) == "%C3%A9")
        #expect(SigV4Signer.uriEncode("e\u{301}", encodeSlash: true) == "e%CC%81")
        #expect(SigV4Signer.uriEncode("", encodeSlash: true) == "")
    }

    @Test("uriEncode: `/` kept in paths, encoded in query names and values")
    func uriEncodeSlash() {
        #expect(SigV4Signer.uriEncode("/bucket/a b/ключ.ogg", encodeSlash: false) == "/bucket/a%20b/%D0%BA%D0%BB%D1%8E%D1%87.ogg")
        #expect(SigV4Signer.uriEncode("//a//b/", encodeSlash: false) == "//a//b/")
        #expect(SigV4Signer.uriEncode("a/b", encodeSlash: true) == "a%2Fb")
    }

    @Test("canonical path: S3's as sent, other services' normalized and encoded twice")
    func canonicalPath() {
        let credentials = AWSCredentials(accessKeyID: "AK", secretAccessKey: "SK")
        let s3 = SigV4Signer(credentials: credentials, region: "us-east-1")
        #expect(s3.s3Style)
        #expect(s3.canonicalURI("") == "/")
        #expect(s3.canonicalURI("key") == "/key")
        #expect(s3.canonicalURI("/a/./b/../c//d e/") == "/a/./b/../c//d%20e/")
        let other = SigV4Signer(credentials: credentials, region: "us-east-1", service: "service")
        #expect(!other.s3Style)
        #expect(other.canonicalURI("/a/./b/../c//d e/") == "/a/c/d%2520e/")
        #expect(other.canonicalURI("/a/..") == "/")
        #expect(other.canonicalURI("/../..") == "/")
        #expect(other.canonicalURI("//") == "/")
    }

    @Test("encodedTarget: the path encoded once, the query encoded and sorted")
    func encodedTarget() {
        let request = SigV4Request(method: "GET", path: "/bucket/a b/ключ",
                                   query: [("prefix", "a/b c+d"), ("list-type", "2"), ("fetch-owner", "")], headers: [])
        #expect(request.encodedTarget == "/bucket/a%20b/%D0%BA%D0%BB%D1%8E%D1%87?fetch-owner=&list-type=2&prefix=a%2Fb%20c%2Bd")
        #expect(SigV4Request(method: "GET", path: "", headers: []).encodedTarget == "/")
        #expect(SigV4Request(method: "GET", path: "", query: [("acl", "")], headers: []).encodedTarget == "/?acl=")
        #expect(SigV4Request(method: "GET", path: "key", headers: []).encodedTarget == "/key")
    }

    @Test("canonicalQuery: sorted by encoded name, then encoded value; empty values keep their `=`")
    func canonicalQuery() {
        #expect(SigV4Signer.canonicalQuery([]) == "")
        #expect(SigV4Signer.canonicalQuery([("b", "2"), ("a", "2"), ("a", "1")]) == "a=1&a=2&b=2")
        // Upper case before lower case (code points, not a locale's order).
        #expect(SigV4Signer.canonicalQuery([("param0", "x"), ("Param2", "y"), ("Param1", "z")]) == "Param1=z&Param2=y&param0=x")
        // By the encoded name: `|` (0x7C) comes after `a`, `%7C` before it; `ä` comes after `z`, `%C3%A4` before it.
        #expect(SigV4Signer.canonicalQuery([("a", "1"), ("|", "2")]) == "%7C=2&a=1")
        #expect(SigV4Signer.canonicalQuery([("z", "1"), ("ä", "2")]) == "%C3%A4=2&z=1")
        // Same name: by the encoded value (`%2B` < `-` < `a`).
        #expect(SigV4Signer.canonicalQuery([("k", "a"), ("k", "-"), ("k", "+")]) == "k=%2B&k=-&k=a")
        #expect(SigV4Signer.canonicalQuery([("uploads", ""), ("acl", "")]) == "acl=&uploads=")
        #expect(SigV4Signer.canonicalQuery([("k", "a b&c=d/e+f~g")]) == "k=a%20b%26c%3Dd%2Fe%2Bf~g")
    }

    @Test("header values: trimmed, inner white space made one space (tabs and folded lines too)")
    func headerValueTrimming() {
        #expect(SigV4Signer.trimmed("value") == "value")
        #expect(SigV4Signer.trimmed("  value  ") == "value")
        #expect(SigV4Signer.trimmed("a   b \t c") == "a b c")
        #expect(SigV4Signer.trimmed("\"a   b   c\"") == "\"a b c\"")
        #expect(SigV4Signer.trimmed("value1\n  value2\n     value3") == "value1 value2 value3")
        #expect(SigV4Signer.trimmed("\t\r\n a \u{B}\u{C}b \r\n") == "a b")
        #expect(SigV4Signer.trimmed("   ") == "")
        #expect(SigV4Signer.trimmed("") == "")
        // Only ASCII white space, as aws-c-auth (botocore's str.split() would also take U+00A0).
        #expect(SigV4Signer.trimmed("файл  с\u{A0}пробелами") == "файл с\u{A0}пробелами")
    }

    @Test("canonical headers: names lower-cased and sorted, repeated names joined with `,` in order")
    func canonicalHeaders() {
        let (block, names) = SigV4Signer.canonicalHeaders([
            ("Host", "example.com"), ("X-Amz-Meta-B", " 2 "), ("x-amz-meta-a", "first"), ("X-AMZ-META-A", "second"),
            ("Content-Type", "text/plain"), ("X-Empty", ""),
        ])
        #expect(block == """
            content-type:text/plain
            host:example.com
            x-amz-meta-a:first,second
            x-amz-meta-b:2
            x-empty:

            """)
        #expect(names == "content-type;host;x-amz-meta-a;x-amz-meta-b;x-empty")
    }

    @Test("timestamp: UTC, YYYYMMDDTHHMMSSZ, fractions of a second dropped")
    func timestamp() {
        #expect(SigV4Signer.timestamp(Date(timeIntervalSince1970: 0)) == "19700101T000000Z")
        #expect(SigV4Signer.timestamp(awsCAuthDate) == "20150830T123600Z")
        #expect(SigV4Signer.timestamp(s3ExamplesDate) == "20130524T000000Z")
        #expect(SigV4Signer.timestamp(Date(timeIntervalSince1970: 1_709_251_199.999)) == "20240229T235959Z")
        #expect(SigV4Signer.timestamp(Date(timeIntervalSince1970: 4_102_444_800)) == "21000101T000000Z")
        #expect(SigV4Signer.timestamp(Date(timeIntervalSince1970: 1_000_000_000)) == "20010909T014640Z")
        let signer = SigV4Signer(credentials: AWSCredentials(accessKeyID: "AK", secretAccessKey: "SK"), region: "auto")
        #expect(signer.scope(Date(timeIntervalSince1970: 1_709_251_199.999)) == "20240229/auto/s3/aws4_request")
    }

    @Test("payloadHash: SHA-256 in lower-case hex")
    func payloadHash() {
        #expect(SigV4Signer.payloadHash([UInt8]()) == emptySHA256)
        #expect(SigV4Signer.payloadHash(Data("Welcome to Amazon S3.".utf8))
                == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
    }

    @Test("sign: headers the signer sets are replaced, not signed twice (signing a retry again)")
    func signReplacesItsHeaders() {
        let signer = SigV4Signer(credentials: AWSCredentials(accessKeyID: "AK", secretAccessKey: "SK", sessionToken: "new"),
                                 region: "us-east-1")
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        let fresh = SigV4Request(method: "GET", path: "/k", headers: [("Host", "b.s3.amazonaws.com")])
        let expected = signer.sign(fresh, payloadSHA256: emptySHA256, date: date)
        var retry = fresh
        retry.headers += [("x-amz-date", "20000101T000000Z"), ("X-AMZ-CONTENT-SHA256", "stale"),
                          ("X-Amz-Security-Token", "old"), ("authorization", "AWS4-HMAC-SHA256 stale")]
        let again = signer.sign(retry, payloadSHA256: emptySHA256, date: date)
        #expect(again.map(\.name) == expected.map(\.name))
        #expect(again.map(\.value) == expected.map(\.value))
        #expect(authorizationParts(value(again, "Authorization"))["SignedHeaders"]
                == "host;x-amz-content-sha256;x-amz-date;x-amz-security-token")
    }

    @Test("presign: the request's own query kept, earlier signing parameters replaced, the token signed")
    func presignQuery() {
        let signer = SigV4Signer(credentials: AWSCredentials(accessKeyID: "AK", secretAccessKey: "SK", sessionToken: "t/+="),
                                 region: "us-east-1")
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        let request = SigV4Request(method: "GET", path: "/k", query: [("versionId", "3")],
                                   headers: [("Host", "b.s3.amazonaws.com")])
        let added = signer.presign(request, expires: 60, date: date)
        #expect(added.map(\.name) == ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                                      "X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature"])
        #expect(value(added, "X-Amz-Security-Token") == "t/+=")
        #expect(value(added, "X-Amz-Credential") == "AK/20231114/us-east-1/s3/aws4_request")
        var again = request
        again.query += added
        #expect(signer.presign(again, expires: 60, date: date).map(\.value) == added.map(\.value))
    }
}

// MARK: - aws-c-auth's cases, verbatim

extension AWSCAuthCase {
    static let all: [AWSCAuthCase] = [
        AWSCAuthCase(
            name: "get-header-key-duplicate", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET / HTTP/1.1
            Host:example.amazonaws.com
            My-Header1:value2
            My-Header1:value2
            My-Header1:value1

            """,
            headerCanonicalRequest: """
            GET
            /

            host:example.amazonaws.com
            my-header1:value2,value2,value1
            x-amz-date:20150830T123600Z

            host;my-header1;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c
            """,
            headerSignature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
            queryCanonicalRequest: """
            GET
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host%3Bmy-header1
            host:example.amazonaws.com
            my-header1:value2,value2,value1

            host;my-header1
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            fe8b58fb44117d598520befc07c144a5699c661a8db78f9ce4caee1655dec813
            """,
            querySignature: "3349ee0b81b4b589da0ff28a395c3591e04de515651dd74f298fa992d1507a97",
            querySignedRequestLine: "GET /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host%3Bmy-header1&X-Amz-Expires=3600&X-Amz-Signature=3349ee0b81b4b589da0ff28a395c3591e04de515651dd74f298fa992d1507a97 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-header-value-multiline", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET / HTTP/1.1
            Host:example.amazonaws.com
            My-Header1:value1
              value2
                 value3

            """,
            headerCanonicalRequest: """
            GET
            /

            host:example.amazonaws.com
            my-header1:value1 value2 value3
            x-amz-date:20150830T123600Z

            host;my-header1;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            e99419459a677bc11de234014be3c4e72c1ea5b454ceb58b613061f5d7a162e8
            """,
            headerSignature: "cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd",
            queryCanonicalRequest: """
            GET
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host%3Bmy-header1
            host:example.amazonaws.com
            my-header1:value1 value2 value3

            host;my-header1
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            0e73c10e35324b4d215da4bb70be61d13a3d30d569be4ed6e8fd8948965341ca
            """,
            querySignature: "e6f5def831211aca02987a44b96826706278c7bc078112ae0263659c5b2f2d56",
            querySignedRequestLine: "GET /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host%3Bmy-header1&X-Amz-Expires=3600&X-Amz-Signature=e6f5def831211aca02987a44b96826706278c7bc078112ae0263659c5b2f2d56 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-header-value-order", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET / HTTP/1.1
            Host:example.amazonaws.com
            My-Header1:value4
            My-Header1:value1
            My-Header1:value3
            My-Header1:value2

            """,
            headerCanonicalRequest: """
            GET
            /

            host:example.amazonaws.com
            my-header1:value4,value1,value3,value2
            x-amz-date:20150830T123600Z

            host;my-header1;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86
            """,
            headerSignature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
            queryCanonicalRequest: """
            GET
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host%3Bmy-header1
            host:example.amazonaws.com
            my-header1:value4,value1,value3,value2

            host;my-header1
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            f4d3f13084ba7664111670ce26458291d3e0c620acd9384f8cd6b60d8e83423e
            """,
            querySignature: "313720e71ca6202fdcfa9b20f88de01a4eb0638a83c833b1c184359a4eda864e",
            querySignedRequestLine: "GET /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host%3Bmy-header1&X-Amz-Expires=3600&X-Amz-Signature=313720e71ca6202fdcfa9b20f88de01a4eb0638a83c833b1c184359a4eda864e HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-header-value-trim", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET / HTTP/1.1
            Host:example.amazonaws.com
            My-Header1: value1
            My-Header2: "a   b   c"

            """,
            headerCanonicalRequest: """
            GET
            /

            host:example.amazonaws.com
            my-header1:value1
            my-header2:"a b c"
            x-amz-date:20150830T123600Z

            host;my-header1;my-header2;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7
            """,
            headerSignature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
            queryCanonicalRequest: """
            GET
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host%3Bmy-header1%3Bmy-header2
            host:example.amazonaws.com
            my-header1:value1
            my-header2:"a b c"

            host;my-header1;my-header2
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            84c9e353b6161b689210977f93b93e6a7182f9ecb2ceae8af8c3d86b080a88ae
            """,
            querySignature: "e7bb0fd515e125e1aec2ecc4c0c17484fb06f6846b927c35e46005dd3df3acd4",
            querySignedRequestLine: "GET /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host%3Bmy-header1%3Bmy-header2&X-Amz-Expires=3600&X-Amz-Signature=e7bb0fd515e125e1aec2ecc4c0c17484fb06f6846b927c35e46005dd3df3acd4 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-relative-normalized", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /example/.. HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63
            """,
            headerSignature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            queryCanonicalRequest: """
            GET
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb7705b4aa3cb8e8f5e1e0b3d4c0b64030797a313c8ceee43e33117cc43eadc5
            """,
            querySignature: "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d",
            querySignedRequestLine: "GET /example/..?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-relative-relative-normalized", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /example1/example2/../.. HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63
            """,
            headerSignature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            queryCanonicalRequest: """
            GET
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb7705b4aa3cb8e8f5e1e0b3d4c0b64030797a313c8ceee43e33117cc43eadc5
            """,
            querySignature: "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d",
            querySignedRequestLine: "GET /example1/example2/../..?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-relative-relative-unnormalized", normalize: false, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /example1/example2/../.. HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /example1/example2/../..

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            76115030c0f3ff06c20fdff5ceb6d5e0b835a1743e00b94fea7c7f381269437b
            """,
            headerSignature: "dc33e0856fd4baca4d7aa2146c38958283844764f38c74252a333df5e613003b",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=dc33e0856fd4baca4d7aa2146c38958283844764f38c74252a333df5e613003b",
            queryCanonicalRequest: """
            GET
            /example1/example2/../..
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            13b7758115ec070fe36a7ae9d754154ad73f6ee9a5eac022494857d0e7effc18
            """,
            querySignature: "b45db0bfd1cf15003493b733e33aa208dd981bd0e63037a6ed953f71d2118a16",
            querySignedRequestLine: "GET /example1/example2/../..?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=b45db0bfd1cf15003493b733e33aa208dd981bd0e63037a6ed953f71d2118a16 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-relative-unnormalized", normalize: false, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /example/.. HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /example/..

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            0511f456aa502b456d135fcb9d749374a55228f9dbeedda1eacf659e05b0615b
            """,
            headerSignature: "eca7ead57bb5aa5c8e28007acd4ff04e1ff9a0ff3b237ec1554a184887ff9282",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=eca7ead57bb5aa5c8e28007acd4ff04e1ff9a0ff3b237ec1554a184887ff9282",
            queryCanonicalRequest: """
            GET
            /example/..
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            6e02e2dba21d6f269bae339b86ff27a4b7bbc9d88c482abccbfbf8a49d602482
            """,
            querySignature: "cbcb213b928a077e43275df47b500f1dfaa864ab3f5a18f6b95f4ff0938167ee",
            querySignedRequestLine: "GET /example/..?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=cbcb213b928a077e43275df47b500f1dfaa864ab3f5a18f6b95f4ff0938167ee HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-slash-dot-slash-normalized", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /./ HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63
            """,
            headerSignature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            queryCanonicalRequest: """
            GET
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb7705b4aa3cb8e8f5e1e0b3d4c0b64030797a313c8ceee43e33117cc43eadc5
            """,
            querySignature: "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d",
            querySignedRequestLine: "GET /./?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-slash-dot-slash-unnormalized", normalize: false, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /./ HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /./

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            d67825e2268bd77a97c7688b8d72c31a3c1855b309808505ba0a9747d2465aa7
            """,
            headerSignature: "68714168e6557f8f2de0ef956fc24dc2593a4bd2961f8df51898d8a134695145",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=68714168e6557f8f2de0ef956fc24dc2593a4bd2961f8df51898d8a134695145",
            queryCanonicalRequest: """
            GET
            /./
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            21b2da17873f30c1a7410efdc271738b318ccc2c9c6fbe1289fc242aeb1a8ae1
            """,
            querySignature: "a9b13e8f3484d9505bf1a6f347219f8f35b0fe8f128ceea597efc146a3dfe90c",
            querySignedRequestLine: "GET /./?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=a9b13e8f3484d9505bf1a6f347219f8f35b0fe8f128ceea597efc146a3dfe90c HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-slash-normalized", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET // HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63
            """,
            headerSignature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            queryCanonicalRequest: """
            GET
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb7705b4aa3cb8e8f5e1e0b3d4c0b64030797a313c8ceee43e33117cc43eadc5
            """,
            querySignature: "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d",
            querySignedRequestLine: "GET //?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-slash-pointless-dot-normalized", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /./example HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /example

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702
            """,
            headerSignature: "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5",
            queryCanonicalRequest: """
            GET
            /example
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            88dd73bb06de69cb042dbb82cadbb4fce1a2623615d94520c271614abf94e738
            """,
            querySignature: "35034b1a0bdd969f346975386daf8aedfd4976573b8348cf4f67eaa41c5857de",
            querySignedRequestLine: "GET /./example?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=35034b1a0bdd969f346975386daf8aedfd4976573b8348cf4f67eaa41c5857de HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-slash-pointless-dot-unnormalized", normalize: false, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /./example HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /./example

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            73895e0e829507e28e39fd24669aedc2434a8e179e547e3c075b42921f952cdb
            """,
            headerSignature: "beb03f223f7deae4146464f06e29eebbee9c8afbe15c290cf07aa8b119e14cff",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=beb03f223f7deae4146464f06e29eebbee9c8afbe15c290cf07aa8b119e14cff",
            queryCanonicalRequest: """
            GET
            /./example
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            cb23444939471187ac1f0fb25d437337af0d5f48b5ae0ede5baa3727c8c6af92
            """,
            querySignature: "72b11f16d9530b18204bfb71f2d6ab085894c0ed8d352730a6e76234c58b5e10",
            querySignedRequestLine: "GET /./example?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=72b11f16d9530b18204bfb71f2d6ab085894c0ed8d352730a6e76234c58b5e10 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-slash-unnormalized", normalize: false, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET // HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            //

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            80cb39203d058af815de2b79250ff56e1b73eb9b4718c86556cdc6f150c5d209
            """,
            headerSignature: "c88bcd3d312d75078c0cd961d6deae3f4c754924b01669efcfcb439fd5e5b76e",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=c88bcd3d312d75078c0cd961d6deae3f4c754924b01669efcfcb439fd5e5b76e",
            queryCanonicalRequest: """
            GET
            //
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            e10a01494cafa1f2207c4de80c69b7a36d6f2d282aa63ee64a5ca50e175cf730
            """,
            querySignature: "b2a9542809db687769200f56a844a03f2bd0291d6eb90232d5101c6a579446cd",
            querySignedRequestLine: "GET //?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=b2a9542809db687769200f56a844a03f2bd0291d6eb90232d5101c6a579446cd HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-slashes-normalized", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET //example// HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /example/

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015
            """,
            headerSignature: "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
            queryCanonicalRequest: """
            GET
            /example/
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            1a3e3fe19998c62136ed2ff9c8531973a46d4a21b336f58e8fcad185ec64d642
            """,
            querySignature: "c1834e8fb0307243711f0f907f6ab7311ed300d87f13792d7ee4da89ab93e082",
            querySignedRequestLine: "GET //example//?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=c1834e8fb0307243711f0f907f6ab7311ed300d87f13792d7ee4da89ab93e082 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-slashes-unnormalized", normalize: false, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET //example// HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            //example//

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            528ec3105ee1f34ab014bb0a1a45da0ed2742a4fea3555149e5b4d5d201eb240
            """,
            headerSignature: "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5",
            queryCanonicalRequest: """
            GET
            //example//
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            82241114f9a6320f054333c890952474aa7a0069d28a4326c3a8d95bbecc69ee
            """,
            querySignature: "822a5a9ba28072c5ab2bb4a6307d0c88276d40e49fec6b724c03fb4d4ba60fc2",
            querySignedRequestLine: "GET //example//?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=822a5a9ba28072c5ab2bb4a6307d0c88276d40e49fec6b724c03fb4d4ba60fc2 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-space-normalized", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /example space/ HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /example%20space/

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86
            """,
            headerSignature: "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
            queryCanonicalRequest: """
            GET
            /example%20space/
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            cc3dd817bd405e51225826ec4934a96d065d6af5b6b0163c7a5abbd26a84519e
            """,
            querySignature: "7a1f416954786484c9824d93c1f26ef64acb9b1b6c9154d08c9f07d0e394abf6",
            querySignedRequestLine: "GET /example space/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=7a1f416954786484c9824d93c1f26ef64acb9b1b6c9154d08c9f07d0e394abf6 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-space-unnormalized", normalize: false, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /example space/ HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /example%20space/

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86
            """,
            headerSignature: "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
            queryCanonicalRequest: """
            GET
            /example%20space/
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            cc3dd817bd405e51225826ec4934a96d065d6af5b6b0163c7a5abbd26a84519e
            """,
            querySignature: "7a1f416954786484c9824d93c1f26ef64acb9b1b6c9154d08c9f07d0e394abf6",
            querySignedRequestLine: "GET /example space/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=7a1f416954786484c9824d93c1f26ef64acb9b1b6c9154d08c9f07d0e394abf6 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-unreserved", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9
            """,
            headerSignature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
            queryCanonicalRequest: """
            GET
            /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            3134f2fbc6ef58f34b74b01643a159bfccbc121ea4288a4b75e65bc805d08219
            """,
            querySignature: "95968482db1b9e0fadef6efc1bd24689f77c77d9ef56919c96a28cc92e0d6005",
            querySignedRequestLine: "GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=95968482db1b9e0fadef6efc1bd24689f77c77d9ef56919c96a28cc92e0d6005 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-utf8", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /ሴ HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /%E1%88%B4

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102
            """,
            headerSignature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
            queryCanonicalRequest: """
            GET
            /%E1%88%B4
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            d8f78e05d0d9bb1c16ae1e60ed405de76cfb8fdcd3e414ffe65fad563b996d66
            """,
            querySignature: "10eae3f14a260bd3911cc6d008d3c576d143b05b62f09782a7a4b37f52178e44",
            querySignedRequestLine: "GET /ሴ?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=10eae3f14a260bd3911cc6d008d3c576d143b05b62f09782a7a4b37f52178e44 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-vanilla-empty-query-key", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /?Param1=value1 HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /
            Param1=value1
            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab
            """,
            headerSignature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
            queryCanonicalRequest: """
            GET
            /
            Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            74828b608f939673ed5a839190452a943b0178760f258da766209b21f8ca3f86
            """,
            querySignature: "49096700cbbaa5753443850f40df10f904fc2fdb544dc9512203cc77c471a9de",
            querySignedRequestLine: "GET /?Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=49096700cbbaa5753443850f40df10f904fc2fdb544dc9512203cc77c471a9de HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-vanilla-query-order-encoded", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /?Param-3=Value3&Param=Value2&%E1%88%B4=Value1 HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /
            %E1%88%B4=Value1&Param=Value2&Param-3=Value3
            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            868294f5c38bd141c4972a373a76654f1418a8e4fc18b2e7903ae45e8ae0ec71
            """,
            headerSignature: "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
            queryCanonicalRequest: """
            GET
            /
            %E1%88%B4=Value1&Param=Value2&Param-3=Value3&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            9808d6cdc8245c74e705c68350fc6a62b91778cdd613890e5d177998c02c6f53
            """,
            querySignature: "c5f1848ceec943ac2ca68ee720460c23aaae30a2300586597ada94c4a65e4787",
            querySignedRequestLine: "GET /?Param-3=Value3&Param=Value2&%E1%88%B4=Value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=c5f1848ceec943ac2ca68ee720460c23aaae30a2300586597ada94c4a65e4787 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-vanilla-query-order-key-case", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /?Param2=value2&Param1=value1 HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /
            Param1=value1&Param2=value2
            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0
            """,
            headerSignature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            queryCanonicalRequest: """
            GET
            /
            Param1=value1&Param2=value2&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            b82878ecb2ab7ad194b9fe79b2946c2a36ee1627a219408089b2d774c1a0cedb
            """,
            querySignature: "86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5",
            querySignedRequestLine: "GET /?Param2=value2&Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-vanilla-query-unreserved", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /
            -._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz
            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177
            """,
            headerSignature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
            queryCanonicalRequest: """
            GET
            /
            -._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            c77f27ef2b499fbfee3f0b3c88bba7057b2b31ee9b62047078a5e0d6be91fd58
            """,
            querySignature: "8e76a88a7433637b12778d5592799b29ad21ecd6cf6325051c21d86f0acda2bf",
            querySignedRequestLine: "GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=8e76a88a7433637b12778d5592799b29ad21ecd6cf6325051c21d86f0acda2bf HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-vanilla-query", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET / HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63
            """,
            headerSignature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            queryCanonicalRequest: """
            GET
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb7705b4aa3cb8e8f5e1e0b3d4c0b64030797a313c8ceee43e33117cc43eadc5
            """,
            querySignature: "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d",
            querySignedRequestLine: "GET /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-vanilla-utf8-query", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET /?ሴ=bar HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /
            %E1%88%B4=bar
            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073
            """,
            headerSignature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
            queryCanonicalRequest: """
            GET
            /
            %E1%88%B4=bar&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            b2e8ae8e48ec880defebc6f6dc1d9fbc9f1856b33146f2943060ca71a50a7a77
            """,
            querySignature: "0bdd809b1519ac4f0c1dc3540e2cc46bd0c7f778eda408b2ebf3b913d21ff600",
            querySignedRequestLine: "GET /?ሴ=bar&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=0bdd809b1519ac4f0c1dc3540e2cc46bd0c7f778eda408b2ebf3b913d21ff600 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-vanilla-with-session-token", normalize: true, signBody: false,
            sessionToken: "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267", omitSessionToken: false,
            request: """
            GET / HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z
            x-amz-security-token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267

            host;x-amz-date;x-amz-security-token
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            067b36aa60031588cea4a4cde1f21215227a047690c72247f1d70b32fbbfad2b
            """,
            headerSignature: "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
            queryCanonicalRequest: """
            GET
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-Security-Token=6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            cb30434103085aa9e73780fc60dc9a9df818fd2a7b1de12a9f6f4d791f898761
            """,
            querySignature: "7ff2b50b376cb4d151970630573d6291dc128cc5c2a12ffb237f73cc53f67b6c",
            querySignedRequestLine: "GET /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Security-Token=6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267&X-Amz-Signature=7ff2b50b376cb4d151970630573d6291dc128cc5c2a12ffb237f73cc53f67b6c HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "get-vanilla", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            GET / HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            GET
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63
            """,
            headerSignature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            queryCanonicalRequest: """
            GET
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb7705b4aa3cb8e8f5e1e0b3d4c0b64030797a313c8ceee43e33117cc43eadc5
            """,
            querySignature: "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d",
            querySignedRequestLine: "GET /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "post-header-key-case", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            POST / HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            POST
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87
            """,
            headerSignature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            queryCanonicalRequest: """
            POST
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            d27fc6fe1afc1d88b248c5ae9194ec0943a693dd6d81d8d815c88a369eb0471e
            """,
            querySignature: "2ce6e6d2e0cf2f9d1b55fafec88cd20574c31dc2e7631979f71ba2310083e95b",
            querySignedRequestLine: "POST /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=2ce6e6d2e0cf2f9d1b55fafec88cd20574c31dc2e7631979f71ba2310083e95b HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "post-header-key-sort", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            POST / HTTP/1.1
            Host:example.amazonaws.com
            My-Header1:value1

            """,
            headerCanonicalRequest: """
            POST
            /

            host:example.amazonaws.com
            my-header1:value1
            x-amz-date:20150830T123600Z

            host;my-header1;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65
            """,
            headerSignature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
            queryCanonicalRequest: """
            POST
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host%3Bmy-header1
            host:example.amazonaws.com
            my-header1:value1

            host;my-header1
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            1295ed77e4ef8b18b32815e493e0b0f78ee47615c0ecbebfec7c75709eb58c88
            """,
            querySignature: "c09d07e0d55871f10f2a6d350d994acf6825a3cae70673d7def55616e6119dd7",
            querySignedRequestLine: "POST /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host%3Bmy-header1&X-Amz-Expires=3600&X-Amz-Signature=c09d07e0d55871f10f2a6d350d994acf6825a3cae70673d7def55616e6119dd7 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "post-header-value-case", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            POST / HTTP/1.1
            Host:example.amazonaws.com
            My-Header1:VALUE1

            """,
            headerCanonicalRequest: """
            POST
            /

            host:example.amazonaws.com
            my-header1:VALUE1
            x-amz-date:20150830T123600Z

            host;my-header1;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93
            """,
            headerSignature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
            queryCanonicalRequest: """
            POST
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host%3Bmy-header1
            host:example.amazonaws.com
            my-header1:VALUE1

            host;my-header1
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            9d4d1de88f0149695a91a01275fc72dc00fb50bdc78e424f012ec860d5f8c41d
            """,
            querySignature: "0698bc9e4f7f9139065ba2909c0e99da257e8e2a42492a097bcd46d792391fed",
            querySignedRequestLine: "POST /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host%3Bmy-header1&X-Amz-Expires=3600&X-Amz-Signature=0698bc9e4f7f9139065ba2909c0e99da257e8e2a42492a097bcd46d792391fed HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "post-sts-header-after", normalize: true, signBody: false,
            sessionToken: "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==", omitSessionToken: true,
            request: """
            POST / HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            POST
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87
            """,
            headerSignature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            queryCanonicalRequest: """
            POST
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            d27fc6fe1afc1d88b248c5ae9194ec0943a693dd6d81d8d815c88a369eb0471e
            """,
            querySignature: "2ce6e6d2e0cf2f9d1b55fafec88cd20574c31dc2e7631979f71ba2310083e95b",
            querySignedRequestLine: "POST /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Security-Token=AQoDYXdzEPT%2F%2F%2F%2F%2F%2F%2F%2F%2F%2FwEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI%2FqkPpKPi%2FkMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d%2Bxo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz%2BscqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR%2FoLxBA%3D%3D&X-Amz-Signature=2ce6e6d2e0cf2f9d1b55fafec88cd20574c31dc2e7631979f71ba2310083e95b HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "post-sts-header-before", normalize: true, signBody: false,
            sessionToken: "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==", omitSessionToken: false,
            request: """
            POST / HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            POST
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z
            x-amz-security-token:AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==

            host;x-amz-date;x-amz-security-token
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6
            """,
            headerSignature: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
            queryCanonicalRequest: """
            POST
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-Security-Token=AQoDYXdzEPT%2F%2F%2F%2F%2F%2F%2F%2F%2F%2FwEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI%2FqkPpKPi%2FkMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d%2Bxo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz%2BscqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR%2FoLxBA%3D%3D&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            37f7ba7a2ec89e8b29a0d637bcc70d8e8d0fdba854ddfc5bc06a12398cfe8605
            """,
            querySignature: "46c2e3c63c1dbe7d39f8ada16fe7f001c1f56c5791441565323677f96308871c",
            querySignedRequestLine: "POST /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Security-Token=AQoDYXdzEPT%2F%2F%2F%2F%2F%2F%2F%2F%2F%2FwEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI%2FqkPpKPi%2FkMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d%2Bxo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz%2BscqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR%2FoLxBA%3D%3D&X-Amz-Signature=46c2e3c63c1dbe7d39f8ada16fe7f001c1f56c5791441565323677f96308871c HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "post-vanilla-empty-query-value", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            POST /?Param1=value1 HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            POST
            /
            Param1=value1
            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd
            """,
            headerSignature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
            queryCanonicalRequest: """
            POST
            /
            Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            98241d1c6f938789d34b92e16e08b7fc8fdaa774c5437ba30d505eedae43dd2b
            """,
            querySignature: "a9ef26247f293bffe40eeff86a0480ba8c14d31503b2e0c3399e3a16bf1a3682",
            querySignedRequestLine: "POST /?Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=a9ef26247f293bffe40eeff86a0480ba8c14d31503b2e0c3399e3a16bf1a3682 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "post-vanilla-query", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            POST /?Param1=value1 HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            POST
            /
            Param1=value1
            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd
            """,
            headerSignature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
            queryCanonicalRequest: """
            POST
            /
            Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            98241d1c6f938789d34b92e16e08b7fc8fdaa774c5437ba30d505eedae43dd2b
            """,
            querySignature: "a9ef26247f293bffe40eeff86a0480ba8c14d31503b2e0c3399e3a16bf1a3682",
            querySignedRequestLine: "POST /?Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=a9ef26247f293bffe40eeff86a0480ba8c14d31503b2e0c3399e3a16bf1a3682 HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "post-vanilla", normalize: true, signBody: false,
            sessionToken: nil, omitSessionToken: false,
            request: """
            POST / HTTP/1.1
            Host:example.amazonaws.com

            """,
            headerCanonicalRequest: """
            POST
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87
            """,
            headerSignature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            queryCanonicalRequest: """
            POST
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            d27fc6fe1afc1d88b248c5ae9194ec0943a693dd6d81d8d815c88a369eb0471e
            """,
            querySignature: "2ce6e6d2e0cf2f9d1b55fafec88cd20574c31dc2e7631979f71ba2310083e95b",
            querySignedRequestLine: "POST /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=2ce6e6d2e0cf2f9d1b55fafec88cd20574c31dc2e7631979f71ba2310083e95b HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "post-x-www-form-urlencoded-parameters", normalize: true, signBody: true,
            sessionToken: nil, omitSessionToken: false,
            request: """
            POST / HTTP/1.1
            Content-Type:application/x-www-form-urlencoded; charset=utf-8
            Host:example.amazonaws.com
            Content-Length:13

            Param1=value1
            """,
            headerCanonicalRequest: """
            POST
            /

            content-length:13
            content-type:application/x-www-form-urlencoded; charset=utf-8
            host:example.amazonaws.com
            x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e
            x-amz-date:20150830T123600Z

            content-length;content-type;host;x-amz-content-sha256;x-amz-date
            9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            a89f1a5b53e37702ee6363ce1da3ce8f54386f3c8f352ae652153c2982a0bc4d
            """,
            headerSignature: "328d1b9eaadca9f5818ef05e8392801e091653bafec24fcab71e7344e7f51422",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=328d1b9eaadca9f5818ef05e8392801e091653bafec24fcab71e7344e7f51422",
            queryCanonicalRequest: """
            POST
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost
            content-length:13
            content-type:application/x-www-form-urlencoded; charset=utf-8
            host:example.amazonaws.com

            content-length;content-type;host
            9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            32192353b8ae6d857fac1c71cda066e6af2d3a3127ea7ac1fee22621ab4f05dc
            """,
            querySignature: "0dbeb9b026c7b6675f266b8427efec9b4fa8b1f6ef1477d717aea231106eab4d",
            querySignedRequestLine: "POST /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost&X-Amz-Expires=3600&X-Amz-Signature=0dbeb9b026c7b6675f266b8427efec9b4fa8b1f6ef1477d717aea231106eab4d HTTP/1.1"
        ),
        AWSCAuthCase(
            name: "post-x-www-form-urlencoded", normalize: true, signBody: true,
            sessionToken: nil, omitSessionToken: false,
            request: """
            POST / HTTP/1.1
            Content-Type:application/x-www-form-urlencoded
            Host:example.amazonaws.com
            Content-Length:13

            Param1=value1
            """,
            headerCanonicalRequest: """
            POST
            /

            content-length:13
            content-type:application/x-www-form-urlencoded
            host:example.amazonaws.com
            x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e
            x-amz-date:20150830T123600Z

            content-length;content-type;host;x-amz-content-sha256;x-amz-date
            9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e
            """,
            headerStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            b1edd1d03544c25390e32085d55b57acc9a3961bb59415ff86c45c3d89d16cfb
            """,
            headerSignature: "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
            headerAuthorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
            queryCanonicalRequest: """
            POST
            /
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost
            content-length:13
            content-type:application/x-www-form-urlencoded
            host:example.amazonaws.com

            content-length;content-type;host
            9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e
            """,
            queryStringToSign: """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            ee5059a7c437165a28d0e775e6498be428761255d657d8c04cb1baa41de6514c
            """,
            querySignature: "89a40deed0f26f9461242825a082d2222717248abc7ab41f552ad84a94ad46e9",
            querySignedRequestLine: "POST /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost&X-Amz-Expires=3600&X-Amz-Signature=89a40deed0f26f9461242825a082d2222717248abc7ab41f552ad84a94ad46e9 HTTP/1.1"
        ),
    ]
}
