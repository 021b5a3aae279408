import CMagic
import Synchronization

/// Decides a file's MIME type from its bytes with libmagic (`MAGIC_MIME_TYPE`).
///
/// A `magic_t` must never be used by two threads at once and its result string is overwritten by the
/// next call, so handles live in a pool: a call borrows one, copies the answer at once, and returns it.
public final class MagicSniffer: Sendable {
    private let pool = Mutex<[MagicHandle]>([])

    public init() throws {
        // Open one handle now so a missing magic database fails at start-up, not on the first file.
        let first = try MagicHandle()
        pool.withLock { $0.append(first) }
    }

    /// The canonical MIME type of `bytes` (see `MediaType.canonical`).
    public func sniff(_ bytes: UnsafeRawBufferPointer) throws -> String {
        let handle = try pool.withLock { $0.popLast() } ?? MagicHandle()
        defer { pool.withLock { $0.append(handle) } }
        return MediaType.canonical(try handle.mimeType(of: bytes))
    }
}

/// One libmagic handle; owned by exactly one thread at a time through `MagicSniffer`'s pool.
final class MagicHandle: @unchecked Sendable {
    private let cookie: OpaquePointer

    init() throws {
        guard let cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS) else {
            throw PipelineError.magic("magic_open failed")
        }
        if magic_load(cookie, nil) != 0 {
            let message = magic_error(cookie).map { String(cString: $0) } ?? "unknown error"
            magic_close(cookie)
            throw PipelineError.magic("cannot load the magic database: \(message)")
        }
        self.cookie = cookie
    }

    deinit { magic_close(cookie) }

    func mimeType(of bytes: UnsafeRawBufferPointer) throws -> String {
        // libmagic wants a non-null pointer even for zero bytes.
        var zero: UInt8 = 0
        let result: UnsafePointer<CChar>? = withUnsafeMutablePointer(to: &zero) { zeroPointer in
            magic_buffer(cookie, bytes.baseAddress ?? UnsafeRawPointer(zeroPointer), bytes.count)
        }
        guard let result else {
            let message = magic_error(cookie).map { String(cString: $0) } ?? "unknown error"
            throw PipelineError.magic(message)
        }
        return String(cString: result)  // copied now: the next call overwrites libmagic's buffer
    }
}
