import Foundation

/// Halves a stream's sample rate (48 kHz Opus → 24 kHz MP3) with a zero-phase 47-tap halfband FIR, so
/// libmp3lame does not have to run its much slower general resampler. Streaming: any chunk sizes in,
/// exactly ceil(n/2) samples out in total, aligned with the input (no added delay).
struct HalfbandDecimator {
    /// The centre tap and the taps at odd offsets 1, 3, …, 23 (even offsets of a halfband filter are zero):
    /// a Blackman-windowed sinc with its cut-off at a quarter of the input rate, normalised to unity gain.
    private static let coefficients: (centre: Float, odd: [Float]) = {
        let half = 23
        let h = (0...half).map { k -> Double in
            let x = Double(k)
            let sinc = k == 0 ? 1 : sin(.pi * x / 2) / (.pi * x / 2)
            let n = x + Double(half)
            let window = 0.42 - 0.5 * cos(2 * .pi * n / Double(2 * half)) + 0.08 * cos(4 * .pi * n / Double(2 * half))
            return 0.5 * sinc * window
        }
        let sum = h[0] + 2 * h[1...].reduce(0, +)
        return (Float(h[0] / sum), stride(from: 1, through: half, by: 2).map { Float(h[$0] / sum) })
    }()
    private static let reach = 23

    private var pending: [Float] = [Float](repeating: 0, count: 23)
    private var centre = 23
    private var consumed: Int64 = 0
    private var produced: Int64 = 0

    /// Feeds `input` and replaces `output` with the samples now ready.
    mutating func process(_ input: [Float], into output: inout [Float]) {
        consumed += Int64(input.count)
        pending.append(contentsOf: input)
        run(into: &output, limit: Int64.max)
    }

    /// Flushes the tail; replaces `output` with the last samples.
    mutating func finish(into output: inout [Float]) {
        pending.append(contentsOf: [Float](repeating: 0, count: Self.reach))
        run(into: &output, limit: (consumed + 1) / 2)
    }

    private mutating func run(into output: inout [Float], limit: Int64) {
        output.removeAll(keepingCapacity: true)
        let taps = Self.coefficients.odd, c0 = Self.coefficients.centre, reach = Self.reach
        pending.withUnsafeBufferPointer { x in
            taps.withUnsafeBufferPointer { h in
                while centre + reach < x.count && produced < limit {
                    var acc = c0 * x[centre]
                    for k in 0..<h.count {
                        let j = 2 * k + 1
                        acc += h[k] * (x[centre - j] + x[centre + j])
                    }
                    output.append(acc)
                    produced += 1
                    centre += 2
                }
            }
        }
        // Keep only the history the next output needs.
        let drop = centre - reach
        if drop > 4096 {
            pending.removeFirst(drop)
            centre -= drop
        }
    }
}
