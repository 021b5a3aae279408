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
    /// Whether the session cookie is marked Secure (`MEDIAWORKER_CONSOLE_SECURE_COOKIE`; set it when the console is
    /// reached over TLS, e.g. behind a TLS-terminating proxy; default false: the service itself speaks plain HTTP).
    public var secureCookie = false
    /// Jobs per page in the jobs list (`MEDIAWORKER_CONSOLE_PAGE_SIZE`, default 50).
    public var pageSize = 50

    public init() {}

    public init(environment: [String: String]) throws {
        self.init()
        let env = Settings(environment: environment)
        // An empty flag is an unset one.
        func flag(_ key: String) throws -> Bool? { env[key]?.isEmpty == false ? try env.bool(key) : nil }
        if let v = try flag("MEDIAWORKER_CONSOLE") { enabled = v }
        if let v = try flag("MEDIAWORKER_CONSOLE_SECURE_COOKIE") { secureCookie = v }
        if let v = try env.int("MEDIAWORKER_CONSOLE_SESSION_TTL", 60...(30 * 86_400)) { sessionTTL = v }
        if let v = try env.int("MEDIAWORKER_CONSOLE_PAGE_SIZE", 1...500) { pageSize = v }
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

/// Login attempts per user name and client address: every failed answer is delayed a little more (0.25 s per failure,
/// at most 2 s), and from the third failure on the next attempt must wait 5 s, then 10, 20, … (at most 15 min). A success clears the count.
final class LoginThrottle: Sendable {
    struct Record { var failures: Int; var last: Date }
    private let records = Mutex<[String: Record]>([:])
    /// Failures allowed before attempts are refused for a while.
    static let freeFailures = 3
    static let maxLock: Double = 15 * 60

    /// Seconds to wait before `key` may try again; 0 when it may try now.
    func wait(_ key: String, now: Date) -> Double {
        records.withLock { records in
            guard let r = records[key], r.failures >= Self.freeFailures else { return 0 }
            let lock = min(Self.maxLock, 5 * pow(2, Double(r.failures - Self.freeFailures)))
            return max(0, r.last.addingTimeInterval(lock).timeIntervalSince(now))
        }
    }

    /// Records a failure; answers how long to hold the failed answer (grows with the failures, at most 2 s).
    func failed(_ key: String, now: Date) -> Double {
        records.withLock { records in
            if records.count > 10_000 {  // forget the stale ones rather than grow without bound
                records = records.filter { now.timeIntervalSince($0.value.last) < Self.maxLock }
            }
            var r = records[key] ?? Record(failures: 0, last: now)
            r.failures += 1
            let delay = min(2, 0.25 * Double(r.failures))
            r.last = now.addingTimeInterval(delay)  // the lock counts from the (delayed) answer
            records[key] = r
            return delay
        }
    }

    func succeeded(_ key: String) {
        _ = records.withLock { $0.removeValue(forKey: key) }
    }
}
