import Foundation

/// What the transcoder made of one audio file.
enum VoiceNoteResult {
    case playback(Artifact, waveform: [Double], gainDb: Double)
    case unavailable(PreviewUnavailable)
    case rejected(Rejection)
}

/// Converts a voice note (Ogg/Opus; also Ogg Vorbis and MP3) into mono MP3 that every browser plays.
///
/// Streaming and bounded: PCM flows a chunk at a time from the decoder to libmp3lame (on a second thread,
/// through a bounded queue); the duration limit is checked from the container (granule positions, frame
/// scan) before decoding, and again while decoding. The level and the waveform are measured on the way,
/// and a quiet note is raised afterwards by changing the MP3's global gain, so the note is decoded once.
struct VoiceNoteTranscoder {
    let settings: PipelineSettings

    /// Throws `PipelineError.codec` when a codec library does not start (the job is retried); every verdict on the
    /// file is a result.
    func transcode(_ bytes: UnsafeRawBufferPointer, type: String) throws -> VoiceNoteResult {
        let deadline = ContinuousClock.now + .milliseconds(Int(settings.timeLimitSeconds * 1000))
        do throws(AudioDecodeError) {
            let decoder = try opener(for: type, bytes)()
            let rate = decoder.sampleRate
            // Numbers from the file are checked before any arithmetic or C conversion uses them.
            guard Self.sampleRates.contains(rate) else {
                return .rejected(Rejection(.corrupt, "the \(label(type)) claims a sample rate of \(rate) Hz, outside \(Self.sampleRates.lowerBound)–\(Self.sampleRates.upperBound) Hz"))
            }
            let limitFrames = Int64(settings.maxDurationSeconds * Double(rate))
            if let declared = decoder.declaredFrames, declared > limitFrames {
                return tooLong(frames: declared, rate: rate)
            }
            // 48 kHz (every Opus stream) halves to 24 kHz here; other rates are resampled by libmp3lame.
            var decimator: HalfbandDecimator? = rate == 2 * settings.voiceSampleRate ? HalfbandDecimator() : nil
            // Speech at these settings stays under ~64 kbps: reserve that much for the known duration.
            let expected = decoder.declaredFrames.map { Int(Double($0) / Double(rate) * 8_000) + 65_536 } ?? 0
            let encoder = PipelinedEncoder(try MP3Encoder(inputRate: decimator == nil ? rate : settings.voiceSampleRate,
                                                          outputRate: settings.voiceSampleRate,
                                                          vbrQuality: settings.voiceVBRQuality, quality: settings.mp3Quality),
                                           expectedBytes: min(expected, 32 << 20))
            var meter = LevelMeter(sampleRate: rate)
            var chunk: [Float] = [], halved: [Float] = [], batch: [Float] = []
            batch.reserveCapacity(Self.batchSize + 8192)
            func send(_ samples: [Float]) {
                batch.append(contentsOf: samples)
                if batch.count >= Self.batchSize {
                    encoder.push(batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            do throws(AudioDecodeError) {
                while try decoder.readMono(into: &chunk) {
                    meter.add(chunk)
                    if meter.frames > limitFrames { encoder.cancel(); return tooLong(frames: meter.frames, rate: rate) }
                    if ContinuousClock.now > deadline { encoder.cancel(); return .unavailable(.timeLimit) }
                    if decimator != nil { decimator!.process(chunk, into: &halved); send(halved) } else { send(chunk) }
                }
            } catch {
                encoder.cancel()
                throw error
            }
            if decimator != nil { decimator!.finish(into: &halved); send(halved) }
            if !batch.isEmpty { encoder.push(batch) }
            guard meter.frames > 0 else {
                encoder.cancel()
                return .rejected(Rejection(.corrupt, "no audio decodes from the \(label(type))"))
            }
            guard var mp3 = encoder.finish() else {
                return .rejected(Rejection(.corrupt, "the MP3 encoder failed on the decoded audio (libmp3lame error \(encoder.failure ?? 0))"))
            }

            // Normalisation after the fact, losslessly, in 1.5 dB steps of the MP3's global gain.
            var gainDb = 0.0
            if settings.normalizeVoiceNotes {
                let wanted = meter.gainDb(targetDbfs: settings.voiceTargetDbfs, maxGainDb: settings.voiceMaxGainDb)
                let steps = Int((wanted / MP3GainAdjuster.stepDb).rounded(.down))
                if steps > 0 {
                    MP3GainAdjuster.apply(steps: steps, to: &mp3)
                    gainDb = Double(steps) * MP3GainAdjuster.stepDb
                }
            }
            let durationMs = Int((Double(meter.frames) * 1000 / Double(rate)).rounded())
            return .playback(Artifact(role: .playback, contentType: MediaType.mpeg, bytes: mp3, durationMs: durationMs),
                             waveform: meter.waveform(points: settings.waveformPoints), gainDb: gainDb)
        } catch {
            return try Self.verdict(error)
        }
    }

    /// A decoding error as the contract gives it: the file's problems are rejections; a codec library that does not
    /// start throws `PipelineError.codec` (not the file's doing: the job is retried).
    static func verdict(_ error: AudioDecodeError) throws(PipelineError) -> VoiceNoteResult {
        switch error {
        case .unsupported(let what): return .rejected(Rejection(.unsupportedType, "\(what) is not supported: send Ogg/Opus or MP3"))
        case .corrupt(let what): return .rejected(Rejection(.corrupt, what))
        case .codecStart(let what): throw .codec(what)
        }
    }

    /// Sample rates a voice note may have; anything else is a damaged or crafted header.
    static let sampleRates = 8_000...192_000

    /// Samples handed to the encoder thread at a time (0.5 s at 24 kHz): few hand-offs, little memory.
    private static let batchSize = 12_000

    /// A function that opens a decoder over the bytes.
    private func opener(for type: String, _ bytes: UnsafeRawBufferPointer) throws(AudioDecodeError) -> () throws(AudioDecodeError) -> any AudioDecoder {
        switch type {
        case MediaType.ogg:
            switch OggCodec.identify(bytes) {
            case .opus: return { () throws(AudioDecodeError) in try OpusStreamDecoder(bytes) }
            case .vorbis: return { () throws(AudioDecodeError) in try VorbisStreamDecoder(bytes) }
            case .other(let what): throw .unsupported("Ogg with \(what)")
            }
        case MediaType.mpeg:
            return { () throws(AudioDecodeError) in try MP3StreamDecoder(bytes) }
        default:
            throw .unsupported(type)
        }
    }

    private func tooLong(frames: Int64, rate: Int) -> VoiceNoteResult {
        .rejected(Rejection(.tooLong, "the note lasts \(clock(Double(frames) / Double(rate))), over the \(clock(settings.maxDurationSeconds)) limit"))
    }

    private func label(_ type: String) -> String { type == MediaType.mpeg ? "MP3" : "Ogg stream" }
}

/// 1862.4 → "31:02".
func clock(_ seconds: Double) -> String {
    let s = Int(seconds.rounded(.down))
    let (m, r) = s.quotientAndRemainder(dividingBy: 60)
    return "\(m):" + (r < 10 ? "0" : "") + "\(r)"
}

/// Levels per 10 ms block: peaks for the waveform, energies for a gated loudness estimate.
struct LevelMeter {
    private let blockSize: Int
    private var peaks: [Float] = []
    private var energies: [Float] = []
    private var blockPeak: Float = 0
    private var blockEnergy: Float = 0
    private var inBlock = 0
    private(set) var frames: Int64 = 0
    private(set) var peak: Float = 0

    init(sampleRate: Int) { blockSize = max(1, sampleRate / 100) }

    mutating func add(_ samples: [Float]) {
        frames += Int64(samples.count)
        samples.withUnsafeBufferPointer { all in
            var start = 0
            while start < all.count {
                // Whole runs up to the block boundary, in branch-free loops the compiler vectorises.
                let n = min(blockSize - inBlock, all.count - start)
                var top: Float = 0, energy: Float = 0
                for i in start..<(start + n) {
                    let s = all[i]
                    top = max(top, abs(s))
                    energy += s * s
                }
                blockPeak = max(blockPeak, top)
                blockEnergy += energy
                inBlock += n
                start += n
                if inBlock == blockSize { closeBlock() }
            }
        }
    }

    private mutating func closeBlock() {
        peaks.append(blockPeak)
        energies.append(blockEnergy / Float(max(1, inBlock)))
        peak = max(peak, blockPeak)
        blockPeak = 0; blockEnergy = 0; inBlock = 0
    }

    /// Boost (never cut) towards `targetDbfs` RMS over the blocks louder than -45 dBFS (speech, not pauses),
    /// capped by `maxGainDb` and by the peak (1 dB of headroom). Gains under 1 dB are not applied.
    func gainDb(targetDbfs: Double, maxGainDb: Double) -> Double {
        let gate: Float = 3.16e-5  // -45 dBFS as mean square
        let voiced = energies.filter { $0 > gate }
        guard !voiced.isEmpty, peak > 0 else { return 0 }
        let loudness = 10 * log10(Double(voiced.reduce(0, +)) / Double(voiced.count))
        let headroom = -1 - 20 * log10(Double(peak))
        let gain = min(targetDbfs - loudness, maxGainDb, headroom)
        return gain >= 1 ? (gain * 10).rounded() / 10 : 0
    }

    /// `points` peak values in [0, 1] (the loudest bucket is 1), for the desk to draw.
    func waveform(points: Int) -> [Double] {
        var blocks = peaks
        if inBlock > 0 { blocks.append(blockPeak) }
        guard !blocks.isEmpty else { return [] }
        let n = min(points, blocks.count)
        var buckets = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let from = i * blocks.count / n, to = max(from + 1, (i + 1) * blocks.count / n)
            buckets[i] = blocks[from..<to].max() ?? 0
        }
        let top = buckets.max() ?? 0
        guard top > 0 else { return buckets.map { _ in 0 } }
        return buckets.map { (Double($0 / top) * 100).rounded() / 100 }
    }
}
