/// What the pipeline is told about an attachment: the part of its description (`AttachmentMetadata`) that policy
/// reads. Everything here is a hint that is recorded, never trusted: the bytes decide what a file is. Where the
/// attachment belongs (conversation, business number, idempotency key) never reaches the pipeline or a helper.
public struct AttachmentFacts: Sendable, Equatable {
    /// Direction of the message; decides which types are allowed.
    public var from: Sender
    /// The MIME type the sender or gateway declared (may lie).
    public var declaredType: String?
    /// The user's file name (may lie; never used as a path).
    public var fileName: String?
    /// The messaging channel; its policy decides what is allowed.
    public var channel: MessagingChannel

    public init(from: Sender, declaredType: String? = nil, fileName: String? = nil, channel: MessagingChannel = .whatsapp) {
        self.from = from
        self.declaredType = declaredType
        self.fileName = fileName
        self.channel = channel
    }
}

extension AttachmentMetadata {
    /// What the pipeline may know of this attachment.
    public var facts: AttachmentFacts {
        AttachmentFacts(from: from, declaredType: declaredType, fileName: fileName, channel: channel)
    }
}
