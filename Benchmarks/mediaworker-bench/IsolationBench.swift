// mediaworker-bench isolation: what running the codecs in sandboxed helper processes costs. A program that
// prints figures, never a timed test; Benchmarks/isolation.sh runs it (and measures `serve`'s memory).
//
//   mediaworker-bench isolation DIR [--workers W] [--repeat R] [--passes P] [--kills K] [--helper PATH] [--quiet]
//
// overhead: the fixture corpus of DIR/fixtures.json (as `queue corpus` loads it) through intake + SQLite queue +
// `Worker` with W slots (the corpus P times over, so a round lasts long enough to measure), everything enqueued first, wall = worker start → last finishedAt. Interleaved rounds:
// the pipeline in this process (`AttachmentPipeline`), then in W helper processes (`SandboxedPipeline`, helpers
// started before the clock runs, as `serve` starts them). Overhead = (isolated − in-process) / in-process, best
// round of each, and the median of each round's own pair. libvips in-process runs on its default thread count;
// each helper on 1 thread (MEDIAWORKER_HELPER_VIPS_THREADS), one helper per slot.
// crash: one helper busy with a 60 s voice note is SIGKILLed K times; time from the parent noticing the death
// to the replacement reporting ready (spawn + exec + libvips/libmagic start + sandbox), median and max.
//
//   RESULT mode=isolation jobs=… workers=… inprocess_seconds=… isolated_seconds=… overhead_percent=…
//          overhead_percent_median_paired=… start_ms_median=… replacement_ms_median=… replacement_ms_max=… helper_peak_rss_mb=…

import ArgumentParser
import Foundation
import Logging
import MediaPipeline
import MediaSandbox

