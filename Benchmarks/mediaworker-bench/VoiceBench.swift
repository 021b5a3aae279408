// mediaworker-bench voice: how fast the real pipeline converts voice notes to MP3. A program that prints
// figures, never a timed test; Benchmarks/voice.sh runs it next to ffmpeg.
//
//   mediaworker-bench voice PATH [--threads N] [--repeat R] [--out OUTDIR] [--list] [--quiet]
//
// PATH is a folder (every regular file under it, recursively, sorted) or one file. Each file goes through
// `AttachmentPipeline.process` exactly as the worker runs it (a visitor's WhatsApp attachment): the file is read
// from disk inside the timed region (as ffmpeg reads its input), and N OS threads (Foundation `Thread`,
// default: the number of cores) take files from a shared counter. Each outcome must be accepted with a
// playback artifact (MP3) and a duration, or the program fails. With --out the MP3s are written there inside
// the timed region (as ffmpeg writes its own), named `<input name>.mp3`. The run is repeated R times (default
// 3) and the best is reported; the last line is machine-readable:
//
//   RESULT ours_seconds=0.812 cpu_seconds=1.05 files=11 threads=2 audio_seconds=425.125 realtime=523.5
//          realtime_per_core=261.8 realtime_per_cpu_second=404.9 repeat=3 max_rss_kb=41234
//
//   realtime            audio seconds converted per wall second
//   realtime_per_core   audio seconds / (wall seconds × threads used), threads used = min(N, files)
//   realtime_per_cpu_second  audio seconds / user+system CPU seconds of the process in that run (the
//                       pipeline encodes on a second thread per note, so one "thread" can use more than one core)
//   max_rss_kb          the process's peak RSS so far (getrusage), for information
//
// --list prints one `NOTE` line per file (best run): path, durationMs the pipeline reported, MP3 bytes, gain.
// Settings come from the environment like the service (`MEDIAWORKER_MP3_QUALITY`, ...).

import ArgumentParser
import Foundation
import MediaPipeline
import Synchronization

