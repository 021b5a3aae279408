/// Which sniffed types a channel allows in each direction, and what kind of attachment each becomes.
public struct AttachmentPolicy: Sendable {
    /// Channel name as the gateway sends it.
    public let channel: String
    /// Allowed canonical types and their kind, per direction.
    public let allowed: [Sender: [String: AttachmentKind]]

    /// docs/contract.md: visitors send JPG/PNG/GIF, PDF and Ogg/Opus voice notes; operators the same but no audio.
    /// Visitors' MP3 is converted too (and Ogg Vorbis, decided by the codec inside `audio/ogg`);
    /// AAC/M4A and AMR are `unsupported_type`.
    public static let whatsapp = AttachmentPolicy(channel: "whatsapp", allowed: [
        .visitor: [MediaType.jpeg: .image, MediaType.png: .image, MediaType.gif: .image,
                   MediaType.pdf: .document, MediaType.ogg: .voiceNote, MediaType.mpeg: .voiceNote],
        .operator: [MediaType.jpeg: .image, MediaType.png: .image, MediaType.gif: .image,
                    MediaType.pdf: .document],
    ])

    /// The policy of a channel, or nil for a channel this worker does not serve.
    public static func forChannel(_ channel: String) -> AttachmentPolicy? {
        channel == whatsapp.channel ? whatsapp : nil
    }

    /// The kind a file of `type` becomes when sent by `sender`, or the rejection.
    public func decide(type: String, from sender: Sender) -> Result<AttachmentKind, RejectionReasonAndMessage> {
        if sender == .operator && MediaType.isAudio(type) {
            return .failure(.init(reason: .operatorAudioNotAllowed,
                                  message: "operators may not send audio (the file is \(type))"))
        }
        guard let kind = allowed[sender]?[type] else {
            let list = (allowed[sender] ?? [:]).keys.sorted().joined(separator: ", ")
            return .failure(.init(reason: .unsupportedType,
                                  message: "\(type) is not allowed from a \(sender.rawValue) on \(channel) (allowed: \(list))"))
        }
        return .success(kind)
    }
}

/// A rejection code with its human-readable message.
public struct RejectionReasonAndMessage: Error, Sendable, Equatable {
    public var reason: RejectionReason
    public var message: String
}