enum IsolationBench {
    struct Command: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "isolation",
            abstract: "What the sandboxed helper processes cost over the in-process pipeline, and helper crash recovery (Benchmarks/isolation.sh)."
        )

        @Argument(help: "The fixture folder (its fixtures.json lists the files).")
        var directory: String

        @Option(help: "Worker slots (default: the cores).", transform: positive)
        var workers = ProcessInfo.processInfo.activeProcessorCount

        @Option(name: .customLong("repeat"), help: "Interleaved rounds of each (default: 5).", transform: positive)
        var repeats = 5

        @Option(help: "The corpus this many times in each round (default: 3).", transform: positive)
        var passes = 3

        @Option(help: "Helper crashes to time (default: 20).", transform: positive)
        var kills = 20

        @Option(name: .customLong("helper"),
                help: ArgumentHelp("The mediaworker executable to run helpers from (default: next to this program).",
                                   valueName: "path"))
        var helperPath: String?

        @Flag(help: "Only the RESULT line.")
        var quiet = false

        /// The helper executable: --helper, or `mediaworker` next to this program.
        var helper: String {
            helperPath ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("mediaworker").path
        }

        func run() async throws { try await bench("isolation") { try await IsolationBench.measure(self) } }
    }

    static func measure(_ options: Command) async throws -> Int32 {
        let environment = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("MEDIAWORKER_") }
        let (corpus, skipped) = try QueueBench.loadFixtures(options.directory)
        let inputs = Array([[QueueBench.Input]](repeating: corpus, count: options.passes).joined())
        let inProcess = try AttachmentPipeline(settings: try PipelineSettings(environment: environment))
        var logger = Logger(label: "mediaworker.bench", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .warning
        let isolated = try SandboxedPipeline(environment: environment, capacity: options.workers,
                                             executable: options.helper, logger: logger)
        isolated.start()
        if let failure = isolated.status.failure { throw Usage(description: "helpers do not start: \(failure)") }
        if !options.quiet {
            print("mediaworker-bench isolation: \(inputs.count) jobs (\(options.passes) × \(corpus.count) from \(options.directory)/fixtures.json), "
                  + "\(options.workers) worker slots, \(options.repeats) interleaved rounds; helpers: \(options.helper)")
            print("left out: " + (skipped.isEmpty ? "none" : skipped.joined(separator: ", ")))
        }
        // Untimed warm-up of both: page cache, libvips, poppler, fontconfig in every helper.
        _ = try await QueueBench.workerRun(pipeline: inProcess, inputs: inputs, slots: options.workers, logger: logger, burst: false)
        _ = try await QueueBench.workerRun(pipeline: isolated, inputs: inputs, slots: options.workers, logger: logger, burst: false)

        var bestIn = Double.infinity, bestIsolated = Double.infinity, paired: [Double] = []
        for round in 1...options.repeats {
            let a = try await QueueBench.workerRun(pipeline: inProcess, inputs: inputs, slots: options.workers, logger: logger, burst: false).wall
            let b = try await QueueBench.workerRun(pipeline: isolated, inputs: inputs, slots: options.workers, logger: logger, burst: false).wall
            paired.append((b - a) / a)
            bestIn = min(bestIn, a)
            bestIsolated = min(bestIsolated, b)
            if !options.quiet {
                print("round \(round): in-process \(fmt(a)) s, helpers \(fmt(b)) s (\(fmt(100 * (b - a) / a, 1)) %)")
            }
        }
        let helperPeak = isolated.helperPeaks.max() ?? 0
        isolated.shutdown()

        // Crash → replacement: a pool of one, its helper killed mid-note again and again.
        let crashPool = try SandboxedPipeline(environment: environment, capacity: 1, executable: options.helper, logger: logger)
        crashPool.start()
        let note = try readFile(options.directory + "/audio/voice_note_60s.ogg")
        for _ in 0..<options.kills {
            let killer = Thread {
                while crashPool.signalBusyHelpers(0) == 0 { usleep(500) }
                usleep(20_000)
                _ = crashPool.signalBusyHelpers(SIGKILL)
            }
            killer.start()
            var timings = AttachmentPipeline.PhaseTimings()
            _ = try crashPool.process(note, facts: AttachmentFacts(from: .visitor), timings: &timings)
        }
        func ms(_ d: Duration) -> Double { Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000 }
        let replacements = crashPool.statistics.replacementTimes.map(ms).sorted()
        let starts = (crashPool.statistics.startTimes + isolated.statistics.startTimes).map(ms).sorted()
        crashPool.shutdown()

        let n = Double(inputs.count)
        let overhead = (bestIsolated - bestIn) / bestIn
        let median = QueueBench.percentile(paired.sorted(), 50)
        let replacementMedian = QueueBench.percentile(replacements, 50), replacementMax = replacements.last ?? .nan
        if !options.quiet {
            print("best: in-process \(fmt(bestIn)) s = \(fmt(n / bestIn, 1)) jobs/s; helpers \(fmt(bestIsolated)) s = \(fmt(n / bestIsolated, 1)) jobs/s; "
                  + "overhead \(fmt(100 * overhead, 1)) % (median of the rounds' own \(fmt(100 * median, 1)) %)")
            print("helper start → ready (setpriv, bubblewrap, exec, libvips/libmagic start, lock-down): median "
                  + "\(fmt(QueueBench.percentile(starts, 50), 1)) ms, max \(fmt(starts.last ?? .nan, 1)) ms over \(starts.count) starts; "
                  + "layers: \(crashPool.launcher.active.joined(separator: " "))")
            print("helper crash → replacement ready: median \(fmt(replacementMedian, 1)) ms, max \(fmt(replacementMax, 1)) ms over \(replacements.count) kills")
            print("helper peak RSS over the corpus: \(fmt(Double(helperPeak) / 1_048_576, 1)) MB")
        }
        print("RESULT mode=isolation jobs=\(inputs.count) workers=\(options.workers) repeat=\(options.repeats) "
              + "inprocess_seconds=\(fmt(bestIn, 4)) isolated_seconds=\(fmt(bestIsolated, 4)) overhead_percent=\(fmt(100 * overhead, 2)) "
              + "overhead_percent_median_paired=\(fmt(100 * median, 2)) replacements=\(replacements.count) "
              + "start_ms_median=\(fmt(QueueBench.percentile(starts, 50), 1)) "
              + "replacement_ms_median=\(fmt(replacementMedian, 1)) replacement_ms_max=\(fmt(replacementMax, 1)) "
              + "helper_peak_rss_mb=\(fmt(Double(helperPeak) / 1_048_576, 1))")
        return 0
    }
}
