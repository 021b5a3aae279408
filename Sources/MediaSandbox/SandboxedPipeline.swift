import Foundation
import Glibc
import Logging
import MediaPipeline
import Metrics

/// The media pipeline run in helper processes: the caller's process never sniffs or decodes a file.
///
/// A pool of pre-started helpers (one per worker slot) takes one file each at a time. A helper is reused,
/// replaced after `maxJobs` files or when its memory grows past the recycle limit, and replaced at once when it
/// dies. What a file can do to its helper decides only that file's outcome:
/// - past the time limit the helper is SIGKILLed and the file is kept without a preview (`time_limit`), or
///   `corrupt` if it could not even be identified in that time;
/// - past the memory limit (the kernel refuses the allocation; the decoder aborts) it is `corrupt`;
/// - any other death (signal, trap, abort) is tried once more on a fresh helper, then `corrupt`.
public final class SandboxedPipeline: AttachmentProcessor, @unchecked Sendable {
    public let settings: PipelineSettings
    public let helperSettings: HelperSettings
    private let executable: String
    private let environment: [String: String]
    /// How helpers are started here (namespaces, uid), decided once.
    public let launcher: HelperLauncher
    private let capacity: Int
    private let logger: Logger
    private let lock = NSLock()
    private var idle: [HelperProcess] = []
    private var busy: [pid_t: HelperProcess] = [:]
    private var startFailure: String?
    private var lastStartAttempt = ContinuousClock.now
    private var retryingStart = false
    private var missing: [String] = []
    private var counters = Statistics()

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
        /// Time from noticing a dead helper to its replacement reporting ready, each time.
        public var replacementTimes: [Duration] = []
        /// Time from starting a helper (setpriv, bubblewrap, exec) to its ready report, each start.
        public var startTimes: [Duration] = []
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

    /// The largest answer a helper may send: artifacts are bounded by the input size (thumbnails, an MP3 of at
    /// most the duration limit at ≤ 64 kbps) with generous room.
    private var maxAnswer: Int {
        let mp3 = Int(settings.maxDurationSeconds * 16_000)
        return min(HelperMessage.maxFrame, 2 * settings.maxBytes + mp3 + (16 << 20))
    }

    /// Starts `capacity` helpers now; a failure is recorded (see `isReady`, `status`), not thrown.
    public func start() {
        var started: [HelperProcess] = []
        for _ in 0..<capacity {
            guard let helper = try? spawn() else { break }
            started.append(helper)
        }
        lock.withLock { idle.append(contentsOf: started) }
    }

    /// Ends every idle helper (busy ones end with their job's caller).
    public func shutdown() {
        let helpers = lock.withLock { () -> [HelperProcess] in
            defer { idle.removeAll() }
            return idle
        }
        helpers.forEach { $0.stop() }
    }

    /// False while no helper can be started. Never blocks: a new start is tried in the background at most once a
    /// second while it is false.
    public var isReady: Bool {
        let (ready, retry) = lock.withLock { () -> (Bool, Bool) in
            guard startFailure != nil else { return (true, false) }
            guard !retryingStart, ContinuousClock.now - lastStartAttempt > .seconds(1) else { return (false, false) }
            retryingStart = true
            return (false, true)
        }
        if retry {
            Thread.detachNewThread { [weak self] in
                guard let self else { return }
                let helper = try? self.spawn()
                let extra = self.lock.withLock { () -> HelperProcess? in
                    self.retryingStart = false
                    guard let helper else { return nil }
                    if self.idle.count < self.capacity { self.idle.append(helper); return nil }
                    return helper
                }
                extra?.stop()
            }
        }
        return ready
    }

    /// Why helpers cannot be used (nil when they can), and the protections the kernel refused (best-effort mode).
    public var status: (failure: String?, missingProtections: [String]) {
        lock.withLock { (startFailure, missing) }
    }

    public var statistics: Statistics { lock.withLock { counters } }

    /// The longest a job can take here: two helper attempts at the time limit, up to four helper starts, and a
    /// minute for loading and storing. The worker stops renewing a job's lease past it.
    public var jobDeadline: TimeInterval { 2 * settings.timeLimitSeconds + 4 * helperSettings.startTimeout + 60 }

    /// Peak resident memory of every helper alive now (idle and busy), bytes.
    public var helperPeaks: [Int64] {
        lock.withLock { (idle + busy.values).map(\.peakResidentBytes) }
    }

    /// The helpers alive now (their own pids, inside bubblewrap), for tests.
    public var helperPIDs: [pid_t] {
        lock.withLock { (idle + busy.values).map(\.decoderPid) }
    }

    /// Sends `signal` to the helpers busy with a file now (for tests and the crash benchmark).
    public func signalBusyHelpers(_ sig: Int32) -> Int {
        lock.withLock {
            busy.values.forEach { $0.signal(sig) }
            return busy.count
        }
    }

