import Foundation
import HummingbirdBcrypt
import MediaDomain
import Synchronization

/// The operations console's settings, from `MEDIAWORKER_CONSOLE*` variables (defaults in docs/configuration.md).
public struct ConsoleSettings: Sendable {
    /// Whether `/console` is served (`MEDIAWORKER_CONSOLE`, default true; `false` turns it off).
    public var enabled = true
    /// Console users: name → bcrypt hash (`MEDIAWORKER_CONSOLE_USERS="name:hash,…"` and/or the lines `name:hash` of
    /// `MEDIAWORKER_CONSOLE_USERS_FILE`). Separate from the gateway's bearer tokens.
    public var users: [String: String] = [:]
    /// How long a login lasts, seconds (`MEDIAWORKER_CONSOLE_SESSION_TTL`, default 12 h).
    public var sessionTTL: Int = 12 * 3600
    /// Whether the session cookie is marked Secure (`MEDIAWORKER_CONSOLE_SECURE_COOKIE`); nil (unset): derived by
    /// `cookieIsSecure(listeningOn:)`: Secure unless the console is plain http on loopback.
    public var secureCookie: Bool?
    /// The console's own origin as browsers see it, `scheme://host[:port]` (`MEDIAWORKER_CONSOLE_ORIGIN`, e.g.
    /// `https://ops.example.com` behind a TLS proxy); nil: the request's own `Host`. Console POSTs must come from it.
    public var origin: ConsoleOrigin?
    /// Jobs per page in the jobs list (`MEDIAWORKER_CONSOLE_PAGE_SIZE`, default 50).
    public var pageSize = 50
    /// Password checks (bcrypt) running at once in the whole process (`MEDIAWORKER_CONSOLE_LOGIN_CONCURRENCY`,
    /// default 2); a login arriving when all are busy is answered 503 at once, without a check.
    public var loginConcurrency = 2

    public init() {}

    public init(environment: [String: String]) throws {
        self.init()
        let env = Settings(environment: environment)
        // An empty flag is an unset one.
        func flag(_ key: String) throws -> Bool? { env[key]?.isEmpty == false ? try env.bool(key) : nil }
        if let v = try flag("MEDIAWORKER_CONSOLE") { enabled = v }
        if let v = try flag("MEDIAWORKER_CONSOLE_SECURE_COOKIE") { secureCookie = v }
        if let raw = env["MEDIAWORKER_CONSOLE_ORIGIN"], !raw.isEmpty {
            guard let o = ConsoleOrigin(raw) else {
                throw SettingsError(key: "MEDIAWORKER_CONSOLE_ORIGIN", value: raw,
                                    expected: "an origin such as https://ops.example.com (scheme, host, optional port; no path)")
            }
            // Over plain http off loopback a session cookie can be read on the wire: refused unless asked for.
            if o.scheme == "http" && !Self.isLoopback(o.host) && secureCookie != false {
                throw SettingsError(key: "MEDIAWORKER_CONSOLE_ORIGIN", "\(raw): plain http is for loopback only; serve the console over https (a TLS proxy), or set MEDIAWORKER_CONSOLE_SECURE_COOKIE=false to accept session cookies sent in clear")
            }
            origin = o
        }
        if let v = try env.int("MEDIAWORKER_CONSOLE_SESSION_TTL", 60...(30 * 86_400)) { sessionTTL = v }
        if let v = try env.int("MEDIAWORKER_CONSOLE_PAGE_SIZE", 1...500) { pageSize = v }
        if let v = try env.int("MEDIAWORKER_CONSOLE_LOGIN_CONCURRENCY", 1...64) { loginConcurrency = v }
        var entries = (env["MEDIAWORKER_CONSOLE_USERS"] ?? "").split(separator: ",").map(String.init)
        if let file = env["MEDIAWORKER_CONSOLE_USERS_FILE"], !file.isEmpty {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw SettingsError(key: "MEDIAWORKER_CONSOLE_USERS_FILE", value: file, expected: "a readable file")
            }
            entries += text.split(whereSeparator: \.isNewline).map(String.init)
                .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
        }
        for entry in entries {
            let trimmed = entry.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let colon = trimmed.firstIndex(of: ":") else {
                throw SettingsError(key: "MEDIAWORKER_CONSOLE_USERS", "console user \"\(trimmed.prefix(40))\": expected name:bcrypt-hash")
            }
            let name = String(trimmed[..<colon]), hash = String(trimmed[trimmed.index(after: colon)...])
            guard Self.isValidName(name) else {
                throw SettingsError(key: "MEDIAWORKER_CONSOLE_USERS", "console user \"\(name.prefix(40))\": a name is 1–64 letters, digits, '.', '_', '-' or '@'")
            }
            guard hash.hasPrefix("$2"), hash.count == 60 else {
                throw SettingsError(key: "MEDIAWORKER_CONSOLE_USERS", "console user \(name): the password hash must be bcrypt (`mediaworker console-hash`)")
            }
            users[name] = hash
        }
    }

    /// Whether the session cookie is marked Secure for a server listening on `host`: as set; else Secure unless the
    /// console is plain http on loopback (an `http://` loopback origin, or no origin set and a loopback listener).
    /// Browsers keep no Secure cookie from a plain http page (localhost excepted), so a console reached over plain
    /// http elsewhere needs a TLS proxy and `MEDIAWORKER_CONSOLE_ORIGIN=https://…`, or an explicit `false`.
    public func cookieIsSecure(listeningOn host: String) -> Bool {
        if let secureCookie { return secureCookie }
        if let origin { return origin.scheme == "https" || !Self.isLoopback(origin.host) }
        return !Self.isLoopback(host)
    }

    /// `localhost`, 127.0.0.0/8 and ::1 (with or without brackets).
    static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if h == "localhost" || h.hasSuffix(".localhost") || h == "::1" || h == "0:0:0:0:0:0:0:1" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.count) && name.unicodeScalars.allSatisfy {
            ($0.isASCII && (CharacterSet.alphanumerics.contains($0))) || "._-@".unicodeScalars.contains($0)
        }
    }

    /// A bcrypt hash of `password` for `MEDIAWORKER_CONSOLE_USERS` (`mediaworker console-hash`).
    public static func hash(password: String, cost: UInt8 = 12) -> String {
        Bcrypt.hash(password, cost: cost)
    }
}

