@preconcurrency import Crypto
import Foundation
import MediaDomain

/// How the HTTP service runs, from `MEDIAWORKER_*` variables (defaults in docs/configuration.md).
public struct ServerSettings: Sendable {
    /// Listening address (`MEDIAWORKER_HOST`, default loopback only).
    public var host = "127.0.0.1"
    /// Listening port (`MEDIAWORKER_PORT`).
    public var port = 8080
    /// Bearer tokens the gateway may use (`MEDIAWORKER_TOKENS`, comma-separated).
    public var tokens: [String] = []
    /// HMAC keys for media URLs (`MEDIAWORKER_SIGNING_KEYS`, comma-separated): the first signs, all verify,
    /// so a key can be rotated in without breaking links already handed out.
    public var signingKeys: [String] = []
    /// Lifetime of a signed media URL, seconds (`MEDIAWORKER_URL_TTL`).
    public var urlTTL: TimeInterval = 900
    /// Largest accepted upload, bytes (`MEDIAWORKER_MAX_BYTES`, read by the same rule as the pipeline's).
    public var maxBytes = Settings.defaultMaxBytes
    /// Where final job events are POSTed (`MEDIAWORKER_CALLBACK_URL`); nil: no events are recorded.
    public var callbackURL: URL?
    /// HMAC key for the callback signature (`MEDIAWORKER_CALLBACK_SECRET`).
    public var callbackSecret = ""
    /// Memory for artifacts of final jobs kept ready to serve, bytes (`MEDIAWORKER_MEDIA_CACHE_BYTES`; 0: off).
    public var mediaCacheBytes = 64 << 20
    /// How long a request head may take from its first byte to its blank line (`MEDIAWORKER_HTTP_HEADER_TIMEOUT`).
    public var headerTimeout: Duration = .seconds(10)
    /// How long a request body may go without a byte while the server waits for one; also how long a body may take
    /// before its average rate is checked (`MEDIAWORKER_HTTP_BODY_TIMEOUT`). Past either rule: 408 and close.
    public var bodyTimeout: Duration = .seconds(10)
    /// Lowest average request-body rate, bytes a second, once a body has taken longer than `bodyTimeout`
    /// (`MEDIAWORKER_HTTP_MIN_BODY_RATE`; 0: no rate rule, only the timeout).
    public var minBodyRate = 1024
    /// How long a connection with no request in flight stays open (`MEDIAWORKER_HTTP_IDLE_TIMEOUT`).
    public var idleTimeout: Duration = .seconds(60)
    /// Connections open at once; more wait in the kernel's backlog (`MEDIAWORKER_HTTP_MAX_CONNECTIONS`).
    public var maxConnections = 4096
    /// Largest request head (and header field), bytes (`MEDIAWORKER_HTTP_MAX_HEAD_BYTES`); past it: 431.
    public var maxHeadBytes = 16 * 1024
    /// When set, `/metrics` needs `Authorization: Bearer` with it (`MEDIAWORKER_METRICS_TOKEN`).
    public var metricsToken: String?
    /// Business numbers that get their own `business_number` label on `/metrics`
    /// (`MEDIAWORKER_METRICS_BUSINESS_NUMBERS`, comma-separated E.164); every other number is counted as `other`.
    public var metricsBusinessNumbers: Set<String> = []
    /// Jobs erased per database transaction (`MEDIAWORKER_ERASURE_BATCH`).
    public var erasureBatch = 500
    /// Shortest signing key or callback secret accepted, bytes: a shorter HMAC key is guessable offline.
    public static let minimumSecretBytes = 32
    /// Tokens or keys that were generated because none were configured (the operator is told in the log).
    public var generated: [String] = []

    public init() {}

