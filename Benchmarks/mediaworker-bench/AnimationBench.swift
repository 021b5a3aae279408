// mediaworker-bench animations: the real pipeline on animations. A program that prints figures, never a timed
// test; Benchmarks/animations.sh runs it next to the ffmpeg CLI doing the same work on the same files.
//
//   mediaworker-bench animations gif2mp4|thumbs FOLDER [--threads N] [--repeat R] [--out OUTDIR] [--quiet]
//
// gif2mp4: every file is an operator's GIF through `AttachmentPipeline.process` (sniff, libvips thumbnail, and the
// `delivery` MP4: FFmpeg decode, libx264, faststart); the MP4 is written to OUTDIR inside the timed region.
// thumbs: every file is a visitor's MP4 through the pipeline (sniff, demux, first frame and every audio frame
// decoded, WebP thumbnail); the thumbnail is written to OUTDIR. Files are read inside the timed region. N OS
// threads (default: cores) take files from a shared counter; best of R runs (default: 3). Last line:
//
//   RESULT ours_seconds=0.81 cpu_seconds=1.52 files=20 threads=2 files_per_second=24.6 max_rss_kb=81234

import ArgumentParser
import Foundation
import MediaPipeline

enum AnimationBench {
    /// What each file is and what is made of it.
    enum Mode: String, ExpressibleByArgument, CaseIterable {
        /// An operator's GIF → the `delivery` MP4.
        case gif2mp4
        /// A visitor's MP4 → its WebP thumbnail.
        case thumbs
    }

    struct Command: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "animations",
            abstract: "GIF → MP4 or MP4 thumbnails through the real pipeline (Benchmarks/animations.sh)."
        )

        @Argument(help: "gif2mp4: operator GIFs to MP4; thumbs: thumbnails of visitor MP4s.")
        var mode: Mode

        @Argument(help: "The folder of files (every regular file under it, recursively, sorted).")
        var path: String

        @OptionGroup var common: FileBenchOptions
        var threads: Int { common.threads }
        var repeats: Int { common.repeats }

        @Option(help: ArgumentHelp("Also write each MP4 or thumbnail to OUTDIR (timed, like ffmpeg).", valueName: "outdir"))
        var out: String?

        @Flag(help: "Only the RESULT line.")
        var quiet = false

        func run() async throws { try await bench("animations") { try await AnimationBench.measure(self) } }
    }

    static func measure(_ options: Command) throws -> Int32 {
        let settings = try PipelineSettings(environment: ProcessInfo.processInfo.environment)
        let pipeline = try AttachmentPipeline(settings: settings)
        let files = try listFiles(options.path)
        guard !files.isEmpty else { throw Usage(description: "no files under \(options.path)") }
        if let out = options.out { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
        let gif = options.mode == .gif2mp4
        let facts = AttachmentFacts(from: gif ? .operator : .visitor)
        let role: ArtifactRole = gif ? .delivery : .thumbnail
        let threads = min(options.threads, files.count)
        var best = Double.infinity, bestCPU = 0.0
        for _ in 0..<options.repeats {
            let cpu0 = cpuSeconds()
            let (wall, failures) = onThreads(threads, count: files.count, empty: String?.none) { i in
                do {
                    let bytes = try readFile(files[i])
                    guard case .accepted(let a) = try pipeline.process(bytes, facts: facts),
                          let made = a.artifacts.first(where: { $0.role == role }) else {
                        return "\(files[i]): no \(role.rawValue)"
                    }
                    if let out = options.out {
                        let ext = MediaType.fileExtension(made.contentType)
                        try writeFile(out + "/" + (files[i] as NSString).lastPathComponent + "." + ext, made.bytes)
                    }
                    return nil
                } catch { return "\(files[i]): \(error)" }
            }
            if let failure = failures.compactMap({ $0 }).first { throw Usage(description: failure) }
            if wall < best { best = wall; bestCPU = cpuSeconds() - cpu0 }
        }
        if !options.quiet {
            print("mediaworker-bench animations \(options.mode): \(files.count) files, \(threads) threads, best of \(options.repeats)")
        }
        print("RESULT ours_seconds=\(fmt(best)) cpu_seconds=\(fmt(bestCPU)) files=\(files.count) threads=\(threads) "
              + "files_per_second=\(fmt(Double(files.count) / best, 2)) max_rss_kb=\(VoiceBench.maxRSSKiB())")
        return 0
    }
}
