// mediaworker-bench safe-copies: what a PDF's safe copy costs and weighs. A program that prints figures, never a timed
// test; Benchmarks/safecopy.sh runs it on a corpus of text, scan and photo PDFs.
//
//   mediaworker-bench safe-copies FILE.pdf … [--repeat R] [--helper PATH]
//
// Per file, in this process (best of R): the pages rendered as the helper renders them (poppler through libvips,
// 150 DPI, at most 4 MP a page, one libvips thread), then encoded as the parent encodes them (JPEG or exact palette +
// Flate, the PDF written); the copy's size against the original's and against Dangerzone's way on the same pixels
// (lossless RGB Flate at 150 DPI). Then the real path: the file through `SandboxedPipeline` (a helper renders, this
// process checks and encodes) with safe copies on and off, one job at a time; the difference per page is what the
// copy adds to a job. Last, every file at once through 2 helpers (2 jobs side by side on the 2 cores): seconds per
// page of the whole batch.
//
//   RESULT mode=safecopy file=… pages=… original_bytes=… copy_bytes=… dangerzone_bytes=… render_s_per_page=…
//          encode_s_per_page=… job_added_s_per_page=…
//   RESULT mode=safecopy-batch pages=… seconds=… s_per_page=…

import ArgumentParser
import Foundation
import MediaPipeline
import MediaSandbox
import Synchronization

enum SafeCopyBench {
    struct Command: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "safe-copies",
            abstract: "Time per page and size of PDFs' safe copies, next to Dangerzone's lossless RGB (Benchmarks/safecopy.sh)."
        )

        @Argument(help: "PDF files.")
        var files: [String]

        @Option(name: .customLong("repeat"), help: "Runs; the best one is reported (default: 3).", transform: positive)
        var repeats = 3

        @Option(name: .customLong("helper"),
                help: ArgumentHelp("The mediaworker executable to run helpers from (default: next to this program).",
                                   valueName: "path"))
        var helperPath: String?

        var helper: String {
            helperPath ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("mediaworker").path
        }

        func run() async throws { try await bench("safe-copies") { try SafeCopyBench.measure(self) } }
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    static func measure(_ options: Command) throws -> Int32 {
        try VipsRuntime.start()
        VipsRuntime.setConcurrency(1)  // as in a helper (MEDIAWORKER_HELPER_VIPS_THREADS)
        let settings = PipelineSettings()
        let clock = ContinuousClock()
        let on = try SandboxedPipeline(environment: [:], capacity: 1, executable: options.helper)
        let off = try SandboxedPipeline(environment: ["MEDIAWORKER_SAFE_COPY": "false"], capacity: 1, executable: options.helper)
        on.start()
        off.start()
        defer { on.shutdown(); off.shutdown() }
        print("file                          pages  original      copy  dangerzone  copy/dz  render s/p  encode s/p  job +s/p")
        var inputs: [[UInt8]] = []
        for path in options.files {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            inputs.append(bytes)
            var render = Double.infinity, encode = Double.infinity
            var copySize = 0, referenceSize = 0, pageCount = 0
            for _ in 0..<options.repeats {
                var pages: [PageRaster] = []
                let started = clock.now
                let result = bytes.withUnsafeBytes { raw in
                    SafeCopyRenderer(settings: settings).render(raw) { event in
                        if case .page(let page) = event { pages.append(page) }
                        return true
                    }
                }
                let rendered = clock.now
                guard case .rendered(let count) = result else { throw Usage(description: "\(path): \(result)") }
                var builder = SafeCopyBuilder(settings: settings)
                _ = builder.begin(pageCount: count)
                for page in pages { if let v = builder.add(page) { throw Usage(description: "\(path): \(v)") } }
                guard case .copy(let copy) = builder.finish() else { throw Usage(description: "\(path): no copy") }
                let encoded = clock.now
                render = min(render, seconds(rendered - started) / Double(count))
                encode = min(encode, seconds(encoded - rendered) / Double(count))
                copySize = copy.bytes.count
                pageCount = count
                referenceSize = SafeCopyBuilder.losslessReference(pages)?.count ?? 0
            }
            // The real path, one job at a time: safe copies on, then off.
            func best(_ pipeline: SandboxedPipeline) throws -> Double {
                var fastest = Double.infinity
                for _ in 0..<options.repeats {
                    var timings = AttachmentPipeline.PhaseTimings()
                    let started = clock.now
                    _ = try pipeline.process(bytes, facts: AttachmentFacts(from: .visitor), timings: &timings)
                    fastest = min(fastest, seconds(clock.now - started))
                }
                return fastest
            }
            let added = (try best(on) - best(off)) / Double(pageCount)
            let name = URL(fileURLWithPath: path).lastPathComponent
            print(String(format: "%-28@ %6d %9d %9d %11d %7.2f %11.3f %11.3f %9.3f", name as NSString, pageCount, bytes.count, copySize,
                         referenceSize, Double(copySize) / Double(max(1, referenceSize)), render, encode, added))
            print("RESULT mode=safecopy file=\(name) pages=\(pageCount) original_bytes=\(bytes.count) copy_bytes=\(copySize) dangerzone_bytes=\(referenceSize) render_s_per_page=\(String(format: "%.3f", render)) encode_s_per_page=\(String(format: "%.3f", encode)) job_added_s_per_page=\(String(format: "%.3f", added))")
        }
        // Every file at once through 2 helpers: 2 jobs side by side, as a 2-core worker runs them.
        let batch = try SandboxedPipeline(environment: [:], capacity: 2, executable: options.helper)
        batch.start()
        defer { batch.shutdown() }
        var fastest = Double.infinity, pages = 0
        let files = inputs
        for _ in 0..<options.repeats {
            let next = Atomic<Int>(0), copies = Atomic<Int>(0)
            let started = clock.now
            DispatchQueue.concurrentPerform(iterations: 2) { _ in
                while true {
                    let i = next.add(1, ordering: .relaxed).oldValue
                    guard i < files.count else { return }
                    var timings = AttachmentPipeline.PhaseTimings()
                    if case .accepted(let a) = try? batch.process(files[i], facts: AttachmentFacts(from: .visitor), timings: &timings),
                       let copy = a.artifacts.first(where: { $0.role == .safeCopy }) {
                        copies.add(copy.pages ?? 0, ordering: .relaxed)
                    }
                }
            }
            fastest = min(fastest, seconds(clock.now - started))
            pages = copies.load(ordering: .relaxed)
        }
        print(String(format: "batch: %d pages of %d files, 2 jobs at a time: %.2f s, %.3f s per page", pages, inputs.count, fastest,
                     fastest / Double(max(1, pages))))
        print("RESULT mode=safecopy-batch pages=\(pages) seconds=\(String(format: "%.2f", fastest)) s_per_page=\(String(format: "%.3f", fastest / Double(max(1, pages))))")
        return 0
    }
}
