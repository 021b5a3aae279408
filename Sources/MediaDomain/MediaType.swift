/// Canonical MIME types the pipeline reasons about, and libmagic's aliases for them.
public enum MediaType {
    public static let jpeg = "image/jpeg"
    public static let png = "image/png"
    public static let gif = "image/gif"
    public static let pdf = "application/pdf"
    public static let ogg = "audio/ogg"
    public static let webp = "image/webp"
    public static let mpeg = "audio/mpeg"
    public static let mp4 = "video/mp4"
    public static let quicktime = "video/quicktime"
    public static let empty = "application/x-empty"

    /// Maps libmagic's spelling of a type to the canonical one used in outcomes.
    public static func canonical(_ magicType: String) -> String {
        switch magicType {
        case "image/pjpeg", "image/jpg": return jpeg
        case "image/x-png": return png
        case "application/x-pdf": return pdf
        case "audio/x-m4a": return "audio/mp4"
        case "audio/x-hx-aac-adts": return "audio/aac"
        case "audio/x-wav": return "audio/wav"
        case "audio/x-opus+ogg", "audio/x-vorbis+ogg", "application/ogg": return ogg
        case "video/x-m4v": return mp4
        default: return magicType
        }
    }

    /// True for anything that carries sound: every `audio/*`, and WebM (what browsers record).
    public static func isAudio(_ type: String) -> Bool {
        type.hasPrefix("audio/") || type == "video/webm"
    }

    /// File extension used for stored artifacts of a type (never taken from the user's file name).
    public static func fileExtension(_ type: String) -> String {
        switch type {
        case jpeg: return "jpg"
        case png: return "png"
        case gif: return "gif"
        case pdf: return "pdf"
        case ogg: return "ogg"
        case webp: return "webp"
        case mpeg: return "mp3"
        case mp4: return "mp4"
        case quicktime: return "mov"
        default: return "bin"
        }
    }
}
