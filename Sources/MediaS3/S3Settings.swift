import Foundation
import MediaDomain

/// Where the blobs go and how the store is reached: `MEDIAWORKER_STORE=s3://BUCKET[/PREFIX]` and the settings
/// beside it (docs/configuration.md, "Blob store on S3").
public struct S3Settings: Sendable {
    public var bucket: String
    /// Prepended to every key: empty, or ending in `/`.
    public var prefix: String
    /// `MEDIAWORKER_S3_ENDPOINT`: any S3-compatible server, addressed path-style (`ENDPOINT/BUCKET/KEY`). Unset: AWS,
    /// virtual-hosted (`https://BUCKET.s3.REGION.amazonaws.com/KEY`; path-style for a bucket name with dots).
    public var endpoint: URL?
    public var region: String
    public var credentials: AWSCredentials
    /// `MEDIAWORKER_S3_TIMEOUT`: one attempt's limit, connection to last body byte (default 5 s).
    public var timeout: Duration
    /// `MEDIAWORKER_S3_ATTEMPTS`: tries of a request that failed for a reason worth retrying (5xx, SlowDown, a
    /// timeout, a broken connection), with backoff between them (default 3).
    public var attempts: Int
    /// `MEDIAWORKER_S3_RETRY_BASE`: the first pause between attempts, doubling (with jitter) after each (default 0.2 s).
    public var retryBase: Duration

    public init(bucket: String, prefix: String = "", endpoint: URL? = nil, region: String = "us-east-1",
                credentials: AWSCredentials, timeout: Duration = .seconds(5), attempts: Int = 3,
                retryBase: Duration = .milliseconds(200)) {
        self.bucket = bucket
        self.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials
        self.timeout = timeout
        self.attempts = attempts
        self.retryBase = retryBase
    }

    /// True for the `MEDIAWORKER_STORE` values this driver takes.
    public static func isS3(_ store: String) -> Bool { store.hasPrefix("s3://") }

    /// Reads `MEDIAWORKER_STORE=s3://BUCKET[/PREFIX]` and the S3 settings; a setting that cannot work is a
    /// `SettingsError` naming it (the process does not start).
    public init(store: String, settings: Settings) throws {
        guard Self.isS3(store) else { throw SettingsError(key: "MEDIAWORKER_STORE", value: store, expected: "s3://BUCKET[/PREFIX]") }
        let rest = store.dropFirst("s3://".count)
        let bucket = String(rest.prefix { $0 != "/" })
        let prefix = String(rest.dropFirst(bucket.count + 1))
        guard Self.isValidBucket(bucket) else {
            throw SettingsError(key: "MEDIAWORKER_STORE", value: store,
                                expected: "s3://BUCKET[/PREFIX] with a bucket name of 3–63 lower-case letters, digits, dots and dashes")
        }
        guard prefix.utf8.count <= 512, !prefix.contains("//"), !prefix.hasPrefix("/"), !prefix.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw SettingsError(key: "MEDIAWORKER_STORE", value: store, expected: "a PREFIX of at most 512 bytes, no control characters, no empty segment")
        }
        var endpoint: URL?
        if let text = settings["MEDIAWORKER_S3_ENDPOINT"] {
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                  url.host != nil, url.query == nil, url.path.isEmpty || url.path == "/" else {
                throw SettingsError(key: "MEDIAWORKER_S3_ENDPOINT", value: text, expected: "an http(s)://HOST[:PORT] URL without a path")
            }
            endpoint = url
        }
        let regionKey = settings["MEDIAWORKER_S3_REGION"] != nil ? "MEDIAWORKER_S3_REGION" : "AWS_REGION"
        let region = settings[regionKey] ?? "us-east-1"
        guard !region.isEmpty, region.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw SettingsError(key: regionKey, value: region, expected: "a region name such as us-east-1")
        }
        guard let key = settings["AWS_ACCESS_KEY_ID"], let secret = settings["AWS_SECRET_ACCESS_KEY"] else {
            throw SettingsError(key: "AWS_ACCESS_KEY_ID", "MEDIAWORKER_STORE=s3://… needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        }
        self.init(bucket: bucket, prefix: prefix, endpoint: endpoint, region: region,
                  credentials: AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: settings["AWS_SESSION_TOKEN"]),
                  timeout: try settings.duration("MEDIAWORKER_S3_TIMEOUT", 0.1...600) ?? .seconds(5),
                  attempts: try settings.int("MEDIAWORKER_S3_ATTEMPTS", 1...20) ?? 3,
                  retryBase: try settings.duration("MEDIAWORKER_S3_RETRY_BASE", 0.001...60) ?? .milliseconds(200))
    }

    /// S3's rules for new buckets: 3–63 characters, lower-case letters, digits, `.` and `-`, a letter or digit at each end.
    public static func isValidBucket(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        func plain(_ b: UInt8) -> Bool { (0x61...0x7A).contains(b) || (0x30...0x39).contains(b) }
        return (3...63).contains(bytes.count) && plain(bytes.first!) && plain(bytes.last!)
            && bytes.allSatisfy { plain($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// The scheme and authority requests go to, and the path before the key: path-style with an endpoint,
    /// virtual-hosted on AWS.
    var base: (origin: String, host: String, pathPrefix: String) {
        if let endpoint {
            let scheme = endpoint.scheme!.lowercased(), name = endpoint.host!
            let host = name.contains(":") && !name.hasPrefix("[") ? "[\(name)]" : name  // an IPv6 literal
            let defaultPort = scheme == "https" ? 443 : 80
            let authority = endpoint.port.map { $0 == defaultPort ? host : "\(host):\($0)" } ?? host
            return ("\(scheme)://\(authority)", authority, "/\(bucket)/")
        }
        // A bucket name with dots does not match AWS's wildcard certificate as a host name: path-style for those.
        if bucket.contains(".") {
            let host = "s3.\(region).amazonaws.com"
            return ("https://\(host)", host, "/\(bucket)/")
        }
        let host = "\(bucket).s3.\(region).amazonaws.com"
        return ("https://\(host)", host, "/")
    }
}
