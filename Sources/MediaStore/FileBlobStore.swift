import Foundation
import MediaDomain

/// Blobs as files under a root folder: `ROOT/blobs/<first 2 hex of the id's random part>/<job id>/<role>`.
/// Writes go to a temporary file in the same folder, are fsynced, renamed over the target, and the folder
/// is fsynced, so a crash leaves the old blob or the new one, whole.
public final class FileBlobStore: BlobStore {
    public let root: URL

    /// `root` is created when missing (`MEDIAWORKER_DATA`, default `./data`).
    public init(root: URL) throws {
        self.root = root.appendingPathComponent("blobs", isDirectory: true)
        try FileManager.default.createDirectory(at: self.root, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        // Private to the service's user even when an older version made it readable to others.
        chmod(self.root.path, 0o700)
    }

    /// Job ids are UUIDs and roles are lower-case words: nothing else can reach the file system.
    func folder(_ jobID: String) throws -> URL {
        try BlobKey.check(jobID: jobID)
        let shard = String(jobID.suffix(2)).lowercased()
        return root.appendingPathComponent(shard, isDirectory: true).appendingPathComponent(jobID.lowercased(), isDirectory: true)
    }

    func file(_ jobID: String, _ role: String) throws -> URL {
        try BlobKey.check(jobID: jobID, role: role)
        return try folder(jobID).appendingPathComponent(role)
    }

    public func put(jobID: String, role: String, bytes: [UInt8]) async throws {
        let target = try file(jobID, role)
        let dir = target.deletingLastPathComponent()
        // A folder made here is only durable once its parent is fsynced too (the shard, then the blobs root).
        let shard = dir.deletingLastPathComponent()
        let newShard = !FileManager.default.fileExists(atPath: shard.path)
        let newDir = newShard || !FileManager.default.fileExists(atPath: dir.path)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        if newShard { try Self.syncFolder(shard.deletingLastPathComponent()) }
        if newDir { try Self.syncFolder(shard) }
        let temporary = dir.appendingPathComponent(".\(role).\(UInt64.random(in: 0...UInt64.max)).tmp")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError.current("create \(temporary.path)") }
        var ok = false
        defer {
            if !ok { unlink(temporary.path) }
        }
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    let error = POSIXError.current("write \(temporary.path)")
                    close(fd)
                    throw error
                }
                offset += n
            }
        }
        guard fsync(fd) == 0 else {
            let error = POSIXError.current("fsync \(temporary.path)")
            close(fd)
            throw error
        }
        // close reports a deferred write error on some file systems (NFS): the blob is not taken as written.
        guard close(fd) == 0 else { throw POSIXError.current("close \(temporary.path)") }
        guard rename(temporary.path, target.path) == 0 else { throw POSIXError.current("rename to \(target.path)") }
        ok = true
        try Self.syncFolder(dir)
    }

    /// fsync of a folder, so the names in it (a rename, a new subfolder) survive a power cut.
    static func syncFolder(_ folder: URL) throws {
        let fd = open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXError.current("open \(folder.path)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw POSIXError.current("fsync \(folder.path)") }
    }

    public func get(jobID: String, role: String) async throws -> [UInt8]? {
        let path = try file(jobID, role).path
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw POSIXError.current("read \(path)") }
            return nil
        }
        return [UInt8](data)
    }

    public func size(jobID: String, role: String) async throws -> Int? {
        var st = stat()
        let path = try file(jobID, role).path
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { return nil }
            throw POSIXError.current("stat \(path)")
        }
        return Int(st.st_size)
    }

    /// Idempotent, and safe beside another deletion of the same job (two erasures, an erasure and a worker cleaning
    /// up): what vanished meanwhile is not an error, and a file written into the folder while it goes (a worker's
    /// temporary file) is taken by a second try.
    public func delete(jobID: String) async throws {
        let dir = try folder(jobID)
        for attempt in 1...3 {
            do {
                try FileManager.default.removeItem(at: dir)
                return
            } catch {
                if !FileManager.default.fileExists(atPath: dir.path) { return }
                if attempt == 3 { throw error }
            }
        }
    }

    public func delete(jobID: String, role: String) async throws {
        let path = try file(jobID, role).path
        guard unlink(path) == 0 || errno == ENOENT else { throw POSIXError.current("unlink \(path)") }
    }

    /// A page per shard folder (`next` names the following shard).
    public func blobs(from cursor: String?) async throws -> BlobPage {
        let fm = FileManager.default
        // A folder that vanished meanwhile (a job deleted) is empty; any other error (EIO, ESTALE on NFS) is thrown,
        // never reported as an empty store.
        func list(_ url: URL) throws -> [String] {
            do { return try fm.contentsOfDirectory(atPath: url.path) } catch {
                if !fm.fileExists(atPath: url.path) { return [] }
                throw error
            }
        }
        let shards = try list(root).filter { $0.utf8.count == 2 && $0.allSatisfy(\.isHexDigit) }.sorted()
        let remaining = shards.filter { cursor == nil || $0 >= cursor! }
        guard let shard = remaining.first else { return BlobPage(blobs: [], next: nil) }
        var found: [StoredBlob] = []
        let shardURL = root.appendingPathComponent(shard, isDirectory: true)
        for job in try list(shardURL).sorted() where JobID.isValid(job) {
            let jobURL = shardURL.appendingPathComponent(job, isDirectory: true)
            for role in try list(jobURL).sorted() where BlobKey.isValid(role: role) {
                var st = stat()
                guard stat(jobURL.appendingPathComponent(role).path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
                found.append(StoredBlob(jobID: job, role: role, size: Int(st.st_size)))
            }
        }
        return BlobPage(blobs: found, next: remaining.dropFirst().first)
    }

    /// The blob folder can be listed.
    public func checkReadable() async throws {
        guard opendir(root.path).map({ closedir($0); return true }) ?? false else { throw POSIXError.current("open \(root.path)") }
    }
}

extension POSIXError {
    /// The current `errno` as an error mentioning what was being done.
    static func current(_ what: String) -> Error {
        let code = errno
        return NSError(domain: NSPOSIXErrorDomain, code: Int(code),
                       userInfo: [NSLocalizedDescriptionKey: "\(what): \(String(cString: strerror(code)))"])
    }
}
