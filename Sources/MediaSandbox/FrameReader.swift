import CHelperSandbox
import Glibc
import MediaPipeline

/// Reads length-prefixed frames from a descriptor, optionally until a deadline (poll). With a `side`
/// descriptor (a helper's standard error) it drains that one too while it waits, keeping the last few KiB.
struct FrameReader {
    let fd: Int32
    let side: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    /// The end of what arrived on `side` (at most `sideLimit` bytes).
    private(set) var sideTail: [UInt8] = []
    private let sideLimit = 4096
    private var sideOpen: Bool
    /// The largest frame accepted; a longer announced length is refused before anything is allocated for it.
    let maxFrame: Int

    init(fd: Int32, side: Int32 = -1, maxFrame: Int = HelperMessage.maxFrame) {
        self.fd = fd
        self.side = side
        self.maxFrame = maxFrame
        sideOpen = side >= 0
    }

    enum Result {
        case frame(ArraySlice<UInt8>)
        case closed
        case timedOut
        case failed(String)
    }

    /// True when bytes of another frame have arrived already.
    var hasBuffered: Bool { buffer.count > start }

    /// Forgets what `side` said so far, reading whatever is waiting on it first (never blocks).
    mutating func resetSide() {
        drainSide()
        sideTail.removeAll(keepingCapacity: true)
    }

    /// Reads what `side` has now without blocking (it is non-blocking).
    mutating func drainSide() {
        guard sideOpen else { return }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(side, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n == 0 { sideOpen = false }
            if n <= 0 { return }
            sideTail.append(contentsOf: chunk[0..<n])
            if sideTail.count > sideLimit { sideTail.removeFirst(sideTail.count - sideLimit) }
        }
    }

    /// The next frame; `deadline` in `ContinuousClock` time (nil waits for ever).
    mutating func next(deadline: ContinuousClock.Instant?) -> Result {
        while true {
            let available = buffer.count - start
            if available >= 4 {
                let n = Int(buffer[start]) | Int(buffer[start + 1]) << 8 | Int(buffer[start + 2]) << 16 | Int(buffer[start + 3]) << 24
                guard n > 0, n <= maxFrame else { return .failed("frame length \(n)") }
                if available >= 4 + n {
                    let body = buffer[(start + 4)..<(start + 4 + n)]
                    start += 4 + n
                    return .frame(body)
                }
                // Grows with what really arrives, never by the announced length alone.
                buffer.reserveCapacity(min(start + 4 + n, buffer.count + (1 << 20)))
            }
            // A large frame's buffer is not kept for the helper's life.
            if start > 0 && start == buffer.count { buffer.removeAll(keepingCapacity: buffer.capacity <= 8 << 20); start = 0 }
            if deadline != nil || sideOpen {
                var ms: Int32 = -1
                if let deadline {
                    let left = deadline - .now
                    if left <= .zero { return .timedOut }
                    ms = Int32(min(Int64(Int32.max), max(1, left.components.seconds * 1000
                                                              + left.components.attoseconds / 1_000_000_000_000_000)))
                }
                var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: side, events: Int16(POLLIN), revents: 0)]
                let rc = poll(&fds, sideOpen ? 2 : 1, ms)
                if rc < 0 { if errno == EINTR { continue }; return .failed("poll: \(String(cString: strerror(errno)))") }
                if sideOpen && fds[1].revents != 0 { drainSide() }
                if fds[0].revents == 0 { continue }
            }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return .failed("read: \(String(cString: strerror(errno)))") }
            if n == 0 { return .closed }
            if start > 0 { buffer.removeSubrange(0..<start); start = 0 }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }
}
