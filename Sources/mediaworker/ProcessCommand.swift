import ArgumentParser
import Foundation
import MediaIntake
import MediaPipeline
import MediaSandbox

/// `mediaworker process FILE`: one file through the same pipeline the queue worker runs; one JSON line out.
struct ProcessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process",
        abstract: "Process one file and print the outcome as one JSON line (exit 0 for accepted and rejected)."
    )

    @Argument(help: "The file to process.")
    var file: String

    @Option(help: "Who sent it: visitor or operator.")
    var from: Sender = .visitor

    @Option(help: "The messaging channel, whose policy applies: whatsapp.")
    var channel: MessagingChannel = .whatsapp

    @Option(name: .customLong("declared-type"), help: "The MIME type the sender declared (recorded, never trusted).")
    var declaredType: String?

    @Option(name: .customLong("file-name"), help: "The sender's file name (recorded, never used as a path).")
    var fileName: String?

    @Option(help: "Folder for the artifacts (default: a new temporary folder).")
    var out: String?

    @Option(help: ArgumentHelp("The SHA-256 the file must have (64 hex digits, either case); otherwise it is rejected with checksum_mismatch.",
                               valueName: "hex"))
    var sha256: String?

    func validate() throws {
        if let sha256, AttachmentIntake.normalizedSHA256(sha256) == nil {
            throw ValidationError("--sha256 must be 64 hexadecimal digits")
        }
    }

    func run() throws {
        // The same helper process the worker uses: the file is never decoded in this process.
        let pipeline: SandboxedPipeline
        do { pipeline = try SandboxedPipeline(environment: ProcessInfo.processInfo.environment, capacity: 1) } catch {
            throw ValidationError("\(error)")
        }
        // The size decides before anything is read: a 20 GB (or sparse) file is refused at once.
        guard let size = fileSize(file) else { throw ValidationError("cannot read \(file)") }
        if size > pipeline.settings.maxBytes {
            pipeline.shutdown()
            print(Outcome.rejected(.init(reason: .tooLarge, message: AttachmentPipeline.tooLargeMessage(size: size, limit: pipeline.settings.maxBytes),
                                         detectedType: nil, size: size)).json(location: { _ in nil }).serialized())
            return
        }
        guard let bytes = readFile(file) else { throw ValidationError("cannot read \(file)") }
        // Not the bytes the sender checksummed: rejected as the upload is (422 there), before any decoding, and
        // nothing is written to --out.
        if let expected = sha256.flatMap(AttachmentIntake.normalizedSHA256) {
            let actual = AttachmentIntake.sha256Hex(bytes)
            if actual != expected {
                pipeline.shutdown()
                print(Outcome.rejected(.checksumMismatch(expected: expected, actual: actual, size: bytes.count))
                    .json(location: { _ in nil }).serialized())
                return
            }
        }
        var timings = AttachmentPipeline.PhaseTimings()
        let outcome = try pipeline.process(bytes, facts: AttachmentFacts(from: from, declaredType: declaredType, fileName: fileName, channel: channel),
                                           timings: &timings)
        pipeline.shutdown()

        let folder = try out.map(ArtifactFolder.existing) ?? ArtifactFolder.temporary()
        var paths: [ArtifactRole: String] = [:]
        if case .accepted(let accepted) = outcome {
            for artifact in accepted.artifacts {
                paths[artifact.role] = try folder.write(artifact)
            }
        }
        print(outcome.json(location: { paths[$0.role] }).serialized())
    }
}

extension Sender: ExpressibleByArgument {}
extension MessagingChannel: ExpressibleByArgument {}

/// The size of a regular file, from fstat (nothing is read).
func fileSize(_ path: String) -> Int? {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    return Int(st.st_size)
}

/// The whole file in one buffer, read with POSIX calls (no intermediate `Data` copy).
func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    let size = Int(st.st_size)
    var failed = false
    let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
        var offset = 0
        while offset < size {
            let n = read(fd, buffer.baseAddress! + offset, size - offset)
            if n <= 0 { failed = n < 0; break }
            offset += n
        }
        count = offset
    }
    return failed ? nil : bytes
}

/// Where the CLI writes artifacts: named by role and sniffed type only, never by the user's file name.
struct ArtifactFolder {
    let url: URL

    static func existing(_ path: String) throws -> ArtifactFolder {
        let url = URL(fileURLWithPath: path, isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return ArtifactFolder(url: url)
    }

    static func temporary() throws -> ArtifactFolder {
        var template = Array((NSTemporaryDirectory() + "/mediaworker-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw ValidationError("cannot create a temporary folder")
        }
        return ArtifactFolder(url: URL(fileURLWithPath: String(cString: made), isDirectory: true))
    }

    /// Writes atomically (temporary file, then rename), straight from the artifact's buffer, and returns the path.
    func write(_ artifact: Artifact) throws -> String {
        let target = url.appendingPathComponent("\(artifact.role.rawValue).\(MediaType.fileExtension(artifact.contentType))")
        let temporary = target.path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ValidationError("cannot write \(temporary)") }
        let written = artifact.bytes.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
        close(fd)
        guard written, rename(temporary, target.path) == 0 else { throw ValidationError("cannot write \(target.path)") }
        return target.standardizedFileURL.path
    }
}
