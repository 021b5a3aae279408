import Foundation
import CHelperSandbox
import Glibc
import MediaPipeline

/// The parent's handle on one helper process: spawned with `posix_spawn` (its own process group, an empty signal
/// mask, only its two pipes and a standard-error pipe), given one job at a time, killed when it overruns.
/// Used by one job at a time: the pool (`SandboxedPipeline`) hands it from its lock to one caller and takes it back,
/// which is why it may cross threads without a lock of its own.
final class HelperProcess: @unchecked Sendable {
    /// The process the parent started and waits for (bubblewrap's, when the helper runs in namespaces).
    let pid: pid_t
    /// The helper itself (its pid in this process's namespace), for signals and memory figures.
    let decoderPid: pid_t
    let protections: Protections
    private let launcher: HelperLauncher
    /// Files this helper has processed.
    private(set) var jobs = 0
    /// Resident memory after its last file, as the helper measured it.
    private(set) var residentBytes: Int64 = 0
    private var toHelper: Int32
    private var reader: FrameReader
    private var reaped = false

    /// What became of one job in this helper.
    enum Run {
        /// The helper answered (an outcome or an internal failure, unwrapped from its `request` frame) for this
        /// job's request id, after reporting what it was decoding (if it did).
        case answered(HelperMessage, transforming: (String, AttachmentKind)?)
        /// The helper wrote what a healthy helper never does: a frame for another request (stale or forged), one
        /// that does not decode, or an unexpected message. It has been killed.
        case invalidAnswer(String, transforming: (String, AttachmentKind)?)
        /// The helper ended before answering: its wait status, what it was decoding, its last words on stderr.
        case died(status: Int32, transforming: (String, AttachmentKind)?, stderr: String)
        /// Past the deadline: the helper was SIGKILLed.
        case timedOut(transforming: (String, AttachmentKind)?)

        /// What the helper said it was decoding before it answered, died or ran out of time.
        var transforming: (String, AttachmentKind)? {
            switch self {
            case .answered(_, let t), .invalidAnswer(_, let t), .died(_, let t, _), .timedOut(let t): return t
            }
        }
    }

    private init(pid: pid_t, toHelper: Int32, reader: FrameReader, protections: Protections, launcher: HelperLauncher) {
        self.pid = pid
        self.launcher = launcher
        decoderPid = launcher.throughBubblewrap ? Self.innermostChild(of: pid) : pid
        self.toHelper = toHelper
        self.reader = reader
        self.protections = protections
    }

    deinit {
        if toHelper >= 0 { close(toHelper) }
        close(reader.fd)
        close(reader.side)
        if !reaped { Self.killGroup(pid); _ = Self.reap(pid, wait: true) }
    }

    /// Starts `executable helper --parent PID` through `launcher` and waits (up to `timeout`) for its `ready`
    /// report. `maxAnswer`: the largest frame the parent accepts from this helper (a compromised helper must not
    /// make the parent allocate at will).
    static func spawn(executable: String, environment: [String: String], launcher: HelperLauncher, timeout: Duration,
                      maxAnswer: Int) throws(HelperStartError) -> HelperProcess {
        var jobPipe: [Int32] = [-1, -1], answerPipe: [Int32] = [-1, -1], errorPipe: [Int32] = [-1, -1]
        guard mw_pipe2(&jobPipe, O_CLOEXEC) == 0 else { throw .spawn("pipe: \(String(cString: strerror(errno)))") }
        guard mw_pipe2(&answerPipe, O_CLOEXEC) == 0 else {
            jobPipe.forEach { close($0) }
            throw .spawn("pipe: \(String(cString: strerror(errno)))")
        }
        guard mw_pipe2(&errorPipe, O_CLOEXEC) == 0 else {
            (jobPipe + answerPipe).forEach { close($0) }
            throw .spawn("pipe: \(String(cString: strerror(errno)))")
        }
        // Every end moves to 10 or above, so no dup2 below can land on another end (fds 2-4 are the targets).
        for i in 0..<2 {
            jobPipe[i] = raised(jobPipe[i]); answerPipe[i] = raised(answerPipe[i]); errorPipe[i] = raised(errorPipe[i])
        }
        // The parent's ends never block: a job is written and stderr drained under the job's deadline.
        _ = fcntl(jobPipe[1], F_SETFL, O_NONBLOCK)
        _ = fcntl(errorPipe[0], F_SETFL, O_NONBLOCK)
        // 1 MiB pipes: a 5 MiB file crosses in a few writes.
        _ = mw_set_pipe_size(jobPipe[1], 1 << 20)
        _ = mw_set_pipe_size(answerPipe[1], 1 << 20)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, errorPipe[1], 2)
        posix_spawn_file_actions_adddup2(&actions, jobPipe[0], HelperMain.inputFD)
        posix_spawn_file_actions_adddup2(&actions, answerPipe[1], HelperMain.outputFD)
        // Nothing else of the parent's (database connections, listening sockets, blob files) reaches the helper.
        guard mw_spawn_close_from(&actions, HelperMain.outputFD + 1) == 0 else {
            (jobPipe + answerPipe + errorPipe).forEach { close($0) }
            throw .spawn("posix_spawn_file_actions_addclosefrom_np is unavailable (glibc 2.34 or later is needed)")
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A session of its own (no controlling terminal; a terminal's Ctrl-C goes to the service, which drains,
        // and helpers die with it through PR_SET_PDEATHSIG), every signal at its default, none blocked.
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) | mw_spawn_setsid_flag())

