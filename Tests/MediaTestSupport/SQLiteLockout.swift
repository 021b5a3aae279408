import Foundation

/// A real outage of a SQLite database in WAL mode: another process (python3, from the test packages) takes every
/// WAL lock of the database — the writer lock, the checkpoint and recovery locks and all five reader slots, bytes
/// 120–127 of the `-shm` file as SQLite's WAL-index format documents them — and holds them until `end()`. No
/// connection of any process can then read or write the database: each call fails after SQLite's own waiting
/// (about 10 s of retries, then SQLITE_PROTOCOL "locking protocol"; a writer already waiting gets SQLITE_BUSY
/// after its busy timeout). Ending the holder ends the outage, as when a process holding a lock exits.
public final class SQLiteLockout: @unchecked Sendable {
    private let pid: pid_t
    private let lock = NSLock()
    private var ended = false

    static let holder = """
        import fcntl, os, sys, time
        path, marker, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
        fd = os.open(path + "-shm", os.O_RDWR)
        deadline = time.time() + 30
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 8, 120, os.SEEK_SET)
                break
            except OSError:
                if time.time() > deadline:
                    sys.exit("could not take the WAL locks within 30 s")
                time.sleep(0.0005)
        open(marker, "w").close()
        time.sleep(limit)
        """

    /// Takes the locks of the WAL database at `path` (open in WAL mode, so its `-shm` file exists); returns once they
    /// are held. They are given back by `end()`, or after `limit` seconds at the latest (a test that stops early).
    public init(databasePath path: String, limit: TimeInterval = 300) throws {
        let marker = path + ".locked-\(UUID().uuidString)"
        guard let python = ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { throw Failed(reason: "python3 not found") }
        let arguments = [python, "-c", Self.holder, path, marker, "\(limit)"]
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let rc = posix_spawn(&pid, python, &actions, nil, argv, environ)
        guard rc == 0 else { throw Failed(reason: "posix_spawn \(python): \(rc)") }
        self.pid = pid
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let deadline = Date().addingTimeInterval(40)
        while !FileManager.default.fileExists(atPath: marker) {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                ended = true
                throw Failed(reason: "the lock holder exited (status \(status))")
            }
            guard Date() < deadline else {
                end()
                throw Failed(reason: "the lock holder did not take the locks")
            }
            usleep(1000)
        }
    }

    deinit { end() }

    /// Gives the locks back (the holder is killed and reaped); the database answers again.
    public func end() {
        let pid: pid_t? = lock.withLock {
            defer { ended = true }
            return ended ? nil : self.pid
        }
        guard let pid else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    public struct Failed: Error, CustomStringConvertible {
        public var reason: String
        public var description: String { "SQLite lockout: \(reason)" }
    }
}
