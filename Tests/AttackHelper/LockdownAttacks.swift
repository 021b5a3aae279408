import CHelperSandbox
import Glibc

/// What a taken-over helper tries after the full lock-down (threat-model.md, issue 19's findings 1–4 and 6): each
/// attempt is made for real, with the real decoders loaded, and reported as `refused: <errno>` or `ALLOWED: …`.
///
/// `targets` names what lies outside the helper: `parentPid` (the service, in the service's PID namespace),
/// `blob` (another job's original), `blobFolder`, `database`, `databaseShm` (SQLite's WAL index).
enum LockdownAttacks {
    typealias Report = [(attack: String, result: String, errno: Int32)]

    /// A raw system call (Swift cannot call the variadic syscall(2)).
    static func sys(_ nr: Int, _ args: Any...) -> Int {
        var a = args.map { arg -> Int in
            switch arg {
            case let v as Int: return v
            case let v as Int32: return Int(v)
            case let v as UInt32: return Int(v)
            case let v as String: return Int(bitPattern: UnsafeRawPointer(strdup(v)))  // leaked: the helper is disposable
            case let v as UnsafeMutableRawPointer: return Int(bitPattern: v)
            case let v as UnsafeRawPointer: return Int(bitPattern: v)
            case let v as UnsafeMutablePointer<iovec>: return Int(bitPattern: v)
            default: return 0
            }
        }
        while a.count < 6 { a.append(0) }
        return mw_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5])
    }

    static func run(targets: [String: String]) -> Report {
        var report: Report = []
        func refused(_ rc: Int) -> String { "refused: \(String(cString: strerror(errno)))" }
        func note(_ attack: String, _ rc: Int, allowed: String = "") {
            let error = errno
            report.append((attack, rc < 0 ? refused(rc) : "ALLOWED\(allowed.isEmpty ? "" : ": \(allowed)")", rc < 0 ? error : 0))
        }
        /// Opens and reads a file: ALLOWED with the first bytes when anything could be read.
        func read(_ attack: String, _ path: String) {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { note(attack, -1); return }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 64)
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 { note(attack, -1); return }
            note(attack, 0, allowed: "read \(n) bytes: \(String(decoding: buffer[0..<max(0, n)], as: UTF8.self).prefix(24))")
        }
        let parent = Int32(targets["parentPid"] ?? "") ?? getppid()

        // 1. The service's secrets and other customers' data.
        read("parent_environ", "/proc/\(parent)/environ")
        read("parent_mem", "/proc/\(parent)/mem")
        read("parent_cmdline", "/proc/\(parent)/cmdline")
        for fd in 0..<8 { read("parent_fd_\(fd)", "/proc/\(parent)/fd/\(fd)") }
        // Two iovecs in scratch memory: one byte here, one byte at a typical address of the service.
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
        scratch.initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
        let iovecs = scratch.bindMemory(to: iovec.self, capacity: 2)
        iovecs[0] = iovec(iov_base: scratch + 1024, iov_len: 1)
        iovecs[1] = iovec(iov_base: UnsafeMutableRawPointer(bitPattern: 0x400000), iov_len: 1)
        note("process_vm_readv", sys(Int(SYS_process_vm_readv), parent, UnsafeMutableRawPointer(iovecs), 1,
                                     UnsafeMutableRawPointer(iovecs + 1), 1, 0))
        note("ptrace_attach", Int(sys(Int(SYS_ptrace), 16 /* PTRACE_ATTACH */, parent, 0, 0)))
        // The service's secrets in the helper's own environment (the allow-list must have dropped them).
        for name in ["MEDIAWORKER_TOKENS", "MEDIAWORKER_CONSOLE_USERS", "MEDIAWORKER_SIGNING_KEYS"] {
            if let value = getenv(name) { note("env_\(name)", 0, allowed: String(cString: value)) }
            else { errno = ENOENT; note("env_\(name)", -1) }
        }
        if let blob = targets["blob"] { read("blob_store", blob) }
        if let database = targets["database"] { read("database", database) }
        read("passwd", "/etc/passwd")
        read("root_home", "/root/.bash_history")

        // 2. Signals to the service: directly, to everyone, and through a pipe's owner (F_SETOWN + O_ASYNC).
        note("kill_parent", Int(kill(parent, 0)))  // signal 0: the same permission check as SIGSTOP, harmless if it passed
        note("kill_everyone", Int(kill(-1, 0)))
        // The issue's attack made a pipe of its own; a descriptor it already holds (its stdin) does as well when
        // pipes are refused.
        var fds: [Int32] = [-1, -1]
        let piped = pipe(&fds)
        note("pipe", Int(piped))
        let target = piped == 0 ? fds[0] : 0
        note("fcntl_setown", Int(fcntl(target, F_SETOWN, parent)))
        note("fcntl_setsig", Int(fcntl(target, 10 /* F_SETSIG */, SIGKILL)))
        note("fcntl_setfl_async", Int(fcntl(target, F_SETFL, O_ASYNC | O_NONBLOCK)))
        if piped == 0 { close(fds[0]); close(fds[1]) }

        // 3. Locks on the service's files (SQLite's WAL write lock) and on any file at all.
        if let shm = targets["databaseShm"] {
            let fd = open(shm, O_RDONLY | O_CLOEXEC)
            if fd < 0 { note("sqlite_shm_open", -1) } else {
                var lock = flock(l_type: Int16(F_RDLCK), l_whence: Int16(SEEK_SET), l_start: 120, l_len: 1, l_pid: 0)
                note("sqlite_shm_lock", Int(fcntl(fd, F_SETLK, &lock)))
                close(fd)
            }
        }
        let library = open("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC)
        if library >= 0 {
            var lock = flock(l_type: Int16(F_RDLCK), l_whence: Int16(SEEK_SET), l_start: 0, l_len: 1, l_pid: 0)
            note("fcntl_setlk", Int(fcntl(library, F_SETLK, &lock)))
            note("fcntl_ofd_setlk", Int(fcntl(library, 37 /* F_OFD_SETLK */, &lock)))
            note("fcntl_setlease", Int(fcntl(library, 1024 /* F_SETLEASE */, Int32(F_RDLCK))))
            note("flock", sys(Int(SYS_flock), library, LOCK_SH | LOCK_NB))
            // A shared writable mapping of a file writes the file.
            let mapped = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, library, 0)
            note("mmap_shared_writable", mapped == MAP_FAILED ? -1 : 0)
            if mapped != MAP_FAILED { munmap(mapped, 4096) }
            close(library)
        }

        // 4. Changes to the store: modes, extended attributes, handle-based opens, writes.
        let folder = targets["blobFolder"] ?? "/usr/lib"
        note("fchmodat2", Int(sys(452, AT_FDCWD, folder, 0, 0)))
        note("fchmodat", Int(sys(Int(SYS_fchmodat), AT_FDCWD, folder, 0)))
        note("chmod", Int(chmod(folder, 0)))
        note("setxattr", sys(Int(SYS_setxattr), folder, "user.mw", "x", 1, 0))
        note("setxattrat", Int(sys(463, AT_FDCWD, folder, 0, "user.mw", 0, 0)))
        let handle = scratch + 2048
        handle.storeBytes(of: UInt32(128), as: UInt32.self)  // handle_bytes
        note("name_to_handle_at", sys(Int(SYS_name_to_handle_at), AT_FDCWD, folder, handle, scratch + 3072, 0))
        note("open_by_handle_at", sys(Int(SYS_open_by_handle_at), AT_FDCWD, handle, O_RDWR))
        note("write_file", Int(open("/tmp/mediaworker-attack", O_WRONLY | O_CREAT | O_TRUNC, 0o600)))
        if let database = targets["database"] { note("database_write", Int(open(database, O_RDWR))) }

        // 6. IPC that outlives the helper, the service's priority and scheduling, its own guard rails.
        note("shmget", Int(sys(Int(SYS_shmget), 0 /* IPC_PRIVATE */, 4096, 0o1600)))
        note("msgget", Int(sys(Int(SYS_msgget), 0, 0o1600)))
        note("semget", Int(sys(Int(SYS_semget), 0, 1, 0o1600)))
        note("mq_open", Int(sys(Int(SYS_mq_open), "mediaworker-attack", O_RDWR | O_CREAT, 0o600, 0)))
        note("setpriority_parent", Int(setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(parent), 19)))
        (scratch + 3072).storeBytes(of: UInt64(1), as: UInt64.self)  // a CPU set with CPU 0
        note("sched_setaffinity_parent", sys(Int(SYS_sched_setaffinity), parent, 8, scratch + 3072))
        (scratch + 3584).storeBytes(of: Int32(0), as: Int32.self)  // sched_param { 0 }
        note("sched_setscheduler_parent", sys(Int(SYS_sched_setscheduler), parent, 5 /* SCHED_IDLE */, scratch + 3584))
        note("ioprio_set_parent", Int(sys(Int(SYS_ioprio_set), 1 /* IOPRIO_WHO_PROCESS */, parent, 7 << 13)))
        note("prctl_clear_pdeathsig", sys(Int(SYS_prctl), PR_SET_PDEATHSIG, 0))
        note("prctl_set_dumpable", sys(Int(SYS_prctl), PR_SET_DUMPABLE, 1))

        // Everything else a filter must know to refuse.
        note("socket", Int(socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)))
        note("unshare_user", sys(Int(SYS_unshare), 0x10000000 /* CLONE_NEWUSER */))
        note("io_uring_setup", sys(425, 1, scratch + 1536))
        note("unknown_syscall_1000", Int(sys(1000, 0, 0, 0)))
        note("fork", Int(sys(Int(SYS_fork))))
        return report
    }

    /// `attack=errno-name` for each attempt, `;`-separated (short enough for a rejection message, which the parent
    /// caps at 2,048 bytes); an allowed one as `attack=ALLOWED(what it got)`.
    static func summary(_ report: Report) -> String {
        report.map { entry -> String in
            if entry.result.hasPrefix("refused: ") { return "\(entry.attack)=\(errnoName(entry.errno))" }
            return "\(entry.attack)=ALLOWED(\(entry.result.dropFirst(7).prefix(40)))"
        }.joined(separator: ";")
    }

    static func errnoName(_ e: Int32) -> String {
        switch e {
        case EPERM: return "EPERM"
        case EACCES: return "EACCES"
        case ENOENT: return "ENOENT"
        case ESRCH: return "ESRCH"
        case ENOSYS: return "ENOSYS"
        case EFAULT: return "EFAULT"
        case EINVAL: return "EINVAL"
        case EBADF: return "EBADF"
        default: return "E\(e)"
        }
    }
}