        var env = environment
        env["SWIFT_BACKTRACE"] = "enable=no"  // a crash ends at once (the backtracer would need exec anyway)
        env["MALLOC_ARENA_MAX"] = env["MALLOC_ARENA_MAX"] ?? "2"
        // Inside bubblewrap's PID namespace the helper's parent is bubblewrap's PID 1, which dies with it.
        let program = launcher.throughBubblewrap ? HelperLauncher.sandboxedPath(executable) : executable
        let arguments = launcher.prefix + [program, "helper", "--parent", launcher.throughBubblewrap ? "1" : "\(getpid())"]
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        // Spawned from one thread that lives as long as the process: PR_SET_PDEATHSIG fires when the *thread*
        // that created the helper ends, and callers may be pool threads that come and go.
        let (rc, pid) = SpawnThread.shared.run { () -> (Int32, pid_t) in
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
            return (rc, pid)
        }
        close(jobPipe[0]); close(answerPipe[1]); close(errorPipe[1])
        guard rc == 0 else {
            close(jobPipe[1]); close(answerPipe[0]); close(errorPipe[0])
            throw .spawn("posix_spawn \(arguments[0]): \(String(cString: strerror(rc)))")
        }
        var reader = FrameReader(fd: answerPipe[0], side: errorPipe[0], maxFrame: maxAnswer)
        let deadline = ContinuousClock.now + timeout
        let failure: String
        var exited = false
        switch reader.next(deadline: deadline) {
        case .frame(let body):
            switch try? HelperMessage.decode(body) {
            case .ready(let reported):
                let protections = Protections(active: launcher.active + reported.active,
                                              missing: launcher.missing + reported.missing,
                                              unavailable: launcher.unavailable + reported.unavailable)
                return HelperProcess(pid: pid, toHelper: jobPipe[1], reader: reader, protections: protections,
                                     launcher: launcher)
            case .failure(let message): failure = message
            default: failure = "the helper sent something other than its ready report"
            }
        case .closed: failure = "the helper exited during start-up"; exited = true
        case .timedOut: failure = "the helper did not report ready within \(timeout)"
        case .failed(let why): failure = why
        }
        // A helper that exited on its own says how (its status); one that lingers is killed.
        var waited = exited ? reap(pid, wait: false, within: .milliseconds(500)) : nil
        if waited == nil {
            killGroup(pid)
            waited = reap(pid, wait: true)
        }
        let status = launcher.helperStatus(waited ?? 0)
        reader.drainSide()
        close(jobPipe[1]); close(answerPipe[0]); close(errorPipe[0])
        let said = String(decoding: reader.sideTail, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        throw .spawn("\(failure) (\(describe(status: status)))" + (said.isEmpty ? "" : ": \(said.suffix(500))"))
    }

    /// What a helper sends of a safe copy after its outcome, as `run` hands it on.
    enum SafeCopyStream {
        case begin(pages: Int)
        case page(PageRaster)
        /// The helper's last word: every page sent (nil), or why it stopped.
        case end(SafeCopyUnavailable?)
        /// The helper was killed at the copy's deadline (`time_limit`) or died (`unrenderable`) meanwhile.
        case cutShort(SafeCopyUnavailable)
    }

