// mediaworker-bench: prints how fast the real pipeline makes thumbnails. A program that prints figures,
// never a timed test; scripts/bench.sh runs it next to vipsthumbnail, Pillow and ImageMagick.
//
//   mediaworker-bench thumbnails DIR [--threads N] [--repeat R] [--out OUTDIR] [--vips-concurrency C] [--quiet]
//   mediaworker-bench voice …   (VoiceBench.swift)
//   mediaworker-bench queue …   (QueueBench.swift)
//
// Every regular file under DIR (recursively, sorted) goes through `MediaPipeline.process` exactly as the
// worker runs it: the file is read from disk inside the timed region (as the peers do), libvips runs
// with one thread per file (`VipsRuntime.setConcurrency(1)`), and N OS threads (Foundation `Thread`,
// default: the number of cores) take files from a shared counter. Each outcome must be accepted with a
// thumbnail, or the program fails. With --out the thumbnails are written there (inside the timed region,
// as the peers write theirs), named after the input file. The run is repeated R times (default 3) and
// the best is reported; the last line is machine-readable:
//
//   RESULT ours_seconds=1.234 cpu_seconds=2.4 files=26 threads=2 vips_concurrency=1 repeat=3 files_per_second=21.07
//
// (cpu_seconds: user + system CPU of the whole process during that best run; it is less disturbed than
// wall time when something else shares the cores.)
//
// Settings come from the environment like the service (`MEDIAWORKER_WEBP_EFFORT`, ...).

import Foundation
import MediaPipeline
import Synchronization

struct Usage: Error, CustomStringConvertible {
    var description: String
}

let usage = """
    usage: mediaworker-bench thumbnails DIR [--threads N] [--repeat R] [--out OUTDIR] [--vips-concurrency C] [--quiet]
      --threads N   OS threads processing files at once (default: \(ProcessInfo.processInfo.activeProcessorCount), the cores)
      --repeat R    runs; the best one is reported (default 3)
      --out OUTDIR  also write each thumbnail to OUTDIR/<input name>.webp (timed, like the peers)
      --vips-concurrency C
                    libvips threads inside one file (default 1, what the worker uses; for experiments)
      --quiet       only the RESULT line
    """

/// A bench command's arguments, read one at a time; errors carry the command's usage.
struct ArgumentCursor {
    var rest: ArraySlice<String>
    let usage: String

    init(_ arguments: [String], usage: String) {
        rest = arguments[...]
        self.usage = usage
    }

    mutating func next() -> String? { rest.popFirst() }

    mutating func value(_ flag: String) throws -> String {
        guard let v = rest.popFirst() else { throw Usage(description: "\(flag) needs a value\n\(usage)") }
        return v
    }

    /// A positive integer; `5_000` is accepted.
    mutating func positive(_ flag: String) throws -> Int {
        let raw = try value(flag)
        guard let n = Int(raw.replacingOccurrences(of: "_", with: "")), n >= 1 else {
            throw Usage(description: "\(flag) \(raw): expected a positive integer")
        }
        return n
    }
}

struct Options {
    var directory = ""
    var threads = ProcessInfo.processInfo.activeProcessorCount
    var repeats = 3
    var out: String?
    var vipsConcurrency = 1
    var quiet = false

