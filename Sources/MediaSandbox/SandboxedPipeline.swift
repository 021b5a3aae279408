import Foundation
import Glibc
import Logging
import MediaPipeline
import Metrics
import Synchronization

/// The media pipeline run in helper processes: the caller's process never sniffs or decodes a file.
///
/// A pool of pre-started helpers (one per worker slot) takes one file each at a time. A helper is reused,
/// replaced after `maxJobs` files or when its memory grows past the recycle limit, and replaced at once when it
/// dies. What a file can do to its helper decides only that file's outcome:
/// - past the time limit the helper is SIGKILLed and the file is kept without a preview (`time_limit`), or
///   `corrupt` if it could not even be identified in that time;
/// - past the memory limit (the kernel refuses the allocation; the decoder aborts) it is `corrupt`;
/// - any other death (signal, trap, abort) is tried once more on a fresh helper, then `corrupt`.
public final class SandboxedPipeline: AttachmentProcessor, Sendable {
    public let settings: PipelineSettings
    public let helperSettings: HelperSettings
    private let executable: String
    private let environment: [String: String]
    /// How helpers are started here (namespaces, uid), decided once.
    public let launcher: HelperLauncher
    private let capacity: Int
    private let logger: Logger
    /// The helpers and what the pool has seen, behind one lock.
    private struct Pool {
        var idle: [HelperProcess] = []
        var busy: [pid_t: HelperProcess] = [:]
        var startFailure: String?
        var lastStartAttempt = ContinuousClock.now
        var retryingStart = false
        var missing: [String] = []
        var counters = Statistics()
    }
    private let pool = Mutex(Pool())

    /// Counts since start, for the benchmark and the console (`mediaworker_helper_events_total` for Prometheus).
    public struct Statistics: Sendable {
        public var starts = 0
        public var crashes = 0
        public var deadlineKills = 0
        public var memoryKills = 0
        public var recycles = 0
        /// Helpers that answered with an internal failure (replaced; the job is retried by the queue).
        public var failures = 0
        /// Helpers treated as taken over: an answer for another request (stale or forged), or one that failed
        /// `AnswerVerifier` (killed; the job ends `rejected` `corrupt`).
        public var invalidAnswers = 0
        /// Time from noticing a dead helper to its replacement reporting ready: the latest `keptTimes`.
        public var replacementTimes: [Duration] = []
        /// Time from starting a helper (setpriv, bubblewrap, exec) to its ready report: the latest `keptTimes`.
        public var startTimes: [Duration] = []
        /// How many of the latest times are kept (a server runs for months).
        public static let keptTimes = 1000

        mutating func record(_ time: Duration, in times: WritableKeyPath<Statistics, [Duration]>) {
            self[keyPath: times].append(time)
            if self[keyPath: times].count > Self.keptTimes { self[keyPath: times].removeFirst(self[keyPath: times].count - Self.keptTimes) }
        }
    }

    /// Helpers are `executable helper` (by default this very program, through /proc/self/exe) with
    /// `environment` (the `MEDIAWORKER_*` settings, read by both sides the same way).
    /// `launcher` nil: the host's (`HelperLauncher.forHost`).
    public init(environment: [String: String], capacity: Int, executable: String = "/proc/self/exe",
                launcher: HelperLauncher? = nil, logger: Logger = Logger(label: "mediaworker.helpers")) throws {
        self.settings = try PipelineSettings(environment: environment)
        self.helperSettings = try HelperSettings(environment: environment)
        self.environment = Self.helperEnvironment(environment)
        self.capacity = max(1, capacity)
        self.executable = executable
        self.launcher = launcher ?? HelperLauncher.forHost(executable: executable, helperUser: helperSettings.user)
        self.logger = logger
        // A helper that dies mid-write must not take this process with it.
        signal(SIGPIPE, SIG_IGN)
    }

    deinit { shutdown() }