/// The console's own origin (`MEDIAWORKER_CONSOLE_ORIGIN`): lower-case scheme and host, the port only when it is not
/// the scheme's default, as browsers write an `Origin` header.
public struct ConsoleOrigin: Sendable, Equatable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    public let port: Int?

    /// `scheme://host[:port]` with an optional trailing `/`; nil for anything else (a path, a query, user info, …).
    public init?(_ text: String) {
        guard let c = URLComponents(string: text), let scheme = c.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = c.host?.lowercased(), !host.isEmpty, c.user == nil, c.password == nil, c.query == nil,
              c.fragment == nil, c.path.isEmpty || c.path == "/" else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = c.port == (scheme == "https" ? 443 : 80) ? nil : c.port
    }

    /// The origin of a page's URL (a `Referer`): its scheme, host and port, path and query dropped.
    public init?(pageURL text: String) {
        guard let c = URLComponents(string: text), let scheme = c.scheme, let host = c.host else { return nil }
        let h = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        self.init("\(scheme)://\(h)\(c.port.map { ":\($0)" } ?? "")")
    }

    /// The `Origin` header a browser sends from a page of this origin.
    public var description: String {
        "\(scheme)://\(host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host)\(port.map { ":\($0)" } ?? "")"
    }
}

/// Login attempts per user name and client address. An attempt is counted *before* its password is checked (as a
/// failure, cleared if it succeeds), so concurrent attempts cannot all get past the count: from the third failure
/// on, the next attempt is refused for 5 s, then 10, 20, … (at most 15 min), without a password check. Every failed
/// answer is delayed a little more (0.25 s per failure, at most 2 s). A success clears the count.
final class LoginThrottle: Sendable {
    struct Record { var failures: Int; var last: Date }
    private let records = Mutex<[String: Record]>([:])
    /// When stale records were last dropped (at most once a second: every attempt passes here, refused ones too).
    private let pruned = Mutex<Date>(.distantPast)
    /// Failures allowed before attempts are refused for a while.
    static let freeFailures = 3
    static let maxLock: Double = 15 * 60

    /// Admits an attempt of `key` (counting it as a failure until `succeeded`) and answers 0, or answers the seconds
    /// to wait before `key` may try again (nothing counted).
    func admit(_ key: String, now: Date) -> Double {
        let prune = pruned.withLock { last in
            guard now.timeIntervalSince(last) >= 1 else { return false }
            last = now
            return true
        }
        return records.withLock { records in
            if prune && records.count > 10_000 {  // forget the stale ones rather than grow without bound
                records = records.filter { now.timeIntervalSince($0.value.last) < Self.maxLock }
            }
            var r = records[key] ?? Record(failures: 0, last: now)
            if r.failures >= Self.freeFailures {
                let lock = min(Self.maxLock, 5 * pow(2, Double(r.failures - Self.freeFailures)))
                let wait = r.last.addingTimeInterval(lock).timeIntervalSince(now)
                if wait > 0 { return wait }
            }
            r.failures += 1
            r.last = max(r.last, now)
            records[key] = r
            return 0
        }
    }

    /// The admitted attempt failed; answers how long to hold the failed answer (grows with the failures, at most 2 s).
    func failed(_ key: String, now: Date) -> Double {
        records.withLock { records in
            var r = records[key] ?? Record(failures: 1, last: now)
            let delay = min(2, 0.25 * Double(r.failures))
            r.last = max(r.last, now.addingTimeInterval(delay))  // the lock counts from the (delayed) answer
            records[key] = r
            return delay
        }
    }

    /// The admitted attempt was never checked (no password check was free): it does not count.
    func withdrawn(_ key: String) {
        records.withLock { records in
            guard var r = records[key] else { return }
            r.failures -= 1
            records[key] = r.failures > 0 ? r : nil
        }
    }

    func succeeded(_ key: String) {
        _ = records.withLock { $0.removeValue(forKey: key) }
    }
}

/// The cap on password checks (bcrypt) running at once in the process (`MEDIAWORKER_CONSOLE_LOGIN_CONCURRENCY`):
/// whatever the number of callers, names and addresses, unauthenticated requests get at most this many cores.
final class PasswordCheckSlots: Sendable {
    private let free: Mutex<Int>

    init(_ count: Int) { free = Mutex(count) }

    /// Takes a slot; false when none is free (the caller is refused, it does not wait).
    func take() -> Bool {
        free.withLock { free in
            guard free > 0 else { return false }
            free -= 1
            return true
        }
    }

    func give() { free.withLock { $0 += 1 } }
}