    /// Gives the helper one file under a fresh `request` id and waits for its answer until `deadline`. When
    /// `pagesFollow` says so of the outcome, the safe copy's pages are read next, until `copyTime` from the outcome,
    /// and handed to `pages` (which returns why one is wrong: the helper is then killed, an invalid answer); the
    /// outcome is returned after the copy's end, or after the helper was killed or died making it (see `hasEnded`).
    func run(_ bytes: [UInt8], facts: AttachmentFacts, request: RequestID, deadline: ContinuousClock.Instant,
             copyTime: Duration = .zero, pagesFollow: (Outcome) -> Bool = { _ in false },
             pages: (SafeCopyStream) -> String? = { _ in "safe copy pages unasked" }) -> Run {
        var deadline = deadline
        /// The outcome, while the copy's pages are read.
        var outcome: HelperMessage? = nil
        jobs += 1
        reader.resetSide()
        var transforming: (String, AttachmentKind)? = nil
        switch send(HelperMessage.request(request, .job(facts, bytes: bytes)).encoded(), deadline: deadline) {
        case .sent: break
        case .closed: return died(transforming: nil)
        case .timedOut:
            Self.killGroup(pid)
            _ = Self.reap(pid, wait: true)
            reaped = true
            return .timedOut(transforming: nil)
        }
        func invalid(_ why: String) -> Run {
            if !reaped {
                Self.killGroup(pid)
                _ = Self.reap(pid, wait: true)
                reaped = true
            }
            return .invalidAnswer(why, transforming: transforming)
        }
        while true {
            switch reader.next(deadline: deadline) {
            case .frame(let body):
                guard let message = try? HelperMessage.decode(body, original: bytes) else {
                    return invalid("a frame that does not decode")
                }
                guard case .request(let id, let answer) = message else {
                    return invalid("a message without a request id")
                }
                guard id == request else { return invalid("a frame for request \(id), not \(request) (stale or forged)") }
                if let outcome {
                    switch answer {
                    case .safeCopyPages(let count):
                        if let why = pages(.begin(pages: count)) { return invalid(why) }
                    case .safeCopyPage(let page):
                        if let why = pages(.page(page)) { return invalid(why) }
                    case .safeCopyEnd(let why):
                        if let violation = pages(.end(why)) { return invalid(violation) }
                        return .answered(outcome, transforming: transforming)
                    default:
                        return invalid("a message other than a safe copy's after the outcome")
                    }
                    continue
                }
                switch answer {
                case .transforming(let type, let kind):
                    guard transforming == nil else { return invalid("a second transforming report") }
                    transforming = (type, kind)
                case .outcome(let result, _, _, let rss):
                    residentBytes = rss
                    guard pagesFollow(result) else { return .answered(answer, transforming: transforming) }
                    // The copy's own time limit, apart from the file's.
                    outcome = answer
                    deadline = .now + copyTime
                case .failure:
                    return .answered(answer, transforming: transforming)
                case .job, .ready, .request, .safeCopyPages, .safeCopyPage, .safeCopyEnd:
                    return invalid("a message a helper never sends at this point of a job")
                }
            case .closed, .failed:
                if let outcome {
                    _ = died(transforming: transforming)
                    if let why = pages(.cutShort(.unrenderable)) { return invalid(why) }
                    return .answered(outcome, transforming: transforming)
                }
                return died(transforming: transforming)
            case .timedOut:
                Self.killGroup(pid)
                _ = Self.reap(pid, wait: true)
                reaped = true
                if let outcome {
                    if let why = pages(.cutShort(.timeLimit)) { return invalid(why) }
                    return .answered(outcome, transforming: transforming)
                }
                return .timedOut(transforming: transforming)
            }
        }
    }

    /// True once the helper is gone (killed or dead): it cannot take another job.
    var hasEnded: Bool { reaped }

    /// True when the helper has written something nobody asked for (read already, or waiting in the pipe): between
    /// jobs a healthy helper is silent, so this is a frame left for the next job.
    var wroteUnasked: Bool {
        if reader.hasBuffered { return true }
        var fds = [pollfd(fd: reader.fd, events: Int16(POLLIN), revents: 0)]
        return poll(&fds, 1, 0) > 0 && fds[0].revents & Int16(POLLIN) != 0
    }

    private enum Sent { case sent, closed, timedOut }