enum VoiceBench {
    struct Command: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "voice",
            abstract: "Voice notes to MP3 through the real pipeline (Benchmarks/voice.sh)."
        )

        @Argument(help: "A folder of voice notes (every regular file under it, recursively) or one file.")
        var path: String

        @OptionGroup var common: FileBenchOptions
        var threads: Int { common.threads }
        var repeats: Int { common.repeats }

        @Option(help: ArgumentHelp("Also write each MP3 to OUTDIR/<input name>.mp3 (timed, like ffmpeg).", valueName: "outdir"))
        var out: String?

        @Flag(help: "One NOTE line per file (durationMs, MP3 size, gain) from the best run.")
        var list = false

        @Flag(help: "Only the RESULT line (and NOTE lines with --list).")
        var quiet = false

        func run() async throws { try await bench("voice") { try await VoiceBench.measure(self) } }
    }

    /// What happened to one note in one run.
    struct NoteResult: Sendable {
        var seconds = 0.0
        var durationMs = 0
        var mp3Bytes = 0
        var gainDb = 0.0
        var failure: String?
    }

    /// One run over all files with `threads` OS threads; the wall time and each file's result.
    static func convert(pipeline: AttachmentPipeline, files: [String], threads: Int, out: String?) -> (Double, [NoteResult]) {
        let facts = AttachmentFacts(from: .visitor, declaredType: nil, fileName: nil, channel: .whatsapp)
        return onThreads(threads, count: files.count, empty: NoteResult()) { i in
            var result = NoteResult()
            let start = now()
            do {
                let bytes = try readFile(files[i])
                switch try pipeline.process(bytes, facts: facts) {
                case .accepted(let accepted):
                    if let mp3 = accepted.artifacts.first(where: { $0.role == .playback }), let ms = mp3.durationMs {
                        result.durationMs = ms
                        result.mp3Bytes = mp3.bytes.count
                        result.gainDb = accepted.gainDb ?? 0
                        if let out {
                            try writeFile(out + "/" + (files[i] as NSString).lastPathComponent + ".mp3", mp3.bytes)
                        }
                    } else {
                        result.failure = "accepted without a playback MP3 (\(accepted.kind.rawValue), "
                            + "\(accepted.previewUnavailable?.rawValue ?? "no reason"))"
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

    /// Peak resident set of this process so far, KiB.
    static func maxRSSKiB() -> Int {
        var usage = rusage()
        #if os(Linux)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        return Int(usage.ru_maxrss)
    }

    static func measure(_ options: Command) throws -> Int32 {
        let settings = try PipelineSettings(environment: ProcessInfo.processInfo.environment)
        let pipeline = try AttachmentPipeline(settings: settings)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: options.path, isDirectory: &isFolder) else {
            throw Usage(description: "no such file or folder: \(options.path)")
        }
        let files = isFolder.boolValue ? try listFiles(options.path) : [options.path]
        guard !files.isEmpty else { throw Usage(description: "no files under \(options.path)") }
        if let out = options.out { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
        let threads = min(options.threads, files.count)

        let bytes = try files.reduce(0) { $0 + (try readFile($1)).count }
        if !options.quiet {
            print("mediaworker-bench voice: \(files.count) files (\(fmt(Double(bytes) / 1_048_576, 2)) MiB) at \(options.path)")
            print("threads=\(options.threads) (used: \(threads)) repeat=\(options.repeats); MP3 mono \(settings.voiceSampleRate) Hz "
                  + "VBR V\(settings.voiceVBRQuality), libmp3lame quality \(settings.mp3Quality), "
                  + "normalise \(settings.normalizeVoiceNotes ? "on" : "off")")
        }

        var best = Double.infinity, bestCPU = 0.0
        var bestResults: [NoteResult] = []
        for r in 1...options.repeats {
            let cpuStart = cpuSeconds()
            let (seconds, results) = convert(pipeline: pipeline, files: files, threads: options.threads, out: options.out)
            let cpu = cpuSeconds() - cpuStart
            let failed = results.enumerated().filter { $0.element.failure != nil }
            if !failed.isEmpty {
                for (i, result) in failed { print("FAILED \(files[i]): \(result.failure!)") }
                return 1
            }
            if !options.quiet { print("run \(r): \(fmt(seconds)) s wall, \(fmt(cpu)) s CPU") }
            if seconds < best { best = seconds; bestCPU = cpu; bestResults = results }
        }

        let audio = Double(bestResults.reduce(0) { $0 + $1.durationMs }) / 1000
        let realtime = audio / best
        let perCore = audio / (best * Double(threads))
        let perCPU = audio / max(bestCPU, 1e-9)
        if options.list {
            for (i, r) in bestResults.enumerated() {
                print("NOTE \(files[i]) duration_ms=\(r.durationMs) mp3_bytes=\(r.mp3Bytes) gain_db=\(fmt(r.gainDb, 1)) "
                      + "ms=\(fmt(r.seconds * 1000, 1))")
            }
        }
        if !options.quiet {
            let slowest = bestResults.enumerated().max { $0.element.seconds < $1.element.seconds }!
            print("  slowest: \((files[slowest.offset] as NSString).lastPathComponent) \(fmt(slowest.element.seconds * 1000, 1)) ms "
                  + "for \(fmt(Double(slowest.element.durationMs) / 1000, 1)) s of audio")
            print("best: \(files.count) files, \(fmt(audio, 1)) s of audio in \(fmt(best)) s = \(fmt(realtime, 1))x realtime, "
                  + "\(fmt(perCore, 1))x per core (\(threads) threads), \(fmt(perCPU, 1))x per CPU second (\(fmt(bestCPU)) s CPU)")
        }
        print("RESULT ours_seconds=\(fmt(best, 4)) cpu_seconds=\(fmt(bestCPU, 4)) files=\(files.count) threads=\(threads) "
              + "audio_seconds=\(fmt(audio, 3)) realtime=\(fmt(realtime, 2)) realtime_per_core=\(fmt(perCore, 2)) "
              + "realtime_per_cpu_second=\(fmt(perCPU, 2)) repeat=\(options.repeats) max_rss_kb=\(maxRSSKiB())")
        return 0
    }
}