    /// What a helper gets of the environment: an allow-list of the pipeline's and the helpers' own settings and
    /// of what the codecs read (locale, libvips, malloc), by exact name. Nothing else — no credentials, console
    /// users, database URLs or settings added later — reaches a helper unless it is added here.
    static func helperEnvironment(_ environment: [String: String]) -> [String: String] {
        var kept = environment.filter { key, _ in
            PipelineSettings.environmentKeys.contains(key) || HelperSettings.environmentKeys.contains(key)
                || ["LANG", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "MALLOC_ARENA_MAX"].contains(key)
                || (key.hasPrefix("VIPS_") && key.allSatisfy { $0.isUppercase || $0 == "_" || $0.isNumber })
        }
        kept["PATH"] = "/usr/bin:/bin"
        return kept
    }

    /// The largest frame a helper may send: artifacts are bounded by the input size (thumbnails, an MP3 of at
    /// most the duration limit at ≤ 64 kbps) with generous room; a safe copy's page by the page pixel limit.
    private var maxAnswer: Int {
        let mp3 = Int(settings.maxDurationSeconds * 16_000)
        // A safe copy's page is its own frame: width × height × 3 bytes of RGB.
        let page = 3 * settings.safeCopyMaxPagePixels + (1 << 20)
        return min(HelperMessage.maxFrame, max(2 * settings.maxBytes + mp3 + (16 << 20), page))
    }

    /// Starts `capacity` helpers now; a failure is recorded (see `canProcess()`, `status`), not thrown.
    public func start() {
        // Started side by side: each start mostly waits for its helper's ready report.
        let started = Mutex<[HelperProcess]>([])
        DispatchQueue.concurrentPerform(iterations: capacity) { _ in
            guard let helper = try? spawn() else { return }
            started.withLock { $0.append(helper) }
        }
        let helpers = started.withLock { $0 }
        pool.withLock { $0.idle.append(contentsOf: helpers) }
    }

    /// Ends every idle helper (busy ones end with their job's caller).
    public func shutdown() {
        let helpers = pool.withLock { p -> [HelperProcess] in
            defer { p.idle.removeAll() }
            return p.idle
        }
        helpers.forEach { $0.stop() }
    }

    /// False while no helper can be started. Never blocks: while it is false, a new start is tried on a background
    /// thread at most once a second.
    public func canProcess() -> Bool {
        let (ready, retry) = pool.withLock { p -> (Bool, Bool) in
            guard p.startFailure != nil else { return (true, false) }
            guard !p.retryingStart, ContinuousClock.now - p.lastStartAttempt > .seconds(1) else { return (false, false) }
            p.retryingStart = true
            return (false, true)
        }
        if retry {
            Thread.detachNewThread { [weak self] in
                guard let self else { return }
                let helper = try? self.spawn()
                let extra = self.pool.withLock { p -> HelperProcess? in
                    p.retryingStart = false
                    guard let helper else { return nil }
                    if p.idle.count < self.capacity { p.idle.append(helper); return nil }
                    return helper
                }
                extra?.stop()
            }
        }
        return ready
    }

    /// Why helpers cannot be used (nil when they can), and the protections the kernel refused (best-effort mode).
    public var status: (failure: String?, missingProtections: [String]) {
        pool.withLock { ($0.startFailure, $0.missing) }
    }

    public var statistics: Statistics { pool.withLock { $0.counters } }

    /// The longest a job can take here: two helper attempts at the time limits, up to four helper starts, and a
    /// minute for loading and storing. The worker stops renewing a job's lease past it.
    public var jobDeadline: Duration {
        let attempt: Double = settings.timeLimitSeconds + settings.safeCopyTimeLimitSeconds
        let seconds: Double = 2 * attempt + 4 * helperSettings.startTimeout + 60
        return Duration.seconds(seconds) + Self.safeCopyGrace * 2
    }

    /// Past a safe copy's own time limit, how long the helper has to notice it before it is killed.
    static let safeCopyGrace: Duration = .seconds(5)

    /// Peak resident memory of every helper alive now (idle and busy), bytes.
    public var helperPeaks: [Int64] {
        pool.withLock { ($0.idle + $0.busy.values).map(\.peakResidentBytes) }
    }

    /// The helpers alive now (their own pids, inside bubblewrap), for tests.
    public var helperPIDs: [pid_t] {
        pool.withLock { ($0.idle + $0.busy.values).map(\.decoderPid) }
    }

    /// Sends `signal` to the helpers busy with a file now (for tests and the crash benchmark).
    public func signalBusyHelpers(_ sig: Int32) -> Int {
        pool.withLock { p in
            p.busy.values.forEach { $0.signal(sig) }
            return p.busy.count
        }
    }

