import HummingbirdCore
import MediaDomain
import MediaIntake

/// The query parameters of `POST /v1/attachments` (docs/http-api.md), parsed and checked without any
/// I/O, so the rules can be tested and fuzzed on their own (Fuzz/FuzzHTTP).
///
/// Rules, in the order they are checked (the first that fails answers `400 invalid_parameter`):
/// - `from`: required, `visitor` or `operator`;
/// - `channel`: `whatsapp` (the default);
/// - `declaredType`, `fileName`, `idempotencyKey`, `conversationId`: optional, 1–255 UTF-8 bytes without control
///   characters (U+0000–U+001F, U+007F);
/// - `businessNumber`: optional, E.164: `+` then 2–15 ASCII digits;
/// - `sha256`: optional, 64 hexadecimal digits in either case (WhatsApp's media webhook gives it so); kept in
///   lower case.
///
/// Names are matched exactly (not percent-decoded), values are percent-decoded (`+` stays `+`), and the first
/// occurrence of a name counts — all as Hummingbird's `URI.queryParameters` reads them.
@dynamicMemberLookup
public struct UploadParameters: Sendable, Equatable {
    public var metadata: AttachmentMetadata
    /// The SHA-256 the body must have, 64 lower-case hexadecimal digits.
    public var sha256: String?

    public init(metadata: AttachmentMetadata, sha256: String? = nil) {
        self.metadata = metadata
        self.sha256 = sha256
    }

    public init(from: Sender, channel: MessagingChannel = .whatsapp) {
        self.init(metadata: AttachmentMetadata(from: from, channel: channel))
    }

    public subscript<T>(dynamicMember field: WritableKeyPath<AttachmentMetadata, T>) -> T {
        get { metadata[keyPath: field] }
        set { metadata[keyPath: field] = newValue }
    }

    /// The longest value of a text parameter, in UTF-8 bytes.
    public static let maxTextBytes = 255

    /// Parses a raw query string (what follows `?`, still percent-encoded).
    public static func parse(query: String) -> Result<UploadParameters, UploadParameterError> {
        parse(URI("/?" + query).queryParameters)
    }

    /// Parses the query as the request handler sees it.
    public static func parse(_ query: FlatDictionary<Substring, Substring>) -> Result<UploadParameters, UploadParameterError> {
        parse { query[$0[...]].map(String.init) }
    }

    /// Parses from a lookup of each parameter's (first, percent-decoded) value.
    public static func parse(_ value: (String) -> String?) -> Result<UploadParameters, UploadParameterError> {
        func text(_ name: String, max: Int = maxTextBytes) throws(UploadParameterError) -> String? {
            guard let value = value(name) else { return nil }
            guard !value.isEmpty, value.utf8.count <= max,
                  !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw UploadParameterError(name: name, reason: "must be 1–\(max) bytes without control characters")
            }
            return value
        }
        do throws(UploadParameterError) {
            func words<T: CaseIterable & RawRepresentable>(_: T.Type) -> String where T.RawValue == String {
                T.allCases.map(\.rawValue).joined(separator: " or ")
            }
            guard let from = try text("from").flatMap(Sender.init(rawValue:)) else {
                throw UploadParameterError(name: "from", reason: "is required: \(words(Sender.self))")
            }
            guard let channel = try text("channel").map(MessagingChannel.init(rawValue:)) ?? .whatsapp else {
                throw UploadParameterError(name: "channel", reason: "must be \(words(MessagingChannel.self))")
            }
            var parameters = UploadParameters(from: from, channel: channel)
            parameters.declaredType = try text("declaredType")
            parameters.fileName = try text("fileName")
            parameters.idempotencyKey = try text("idempotencyKey")
            parameters.conversationId = try text("conversationId")
            parameters.businessNumber = try text("businessNumber", max: 32)
            if let b = parameters.businessNumber, !UploadParameters.isE164(b) {
                throw UploadParameterError(name: "businessNumber", reason: "must be an E.164 number such as +34600000000")
            }
            if let raw = value("sha256") {
                guard let digest = AttachmentIntake.normalizedSHA256(raw) else {
                    throw UploadParameterError(name: "sha256", reason: "must be 64 hexadecimal digits: the SHA-256 of the body, as WhatsApp's media webhook gives it")
                }
                parameters.sha256 = digest
            }
            return .success(parameters)
        } catch {
            return .failure(error)
        }
    }
}

extension UploadParameters {
    /// `+` then 2–15 ASCII digits: the rule of `businessNumber` (and of `MEDIAWORKER_METRICS_BUSINESS_NUMBERS`).
    public static func isE164(_ number: String) -> Bool {
        number.hasPrefix("+") && (3...16).contains(number.count) && number.dropFirst().allSatisfy { $0.isASCII && $0.isNumber }
    }
}

/// A missing or invalid upload parameter: answered `400 invalid_parameter` with `message`.
public struct UploadParameterError: Error, Sendable, Equatable {
    /// The parameter's name.
    public var name: String
    /// What it must be.
    public var reason: String
    public var message: String { "\(name) \(reason)" }
}
