import CHelperSandbox
import Glibc

/// The kernel-enforced limits a helper process puts on itself, before it reads any file: Landlock (entered
/// before main, see CHelperSandbox/landlock.c), then after start-up resource limits, `PR_SET_NO_NEW_PRIVS` and
/// the seccomp allow-list (CHelperSandbox/seccomp_filter.c). Each part is attempted; what the kernel refuses is
/// reported, never hidden. The namespaces and the separate uid come from outside (`HelperLauncher`).
public enum Sandbox {
    /// For the service itself, at start: its memory, environment and open files cannot be read through /proc by
    /// other processes of its user (a helper running as that user, in case every other layer failed).
    public static func protectService() -> Bool {
        mw_not_dumpable() == 0
    }

    /// Descriptors a helper may hold at once (its pipes, libmagic's database, fonts a PDF needs).
    static let openFiles: UInt64 = 64

    /// Applies everything; `memoryBytes` is the data limit (heap and anonymous mappings).
    static func apply(memoryBytes: UInt64) -> Protections {
        var active: [String] = [], missing: [String] = [], unavailable: [String] = []
        func record(_ name: String, _ rc: Int32) {
            if rc == 0 { active.append(name) } else { missing.append("\(name): \(String(cString: strerror(-rc)))") }
        }
        let landlock = mw_landlock_status()
        switch landlock.state {
        case MW_LAYER_ACTIVE:
            active.append("landlock=abi\(landlock.abi)")
            if landlock.scoped != 0 { active.append("landlock_scopes") }
            else { unavailable.append("landlock_scopes: this kernel's Landlock ABI \(landlock.abi) is older than 6") }
        case MW_LAYER_UNAVAILABLE:
            unavailable.append("landlock: this kernel does not offer it (\(String(cString: strerror(landlock.error))))")
        case MW_LAYER_FAILED:
            missing.append("landlock: \(String(cString: strerror(landlock.error)))")
        default:
            missing.append("landlock: not entered before main (the helper must be started as `PROGRAM helper`)")
        }
        // A write past RLIMIT_FSIZE must fail with EFBIG, not kill the helper with SIGXFSZ.
        signal(SIGXFSZ, SIG_IGN)
        record("rlimit_core=0", mw_set_rlimit(mw_rlimit_core(), 0))
        record("rlimit_fsize=0", mw_set_rlimit(mw_rlimit_fsize(), 0))
        record("rlimit_nofile=\(openFiles)", mw_set_rlimit(mw_rlimit_nofile(), openFiles))
        record("rlimit_data=\(memoryBytes)", mw_set_rlimit(mw_rlimit_data(), memoryBytes))
        record("not_dumpable", mw_not_dumpable())
        record("no_new_privs", mw_no_new_privs())
        record("seccomp", mw_seccomp_load())
        return Protections(active: active, missing: missing, unavailable: unavailable)
    }

    /// What the sandbox refuses, tried for real: a socket, a file written, a program run, a signal to
    /// another process. Each attempt is reported
    /// as it happens, with the error it got or `allowed`. Only `mediaworker helper --probe-sandbox` calls this (a flag of
    /// a hidden subcommand, never reachable from a file or a job).
    static func probe(_ report: (String, String) -> Void) {
        func outcome(_ rc: Int32) -> String { rc >= 0 ? "allowed" : String(cString: strerror(errno)) }
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        report("socket", outcome(socketFD))
        if socketFD >= 0 { close(socketFD) }
        let path = "/tmp/mediaworker-sandbox-probe-\(getpid())"
        let fileFD = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        report("write_file", outcome(fileFD))
        if fileFD >= 0 { close(fileFD); unlink(path) }
        // Landlock: a file outside what the decoders load (readable to everyone on the host).
        let passwd = open("/etc/passwd", O_RDONLY | O_CLOEXEC)
        report("read_file_outside", outcome(passwd))
        if passwd >= 0 { close(passwd) }
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        let spawned = posix_spawn(&pid, "/bin/true", nil, nil, argv, environ)
        report("spawn_program", spawned == 0 ? "allowed" : String(cString: strerror(spawned)))
        if spawned == 0 { var status: Int32 = 0; waitpid(pid, &status, 0) }
        // Signal 0 only asks whether a signal could be sent: harmless to the parent even if it were allowed.
        report("signal_parent", outcome(kill(getppid(), 0)))
        // execve last: if it were allowed this process would become /bin/true and print nothing more.
        let rc = execve("/bin/true", argv, environ)
        report("exec_program", outcome(rc))
        argv.forEach { free($0) }
    }
}