    public func process(_ bytes: [UInt8], facts: AttachmentFacts, timings: inout AttachmentPipeline.PhaseTimings) throws -> Outcome {
        var lastDeath = ""
        for attempt in 1...2 {
            let helper = try checkout()
            let deadline = ContinuousClock.now + .seconds(settings.timeLimitSeconds)
            // A visitor's PDF that previewed: after the outcome its pages arrive as raw pixels, checked and encoded
            // here as they come (a helper taken over by the PDF cannot choose a byte of the copy), under the copy's own
            // time limit.
            var copy = SafeCopyBuilder(settings: settings)
            var copyEnd: SafeCopyUnavailable?? = nil
            let settings = self.settings
            let run = helper.run(bytes, facts: facts, request: .random(), deadline: deadline,
                                 copyTime: .seconds(settings.safeCopyTimeLimitSeconds) + Self.safeCopyGrace,
                                 pagesFollow: { AttachmentPipeline.awaitsSafeCopy($0, facts: facts, settings: settings) }) { event in
                switch event {
                case .begin(let count): return copy.begin(pageCount: count)
                case .page(let page): return copy.add(page)
                case .end(let why), .cutShort(let why as SafeCopyUnavailable?):
                    copyEnd = .some(why)
                    return nil
                }
            }
            // What the helper said it was decoding is believed only once the policy agrees.
            if let (type, kind) = run.transforming,
               let violation = AnswerVerifier.verify(transforming: type, kind: kind, facts: facts, settings: settings) {
                return invalidAnswer(helper, "\(violation)", bytes: bytes)
            }
            switch run {
            case .answered(.outcome(let outcome, let sniff, let transform, _), let transforming):
                timings.sniff = .nanoseconds(sniff)
                timings.transform = .nanoseconds(transform)
                switch AnswerVerifier.verify(outcome, input: bytes, facts: facts, settings: settings, transforming: transforming)
                    .flatMap({ AnswerVerifier.attachSafeCopy(to: $0, copy: &copy, end: copyEnd, facts: facts, settings: settings) }) {
                case .success(let verified):
                    if helper.hasEnded {
                        // Killed at the copy's time limit, or dead while rendering a page: the outcome stands.
                        retire(helper, event: copyEnd == .some(.timeLimit) ? "deadline_kill" : "crash")
                        logger.warning("helper ended while rendering a safe copy", metadata: [
                            "pid": "\(helper.pid)", "safe_copy_unavailable": "\((copyEnd ?? nil)?.rawValue ?? "")"])
                    } else {
                        checkin(helper)
                    }
                    return verified
                case .failure(let violation):
                    return invalidAnswer(helper, "\(violation)", bytes: bytes)
                }
            case .answered(.failure(let message), _):
                // Not trusted again: a helper that failed once is replaced, not reused.
                retire(helper, event: "failure")
                throw HelperFailure(message: String(message.prefix(AnswerVerifier.maxMessageBytes)))
            case .answered:
                return invalidAnswer(helper, "an answer that is neither an outcome nor a failure", bytes: bytes)
            case .invalidAnswer(let why, _):
                return invalidAnswer(helper, why, bytes: bytes)
            case .timedOut(let transforming):
                retire(helper, event: "deadline_kill")
                logger.warning("helper killed at the time limit", metadata: [
                    "pid": "\(helper.pid)", "time_limit_s": "\(settings.timeLimitSeconds)",
                    "detected_type": "\(transforming?.0 ?? "not yet known")"])
                let outcome = timeLimitOutcome(bytes, transforming, facts: facts)
                // Kept as the type the helper named: the original must start as that type does.
                if case .failure(let violation) = AnswerVerifier.verify(outcome, input: bytes, facts: facts, settings: settings,
                                                                        transforming: transforming) {
                    count("invalid_answer")
                    logWrongAnswer(helper, "\(violation)")
                    return Self.invalidAnswerOutcome(bytes)
                }
                return outcome
            case .died(let status, let transforming, let stderr):
                let memory = Self.looksLikeMemoryExhaustion(stderr)
                retire(helper, event: memory ? "memory_kill" : "crash")
                let how = HelperProcess.describe(status: status)
                logger.warning(memory ? "helper ran out of memory on a file" : "helper died on a file", metadata: [
                    "pid": "\(helper.pid)", "status": "\(how)", "attempt": "\(attempt)",
                    "detected_type": "\(transforming?.0 ?? "not yet known")",
                    "stderr": "\(stderr.trimmingCharacters(in: .whitespacesAndNewlines).suffix(600))"])
                if memory {
                    return .rejected(.init(reason: .corrupt,
                        message: "decoding the file needs more memory than a helper may use (\(helperSettings.memoryBytes >> 20) MiB)",
                        detectedType: transforming?.0, size: bytes.count))
                }
                lastDeath = how
                if attempt == 2 {
                    return .rejected(.init(reason: .corrupt,
                        message: "the decoder failed on this file twice (\(lastDeath)); it is not processed",
                        detectedType: transforming?.0, size: bytes.count))
                }
            }
        }
        fatalError("unreachable: the second attempt always returns")
    }

