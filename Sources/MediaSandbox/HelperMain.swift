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
        let pipeline: AttachmentPipeline
        do {
            settings = try PipelineSettings(environment: environment)
            helper = try HelperSettings(environment: environment)
            pipeline = try AttachmentPipeline(settings: settings)
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
    private static func serve(pipeline: AttachmentPipeline, takeover: (any HelperTakeover)?) -> Int32 {
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
            let reply = answer(job, pipeline: pipeline, write: write(_:))
            guard write(reply) else { return 75 }
            if case .request(_, .outcome(let outcome, _, _, _)) = reply,
               AttachmentPipeline.awaitsSafeCopy(outcome, facts: job.facts, settings: pipeline.settings) {
                guard sendSafeCopyPages(job, pipeline: pipeline, write: write(_:)) else { return 75 }
            }
        }
    }

    /// After the outcome of a visitor's PDF that previewed: its pages as raw pixels, then the end (nil when every
    /// page went, or why the copy stopped). The parent checks each page and writes the copy itself; a page that
    /// hangs here costs only the copy (the parent has the outcome already). False when the parent is gone.
    package static func sendSafeCopyPages(_ job: HelperJob, pipeline: AttachmentPipeline,
                                          write: ([HelperMessage]) -> Bool) -> Bool {
        var writing = true
        let result = pipeline.renderSafeCopy(job.bytes) { event in
            switch event {
            case .begin(let count): writing = write([.request(job.request, .safeCopyPages(count))])
            case .page(let page): writing = write([.request(job.request, .safeCopyPage(page))])
            }
            return writing
        }
        guard writing else { return false }
        let why: SafeCopyUnavailable?
        switch result {
        case .rendered: why = nil
        case .unavailable(let reason): why = reason
        case .stopped: why = .unrenderable
        }
        return write([.request(job.request, .safeCopyEnd(why))])
    }

    /// What a healthy helper answers to `job`: the pipeline's outcome, or an internal failure. The `transforming`
    /// report is written through `write` on the way; the answer itself is returned, for the caller to write.
    package static func answer(_ job: HelperJob, pipeline: AttachmentPipeline,
                               write: ([HelperMessage]) -> Bool) -> HelperMessage {
        var timings = AttachmentPipeline.PhaseTimings()
        do {
            // The pipeline calls `transforming` only during `process`.
            let outcome = try withoutActuallyEscaping(write) { write in
                try pipeline.process(job.bytes, facts: job.facts, timings: &timings, transforming: { type, kind in
                    _ = write([.request(job.request, .transforming(detectedType: type, kind: kind))])
                }, deferSafeCopy: true)
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
            _ = try AttachmentPipeline(settings: try PipelineSettings(environment: environment))
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
    func answer(job: HelperJob, pipeline: AttachmentPipeline, write: ([HelperMessage]) -> Bool) -> Bool
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