    /// Writes one frame to the helper without ever blocking past `deadline` (a helper that stops reading cannot
    /// hold the slot), draining its stderr meanwhile.
    private func send(_ frame: [UInt8], deadline: ContinuousClock.Instant) -> Sent {
        frame.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(toHelper, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 { offset += n; continue }
                if n < 0 && errno == EINTR { continue }
                guard n < 0 && errno == EAGAIN else { return .closed }
                let left = deadline - .now
                if left <= .zero { return .timedOut }
                var fds = [pollfd(fd: toHelper, events: Int16(POLLOUT), revents: 0),
                           pollfd(fd: reader.side, events: Int16(POLLIN), revents: 0)]
                let ms = Int32(min(1000, max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)))
                if poll(&fds, 2, ms) > 0 && fds[1].revents != 0 { reader.drainSide() }
            }
            return .sent
        }
    }

    /// SIGKILL to the helper and to anything in its process group (it leads its own session).
    static func killGroup(_ pid: pid_t) {
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
    }

    /// The same descriptor moved to 10 or above (close-on-exec); the original is closed.
    private static func raised(_ fd: Int32) -> Int32 {
        let moved = fcntl(fd, F_DUPFD_CLOEXEC, 10)
        guard moved >= 0 else { return fd }
        close(fd)
        return moved
    }

    /// Collects the exit status of a helper whose pipe closed (killing it if it lingers).
    private func died(transforming: (String, AttachmentKind)?) -> Run {
        var status = Self.reap(pid, wait: false, within: .milliseconds(200))
        if status == nil {
            Self.killGroup(pid)
            status = Self.reap(pid, wait: true)
        }
        reaped = true
        reader.drainSide()
        return .died(status: launcher.helperStatus(status ?? 0), transforming: transforming,
                     stderr: String(decoding: reader.sideTail, as: UTF8.self))
    }

    /// Ends the helper: its job pipe is closed (it exits by itself), SIGKILL if it has not within 100 ms.
    func stop() {
        guard !reaped else { return }
        close(toHelper)
        toHelper = -1  // closed once: the number may belong to another helper's pipe by the time deinit runs
        if Self.reap(pid, wait: false, within: .milliseconds(100)) == nil {
            Self.killGroup(pid)
            _ = Self.reap(pid, wait: true)
        }
        reaped = true
    }

    /// Sends a signal to the helper itself (tests and the crash benchmark kill helpers from outside).
    func signal(_ sig: Int32) { kill(decoderPid, sig) }

    /// The helper's peak resident memory so far (VmHWM), bytes.
    var peakResidentBytes: Int64 {
        guard let status = readSmallFile("/proc/\(decoderPid)/status"),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return (Int64(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }

    /// The last process down the first-child chain from `pid` (bubblewrap → its PID 1 → the helper); `pid`
    /// itself when /proc does not list children.
    static func innermostChild(of pid: pid_t) -> pid_t {
        var current = pid
        for _ in 0..<4 {
            guard let text = readSmallFile("/proc/\(current)/task/\(current)/children"),
                  let first = text.split(separator: " ").first, let child = pid_t(first.trimmingCharacters(in: .whitespacesAndNewlines)) else { break }
            current = child
        }
        return current
    }

    /// waitpid: blocking, or polling for at most `within`; nil while it still runs.
    private static func reap(_ pid: pid_t, wait: Bool, within: Duration = .zero) -> Int32? {
        var status: Int32 = 0
        if wait {
            while waitpid(pid, &status, 0) < 0 { if errno != EINTR { return nil } }
            return status
        }
        let end = ContinuousClock.now + within
        while true {
            let rc = waitpid(pid, &status, WNOHANG)
            if rc == pid { return status }
            if rc < 0 && errno != EINTR { return nil }
            if ContinuousClock.now >= end { return nil }
            usleep(2_000)
        }
    }

    /// "killed by SIGSEGV", "exit status 3".
    static func describe(status: Int32) -> String {
        let signal = status & 0x7F
        if signal == 0 { return "exit status \((status >> 8) & 0xFF)" }
        let name = strsignal(signal).map { String(cString: $0) } ?? "signal \(signal)"
        return "killed by signal \(signal) (\(name))"
    }
}

/// A helper process could not be started or reported a protection missing while the sandbox is required.
public enum HelperStartError: Error, CustomStringConvertible {
    case spawn(String)
    case unprotected([String])

    public var description: String {
        switch self {
        case .spawn(let why): return "cannot start a helper process: \(why)"
        case .unprotected(let missing):
            return "the kernel refused part of the helper sandbox (\(missing.joined(separator: "; "))); MEDIAWORKER_SANDBOX=best-effort runs without it"
        }
    }
}

/// The one thread that starts every helper process, for the life of the process.
final class SpawnThread: @unchecked Sendable {
    static let shared = SpawnThread()
    private let condition = NSCondition()
    private var pending: [() -> Void] = []

    private init() {
        let thread = Thread { [self] in
            while true {
                condition.lock()
                while pending.isEmpty { condition.wait() }
                let work = pending.removeFirst()
                condition.unlock()
                work()
            }
        }
        thread.name = "mediaworker.helper-spawner"
        thread.start()
    }

    /// Runs `body` on the spawner thread and returns its result.
    func run<T>(_ body: @escaping () -> T) -> T {
        let done = NSCondition()
        var result: T? = nil
        condition.lock()
        pending.append {
            let value = body()
            done.lock()
            result = value
            done.signal()
            done.unlock()
        }
        condition.signal()
        condition.unlock()
        done.lock()
        while result == nil { done.wait() }
        done.unlock()
        return result!
    }
}