    /// The job's outcome when its helper's answer failed verification: final, never retried on another helper (the
    /// file took its helper over; a second one would fare no better), and nothing the helper made is kept.
    static func invalidAnswerOutcome(_ bytes: [UInt8]) -> Outcome {
        .rejected(.init(reason: .corrupt, message: "the helper's answer failed verification; the file is not processed",
                        detectedType: nil, size: bytes.count))
    }

    /// A helper treated as taken over: killed, counted (`invalid_answer`), logged with what failed, replaced.
    private func invalidAnswer(_ helper: HelperProcess, _ why: String, bytes: [UInt8]) -> Outcome {
        retire(helper, event: "invalid_answer")
        logWrongAnswer(helper, why)
        return Self.invalidAnswerOutcome(bytes)
    }

    private func logWrongAnswer(_ helper: HelperProcess, _ why: String) {
        logger.warning("a helper's answer failed verification; the helper is treated as taken over and killed", metadata: [
            "pid": "\(helper.pid)", "failed": "\(why.prefix(400))"])
    }

    /// Past the time limit: kept without a preview once sniffing and policy passed, otherwise `corrupt`.
    private func timeLimitOutcome(_ bytes: [UInt8], _ transforming: (String, AttachmentKind)?, facts: AttachmentFacts) -> Outcome {
        guard let (type, kind) = transforming else {
            return .rejected(.init(reason: .corrupt,
                message: "the file could not be identified within the \(grouped(settings.timeLimitSeconds)) s time limit",
                detectedType: nil, size: bytes.count))
        }
        var accepted = Outcome.Accepted(detectedType: type, kind: kind, size: bytes.count,
                                        artifacts: [Artifact(role: .original, contentType: type, bytes: bytes)],
                                        previewUnavailable: .timeLimit)
        if AnswerVerifier.getsSafeCopy(type: type, kind: kind, facts: facts, settings: settings) { accepted.safeCopyUnavailable = .timeLimit }
        return .accepted(accepted)
    }

    /// A helper's last words that mean the kernel refused memory (glib, poppler, libstdc++, the Swift runtime).
    static func looksLikeMemoryExhaustion(_ stderr: String) -> Bool {
        let text = stderr.lowercased()
        return ["out of memory", "cannot allocate", "could not allocate", "failed to allocate", "bad_alloc",
                "memory allocation failed", "memory exhausted"].contains { text.contains($0) }
    }

    private func checkout() throws -> HelperProcess {
        while let helper = pool.withLock({ p -> HelperProcess? in
            guard let helper = p.idle.popLast() else { return nil }
            p.busy[helper.pid] = helper
            return helper
        }) {
            // Between jobs a healthy helper is silent: a frame waiting now was left for the next job to read.
            // That helper is taken over; the job goes to another one (it has not touched this one).
            guard helper.wroteUnasked else { return helper }
            retire(helper, event: "invalid_answer")
            logWrongAnswer(helper, "it wrote after its answer (a frame left for the next job)")
        }
        let helper = try spawn()
        pool.withLock { $0.busy[helper.pid] = helper }
        return helper
    }

