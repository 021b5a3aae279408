// libFuzzer target: the whole pipeline (`AttachmentPipeline.process`) on arbitrary bytes, as a visitor and as an
// operator (the first byte chooses). Built by `make fuzz` with `-sanitize=fuzzer,address -DFUZZING`; without
// FUZZING it is a replay program: `fuzz-pipeline FILE...` runs each file once (a crash reproduces in a debugger).
import Foundation
import FuzzSupport
import MediaPipeline

let pipeline: AttachmentPipeline = {
    var settings = PipelineSettings()
    // Bounded work per input: a hang is found by libFuzzer's -timeout, not waited out for a minute.
    settings.timeLimitSeconds = 2
    settings.maxDurationSeconds = 120
    do { return try AttachmentPipeline(settings: settings) } catch { fatalError("pipeline cannot start: \(error)") }
}()

func fuzzOne(_ bytes: [UInt8]) {
    let sender: Sender = (bytes.first ?? 0) & 1 == 0 ? .visitor : .operator
    _ = try? pipeline.process(bytes, facts: AttachmentFacts(from: sender))
}

@main enum Target {
    static func main() { FuzzMain.run(fuzzOne) }
}
