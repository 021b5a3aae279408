/// Rejection codes from docs/policy.md: a final, expected outcome, never retried.
public enum RejectionReason: String, Sendable, Codable, CaseIterable {
    case empty
    case tooLarge = "too_large"
    case unsupportedType = "unsupported_type"
    case operatorAudioNotAllowed = "operator_audio_not_allowed"
    case corrupt
    case tooManyPixels = "too_many_pixels"
    case tooLong = "too_long"
    /// The bytes do not match the `sha256` the sender gave. Decided before the pipeline runs (the HTTP upload answers
    /// 422, `mediaworker process --sha256` prints it): the pipeline itself never produces it.
    case checksumMismatch = "checksum_mismatch"
}

/// The one verdict against a file, wherever it is reached: the channel policy, a decoder, the size check, the
/// intake's checksum. A code, its human-readable message, and what is known about the file at that point.
public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: RejectionReason
    public var message: String
    /// The sniffed type, when sniffing got that far.
    public var detectedType: String?
    /// The file's size in bytes (the pipeline and the intake always know it).
    public var size: Int
    /// Facts behind the verdict, by name (`checksum_mismatch`: `expected` and `actual`).
    public var details: [String: String]

    public init(reason: RejectionReason, message: String, detectedType: String? = nil, size: Int = 0,
                details: [String: String] = [:]) {
        self.reason = reason
        self.message = message
        self.detectedType = detectedType
        self.size = size
        self.details = details
    }

    /// A decoder's or the policy's verdict, before the pipeline adds the type and size.
    public init(_ reason: RejectionReason, _ message: String) {
        self.init(reason: reason, message: message)
    }

    /// The same verdict about a file of `detectedType` and `size`.
    public func about(detectedType: String?, size: Int) -> Rejection {
        var r = self
        r.detectedType = detectedType
        r.size = size
        return r
    }

    /// The bytes are not the ones the sender checksummed: refused at upload with `422`, nothing stored.
    public static func checksumMismatch(expected: String, actual: String, size: Int) -> Rejection {
        Rejection(reason: .checksumMismatch, message: "expected SHA-256 \(expected), but the bytes' SHA-256 is \(actual)",
                  size: size, details: ["expected": expected, "actual": actual])
    }

    public var description: String { message }
}