    public init(environment: [String: String]) throws {
        self.init()
        let env = Settings(environment: environment)
        if let v = env["MEDIAWORKER_HOST"] { host = v }
        if let v = try env.int("MEDIAWORKER_PORT", 0...65535) { port = v }
        tokens = env.list("MEDIAWORKER_TOKENS")
        signingKeys = env.list("MEDIAWORKER_SIGNING_KEYS")
        if tokens.isEmpty {
            let token = Self.randomSecret()
            tokens = [token]
            generated.append("MEDIAWORKER_TOKENS=\(token)")
        }
        if signingKeys.isEmpty {
            signingKeys = [Self.randomSecret()]
            generated.append("MEDIAWORKER_SIGNING_KEYS (random; media URLs stop working at restart)")
        }
        if let v = try env.positive("MEDIAWORKER_URL_TTL") { urlTTL = v }
        maxBytes = try env.maxBytes()
        if let raw = env["MEDIAWORKER_CALLBACK_URL"], !raw.isEmpty {
            guard let url = URL(string: raw), ["http", "https"].contains(url.scheme ?? "") else {
                throw SettingsError(key: "MEDIAWORKER_CALLBACK_URL", value: raw, expected: "an http(s) URL")
            }
            callbackURL = url
        }
        callbackSecret = env["MEDIAWORKER_CALLBACK_SECRET"] ?? ""
        if let v = try env.duration("MEDIAWORKER_HTTP_HEADER_TIMEOUT", 0.1...3600) { headerTimeout = v }
        if let v = try env.duration("MEDIAWORKER_HTTP_BODY_TIMEOUT", 0.1...3600) { bodyTimeout = v }
        if let v = try env.bytes("MEDIAWORKER_HTTP_MIN_BODY_RATE", 0...(1 << 30)) { minBodyRate = v }
        if let v = try env.duration("MEDIAWORKER_HTTP_IDLE_TIMEOUT", 0.1...86_400) { idleTimeout = v }
        if let v = try env.int("MEDIAWORKER_HTTP_MAX_CONNECTIONS", 1...1_000_000) { maxConnections = v }
        if let v = try env.bytes("MEDIAWORKER_HTTP_MAX_HEAD_BYTES", 1024...(1 << 20)) { maxHeadBytes = v }
        if let raw = env["MEDIAWORKER_METRICS_TOKEN"], !raw.isEmpty { metricsToken = raw }
        for number in env.list("MEDIAWORKER_METRICS_BUSINESS_NUMBERS") {
            guard UploadParameters.isE164(number) else {
                throw SettingsError(key: "MEDIAWORKER_METRICS_BUSINESS_NUMBERS", value: number,
                                    expected: "E.164 numbers such as +34600000000, comma-separated")
            }
            metricsBusinessNumbers.insert(number)
        }
        // Configured secrets are checked (generated ones are 32 random bytes): a short HMAC key is guessable.
        for key in signingKeys where key.utf8.count < Self.minimumSecretBytes {
            throw SettingsError(key: "MEDIAWORKER_SIGNING_KEYS", "a key of \(key.utf8.count) bytes; each must be at least \(Self.minimumSecretBytes) bytes (for example `openssl rand -base64 32`)")
        }
        if callbackURL != nil && callbackSecret.utf8.count < Self.minimumSecretBytes {
            throw SettingsError(key: "MEDIAWORKER_CALLBACK_SECRET", "\(callbackSecret.isEmpty ? "empty" : "\(callbackSecret.utf8.count) bytes"); with MEDIAWORKER_CALLBACK_URL set it must be at least \(Self.minimumSecretBytes) bytes")
        }
        if let v = try env.bytes("MEDIAWORKER_MEDIA_CACHE_BYTES", 0...Int.max) { mediaCacheBytes = v }
        if let v = try env.int("MEDIAWORKER_ERASURE_BATCH", 1...10_000) { erasureBatch = v }
    }

    static func randomSecret() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64URL
    }
}

extension Data {
    /// Base64url without padding (RFC 4648 §5), safe in a query string.
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
