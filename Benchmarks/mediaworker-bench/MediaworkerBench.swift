// mediaworker-bench: the benchmark program. It prints figures, never a timed test; the scripts in Benchmarks/
// (`make bench`) run it next to the peers (vipsthumbnail, Pillow, ImageMagick, ffmpeg, huey, PgQueuer, nginx).
// One subcommand per benchmark, each in its own file:
//
//   mediaworker-bench thumbnails DIR …          ThumbnailBench.swift   (Benchmarks/run.sh)
//   mediaworker-bench voice PATH …              VoiceBench.swift       (Benchmarks/voice.sh)
//   mediaworker-bench animations MODE FOLDER …  AnimationBench.swift   (Benchmarks/animations.sh)
//   mediaworker-bench queue noop|corpus …       QueueBench.swift       (Benchmarks/queue.sh, Benchmarks/pg.sh)
//   mediaworker-bench pg noop|drain …           PostgresBench.swift    (Benchmarks/pg.sh)
//   mediaworker-bench isolation DIR …           IsolationBench.swift   (Benchmarks/isolation.sh)
//   mediaworker-bench console …                 ConsoleBench.swift     (Benchmarks/console.sh)
//   mediaworker-bench safe-copies FILE.pdf …    SafeCopyBench.swift    (Benchmarks/safecopy.sh)
//   mediaworker-bench erasure seed …            ErasureBench.swift     (Benchmarks/erasure.sh)
//
// Options are parsed by swift-argument-parser (`mediaworker-bench SUBCOMMAND --help`). A usage error exits 64;
// an error while measuring exits 1, printed as "mediaworker-bench NAME: …". Settings come from the environment
// like the service (`MEDIAWORKER_WEBP_EFFORT`, ...).

import ArgumentParser
import Foundation
import Synchronization

/// The root command: only its subcommands run. The queue, PostgreSQL and console benchmarks call the `async` queue
/// contract from tasks; the codec benchmarks time OS threads.
@main
struct MediaworkerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mediaworker-bench",
        abstract: "Benchmarks of mediaworker's pipeline, queue and service; prints figures, the last line machine-readable (RESULT …).",
        subcommands: [ThumbnailBench.Command.self, VoiceBench.Command.self, AnimationBench.Command.self,
                      QueueBench.Command.self, PostgresBench.Command.self, IsolationBench.Command.self,
                      ConsoleBench.Command.self, SafeCopyBench.Command.self, ErasureBench.Command.self]
    )
}

/// The options the file benchmarks (thumbnails, voice notes, animations) share.
struct FileBenchOptions: ParsableArguments {
    @Option(help: "OS threads processing files at once (default: the cores).", transform: positive)
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .customLong("repeat"), help: "Runs; the best one is reported (default: 3).", transform: positive)
    var repeats = 3
}

/// An error of a benchmark (a missing file, an unexpected outcome); printed as its description.
struct Usage: Error, CustomStringConvertible {
    var description: String
}

/// Parses a count option: a positive integer, `5_000` accepted.
@Sendable func positive(_ raw: String) throws -> Int {
    guard let n = Int(raw.replacingOccurrences(of: "_", with: "")), n >= 1 else {
        throw ValidationError("expected a positive integer")
    }
    return n
}

/// Runs a subcommand's body: an error is printed as "mediaworker-bench NAME: …" and exits 1; a non-zero status
/// the body returns (a failed file, say) is the exit status.
func bench(_ name: String, _ body: () async throws -> Int32) async throws {
    let status: Int32
    do {
        status = try await body()
    } catch {
        FileHandle.standardError.write(Data("mediaworker-bench \(name): \(error)\n".utf8))
        throw ExitCode.failure
    }
    if status != 0 { throw ExitCode(status) }
}

/// Every regular, non-hidden file under `root`, sorted by path.
func listFiles(_ root: String) throws -> [String] {
    let base = URL(fileURLWithPath: root, isDirectory: true)
    guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey],
                                                      options: [.skipsHiddenFiles]) else {
        throw Usage(description: "cannot read \(root)")
    }
    var files: [String] = []
    for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
        files.append(url.path)
    }
    return files.sorted()
}

/// The whole file as bytes, read with plain POSIX calls (no `Data` in between).
func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw Usage(description: "cannot open \(path)") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw Usage(description: "cannot stat \(path)") }
    let size = Int(info.st_size)
    return try [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
        var done = 0
        while done < size {
            let n = read(fd, buffer.baseAddress! + done, size - done)
            guard n > 0 else { throw Usage(description: "short read on \(path)") }
            done += n
        }
        count = done
    }
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw Usage(description: "cannot create \(path)") }
    defer { close(fd) }
    try bytes.withUnsafeBytes { raw in
        var done = 0
        while done < raw.count {
            let n = write(fd, raw.baseAddress! + done, raw.count - done)
            guard n > 0 else { throw Usage(description: "cannot write \(path)") }
            done += n
        }
    }
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `body(i)` for every i in 0..<count on `threads` OS threads (Foundation `Thread`, not Swift's
/// cooperative pool) taking indices from a shared counter; returns the wall time and the results in order.
func onThreads<R: Sendable>(_ threads: Int, count: Int, empty: R, _ body: @escaping @Sendable (Int) -> R) -> (Double, [R]) {
    let next = Atomic<Int>(0)
    let results = Mutex<[R]>(Array(repeating: empty, count: count))
    let finished = DispatchSemaphore(value: 0)
    let work: @Sendable () -> Void = {
        while true {
            let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= count { break }
            let result = body(i)
            results.withLock { $0[i] = result }
        }
        finished.signal()
    }
    let start = now()
    for _ in 0..<threads {
        let thread = Thread(block: work)
        thread.stackSize = 8 << 20
        thread.start()
    }
    for _ in 0..<threads { finished.wait() }
    return (now() - start, results.withLock { $0 })
}

/// User + system CPU seconds this process has used so far (all threads).
func cpuSeconds() -> Double {
    var usage = rusage()
    #if os(Linux)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

func fmt(_ x: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", x) }
