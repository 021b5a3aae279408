import CHelperSandbox
import Foundation
import Synchronization
import Glibc

/// How a helper process is started: the command line in front of `executable helper`, which puts it in its own
/// user, PID, IPC, network, UTS and mount namespaces (bubblewrap) with an empty root and read-only binds of only
/// what the decoders load, under a separate uid when the service runs as root.
///
/// Why bubblewrap rather than our own `clone`/`pivot_root`: it is the audited, maintained tool Flatpak and GNOME's
/// thumbnailers use for exactly this, it runs unprivileged on user namespaces, and it keeps the namespace set-up
/// (uid maps, mount propagation, pivot_root, a reaping PID 1) out of this codebase. The helper still confines
/// itself inside it (Landlock before main, seccomp after start-up, rlimits): each layer holds on its own.
public struct HelperLauncher: Sendable, Equatable {
    /// The program and arguments run before the helper's own command line (empty: the helper is run directly).
    public var prefix: [String]
    /// The layers this launcher gives, such as `namespaces=user,pid,ipc,net,uts,mount` or `uid=999`.
    public var active: [String]
    /// Layers the host does not offer (user namespaces disabled, no helper user): `name: why`.
    public var unavailable: [String]
    /// Layers the host offers but that could not be set up: `name: why` (fatal while the sandbox is required).
    public var missing: [String]
    /// Whether exit statuses come through bubblewrap (128 + signal for a helper killed by a signal).
    public var throughBubblewrap: Bool

    /// The helper runs directly, with only its own confinement (tests of the in-process layers).
    public static let direct = HelperLauncher(prefix: [], active: [], unavailable: [], missing: [])

    public init(prefix: [String], active: [String], unavailable: [String], missing: [String],
                throughBubblewrap: Bool = false) {
        self.throughBubblewrap = throughBubblewrap
        self.prefix = prefix
        self.active = active
        self.unavailable = unavailable
        self.missing = missing
    }

    /// The launcher for `executable` on this host. `helperUser` is the account helpers run as when this process
    /// runs as root (`MEDIAWORKER_HELPER_USER`). Checks once that bubblewrap can create the namespaces here.
    public static func forHost(executable: String, helperUser: String) -> HelperLauncher {
        // Decided once per process and program: the host does not change under a running service, and the
        // decision costs a `ldd`, a copy of the program where its folder is closed to the helper user, and a
        // bubblewrap probe (about a second in a debug build) — paid again by every pool otherwise.
        let key = executable + "\u{0}" + helperUser
        if let known = decided.withLock({ $0[key] }) { return known }
        let launcher = decide(executable: executable, helperUser: helperUser)
        decided.withLock { $0[key] = launcher }
        return launcher
    }

    private static let decided = Mutex<[String: HelperLauncher]>([:])

    private static func decide(executable: String, helperUser: String) -> HelperLauncher {
        var active: [String] = [], unavailable: [String] = [], missing: [String] = []
        var prefix: [String] = []
        // As root, the helper first becomes the helper user: then even a helper that left every namespace would
        // hold no privilege, and the service's 0700 data folders are closed to it.
        if geteuid() == 0 {
            if let account = getpwnam(helperUser), account.pointee.pw_uid != 0 {
                guard let setpriv = findProgram("setpriv") else {
                    missing.append("uid: setpriv (util-linux) is not installed")
                    return HelperLauncher(prefix: [], active: [], unavailable: unavailable, missing: missing)
                }
                let uid = account.pointee.pw_uid, gid = account.pointee.pw_gid
                prefix = [setpriv, "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--"]
                active.append("uid=\(uid)")
            } else {
                missing.append("uid: the service runs as root and there is no user \(helperUser) to run helpers as "
                               + "(useradd --system --no-create-home --shell /usr/sbin/nologin \(helperUser))")
            }
        }
        guard let bwrap = findProgram("bwrap") else {
            missing.append("namespaces: bubblewrap (bwrap) is not installed")
            return HelperLauncher(prefix: [], active: active, unavailable: unavailable, missing: missing)
        }
        let wrapped = prefix + [bwrap] + bubblewrapArguments(executable: executable)
        switch namespacesWork(prefix + [bwrap]) {
        case .success:
            active.append("namespaces=user,pid,ipc,net,uts,mount")
            return HelperLauncher(prefix: wrapped, active: active, unavailable: unavailable, missing: missing,
                                  throughBubblewrap: true)
        case .failure(let why):
            // User namespaces switched off (sysctl, a container's seccomp profile): the host does not offer them.
            unavailable.append("namespaces: bubblewrap cannot create them here (\(why))")
            return HelperLauncher(prefix: prefix, active: active, unavailable: unavailable, missing: missing)
        }
    }

