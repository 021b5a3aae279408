import CHelperSandbox
import Foundation
import Glibc
import Testing
@testable import MediaPipeline
@testable import MediaSandbox

/// The helper's seccomp allow-list, call by call: each row runs one system call in a forked child that loaded the
/// filter (CHelperSandbox's `mw_seccomp_try`) and compares what the kernel answered.
@Suite struct SyscallFilterTests {
    /// What a row expects: the filter lets the call reach the kernel, or answers it with an errno itself.
    enum Expect: Sendable { case reachesKernel, refused(Int32) }

    struct Row: CustomStringConvertible, Sendable {
        var name: String
        var nr: Int
        var args: [Int] = []
        var expect: Expect
        var description: String { name }
    }

    /// Addresses of memory the calls read (kept for the process's life; a forked child sees the same addresses).
    static let path = Int(bitPattern: strdup("/etc/ld.so.cache"))
    static let tmpPath = Int(bitPattern: strdup("/tmp/mediaworker-filter-test"))
    static let buffer = Int(bitPattern: UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16))

    static var rows: [Row] {
        let p = path, tmp = tmpPath, buf = buffer
        let cwd = Int(AT_FDCWD)
        let eperm = Expect.refused(EPERM)
        var rows: [Row] = []
            // Allowed: what decoders do.
        rows.append(Row(name: "getpid", nr: Int(SYS_getpid), expect: .reachesKernel))
        rows.append(Row(name: "read of a bad descriptor", nr: Int(SYS_read), args: [-1, buf, 1], expect: .reachesKernel))
        rows.append(Row(name: "openat read-only", nr: Int(SYS_openat), args: [cwd, p, Int(O_RDONLY | O_CLOEXEC)], expect: .reachesKernel))
        rows.append(Row(name: "mmap private anonymous", nr: Int(SYS_mmap), args: [0, 4096, Int(PROT_READ | PROT_WRITE), Int(MAP_PRIVATE | MAP_ANONYMOUS), -1, 0], expect: .reachesKernel))
        rows.append(Row(name: "mmap shared read-only", nr: Int(SYS_mmap), args: [0, 4096, Int(PROT_READ), Int(MAP_SHARED | MAP_ANONYMOUS), -1, 0], expect: .reachesKernel))
        rows.append(Row(name: "fcntl F_GETFL", nr: Int(SYS_fcntl), args: [-1, Int(F_GETFL)], expect: .reachesKernel))
        rows.append(Row(name: "fcntl F_SETFL O_NONBLOCK", nr: Int(SYS_fcntl), args: [-1, Int(F_SETFL), Int(O_NONBLOCK)], expect: .reachesKernel))
        rows.append(Row(name: "prctl PR_SET_NAME", nr: Int(SYS_prctl), args: [Int(PR_SET_NAME), buf], expect: .reachesKernel))
        rows.append(Row(name: "prlimit64 read", nr: Int(SYS_prlimit64), args: [0, Int(RLIMIT_NOFILE.rawValue), 0, buf], expect: .reachesKernel))
        rows.append(Row(name: "clone3 (falls back to clone)", nr: 435, args: [buf, 88], expect: .refused(ENOSYS)))
        rows.append(Row(name: "openat2 (falls back to openat)", nr: 437, args: [cwd, p, buf, 24], expect: .refused(ENOSYS)))
            // Files: no writes, creation, modes, attributes, handles, locks.
        rows.append(Row(name: "openat for writing", nr: Int(SYS_openat), args: [cwd, tmp, Int(O_WRONLY | O_CREAT), 0o600], expect: eperm))
        rows.append(Row(name: "openat read-write", nr: Int(SYS_openat), args: [cwd, p, Int(O_RDWR)], expect: eperm))
        rows.append(Row(name: "openat O_TRUNC", nr: Int(SYS_openat), args: [cwd, p, Int(O_RDONLY | O_TRUNC)], expect: eperm))
        rows.append(Row(name: "openat O_APPEND", nr: Int(SYS_openat), args: [cwd, p, Int(O_RDONLY | O_APPEND)], expect: eperm))
        rows.append(Row(name: "open for writing", nr: Int(SYS_open), args: [tmp, Int(O_WRONLY | O_CREAT), 0o600], expect: eperm))
        rows.append(Row(name: "creat", nr: Int(SYS_creat), args: [tmp, 0o600], expect: eperm))
        rows.append(Row(name: "mmap shared writable", nr: Int(SYS_mmap), args: [0, 4096, Int(PROT_READ | PROT_WRITE), Int(MAP_SHARED), 0, 0], expect: eperm))
        rows.append(Row(name: "chmod", nr: Int(SYS_chmod), args: [tmp, 0], expect: eperm))
        rows.append(Row(name: "fchmod", nr: Int(SYS_fchmod), args: [-1, 0], expect: eperm))
        rows.append(Row(name: "fchmodat", nr: Int(SYS_fchmodat), args: [cwd, tmp, 0], expect: eperm))
        rows.append(Row(name: "fchmodat2", nr: 452, args: [cwd, tmp, 0, 0], expect: eperm))
        rows.append(Row(name: "chown", nr: Int(SYS_chown), args: [tmp, 0, 0], expect: eperm))
        rows.append(Row(name: "fchownat", nr: Int(SYS_fchownat), args: [cwd, tmp, 0, 0, 0], expect: eperm))
        rows.append(Row(name: "setxattr", nr: Int(SYS_setxattr), args: [tmp, buf, buf, 1, 0], expect: eperm))
        rows.append(Row(name: "fsetxattr", nr: Int(SYS_fsetxattr), args: [-1, buf, buf, 1, 0], expect: eperm))
        rows.append(Row(name: "setxattrat", nr: 463, args: [cwd, tmp, 0, buf, buf, 0], expect: eperm))
        rows.append(Row(name: "removexattr", nr: Int(SYS_removexattr), args: [tmp, buf], expect: eperm))
        rows.append(Row(name: "removexattrat", nr: 466, args: [cwd, tmp, 0, buf], expect: eperm))
        rows.append(Row(name: "name_to_handle_at", nr: Int(SYS_name_to_handle_at), args: [cwd, p, buf, buf, 0], expect: eperm))
        rows.append(Row(name: "open_by_handle_at", nr: Int(SYS_open_by_handle_at), args: [cwd, buf, Int(O_RDWR)], expect: eperm))
        rows.append(Row(name: "unlink", nr: Int(SYS_unlink), args: [tmp], expect: eperm))
        rows.append(Row(name: "rename", nr: Int(SYS_rename), args: [tmp, tmp], expect: eperm))
        rows.append(Row(name: "mkdir", nr: Int(SYS_mkdir), args: [tmp, 0o700], expect: eperm))
        rows.append(Row(name: "truncate", nr: Int(SYS_truncate), args: [p, 0], expect: eperm))
        rows.append(Row(name: "flock", nr: Int(SYS_flock), args: [-1, Int(LOCK_SH | LOCK_NB)], expect: eperm))
            // fcntl: owner, signal, locks, leases, notifications, O_ASYNC.
        rows.append(Row(name: "fcntl F_SETOWN", nr: Int(SYS_fcntl), args: [-1, Int(F_SETOWN), 1], expect: eperm))
        rows.append(Row(name: "fcntl F_SETOWN_EX", nr: Int(SYS_fcntl), args: [-1, 15, buf], expect: eperm))
        rows.append(Row(name: "fcntl F_SETSIG", nr: Int(SYS_fcntl), args: [-1, 10, Int(SIGKILL)], expect: eperm))
        rows.append(Row(name: "fcntl F_SETFL O_ASYNC", nr: Int(SYS_fcntl), args: [-1, Int(F_SETFL), Int(O_ASYNC)], expect: eperm))
        rows.append(Row(name: "fcntl F_SETLK", nr: Int(SYS_fcntl), args: [-1, Int(F_SETLK), buf], expect: eperm))
        rows.append(Row(name: "fcntl F_SETLKW", nr: Int(SYS_fcntl), args: [-1, Int(F_SETLKW), buf], expect: eperm))
        rows.append(Row(name: "fcntl F_OFD_SETLK", nr: Int(SYS_fcntl), args: [-1, 37, buf], expect: eperm))
        rows.append(Row(name: "fcntl F_OFD_SETLKW", nr: Int(SYS_fcntl), args: [-1, 38, buf], expect: eperm))
        rows.append(Row(name: "fcntl F_SETLEASE", nr: Int(SYS_fcntl), args: [-1, 1024, Int(F_RDLCK)], expect: eperm))
        rows.append(Row(name: "fcntl F_NOTIFY", nr: Int(SYS_fcntl), args: [-1, 1026, 1], expect: eperm))
            // Processes: no new ones, no programs, signals only to itself, nobody else's priority or scheduling.
        rows.append(Row(name: "fork", nr: Int(SYS_fork), expect: eperm))
        rows.append(Row(name: "vfork", nr: Int(SYS_vfork), expect: eperm))
        rows.append(Row(name: "clone without CLONE_THREAD", nr: Int(SYS_clone), args: [Int(SIGCHLD), 0, 0, 0, 0], expect: eperm))
        rows.append(Row(name: "clone into a new user namespace", nr: Int(SYS_clone), args: [0x10000000 | 0x00010000 | 0x00000100 | 0x00000800, 0, 0, 0, 0], expect: eperm))
        rows.append(Row(name: "execve", nr: Int(SYS_execve), args: [p, 0, 0], expect: eperm))
        rows.append(Row(name: "execveat", nr: Int(SYS_execveat), args: [cwd, p, 0, 0, 0], expect: eperm))
        rows.append(Row(name: "kill another process", nr: Int(SYS_kill), args: [1, 0], expect: eperm))
        rows.append(Row(name: "kill everyone", nr: Int(SYS_kill), args: [-1, 0], expect: eperm))
        rows.append(Row(name: "tkill", nr: Int(SYS_tkill), args: [1, 0], expect: eperm))
        rows.append(Row(name: "tgkill another process", nr: Int(SYS_tgkill), args: [1, 1, 0], expect: eperm))
        rows.append(Row(name: "pidfd_open", nr: Int(SYS_pidfd_open), args: [1, 0], expect: eperm))
        rows.append(Row(name: "pidfd_send_signal", nr: 424, args: [0, 0, 0, 0], expect: eperm))
        rows.append(Row(name: "ptrace", nr: Int(SYS_ptrace), args: [16, 1, 0, 0], expect: eperm))
        rows.append(Row(name: "process_vm_readv", nr: Int(SYS_process_vm_readv), args: [1, buf, 1, buf, 1, 0], expect: eperm))
        rows.append(Row(name: "setpriority", nr: Int(SYS_setpriority), args: [0, 1, 19], expect: eperm))
        rows.append(Row(name: "sched_setaffinity", nr: Int(SYS_sched_setaffinity), args: [1, 128, buf], expect: eperm))
        rows.append(Row(name: "sched_setscheduler", nr: Int(SYS_sched_setscheduler), args: [1, 5, buf], expect: eperm))
        rows.append(Row(name: "sched_setparam", nr: Int(SYS_sched_setparam), args: [1, buf], expect: eperm))
        rows.append(Row(name: "sched_setattr", nr: Int(SYS_sched_setattr), args: [1, buf, 0], expect: eperm))
        rows.append(Row(name: "ioprio_set", nr: Int(SYS_ioprio_set), args: [1, 1, 7 << 13], expect: eperm))
        rows.append(Row(name: "setrlimit", nr: Int(SYS_setrlimit), args: [Int(RLIMIT_NOFILE.rawValue), buf], expect: eperm))
        rows.append(Row(name: "prlimit64 of another process", nr: Int(SYS_prlimit64), args: [1, Int(RLIMIT_NOFILE.rawValue), 0, buf], expect: eperm))
        rows.append(Row(name: "prlimit64 setting a limit", nr: Int(SYS_prlimit64), args: [0, Int(RLIMIT_NOFILE.rawValue), buf, 0], expect: eperm))
        rows.append(Row(name: "prctl PR_SET_PDEATHSIG", nr: Int(SYS_prctl), args: [Int(PR_SET_PDEATHSIG), 0], expect: eperm))
        rows.append(Row(name: "prctl PR_SET_DUMPABLE", nr: Int(SYS_prctl), args: [Int(PR_SET_DUMPABLE), 1], expect: eperm))
        rows.append(Row(name: "prctl PR_SET_SECCOMP", nr: Int(SYS_prctl), args: [22, 0], expect: eperm))
        rows.append(Row(name: "prctl PR_SET_PTRACER", nr: Int(SYS_prctl), args: [0x59616d61, -1], expect: eperm))
        rows.append(Row(name: "ioctl TIOCSTI", nr: Int(SYS_ioctl), args: [-1, 0x5412, buf], expect: eperm))
            // IPC that outlives the helper.
        rows.append(Row(name: "shmget", nr: Int(SYS_shmget), args: [0, 4096, 0o1600], expect: eperm))
        rows.append(Row(name: "shmat", nr: Int(SYS_shmat), args: [0, 0, 0], expect: eperm))
        rows.append(Row(name: "msgget", nr: Int(SYS_msgget), args: [0, 0o1600], expect: eperm))
        rows.append(Row(name: "semget", nr: Int(SYS_semget), args: [0, 1, 0o1600], expect: eperm))
        rows.append(Row(name: "mq_open", nr: Int(SYS_mq_open), args: [p, Int(O_RDWR | O_CREAT), 0o600, 0], expect: eperm))
            // Network and the kernel's wider surface.
        rows.append(Row(name: "pipe2 (a descriptor to hand a signal owner)", nr: Int(SYS_pipe2), args: [buf, 0], expect: eperm))
        rows.append(Row(name: "socket", nr: Int(SYS_socket), args: [Int(AF_UNIX), 1, 0], expect: eperm))
        rows.append(Row(name: "socketpair", nr: Int(SYS_socketpair), args: [Int(AF_UNIX), 1, 0, buf], expect: eperm))
        rows.append(Row(name: "unshare", nr: Int(SYS_unshare), args: [0x10000000], expect: eperm))
        rows.append(Row(name: "setns", nr: Int(SYS_setns), args: [0, 0], expect: eperm))
        rows.append(Row(name: "mount", nr: Int(SYS_mount), args: [p, p, 0, 0, 0], expect: eperm))
        rows.append(Row(name: "bpf", nr: Int(SYS_bpf), args: [0, buf, 8], expect: eperm))
        rows.append(Row(name: "perf_event_open", nr: Int(SYS_perf_event_open), args: [buf, 0, -1, -1, 0], expect: eperm))
        rows.append(Row(name: "userfaultfd", nr: Int(SYS_userfaultfd), args: [0], expect: eperm))
        rows.append(Row(name: "io_uring_setup", nr: 425, args: [1, buf], expect: eperm))
        rows.append(Row(name: "keyctl", nr: Int(SYS_keyctl), args: [0, 0], expect: eperm))
        rows.append(Row(name: "memfd_create", nr: Int(SYS_memfd_create), args: [p, 0], expect: eperm))
        rows.append(Row(name: "seccomp (another filter)", nr: Int(SYS_seccomp), args: [1, 0, 0], expect: eperm))
        // Numbers the filter does not know: refused whatever a newer kernel would make of them.
        for nr in [467, 470, 480, 511, 600, 1000, 4095] {
            rows.append(Row(name: "unknown system call \(nr)", nr: nr, expect: eperm))
        }
        return rows
    }

    @Test("every row of the matrix", arguments: rows)
    func matrix(_ row: Row) {
        var a = row.args.map { Int($0) }
        while a.count < 6 { a.append(0) }
        let result = mw_seccomp_try(row.nr, a[0], a[1], a[2], a[3], a[4], a[5])
        #expect(result > -100_000, "\(row.name): the test harness failed (\(result))")
        switch row.expect {
        case .reachesKernel:
            #expect(result != -Int(EPERM) && result != -Int(ENOSYS), "\(row.name) was refused by the filter: \(result)")
        case .refused(let errno):
            #expect(result == -Int(errno), "\(row.name): expected -\(errno), got \(result)")
        }
    }

    @Test("a helper's environment is an allow-list: no console users, tokens, keys, database URLs or unknown variables")
    func environmentAllowList() {
        let service = [
            "MEDIAWORKER_CONSOLE_USERS": "alice:$2b$12$hash", "MEDIAWORKER_TOKENS": "t", "MEDIAWORKER_SIGNING_KEYS": "k",
            "MEDIAWORKER_DATABASE": "postgres://u:p@h/db", "MEDIAWORKER_CALLBACK_SECRET": "s", "AWS_SECRET_ACCESS_KEY": "x",
            "MEDIAWORKER_SOMETHING_NEW": "y", "HOME": "/root", "MEDIAWORKER_MAX_BYTES": "1000", "LANG": "C.UTF-8",
            "MEDIAWORKER_HELPER_MEMORY_MB": "512", "VIPS_CONCURRENCY": "1", "MEDIAWORKER_TIME_LIMIT": "5",
        ]
        let helper = SandboxedPipeline.helperEnvironment(service)
        #expect(Set(helper.keys) == ["MEDIAWORKER_MAX_BYTES", "MEDIAWORKER_HELPER_MEMORY_MB", "VIPS_CONCURRENCY",
                                     "MEDIAWORKER_TIME_LIMIT", "LANG", "PATH"])
    }

    @Test("the allow-lists name exactly the variables the pipeline's and helpers' settings read")
    func environmentKeysMatchTheReaders() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for (file, keys) in [("Sources/MediaPipeline/PipelineSettings.swift", PipelineSettings.environmentKeys),
                             ("Sources/MediaSandbox/HelperSettings.swift", HelperSettings.environmentKeys)] {
            let source = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            // The keys the reader reads: `env.int("MEDIAWORKER_…"` and friends, plus maxBytes().
            let read = Set(source.matches(of: /env\.[a-zA-Z]+\("(MEDIAWORKER_[A-Z0-9_]+)"/).map { String($0.1) })
                .union(source.contains("env.maxBytes()") ? ["MEDIAWORKER_MAX_BYTES"] : [])
            #expect(!read.isEmpty)
            #expect(read == keys, "\(file): read \(read.subtracting(keys)) not listed; listed \(keys.subtracting(read)) not read")
        }
    }
}
