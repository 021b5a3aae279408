import CHelperSandbox
import Foundation
import MediaDomain
import MediaQueue
import MediaSQLite
import MediaStore
import MediaTestSupport
import Testing
@testable import MediaPipeline
@testable import MediaSandbox

/// Issue 19's attacks, tried for real from inside a taken-over helper (`mediaworker-attack-helper`, after the full
/// lock-down, with the real decoders loaded) against a service like `serve`: this test process plays the service,
/// with secrets in its environment, a real SQLite queue in WAL mode and a real blob store holding another
/// customer's file. Every attempt must be refused, and the service must keep serving.
@Suite(.offCooperativePool, .serialized) struct LockdownAttackTests {
    /// What the kernel may answer a refused attack with: the filter (EPERM, ENOSYS), Landlock (EACCES), the
    /// namespaces (ENOENT: not in the helper's root; ESRCH: no such process in its PID namespace).
    static let refusals: Set<String> = ["EPERM", "EACCES", "ENOENT", "ESRCH", "ENOSYS"]

    /// Every attack the attack helper must report (LockdownAttacks.swift).
    static let attacks = [
        "parent_environ", "parent_mem", "parent_cmdline", "parent_fd_3", "process_vm_readv", "ptrace_attach",
        "env_MEDIAWORKER_TOKENS", "env_MEDIAWORKER_CONSOLE_USERS", "env_MEDIAWORKER_SIGNING_KEYS",
        "blob_store", "database", "passwd", "kill_parent", "kill_everyone", "pipe", "fcntl_setown", "fcntl_setsig",
        "fcntl_setfl_async", "sqlite_shm_open", "fcntl_setlk", "fcntl_ofd_setlk", "fcntl_setlease", "flock",
        "fchmodat2", "fchmodat", "chmod", "setxattr", "setxattrat", "name_to_handle_at", "open_by_handle_at",
        "write_file", "database_write", "shmget", "msgget", "semget", "mq_open", "setpriority_parent",
        "sched_setaffinity_parent", "sched_setscheduler_parent", "ioprio_set_parent", "prctl_clear_pdeathsig",
        "prctl_set_dumpable", "socket", "unshare_user", "io_uring_setup", "unknown_syscall_1000", "fork",
    ]

    @Test("a taken-over helper reads, signals, locks, changes and leaks nothing, and the service keeps serving",
          arguments: [false, true])
    /// `alone`: the helper is started directly, as the service's own user and in its namespaces: Landlock, seccomp
    /// and the service's own protections must still refuse everything (each layer holds on its own).
    func everyAttackIsRefused(alone: Bool) async throws {
        // The service's side: not dumpable (as `mediaworker` makes itself at start), a secret in its environment,
        // private data folders with a queue and another customer's original.
        #expect(Sandbox.protectService())
        setenv("MEDIAWORKER_TOKENS", "attack-test-secret-token", 1)
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("lockdown-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: data) }
        let databasePath = data.appendingPathComponent("mediaworker.sqlite").path
        let queue = try SQLiteJobQueue(path: databasePath)
        let store = try FileBlobStore(root: data)
        let otherJob = UUID().uuidString.lowercased()
        try await store.put(jobID: otherJob, role: "original", bytes: Array("another customer's secret file".utf8))
        _ = try await queue.enqueue(NewJob(from: .visitor, fileName: "passport.jpg", conversationId: "+31612345678",
                                           contentSHA256: String(repeating: "0", count: 64), size: 30),
                                    id: UUID().uuidString.lowercased(), now: Date())
        let blob = try #require(FileManager.default.subpathsOfDirectory(atPath: store.root.path)
            .first { $0.hasSuffix("/original") }.map { store.root.appendingPathComponent($0).path })
        let blobFolder = store.root.path
        #expect(FileManager.default.fileExists(atPath: databasePath + "-shm"))
        let priorityBefore = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)

        let pool = try SandboxedPipeline(environment: ["MEDIAWORKER_TOKENS": "attack-test-secret-token",
                                                       "MEDIAWORKER_CONSOLE_USERS": "alice:$2b$12$hash",
                                                       "MEDIAWORKER_SIGNING_KEYS": "attack-test-signing-key"], capacity: 1,
                                         executable: TestBinary.attackHelper.path, launcher: alone ? .direct : nil)
        pool.start()
        defer { pool.shutdown() }
        #expect(pool.status.failure == nil && pool.status.missingProtections.isEmpty, "\(pool.status)")
        let targets = ["parentPid": "\(getpid())", "blob": blob, "blobFolder": blobFolder, "database": databasePath,
                       "databaseShm": databasePath + "-shm"]
        let plan = try JSONSerialization.data(withJSONObject: ["attack": "lockdown", "options": targets])
        let file = Array("MWATTACK\n".utf8) + Array(plan) + Array("\n".utf8)
        var timings = AttachmentPipeline.PhaseTimings()
        let outcome = try pool.process(file, facts: AttachmentFacts(from: .visitor), timings: &timings)
        guard case .rejected(let report) = outcome else { Issue.record("no report: \(outcome)"); return }

        // Every attack was tried and refused by a layer; nothing secret came out in the message.
        let results = Dictionary(report.message.split(separator: ";").map { entry -> (String, String) in
            let parts = entry.split(separator: "=", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }, uniquingKeysWith: { $1 })
        for attack in Self.attacks {
            guard let result = results[attack] else { Issue.record("\(attack): not tried (\(report.message))"); continue }
            #expect(Self.refusals.contains(result), "\(attack): \(result)\(alone ? " (without namespaces)" : "")")
        }
        #expect(!report.message.contains("attack-test-secret-token") && !report.message.contains("secret file"))

        // The service is untouched: its priority, its folder's mode, its queue (no lock held by the idle helper),
        // and it keeps serving: a real photo on the same pool, and a write to the queue within a second.
        #expect(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) == priorityBefore)
        let mode = try FileManager.default.attributesOfItem(atPath: blobFolder)[.posixPermissions] as? Int
        #expect(mode == 0o700)
        let began = ContinuousClock.now
        _ = try await queue.enqueue(NewJob(from: .visitor, contentSHA256: String(repeating: "1", count: 64), size: 1),
                                    id: UUID().uuidString.lowercased(), now: Date())
        #expect(ContinuousClock.now - began < .seconds(5), "the queue is locked")
        let photo = FixtureManifest.named("jpeg-whatsapp-photo")
        #expect(try pool.process(try photo.bytes(), facts: photo.facts, timings: &timings).detectedType == "image/jpeg")
        #expect(pool.statistics.invalidAnswers == 0 && pool.statistics.crashes == 0)
    }
}
