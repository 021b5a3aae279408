import MediaPipeline

/// The messages between the worker and a helper process, over two pipes (helper fd 3 in, fd 4 out).
///
/// A frame is a little-endian `UInt32` length, then that many bytes: one type byte and the payload.
/// Only the helper parses media; the parent parses these frames, whose fields it checks like any input.
/// After `ready`, every frame is a `request`: a job, or an answer about it, under the job's random request id.
package enum HelperMessage: Equatable, Sendable {
    /// Parent → helper: one attachment to process.
    case job(AttachmentFacts, bytes: [UInt8])
    /// Helper → parent, once after start-up: the protections in force and the ones the kernel refused.
    case ready(Protections)
    /// Helper → parent: the file passed sniffing and policy; the transform (decode, thumbnail, conversion) begins.
    case transforming(detectedType: String, kind: AttachmentKind)
    /// Helper → parent: the pipeline's outcome (artifacts with role `original` come back without bytes).
    case outcome(Outcome, sniffNanoseconds: Int64, transformNanoseconds: Int64, residentBytes: Int64)
    /// Helper → parent: an internal failure (not the file's fault): the job is retried.
    case failure(String)
    /// Helper → parent, after the outcome of a visitor's PDF that previewed: the page count of its safe copy.
    case safeCopyPages(Int)
    /// Helper → parent, after `safeCopyPages`: one page as raw RGB (the parent checks and encodes it).
    case safeCopyPage(PageRaster)
    /// Helper → parent, last: every page was sent (nil), or why the copy stopped.
    case safeCopyEnd(SafeCopyUnavailable?)
    /// Both ways, after `ready`: a `job`, or its `transforming`, `outcome` or `failure`, under the job's request id.
    /// An answer with another id is stale (left from an earlier job) or forged.
    indirect case request(RequestID, HelperMessage)

    static let maxFrame = 1 << 30

    func encoded() -> [UInt8] {
        var w = WireWriter()
        switch self {
        case .job(let facts, let bytes):
            w.u8(1)
            w.string(facts.from.rawValue); w.optional(facts.declaredType); w.optional(facts.fileName)
            w.string(facts.channel.rawValue); w.bytes(bytes)
        case .ready(let p):
            w.u8(2)
            w.strings(p.active); w.strings(p.missing); w.strings(p.unavailable)
        case .transforming(let type, let kind):
            w.u8(3)
            w.string(type); w.string(kind.rawValue)
        case .outcome(let outcome, let sniff, let transform, let rss):
            w.u8(4)
            w.i64(sniff); w.i64(transform); w.i64(rss)
            switch outcome {
            case .accepted(let a):
                w.u8(0)
                w.string(a.detectedType); w.string(a.kind.rawValue); w.i64(Int64(a.size))
                w.optional(a.previewUnavailable?.rawValue)
                w.u8(a.waveform == nil ? 0 : 1)
                if let waveform = a.waveform { w.u32(UInt32(waveform.count)); waveform.forEach { w.f64($0) } }
                w.u8(a.gainDb == nil ? 0 : 1)
                if let gain = a.gainDb { w.f64(gain) }
                w.u32(UInt32(a.artifacts.count))
                for artifact in a.artifacts {
                    w.string(artifact.role.rawValue); w.string(artifact.contentType)
                    w.optionalInt(artifact.width); w.optionalInt(artifact.height); w.optionalInt(artifact.durationMs)
                    w.optional(artifact.sendAs?.rawValue)
                    w.bytes(artifact.role == .original ? [] : artifact.bytes)
                }
                w.optional(a.safeCopyUnavailable?.rawValue)
            case .rejected(let r):
                w.u8(1)
                w.string(r.reason.rawValue); w.string(r.message); w.optional(r.detectedType); w.i64(Int64(r.size))
            }
        case .failure(let message):
            w.u8(5)
            w.string(message)
        case .safeCopyPages(let count):
            w.u8(7)
            w.i64(Int64(count))
        case .safeCopyPage(let page):
            w.u8(8)
            w.u32(UInt32(truncatingIfNeeded: page.width)); w.u32(UInt32(truncatingIfNeeded: page.height))
            w.f64(page.pointWidth); w.f64(page.pointHeight)
            w.bytes(page.pixels)
        case .safeCopyEnd(let why):
            w.u8(9)
            w.optional(why?.rawValue)
        case .request(let request, let message):
            w.u8(6)
            w.request(request)
            w.data.append(contentsOf: message.encoded().dropFirst(4))
        }
        var frame = [UInt8]()
        frame.reserveCapacity(w.data.count + 4)
        let n = UInt32(w.data.count)
        frame.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)])
        frame.append(contentsOf: w.data)
        return frame
    }

    /// Decodes one frame's body (without its length). `original` fills the bytes of `original` artifacts.
    static func decode(_ body: ArraySlice<UInt8>, original: [UInt8] = []) throws(WireError) -> HelperMessage {
        var r = WireReader(body)
        switch try r.u8() {
        case 1:
            guard let from = Sender(rawValue: try r.string()) else { throw .malformed("unknown sender") }
            let declared = try r.optional(), name = try r.optional()
            guard let channel = MessagingChannel(rawValue: try r.string()) else { throw .malformed("unknown channel") }
            return .job(AttachmentFacts(from: from, declaredType: declared, fileName: name, channel: channel), bytes: try r.bytes())
        case 2:
            return .ready(Protections(active: try r.strings(), missing: try r.strings(), unavailable: try r.strings()))
        case 3:
            let type = try r.string()
            guard let kind = AttachmentKind(rawValue: try r.string()) else { throw .malformed("unknown kind") }
            return .transforming(detectedType: type, kind: kind)
        case 4:
            let sniff = try r.i64(), transform = try r.i64(), rss = try r.i64()
            let outcome: Outcome
            switch try r.u8() {
            case 0:
                let type = try r.string()
                guard let kind = AttachmentKind(rawValue: try r.string()) else { throw .malformed("unknown kind") }
                let size = Int(try r.i64())
                let why = try r.optional().map { raw throws(WireError) in
                    guard let v = PreviewUnavailable(rawValue: raw) else { throw .malformed("unknown previewUnavailable") }
                    return v
                }
                var waveform: [Double]? = nil
                if try r.u8() == 1 {
                    let count = Int(try r.u32())
                    guard count <= 100_000 else { throw .malformed("waveform too long") }
                    waveform = try (0..<count).map { _ throws(WireError) in try r.f64() }
                }
                let gain: Double? = try r.u8() == 1 ? try r.f64() : nil
                let count = Int(try r.u32())
                guard count <= 16 else { throw .malformed("too many artifacts") }
                var artifacts: [Artifact] = []
                for _ in 0..<count {
                    guard let role = ArtifactRole(rawValue: try r.string()) else { throw .malformed("unknown role") }
                    let contentType = try r.string()
                    let width = try r.optionalInt(), height = try r.optionalInt(), duration = try r.optionalInt()
                    let sendAsName = try r.optional()
                    let sendAs = try sendAsName.map { name throws(WireError) -> SendAs in
                        guard let s = SendAs(rawValue: name) else { throw .malformed("unknown sendAs") }
                        return s
                    }
                    let bytes = try r.bytes()
                    artifacts.append(Artifact(role: role, contentType: contentType, bytes: role == .original ? original : bytes,
                                              width: width, height: height, durationMs: duration, sendAs: sendAs))
                }
                let safeCopyWhy = try r.optional().map { raw throws(WireError) in
                    guard let v = SafeCopyUnavailable(rawValue: raw) else { throw .malformed("unknown safeCopyUnavailable") }
                    return v
                }
                var accepted = Outcome.Accepted(detectedType: type, kind: kind, size: size, artifacts: artifacts,
                                                previewUnavailable: why)
                accepted.safeCopyUnavailable = safeCopyWhy
                accepted.waveform = waveform
                accepted.gainDb = gain
                outcome = .accepted(accepted)
            case 1:
                guard let reason = RejectionReason(rawValue: try r.string()) else { throw .malformed("unknown reason") }
                let message = try r.string(), type = try r.optional(), size = Int(try r.i64())
                outcome = .rejected(.init(reason: reason, message: message, detectedType: type, size: size))
            default:
                throw .malformed("unknown outcome status")
            }
            return .outcome(outcome, sniffNanoseconds: sniff, transformNanoseconds: transform, residentBytes: rss)
        case 5:
            return .failure(try r.string())
        case 7:
            let count = try r.i64()
            guard count >= 0, count <= 1_000_000 else { throw .malformed("page count out of range") }
            return .safeCopyPages(Int(count))
        case 8:
            let width = Int(try r.u32()), height = Int(try r.u32())
            let pointWidth = try r.f64(), pointHeight = try r.f64()
            return .safeCopyPage(PageRaster(width: width, height: height, pointWidth: pointWidth, pointHeight: pointHeight,
                                            pixels: try r.bytes()))
        case 9:
            let why = try r.optional().map { raw throws(WireError) in
                guard let v = SafeCopyUnavailable(rawValue: raw) else { throw .malformed("unknown safeCopyUnavailable") }
                return v
            }
            return .safeCopyEnd(why)
        case 6:
            let request = try r.request()
            switch try decode(r.rest(), original: original) {
            case .ready, .request: throw .malformed("a ready report or a request inside a request")
            case let message: return .request(request, message)
            }
        case let other:
            throw .malformed("unknown message type \(other)")
        }
    }
}

