/// Who sent an attachment into the conversation.
public enum Sender: String, Sendable, Codable, CaseIterable {
    /// The customer writing to the brand on WhatsApp.
    case visitor
    /// The brand's agent answering from the web desk.
    case `operator`
}

/// The messaging channel an attachment travels on; each has an attachment policy (`AttachmentPolicy.forChannel`).
public enum MessagingChannel: String, Sendable, Codable, CaseIterable {
    case whatsapp
}

/// What kind of attachment an accepted file is.
public enum AttachmentKind: String, Sendable, Codable, CaseIterable {
    case image
    case document
    case voiceNote = "voice_note"
    /// A visitor's GIF as WhatsApp carries it: a short silent MP4 (docs/policy.md).
    case animation
    /// A visitor's WebP sticker.
    case sticker
    /// A visitor's video with sound, only when `MEDIAWORKER_VISITOR_VIDEO` allows video.
    case video
}

/// A stored text column holds a value the model does not know (a row written by something else).
public struct UnknownColumnValue: Error, CustomStringConvertible {
    public var column: String
    public var value: String
    public var description: String { "unknown \(column) \(value)" }
}

extension RawRepresentable where RawValue == String {
    /// The value a driver read from `column` (the database keeps the raw text): how rows become typed.
    public init(column: String, _ text: String) throws {
        guard let value = Self(rawValue: text) else { throw UnknownColumnValue(column: column, value: text) }
        self = value
    }
}

/// What the gateway says of one attachment besides its bytes: who sent it on which channel, what they declared, and
/// where it belongs. One type for the upload's parameters (`UploadParameters`) and the queued job (`NewJob`), which
/// add their checksum fields and read these through dynamic member lookup (`job.submission.fileName`).
public struct AttachmentMetadata: Sendable, Equatable {
    public var from: Sender
    public var channel: MessagingChannel
    public var declaredType: String?
    public var fileName: String?
    public var idempotencyKey: String?
    public var conversationId: String?
    public var businessNumber: String?

    public init(from: Sender, channel: MessagingChannel = .whatsapp, declaredType: String? = nil, fileName: String? = nil,
                idempotencyKey: String? = nil, conversationId: String? = nil, businessNumber: String? = nil) {
        self.from = from
        self.channel = channel
        self.declaredType = declaredType
        self.fileName = fileName
        self.idempotencyKey = idempotencyKey
        self.conversationId = conversationId
        self.businessNumber = businessNumber
    }
}