    /// bubblewrap's options: every namespace, an empty root (a tmpfs), read-only binds of /usr (with the merged-/usr
    /// links), the few files of /etc the codecs read, the directories of libraries outside /usr that this program
    /// loads (the Swift runtime), the executable itself, a fresh /proc of the helper's own PID namespace and
    /// a minimal /dev. No data folder, socket, home or /tmp is there.
    static func bubblewrapArguments(executable: String) -> [String] {
        var args = namespaceOptions + ["--ro-bind", "/usr", "/usr"]
        for (link, target) in [("/lib", "usr/lib"), ("/lib64", "usr/lib64"), ("/bin", "usr/bin"), ("/sbin", "usr/sbin")] {
            if let dest = try? FileManager.default.destinationOfSymbolicLink(atPath: link), dest.hasSuffix(target) {
                args += ["--symlink", target, link]
            } else if FileManager.default.fileExists(atPath: link) {
                args += ["--ro-bind", link, link]
            }
        }
        // The same host paths Landlock lets the helper read (CHelperSandbox/landlock.c).
        var i: Int32 = 0
        while let path = mw_helper_host_path(i).map({ String(cString: $0) }) {
            args += ["--ro-bind-try", path, path]
            i += 1
        }
        for dir in libraryDirectories(of: executable) { args += ["--ro-bind", dir, dir] }
        args += ["--ro-bind", reachableCopy(of: realPath(executable)), sandboxedPath(executable)]
        args += ["--proc", "/proc", "--dev", "/dev", "--chdir", "/", "--"]
        return args
    }

    /// `path`, or a copy of it that any user can reach: bubblewrap opens the source of a bind as the helper user,
    /// who needs the search right on every folder above it (a checkout or build folder may be private to root).
    /// The copy lives in a root-owned, world-readable folder under /tmp named after the program's inode and time.
    static func reachableCopy(of path: String) -> String {
        var dir = (path as NSString).deletingLastPathComponent
        var reachable = true
        while !dir.isEmpty && dir != "/" {
            var st = stat()
            if stat(dir, &st) != 0 || st.st_mode & S_IXOTH == 0 { reachable = false; break }
            dir = (dir as NSString).deletingLastPathComponent
        }
        var st = stat()
        guard stat(path, &st) == 0 else { return path }
        if reachable && st.st_mode & (S_IROTH | S_IXOTH) == (S_IROTH | S_IXOTH) { return path }
        let folder = "/tmp/mediaworker-helper-program-\(geteuid())-\(st.st_ino)-\(st.st_mtim.tv_sec)"
        let copy = folder + "/" + (path as NSString).lastPathComponent
        if access(copy, R_OK) == 0 { return copy }
        mkdir(folder, 0o755)
        chmod(folder, 0o755)  // whatever the umask
        let temporary = copy + ".\(getpid()).tmp"
        guard (try? FileManager.default.copyItem(atPath: path, toPath: temporary)) != nil else { return path }
        chmod(temporary, 0o755)
        rename(temporary, copy)
        return copy
    }

    /// Where the executable is inside the sandbox: /app/NAME (the folder it lives in outside stays hidden).
    static func sandboxedPath(_ executable: String) -> String {
        "/app/" + (realPath(executable) as NSString).lastPathComponent
    }

    /// Every namespace, no nested user namespaces, and death with the service.
    static let namespaceOptions = ["--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-net", "--unshare-uts",
                                   "--unshare-cgroup-try", "--disable-userns", "--die-with-parent"]

    /// Directories outside /usr holding the shared libraries `executable` loads (the Swift runtime of a toolchain
    /// in /opt), as the dynamic loader resolves them (`ldd`, which runs only the loader on our own program).
    static func libraryDirectories(of executable: String) -> [String] {
        guard let ldd = findProgram("ldd") else { return [] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ldd)
        process.arguments = [realPath(executable)]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return [] }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        var dirs: [String] = []
        for line in text.split(separator: "\n") {
            // "\tlibswiftCore.so => /opt/swift/usr/lib/swift/linux/libswiftCore.so (0x…)"
            guard let arrow = line.range(of: "=> /") else { continue }
            let path = String(line[line.index(before: arrow.upperBound)...].prefix { $0 != " " })
            let dir = realPath((path as NSString).deletingLastPathComponent)
            if !dir.hasPrefix("/usr/") && dir != "/" && !dirs.contains(dir) { dirs.append(dir) }
        }
        return dirs
    }

    /// The path with every symbolic link resolved (`/proc/self/exe` becomes the program's own path).
    static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// An installed program, found on PATH (then /usr/bin, /bin).
    static func findProgram(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":").map(String.init) + ["/usr/bin", "/bin"] {
            let candidate = dir + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs `/usr/bin/true`-like check: bubblewrap with the same namespaces around a program that exits at once.
    private static func namespacesWork(_ launcher: [String]) -> Result<Void, CheckFailure> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: launcher[0])
        process.arguments = Array(launcher.dropFirst()) + namespaceOptions + [
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "--", "/usr/bin/true"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return .failure(CheckFailure(why: "\(error)")) }
        let said = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if process.terminationStatus == 0 { return .success(()) }
        let text = String(decoding: said, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return .failure(CheckFailure(why: text.isEmpty ? "exit status \(process.terminationStatus)" : String(text.prefix(300))))
    }

    private struct CheckFailure: Error { var why: String }

    /// A wait status of the process this launcher started, as if the helper itself had been waited for:
    /// bubblewrap exits with 128 + N when the helper was killed by signal N.
    func helperStatus(_ status: Int32) -> Int32 {
        guard throughBubblewrap, status & 0x7F == 0 else { return status }
        let code = (status >> 8) & 0xFF
        return code > 128 && code < 128 + 65 ? Int32(code - 128) : status
    }
}