/// What a helper runs under, as it reported after start-up.
public struct Protections: Sendable, Equatable {
    /// Protections in force, such as `seccomp` or `rlimit_data=1073741824`.
    public var active: [String]
    /// Protections the kernel offers but refused to apply, with the reason (`seccomp: EINVAL`): while the
    /// sandbox is required, a helper with any of these is not used.
    public var missing: [String]
    /// Protections this host does not offer at all (an older kernel's Landlock ABI, user namespaces switched
    /// off): listed in the log and `/readyz`, not fatal (`MEDIAWORKER_SANDBOX=required` means every layer the
    /// kernel supports).
    public var unavailable: [String]

    public init(active: [String], missing: [String], unavailable: [String] = []) {
        self.active = active
        self.missing = missing
        self.unavailable = unavailable
    }
}

/// The random id of one job, echoed by every answer about it (16 bytes from the system's random source).
package struct RequestID: Hashable, Sendable, CustomStringConvertible {
    package var value: UInt128

    package init(_ value: UInt128) { self.value = value }

    /// A fresh id from `SystemRandomNumberGenerator` (getrandom).
    package static func random() -> RequestID {
        var generator = SystemRandomNumberGenerator()
        return RequestID(UInt128(generator.next() as UInt64) << 64 | UInt128(generator.next() as UInt64))
    }

    package var description: String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 32 - hex.count) + hex
    }
}