    init(_ arguments: [String]) throws {
        var args = ArgumentCursor(arguments, usage: usage)
        guard args.next() == "thumbnails" else { throw Usage(description: usage) }
        while let arg = args.next() {
            switch arg {
            case "--threads": threads = try args.positive(arg)
            case "--repeat": repeats = try args.positive(arg)
            case "--out": out = try args.value(arg)
            case "--vips-concurrency": vipsConcurrency = try args.positive(arg)
            case "--quiet": quiet = true
            case "-h", "--help": throw Usage(description: usage)
            default:
                guard directory.isEmpty, !arg.hasPrefix("-") else { throw Usage(description: "unexpected \(arg)\n\(usage)") }
                directory = arg
            }
        }
        guard !directory.isEmpty else { throw Usage(description: "DIR is missing\n\(usage)") }
    }
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

/// What happened to one file in one run.
struct FileResult: Sendable {
    var seconds = 0.0
    var thumbnail: (width: Int, height: Int, bytes: Int)?
    var failure: String?
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

/// One run over all files with `threads` OS threads; returns the wall time and each file's result.
func run(pipeline: MediaPipeline, files: [String], threads: Int, vipsConcurrency: Int, out: String?) -> (Double, [FileResult]) {
    let facts = AttachmentFacts(from: .visitor, declaredType: nil, fileName: nil, channel: .whatsapp)
    return onThreads(threads, count: files.count, empty: FileResult()) { i in
        var result = FileResult()
        let start = now()
        do {
            VipsRuntime.setConcurrency(vipsConcurrency)
            let bytes = try readFile(files[i])
            let outcome = try pipeline.process(bytes, facts: facts)
            switch outcome {
            case .accepted(let accepted):
                if let thumb = accepted.artifacts.first(where: { $0.role == .thumbnail }) {
                    result.thumbnail = (thumb.width ?? 0, thumb.height ?? 0, thumb.bytes.count)
                    if let out {
                        let name = (files[i] as NSString).lastPathComponent
                        try writeFile(out + "/" + name + "." + MediaType.fileExtension(thumb.contentType), thumb.bytes)
                    }
                } else {
                    result.failure = "accepted without a thumbnail (\(accepted.previewUnavailable?.rawValue ?? "no reason"))"
                }
            case .rejected(let rejected):
                result.failure = "rejected: \(rejected.reason.rawValue): \(rejected.message)"
            }
        } catch {
            result.failure = "error: \(error)"
        }
        result.seconds = now() - start
        return result
    }
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

/// The shell every subcommand (`voice`, `queue`, `pg`) runs in: its options parsed (a usage error exits 2),
/// then its body (an error exits 1, printed as "mediaworker-bench NAME: …").
func runSubcommand<O>(_ name: String, _ arguments: [String], parse: ([String]) throws -> O,
                      _ body: (O) throws -> Int32) -> Int32 {
    let options: O
    do { options = try parse(arguments) } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        return 2
    }
    do {
        return try body(options)
    } catch {
        FileHandle.standardError.write(Data("mediaworker-bench \(name): \(error)\n".utf8))
        return 1
    }
}

func fmt(_ x: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", x) }

func main() -> Int32 {
    let options: Options
    do { options = try Options(Array(CommandLine.arguments.dropFirst())) } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        return 2
    }
    do {
        let settings = try PipelineSettings(environment: ProcessInfo.processInfo.environment)
        let pipeline = try MediaPipeline(settings: settings)
        let files = try listFiles(options.directory)
        guard !files.isEmpty else { throw Usage(description: "no files under \(options.directory)") }
        if let out = options.out { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }

        let root = URL(fileURLWithPath: options.directory).standardizedFileURL.path
        let bytes = try files.reduce(0) { $0 + (try readFile($1)).count }
        if !options.quiet {
            print("mediaworker-bench thumbnails: \(files.count) files (\(fmt(Double(bytes) / 1_048_576, 1)) MiB) under \(root)")
            print("threads=\(options.threads) repeat=\(options.repeats) vips concurrency=\(options.vipsConcurrency) per file, "
                  + "thumbnail \(settings.thumbnailSize) px \(settings.thumbnailFormat.rawValue) "
                  + "q\(settings.thumbnailQuality) effort \(settings.webpEffort)")
        }

        var best = Double.infinity, bestCPU = 0.0
        var bestResults: [FileResult] = []
        for r in 1...options.repeats {
            let cpuStart = cpuSeconds()
            let (seconds, results) = run(pipeline: pipeline, files: files, threads: options.threads,
                                         vipsConcurrency: options.vipsConcurrency, out: options.out)
            let failed = results.enumerated().filter { $0.element.failure != nil }
            if !failed.isEmpty {
                for (i, result) in failed { print("FAILED \(files[i]): \(result.failure!)") }
                return 1
            }
            let cpu = cpuSeconds() - cpuStart
            if !options.quiet { print("run \(r): \(fmt(seconds)) s wall, \(fmt(cpu)) s CPU") }
            if seconds < best { best = seconds; bestCPU = cpu; bestResults = results }
        }

        if !options.quiet {
            // Per folder directly under DIR (the corpus keeps one folder per kind of file): files and the
            // sum of per-file latencies in the best run (thread time, not wall time, when threads > 1).
            var groups: [String: (files: Int, seconds: Double)] = [:]
            for (i, file) in files.enumerated() {
                let relative = file.hasPrefix(root + "/") ? String(file.dropFirst(root.count + 1)) : file
                let parts = relative.split(separator: "/")
                let group = parts.count > 1 ? String(parts[0]) : "."
                groups[group, default: (0, 0)].files += 1
                groups[group, default: (0, 0)].seconds += bestResults[i].seconds
            }
            for (group, g) in groups.sorted(by: { $0.key < $1.key }) {
                print("  \(group): \(g.files) files, \(fmt(g.seconds)) s summed latency, \(fmt(g.seconds / Double(g.files) * 1000, 1)) ms/file")
            }
            let slowest = bestResults.enumerated().max { $0.element.seconds < $1.element.seconds }!
            let t = slowest.element.thumbnail!
            print("  slowest: \((files[slowest.offset] as NSString).lastPathComponent) \(fmt(slowest.element.seconds * 1000, 1)) ms -> \(t.width)x\(t.height) \(t.bytes) B")
            print("best: \(files.count) files in \(fmt(best)) s = \(fmt(Double(files.count) / best, 2)) files/s (\(fmt(bestCPU)) s CPU)")
        }
        print("RESULT ours_seconds=\(fmt(best, 4)) cpu_seconds=\(fmt(bestCPU, 4)) files=\(files.count) threads=\(options.threads) vips_concurrency=\(options.vipsConcurrency) repeat=\(options.repeats) files_per_second=\(fmt(Double(files.count) / best, 2))")
        return 0
    } catch {
        FileHandle.standardError.write(Data("mediaworker-bench: \(error)\n".utf8))
        return 1
    }
}

/// `thumbnails` is this file's benchmark; `voice` and `queue` live in VoiceBench.swift and QueueBench.swift.
func dispatch() -> Int32 {
    let arguments = Array(CommandLine.arguments.dropFirst())
    switch arguments.first {
    case "console": return ConsoleBench.run(Array(arguments.dropFirst()))
    case "voice": return VoiceBench.run(Array(arguments.dropFirst()))
    case "queue": return QueueBench.run(Array(arguments.dropFirst()))
    case "pg": return PostgresBench.run(Array(arguments.dropFirst()))
    case "isolation": return IsolationBench.run(Array(arguments.dropFirst()))
    case "animations": return AnimationBench.run(Array(arguments.dropFirst()))
    default: return main()
    }
}

exit(dispatch())
