/// The one reader of `MEDIAWORKER_*` variables: every settings type (pipeline, helpers, worker, server, storage)
/// reads its values through these accessors, so a value means the same wherever it is read. Each returns nil when
/// the variable is unset and throws `SettingsError` (naming the variable) when it is malformed. A variable set to
/// the empty string counts as unset, everywhere (docs/configuration.md).
public struct Settings: Sendable {
    public let environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment.filter { !$0.value.isEmpty }
    }

    /// The raw value; nil when unset.
    public subscript(key: String) -> String? { environment[key] }

    /// A whole number in `range`: decimal digits (and an optional sign), `_` allowed as a digit separator.
    public func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let raw = environment[key] else { return nil }
        guard let v = Self.wholeNumber(raw), range.contains(v) else {
            throw SettingsError(key: key, value: raw, expected: "a whole number in \(range.lowerBound)…\(range.upperBound)")
        }
        return v
    }

    /// A size in bytes: a whole number in `range` (`5_242_880` too).
    public func bytes(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let raw = environment[key] else { return nil }
        guard let v = Self.wholeNumber(raw), range.contains(v) else {
            throw SettingsError(key: key, value: raw, expected: "bytes in \(range.lowerBound)…\(range.upperBound)")
        }
        return v
    }

    /// `5_242_880` → 5242880 (every `_` is dropped, as the pipeline always read them); nil for anything else.
    static func wholeNumber(_ raw: String) -> Int? {
        Int(String(raw.filter { $0 != "_" }))
    }

    /// A duration in seconds (fractions allowed) in `range`.
    public func seconds(_ key: String, _ range: ClosedRange<Double>) throws -> Double? {
        try number(key, range, expected: "seconds")
    }

    /// A time span given in seconds (fractions allowed) in `range` seconds, as a `Duration` (the type every span in
    /// the code is kept in).
    public func duration(_ key: String, _ range: ClosedRange<Double>) throws -> Duration? {
        try seconds(key, range).map { Duration.seconds($0) }
    }

    /// A number (fractions allowed) in `range`.
    public func number(_ key: String, _ range: ClosedRange<Double>, expected: String = "a number") throws -> Double? {
        guard let raw = environment[key] else { return nil }
        guard let v = Double(raw), v.isFinite, range.contains(v) else {
            throw SettingsError(key: key, value: raw, expected: "\(expected) in \(range.lowerBound)…\(range.upperBound)")
        }
        return v
    }

    /// A positive finite number (a limit with no natural upper bound).
    public func positive(_ key: String) throws -> Double? {
        guard let raw = environment[key] else { return nil }
        guard let v = Double(raw), v > 0, v.isFinite else {
            throw SettingsError(key: key, value: raw, expected: "a positive number")
        }
        return v
    }

    /// true or false (also 1/0, yes/no, on/off, in any case).
    public func bool(_ key: String) throws -> Bool? {
        guard let raw = environment[key] else { return nil }
        switch raw.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw SettingsError(key: key, value: raw, expected: "true or false")
        }
    }

    /// One of a fixed set of words, matched without regard to case (an enum's raw values).
    public func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type = T.self) throws -> T?
    where T.RawValue == String {
        guard let raw = environment[key] else { return nil }
        guard let v = T(rawValue: raw.lowercased()) else {
            let words = T.allCases.map(\.rawValue)
            let expected = words.count > 1 ? words.dropLast().joined(separator: ", ") + " or " + words.last! : words.joined()
            throw SettingsError(key: key, value: raw, expected: expected)
        }
        return v
    }

    /// A value `parse` accepts (nil: malformed, described by `expected`).
    public func parsed<T>(_ key: String, expected: String, _ parse: (String) -> T?) throws -> T? {
        guard let raw = environment[key] else { return nil }
        guard let v = parse(raw) else { throw SettingsError(key: key, value: raw, expected: expected) }
        return v
    }

    /// `MEDIAWORKER_MAX_BYTES`, the largest accepted file (inclusive): one rule for the pipeline, the HTTP upload
    /// cap and the CLI's size check: a whole number of bytes, 1…2^40 (the pipeline's rule; `serve` used to take any
    /// positive number without `_`).
    public func maxBytes() throws -> Int {
        try bytes("MEDIAWORKER_MAX_BYTES", 1...(1 << 40)) ?? Self.defaultMaxBytes
    }

    /// 5 MiB: the documented default of `MEDIAWORKER_MAX_BYTES`.
    public static let defaultMaxBytes = 5 * 1024 * 1024

    /// A comma-separated list; blanks around items and empty items are dropped.
    public func list(_ key: String) -> [String] {
        (environment[key] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: " \t") }.filter { !$0.isEmpty }
    }
}

/// A setting whose value cannot be used; the description names the variable.
public struct SettingsError: Error, CustomStringConvertible {
    public var key: String
    public var description: String

    /// `KEY=value: expected …`
    public init(key: String, value: String, expected: String) {
        self.key = key
        self.description = "\(key)=\(value): expected \(expected)"
    }

    /// `KEY: problem`, for a value that must not be echoed (a secret) or is wrong as a whole.
    public init(key: String, _ problem: String) {
        self.key = key
        self.description = "\(key): \(problem)"
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}