enum WireError: Error, CustomStringConvertible {
    case malformed(String)
    var description: String {
        switch self { case .malformed(let m): return "malformed helper message: \(m)" }
    }
}

struct WireWriter {
    var data: [UInt8] = []
    mutating func u8(_ v: UInt8) { data.append(v) }
    mutating func u32(_ v: UInt32) { for s in stride(from: 0, to: 32, by: 8) { data.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) } }
    mutating func i64(_ v: Int64) { for s in stride(from: 0, to: 64, by: 8) { data.append(UInt8(truncatingIfNeeded: v >> Int64(s))) } }
    mutating func f64(_ v: Double) { i64(Int64(bitPattern: v.bitPattern)) }
    mutating func request(_ v: RequestID) {
        i64(Int64(truncatingIfNeeded: v.value)); i64(Int64(truncatingIfNeeded: v.value >> 64))
    }
    mutating func bytes(_ v: [UInt8]) { u32(UInt32(v.count)); data.append(contentsOf: v) }
    mutating func string(_ v: String) { bytes(Array(v.utf8)) }
    mutating func strings(_ v: [String]) { u32(UInt32(v.count)); v.forEach { string($0) } }
    mutating func optional(_ v: String?) {
        if let v { u8(1); string(v) } else { u8(0) }
    }
    mutating func optionalInt(_ v: Int?) {
        if let v { u8(1); i64(Int64(v)) } else { u8(0) }
    }
}

struct WireReader {
    private let data: ArraySlice<UInt8>
    private var at: Int

    init(_ data: ArraySlice<UInt8>) { self.data = data; at = data.startIndex }

    private mutating func take(_ n: Int) throws(WireError) -> ArraySlice<UInt8> {
        guard n >= 0, data.endIndex - at >= n else { throw .malformed("truncated") }
        defer { at += n }
        return data[at..<(at + n)]
    }
    mutating func u8() throws(WireError) -> UInt8 { try take(1).first! }
    mutating func u32() throws(WireError) -> UInt32 {
        try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }
    mutating func i64() throws(WireError) -> Int64 {
        Int64(bitPattern: try take(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
    mutating func f64() throws(WireError) -> Double { Double(bitPattern: UInt64(bitPattern: try i64())) }
    mutating func request() throws(WireError) -> RequestID {
        let low = UInt64(bitPattern: try i64()), high = UInt64(bitPattern: try i64())
        return RequestID(UInt128(high) << 64 | UInt128(low))
    }
    /// Everything not read yet.
    mutating func rest() -> ArraySlice<UInt8> {
        defer { at = data.endIndex }
        return data[at...]
    }
    mutating func bytes() throws(WireError) -> [UInt8] { Array(try take(Int(try u32()))) }
    mutating func string() throws(WireError) -> String { String(decoding: try take(Int(try u32())), as: UTF8.self) }
    mutating func strings() throws(WireError) -> [String] {
        let n = Int(try u32())
        guard n <= 64 else { throw .malformed("too many strings") }
        return try (0..<n).map { _ throws(WireError) in try string() }
    }
    mutating func optional() throws(WireError) -> String? { try u8() == 1 ? try string() : nil }
    mutating func optionalInt() throws(WireError) -> Int? {
        guard try u8() == 1 else { return nil }
        let v = try i64()
        guard v >= Int64(Int32.min), v <= Int64(Int32.max) else { throw .malformed("number out of range") }
        return Int(v)
    }
}
