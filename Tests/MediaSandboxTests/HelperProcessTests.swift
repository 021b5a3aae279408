import Foundation
import MediaTestSupport
import Testing
import CHelperSandbox
@testable import MediaPipeline
@testable import MediaSandbox

/// The helper processes of the built `mediaworker`: their sandbox holds, and a helper that crashes, hangs or
/// runs out of memory costs exactly its own file.
@Suite(.offCooperativePool) struct HelperProcessTests {
    func pool(_ environment: [String: String] = [:], capacity: Int = 1) throws -> SandboxedPipeline {
        let pool = try SandboxedPipeline(environment: environment, capacity: capacity, executable: TestBinary.mediaworker.path)
        pool.start()
        return pool
    }

    func process(_ pool: SandboxedPipeline, _ id: String) throws -> Outcome {
        let fixture = FixtureManifest.named(id)
        var timings = AttachmentPipeline.PhaseTimings()
        return try pool.process(try fixture.bytes(), facts: fixture.facts, timings: &timings)
    }

    @Test("the sandbox refuses a socket, a file write, a spawned program, a signal to its parent and exec")
    func sandboxHolds() throws {
        let process = Process()
        process.executableURL = TestBinary.mediaworker
        process.arguments = ["helper", "--probe-sandbox"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = Dictionary(text.split(separator: "\n").map { line -> (String, String) in
            let parts = line.split(separator: " ", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }, uniquingKeysWith: { $1 })
        #expect(lines["missing"] == nil, "the kernel refused part of the sandbox: \(text)")
        for protection in ["seccomp", "no_new_privs", "not_dumpable", "rlimit_core=0",
                           "rlimit_fsize=0", "rlimit_nofile=64", "landlock=abi\(Self.landlockABI)", "landlock_scopes"] {
            #expect(lines["active"]?.split(separator: " ").contains(Substring(protection)) == true, "\(protection) not active: \(text)")
        }
        for attempt in ["socket", "write_file", "spawn_program", "signal_parent", "exec_program"] {
            #expect(lines[attempt] == "Operation not permitted", "\(attempt): \(lines[attempt] ?? "no answer (exec succeeded?)")")
        }
        #expect(lines["read_file_outside"] == "Permission denied", "read_file_outside: \(lines["read_file_outside"] ?? "no answer")")
        #expect(lines.count >= 7, "\(text)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/mediaworker-sandbox-probe-\(process.processIdentifier)"))
    }

    /// The kernel's Landlock ABI (this machine's offers 7; the test asserts the helper uses what it offers).
    static var landlockABI: Int { mw_syscall(444 /* landlock_create_ruleset */, 0, 0, 1, 0, 0, 0) }

    @Test("helpers run in their own namespaces, as the helper user when the service is root, with every layer on")
    func layers() throws {
        let pool = try pool()
        defer { pool.shutdown() }
        #expect(try process(pool, "jpeg-whatsapp-photo").detectedType == "image/jpeg")
        let protections = pool.launcher
        #expect(protections.missing.isEmpty, "\(protections.missing)")
        #expect(protections.active.contains("namespaces=user,pid,ipc,net,uts,mount"), "\(protections.active)")
        #expect(pool.status.missingProtections.isEmpty, "\(pool.status.missingProtections)")
        let helpers = pool.helperPIDs
        #expect(helpers.count == 1)
        for pid in helpers {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let uid = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }.map(String.init) ?? ""
            #expect(status.contains("Seccomp:\t2"), "\(pid): \(status)")
            #expect(status.contains("NoNewPrivs:\t1"))
            if geteuid() == 0 {
                #expect(!uid.contains("\t0\t"), "the helper runs as root: \(uid)")
            }
            for ns in ["pid", "net", "ipc", "mnt", "user", "uts"] {
                let mine = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(ns)")
                let its = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/\(ns)")
                #expect(its != nil && its != mine, "\(ns) namespace shared with the service")
            }
            // Its root holds only what the decoders load: no /home, /root, /tmp, /work, /var/lib.
            let root = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/root")) ?? []
            #expect(Set(root).isSubset(of: ["usr", "lib", "lib64", "bin", "sbin", "etc", "var", "sys", "proc", "dev", "opt", "app"]), "\(root.sorted())")
        }
    }

    @Test("a helper killed with SIGSEGV in the middle of a job: the job is retried on a fresh helper and finishes")
    func crashOnceIsRetried() throws {
        let pool = try pool()
        let killer = Thread {
            // Wait until the note is inside a helper, let it work a little, then crash that helper once.
            while pool.signalBusyHelpers(0) == 0 { usleep(1_000) }
            usleep(100_000)
            _ = pool.signalBusyHelpers(SIGSEGV)
        }
        killer.start()
        let outcome = try process(pool, "ogg-opus-voice-note-60s")
        guard case .accepted(let accepted) = outcome else { Issue.record("not accepted: \(outcome)"); return }
        #expect(accepted.artifacts.first { $0.role == .playback }?.durationMs == 60_000)
        #expect(pool.statistics.crashes == 1)
        // The replacement starts in the background while the retry takes a helper of its own: wait for it.
        let waitUntil = ContinuousClock.now + .seconds(20)
        while pool.statistics.replacementTimes.isEmpty && ContinuousClock.now < waitUntil { usleep(10_000) }
        #expect(pool.statistics.replacementTimes.count == 1)
        // The pool keeps working on its replacement helper.
        #expect(try process(pool, "jpeg-whatsapp-photo").detectedType == "image/jpeg")
    }

    @Test("a helper that dies on every try of a file: the job ends corrupt (never retried for ever)")
    func crashEveryTryIsCorrupt() throws {
        let pool = try pool()
        let done = Locked(false)
        let killer = Thread {
            while !done.withLock({ $0 }) {
                _ = pool.signalBusyHelpers(SIGSEGV)
                usleep(20_000)
            }
        }
        killer.start()
        let outcome = try process(pool, "ogg-opus-voice-note-60s")
        done.withLock { $0 = true }
        guard case .rejected(let rejected) = outcome else { Issue.record("not rejected: \(outcome)"); return }
        #expect(rejected.reason == .corrupt)
        #expect(rejected.message.contains("the decoder failed on this file twice"), "\(rejected.message)")
        #expect(rejected.message.contains("signal 11"), "\(rejected.message)")
        #expect(pool.statistics.crashes == 2)
        #expect(try process(pool, "png-rgba-alpha").detectedType == "image/png")
    }

    @Test("a hanging decoder is killed at the time limit; the file is kept without a preview; the next file is fine")
    func deadlineKill() throws {
        let pool = try pool(["MEDIAWORKER_TIME_LIMIT": "2"])
        let started = ContinuousClock.now
        let outcome = try process(pool, "pdf-nested-xobjects")
        #expect(ContinuousClock.now - started < .seconds(6))
        guard case .accepted(let accepted) = outcome else { Issue.record("not accepted: \(outcome)"); return }
        #expect(accepted.previewUnavailable == .timeLimit)
        #expect(accepted.artifacts.map(\.role) == [.original])
        #expect(pool.statistics.deadlineKills == 1)
        #expect(try process(pool, "gif87a").detectedType == "image/gif")
    }

    @Test("helpers are recycled after MEDIAWORKER_HELPER_MAX_JOBS files, without changing any outcome")
    func recycling() throws {
        let pool = try pool(["MEDIAWORKER_HELPER_MAX_JOBS": "2"])
        for id in ["jpeg-whatsapp-photo", "png-rgba-alpha", "gif87a", "pdf-text-3-pages", "ogg-opus-voice-note"] {
            guard case .accepted = try process(pool, id) else { Issue.record("\(id) not accepted"); continue }
        }
        #expect(pool.statistics.recycles >= 2)
        #expect(pool.statistics.crashes == 0)
    }

    @Test("helper messages survive the wire: an accepted outcome with every field, a rejection")
    func wireRoundTrip() throws {
        let original: [UInt8] = Array("OggS…".utf8)
        let accepted = Outcome.accepted(.init(
            detectedType: "audio/ogg", kind: .voiceNote, size: original.count,
            artifacts: [Artifact(role: .original, contentType: "audio/ogg", bytes: original),
                        Artifact(role: .playback, contentType: "audio/mpeg", bytes: [1, 2, 3], durationMs: 6228)],
            previewUnavailable: nil, waveform: [0, 0.5, 1], gainDb: 4.5))
        let rejected = Outcome.rejected(.init(reason: .tooManyPixels, message: "m", detectedType: nil, size: 9))
        for outcome in [accepted, rejected] {
            let frame = HelperMessage.outcome(outcome, sniffNanoseconds: 1, transformNanoseconds: 2, residentBytes: 3).encoded()
            let decoded = try HelperMessage.decode(frame[4...], original: original)
            #expect(decoded == .outcome(outcome, sniffNanoseconds: 1, transformNanoseconds: 2, residentBytes: 3))
        }
        // Jobs and answers travel under their request id, all 128 bits of it; nothing nests in a request but those.
        let wide = RequestID(UInt128.max - 5)
        for message in [HelperMessage.job(AttachmentFacts(from: .operator, fileName: "a"), bytes: [1, 2]),
                        .transforming(detectedType: "image/png", kind: .image), .failure("x"),
                        .outcome(accepted, sniffNanoseconds: 1, transformNanoseconds: 2, residentBytes: 3)] {
            let framed = HelperMessage.request(wide, message)
            #expect(try HelperMessage.decode(framed.encoded()[4...], original: original) == framed)
        }
        for nested in [HelperMessage.request(wide, .request(wide, .failure("x"))),
                       .request(wide, .ready(Protections(active: [], missing: [])))] {
            #expect(throws: WireError.self) { try HelperMessage.decode(nested.encoded()[4...]) }
        }
        #expect(RequestID.random() != RequestID.random())
        // A truncated frame is refused, not trusted.
        let frame = HelperMessage.outcome(accepted, sniffNanoseconds: 1, transformNanoseconds: 2, residentBytes: 3).encoded()
        #expect(throws: WireError.self) { try HelperMessage.decode(frame[4..<(frame.count - 3)], original: original) }
    }
}

final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&value) }
}
