// mediaworker-bench thumbnails: how fast the real pipeline makes thumbnails. A program that prints figures,
// never a timed test; Benchmarks/run.sh runs it next to vipsthumbnail, Pillow and ImageMagick.
//
//   mediaworker-bench thumbnails DIR [--threads N] [--repeat R] [--out OUTDIR] [--vips-concurrency C] [--quiet]
//
// Every regular file under DIR (recursively, sorted) goes through `AttachmentPipeline.process` exactly as the
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

import ArgumentParser
import Foundation
import MediaPipeline

enum ThumbnailBench {
    struct Command: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "thumbnails",
            abstract: "Thumbnails of every file under DIR through the real pipeline (Benchmarks/run.sh)."
        )

        @Argument(help: "The folder of images (every regular file under it, recursively, sorted).")
        var directory: String

        @OptionGroup var common: FileBenchOptions
        var threads: Int { common.threads }
        var repeats: Int { common.repeats }

        @Option(help: ArgumentHelp("Also write each thumbnail to OUTDIR/<input name>.webp (timed, like the peers).",
                                   valueName: "outdir"))
        var out: String?

        @Option(name: .customLong("vips-concurrency"),
                help: "libvips threads inside one file (default: 1, what the worker uses; more for experiments).", transform: positive)
        var vipsConcurrency = 1

        @Flag(help: "Only the RESULT line.")
        var quiet = false

        func run() async throws { try await bench("thumbnails") { try await ThumbnailBench.measure(self) } }
    }

    /// What happened to one file in one run.
    struct FileResult: Sendable {
        var seconds = 0.0
        var thumbnail: (width: Int, height: Int, bytes: Int)?
        var failure: String?
    }

    /// One run over all files with `threads` OS threads; returns the wall time and each file's result.
    static func thumbnails(pipeline: AttachmentPipeline, files: [String], threads: Int, vipsConcurrency: Int, out: String?) -> (Double, [FileResult]) {
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

    static func measure(_ options: Command) throws -> Int32 {
        let settings = try PipelineSettings(environment: ProcessInfo.processInfo.environment)
        let pipeline = try AttachmentPipeline(settings: settings)
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
            let (seconds, results) = thumbnails(pipeline: pipeline, files: files, threads: options.threads,
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
    }
}
