import CHelperSandbox
import Glibc
import MediaPipeline

/// The helper process's side (`mediaworker helper`, started by `HelperProcess`): start the pipeline, lock
/// itself down, then process one job at a time from fd 3, answering on fd 4, until fd 3 closes.
public enum HelperMain {
    /// Descriptor the parent writes jobs to.
    static let inputFD: Int32 = 3
    /// Descriptor the helper answers on.
    static let outputFD: Int32 = 4

    /// Runs the helper loop; returns the process exit status.
    package static func run(parent: pid_t, environment: [String: String], takeover: (any HelperTakeover)? = nil) -> Int32 {
        // Nothing is inherited beyond stdin/out/err and the two pipes: the parent closes the rest at spawn (closing
        // them here would race with descriptors the runtime's own threads are opening by now).
        guard mw_die_with_parent(parent) == 0 else { return 70 }
        let settings: PipelineSettings, helper: HelperSettings
        let pipeline: MediaPipeline
        do {
            settings = try PipelineSettings(environment: environment)
            helper = try HelperSettings(environment: environment)
            pipeline = try MediaPipeline(settings: settings)
            // Started before the sandbox: libvips loads its modules and reads its configuration now.
            try VipsRuntime.start()
            VipsRuntime.setConcurrency(helper.vipsThreads)
        } catch {
            write(.failure("the helper cannot start: \(error)"))
            return 71
        }
        let protections = Sandbox.apply(memoryBytes: helper.memoryBytes)
        guard write(.ready(protections)) else { return 72 }

        return serve(pipeline: pipeline, takeover: takeover)
    }

    /// The job loop, after the lock-down: one job at a time from fd 3, every answer echoing the job's request id.
    private static func serve(pipeline: MediaPipeline, takeover: (any HelperTakeover)?) -> Int32 {
        var input = FrameReader(fd: inputFD)
        while true {
            let frame: ArraySlice<UInt8>
            switch input.next(deadline: nil) {
            case .frame(let body): frame = body
            case .closed, .timedOut: return 0
            case .failed: return 73
            }
            guard case .request(let request, .job(let facts, let bytes)) = try? HelperMessage.decode(frame) else {
                write(.failure("the helper received a malformed job"))
                return 74
            }
            let job = HelperJob(facts: facts, bytes: bytes, request: request)
            if let takeover {
                guard takeover.answer(job: job, pipeline: pipeline, write: write(_:)) else { return 75 }
                continue
            }
            guard write(answer(job, pipeline: pipeline, write: write(_:))) else { return 75 }
        }
    }

    /// What a healthy helper answers to `job`: the pipeline's outcome, or an internal failure. The `transforming`
    /// report is written through `write` on the way; the answer itself is returned, for the caller to write.
    package static func answer(_ job: HelperJob, pipeline: MediaPipeline,
                               write: ([HelperMessage]) -> Bool) -> HelperMessage {
        var timings = MediaPipeline.PhaseTimings()
        do {
            // The pipeline calls `transforming` only during `process`.
            let outcome = try withoutActuallyEscaping(write) { write in
                try pipeline.process(job.bytes, facts: job.facts, timings: &timings) { type, kind in
                    _ = write([.request(job.request, .transforming(detectedType: type, kind: kind))])
                }
            }
            return .request(job.request, .outcome(outcome, sniffNanoseconds: nanoseconds(timings.sniff),
                                                  transformNanoseconds: nanoseconds(timings.transform),
                                                  residentBytes: residentBytes()))
        } catch {
            return .request(job.request, .failure("\(error)"))
        }
    }

    /// `mediaworker helper --probe-sandbox`: the same start-up and lock-down, then tries what the sandbox must
    /// refuse and prints one JSON object of the results on standard output.
    public static func probe(environment: [String: String]) -> Int32 {
        do {
            _ = try MediaPipeline(settings: try PipelineSettings(environment: environment))
            try VipsRuntime.start()
        } catch {
            return 71
        }
        let helper = (try? HelperSettings(environment: environment)) ?? HelperSettings()
        let protections = Sandbox.apply(memoryBytes: helper.memoryBytes)
        // One line per attempt, written at once: if exec were allowed, the lines before it are still there.
        func say(_ line: String) { _ = "\(line)\n".withCString { Glibc.write(1, $0, strlen($0)) } }
        say("active \(protections.active.joined(separator: " "))")
        for missing in protections.missing { say("missing \(missing)") }
        for absent in protections.unavailable { say("unavailable \(absent)") }
        Sandbox.probe { say("\($0) \($1)") }
        return 0
    }

    @discardableResult
    static func write(_ message: HelperMessage) -> Bool {
        writeAll(outputFD, message.encoded())
    }

    /// Writes several frames with one `write` (a pipe with room takes them at once).
    static func write(_ messages: [HelperMessage]) -> Bool {
        writeAll(outputFD, messages.flatMap { $0.encoded() })
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000
    }

    /// Current resident set size, from /proc/self/statm.
    static func residentBytes() -> Int64 {
        guard let text = readSmallFile("/proc/self/statm") else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int64(fields[1]) else { return 0 }
        return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// One job as a helper received it.
package struct HelperJob: Sendable {
    package var facts: AttachmentFacts
    package var bytes: [UInt8]
    /// The id every answer about this job must echo.
    package var request: RequestID
}

/// What a test build's taken-over helper does instead of the pipeline (`Tests/AttackHelper`; production passes nil):
/// it runs after the full lock-down, with the real decoders loaded, and answers `job` however it likes through
/// `write` (several frames given at once are written with one `write`). False ends the helper.
package protocol HelperTakeover {
    func answer(job: HelperJob, pipeline: MediaPipeline, write: ([HelperMessage]) -> Bool) -> Bool
}

/// Writes every byte (retrying short writes and EINTR); false when the other end is gone.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}

/// A small text file such as /proc/PID/statm (these are not regular-sized: read until EOF).
func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    var total = 0
    while total < buffer.count {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        total += n
    }
    return String(decoding: buffer[0..<total], as: UTF8.self)
}

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