    public func process(_ bytes: [UInt8], facts: AttachmentFacts, timings: inout MediaPipeline.PhaseTimings) throws -> Outcome {
        var lastDeath = ""
        for attempt in 1...2 {
            let helper = try checkout()
            let deadline = ContinuousClock.now + .milliseconds(Int64(settings.timeLimitSeconds * 1000))
            let run = helper.run(bytes, facts: facts, request: .random(), deadline: deadline)
            // What the helper said it was decoding is believed only once the policy agrees.
            if let (type, kind) = run.transforming,
               let violation = AnswerVerifier.verify(transforming: type, kind: kind, facts: facts, settings: settings) {
                return invalidAnswer(helper, "\(violation)", bytes: bytes)
            }
            switch run {
            case .answered(.outcome(let outcome, let sniff, let transform, _), let transforming):
                timings.sniff = .nanoseconds(sniff)
                timings.transform = .nanoseconds(transform)
                switch AnswerVerifier.verify(outcome, input: bytes, facts: facts, settings: settings, transforming: transforming) {
                case .success(let verified):
                    checkin(helper)
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
                let outcome = timeLimitOutcome(bytes, transforming)
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
    private func timeLimitOutcome(_ bytes: [UInt8], _ transforming: (String, AttachmentKind)?) -> Outcome {
        guard let (type, kind) = transforming else {
            return .rejected(.init(reason: .corrupt,
                message: "the file could not be identified within the \(grouped(settings.timeLimitSeconds)) s time limit",
                detectedType: nil, size: bytes.count))
        }
        return .accepted(.init(detectedType: type, kind: kind, size: bytes.count,
                               artifacts: [Artifact(role: .original, contentType: type, bytes: bytes)],
                               previewUnavailable: .timeLimit))
    }

    /// A helper's last words that mean the kernel refused memory (glib, poppler, libstdc++, the Swift runtime).
    static func looksLikeMemoryExhaustion(_ stderr: String) -> Bool {
        let text = stderr.lowercased()
        return ["out of memory", "cannot allocate", "could not allocate", "failed to allocate", "bad_alloc",
                "memory allocation failed", "memory exhausted"].contains { text.contains($0) }
    }

    private func checkout() throws -> HelperProcess {
        while let helper = lock.withLock({ () -> HelperProcess? in
            guard let helper = idle.popLast() else { return nil }
            busy[helper.pid] = helper
            return helper
        }) {
            // Between jobs a healthy helper is silent: a frame waiting now was left for the next job to read.
            // That helper is taken over; the job goes to another one (it has not touched this one).
            guard helper.wroteUnasked else { return helper }
            retire(helper, event: "invalid_answer")
            logWrongAnswer(helper, "it wrote after its answer (a frame left for the next job)")
        }
        let helper = try spawn()
        lock.withLock { busy[helper.pid] = helper }
        return helper
    }

    /// Back to the pool, or replaced when it has done enough or grown too large.
    private func checkin(_ helper: HelperProcess) {
        let recycle = helper.jobs >= helperSettings.maxJobs || helper.residentBytes > helperSettings.recycleResidentBytes
        let keep = lock.withLock { () -> Bool in
            busy[helper.pid] = nil
            guard !recycle, idle.count < capacity else { return false }
            idle.append(helper)
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
        lock.withLock { busy[helper.pid] = nil }
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
            let extra = self.lock.withLock { () -> Bool in
                if timed { self.counters.replacementTimes.append(took) }
                if self.idle.count < self.capacity { self.idle.append(helper); return false }
                return true
            }
            if extra { helper.stop() }
        }
    }

    private func spawn() throws -> HelperProcess {
        let begun = ContinuousClock.now
        lock.withLock { lastStartAttempt = begun }
        do {
            let helper = try HelperProcess.spawn(executable: executable, environment: environment, launcher: launcher,
                                                 timeout: .milliseconds(Int64(helperSettings.startTimeout * 1000)),
                                                 maxAnswer: maxAnswer)
            if !helper.protections.missing.isEmpty && helperSettings.mode == .required {
                helper.stop()
                throw HelperStartError.unprotected(helper.protections.missing)
            }
            // Missing layers (best-effort) and layers this host does not offer: logged once, shown by /readyz.
            let absent = helper.protections.missing + helper.protections.unavailable
            if !absent.isEmpty {
                let first = lock.withLock { () -> Bool in
                    defer { missing = absent }
                    return missing.isEmpty
                }
                if first {
                    logger.warning("helpers run without part of their sandbox", metadata: [
                        "missing": "\(helper.protections.missing.joined(separator: "; "))",
                        "not_offered_here": "\(helper.protections.unavailable.joined(separator: "; "))",
                        "mode": "\(helperSettings.mode.rawValue)"])
                }
            }
            let recovered = lock.withLock { () -> Bool in
                defer { startFailure = nil }
                return startFailure != nil
            }
            if recovered { logger.notice("helper processes start again") }
            let took = ContinuousClock.now - begun
            lock.withLock { counters.startTimes.append(took) }
            count("start")
            return helper
        } catch {
            let message = "\(error)"
            let first = lock.withLock { () -> Bool in
                defer { startFailure = message }
                return startFailure != message
            }
            if first { logger.error("helper processes cannot start; workers stop claiming", metadata: ["error": "\(message)"]) }
            throw error
        }
    }

    private func count(_ event: String) {
        lock.withLock {
            switch event {
            case "start": counters.starts += 1
            case "crash": counters.crashes += 1
            case "deadline_kill": counters.deadlineKills += 1
            case "memory_kill": counters.memoryKills += 1
            case "recycle": counters.recycles += 1
            case "failure": counters.failures += 1
            case "invalid_answer": counters.invalidAnswers += 1
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
