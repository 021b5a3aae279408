/// Which sniffed types a channel allows in each direction, and what kind of attachment each becomes.
public struct AttachmentPolicy: Sendable {
    /// The channel whose rules these are.
    public let channel: MessagingChannel
    /// Allowed canonical types and their kind, per direction.
    public let allowed: [Sender: [String: AttachmentKind]]
    /// What the channel itself accepts from the desk: the rules every operator file's `delivery` artifact meets.
    public let delivery: DeliveryRules

    /// docs/policy.md: visitors send JPG/PNG/GIF, PDF and Ogg/Opus voice notes; operators the same but no audio.
    /// Visitors' MP3 is converted too (and Ogg Vorbis, decided by the codec inside `audio/ogg`);
    /// AAC/M4A and AMR are `unsupported_type`. A visitor's GIF arrives as a short silent MP4 (or QuickTime from
    /// some phones): `animation`, once decoding proves it silent and short; stickers are WebP. Operators may not
    /// send WebP or video: WhatsApp refuses WebP images, and the desk sends GIFs, which become MP4 on the way out.
    public static let whatsapp = AttachmentPolicy(channel: .whatsapp, allowed: [
        .visitor: [MediaType.jpeg: .image, MediaType.png: .image, MediaType.gif: .image,
                   MediaType.pdf: .document, MediaType.ogg: .voiceNote, MediaType.mpeg: .voiceNote,
                   MediaType.mp4: .animation, MediaType.quicktime: .animation, MediaType.webp: .sticker],
        .operator: [MediaType.jpeg: .image, MediaType.png: .image, MediaType.gif: .image,
                    MediaType.pdf: .document],
    ], delivery: .whatsapp)

    /// The policy of a channel: every channel has one (a new `MessagingChannel` case does not compile without it).
    public static func forChannel(_ channel: MessagingChannel) -> AttachmentPolicy {
        switch channel {
        case .whatsapp: return whatsapp
        }
    }

    /// The kind a file of `type` becomes when sent by `sender`, or the rejection.
    public func decide(type: String, from sender: Sender) -> Result<AttachmentKind, Rejection> {
        if sender == .operator && MediaType.isAudio(type) {
            return .failure(Rejection(.operatorAudioNotAllowed, "operators may not send audio (the file is \(type))"))
        }
        guard let kind = allowed[sender]?[type] else {
            let list = (allowed[sender] ?? [:]).keys.sorted().joined(separator: ", ")
            return .failure(Rejection(.unsupportedType,
                                      "\(type) is not allowed from \(sender == .operator ? "an" : "a") \(sender.rawValue) on \(channel.rawValue) (allowed: \(list))"))
        }
        return .success(kind)
    }
}

/// What a channel accepts from the desk, as data: another channel is another table, not new code.
///
/// WhatsApp Cloud API (docs/policy.md): images JPEG or PNG, 8-bit RGB(A), 5 MB; video MP4 with H.264 video and
/// at most one AAC audio stream, 16 MB; documents (PDF among them) 100 MB; no WebP images, no GIF.
public struct DeliveryRules: Sendable, Equatable {
    /// Image types sent as they are (anything else is converted to the first of them, or to `flattenedType`).
    public var imageTypes: [String]
    /// The type a transparent image is flattened into (WhatsApp turns transparency black when it re-encodes).
    public var flattenedType: String
    public var imageMaxBytes: Int
    /// Animations become this video type (H.264 in MP4, index first, no audio).
    public var videoType: String
    public var videoMaxBytes: Int
    /// Document types sent unchanged.
    public var documentTypes: [String]
    public var documentMaxBytes: Int

    public static let whatsapp = DeliveryRules(
        imageTypes: [MediaType.jpeg, MediaType.png], flattenedType: MediaType.jpeg, imageMaxBytes: 5_000_000,
        videoType: MediaType.mp4, videoMaxBytes: 16_000_000,
        documentTypes: [MediaType.pdf], documentMaxBytes: 100_000_000)
}