    /// Back to the pool, or replaced when it has done enough or grown too large.
    private func checkin(_ helper: HelperProcess) {
        let recycle = helper.jobs >= helperSettings.maxJobs || helper.residentBytes > helperSettings.recycleResidentBytes
        let keep = pool.withLock { p -> Bool in
            p.busy[helper.pid] = nil
            guard !recycle, p.idle.count < capacity else { return false }
            p.idle.append(helper)
            return true
        }
        if recycle {
            count("recycle")
            logger.debug("helper recycled", metadata: ["pid": "\(helper.pid)", "jobs": "\(helper.jobs)",
                                                       "rss_mb": "\(helper.residentBytes >> 20)"])
            helper.stop()
            replaceSoon()
        } else if !keep {
            helper.stop()
        }
    }

    /// A dead, killed or failing helper leaves the pool; a replacement is started at once in the background
    /// (the job's own retry, if any, takes whichever helper is ready first).
    private func retire(_ helper: HelperProcess, event: String) {
        pool.withLock { $0.busy[helper.pid] = nil }
        count(event)
        helper.stop()
        replaceSoon(timed: true)
    }

    /// Starts a replacement helper on a background thread (posix_spawn itself runs on the spawner thread).
    private func replaceSoon(timed: Bool = false) {
        let noticed = ContinuousClock.now
        Thread.detachNewThread { [weak self] in
            guard let self, let helper = try? self.spawn() else { return }
            let took = ContinuousClock.now - noticed
            let extra = self.pool.withLock { p -> Bool in
                if timed { p.counters.record(took, in: \.replacementTimes) }
                if p.idle.count < self.capacity { p.idle.append(helper); return false }
                return true
            }
            if extra { helper.stop() }
        }
    }

    private func spawn() throws -> HelperProcess {
        let begun = ContinuousClock.now
        pool.withLock { $0.lastStartAttempt = begun }
        do {
            let helper = try HelperProcess.spawn(executable: executable, environment: environment, launcher: launcher,
                                                 timeout: .seconds(helperSettings.startTimeout),
                                                 maxAnswer: maxAnswer)
            if !helper.protections.missing.isEmpty && helperSettings.mode == .required {
                helper.stop()
                throw HelperStartError.unprotected(helper.protections.missing)
            }
            // Missing layers (best-effort) and layers this host does not offer: logged once, shown by /readyz.
            let absent = helper.protections.missing + helper.protections.unavailable
            if !absent.isEmpty {
                let first = pool.withLock { p -> Bool in
                    defer { p.missing = absent }
                    return p.missing.isEmpty
                }
                if first {
                    logger.warning("helpers run without part of their sandbox", metadata: [
                        "missing": "\(helper.protections.missing.joined(separator: "; "))",
                        "not_offered_here": "\(helper.protections.unavailable.joined(separator: "; "))",
                        "mode": "\(helperSettings.mode.rawValue)"])
                }
            }
            let recovered = pool.withLock { p -> Bool in
                defer { p.startFailure = nil }
                return p.startFailure != nil
            }
            if recovered { logger.notice("helper processes start again") }
            let took = ContinuousClock.now - begun
            pool.withLock { $0.counters.record(took, in: \.startTimes) }
            count("start")
            return helper
        } catch {
            let message = "\(error)"
            let first = pool.withLock { p -> Bool in
                defer { p.startFailure = message }
                return p.startFailure != message
            }
            if first { logger.error("helper processes cannot start; workers stop claiming", metadata: ["error": "\(message)"]) }
            throw error
        }
    }

    private func count(_ event: String) {
        pool.withLock { p in
            switch event {
            case "start": p.counters.starts += 1
            case "crash": p.counters.crashes += 1
            case "deadline_kill": p.counters.deadlineKills += 1
            case "memory_kill": p.counters.memoryKills += 1
            case "recycle": p.counters.recycles += 1
            case "failure": p.counters.failures += 1
            case "invalid_answer": p.counters.invalidAnswers += 1
            default: break
            }
        }
        Counter(label: "mediaworker_helper_events_total", dimensions: [("event", event)]).increment()
    }
}

/// A helper answered with an internal failure (not the file's fault): the job is retried.
public struct HelperFailure: Error, CustomStringConvertible {
    public var message: String
    public var description: String { "helper: \(message)" }
}

private func grouped(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds))" : "\(seconds)"
}
