/// Who sent an attachment into the conversation.
public enum Sender: String, Sendable, Codable, CaseIterable {
    /// The customer writing to the brand on WhatsApp.
    case visitor
    /// The brand's agent answering from the web desk.
    case `operator`
}

/// What the gateway tells us about an attachment. Everything here is a hint that is recorded,
/// never trusted: the bytes decide what a file is.
public struct AttachmentFacts: Sendable, Equatable {
    /// Direction of the message; decides which types are allowed.
    public var from: Sender
    /// The MIME type the sender or gateway declared (may lie).
    public var declaredType: String?
    /// The user's file name (may lie; never used as a path).
    public var fileName: String?
    /// The messaging channel; only `whatsapp` has a policy today.
    public var channel: String

    public init(from: Sender, declaredType: String? = nil, fileName: String? = nil, channel: String = "whatsapp") {
        self.from = from
        self.declaredType = declaredType
        self.fileName = fileName
        self.channel = channel
    }
}
