import CAudioDecoding
import CMpg123
import COpusFile
import CVorbisFile

/// Why an audio stream cannot be decoded.
enum AudioDecodeError: Error {
    /// The container or codec is not one this worker converts.
    case unsupported(String)
    /// The codec is supported but the data does not decode.
    case corrupt(String)
    /// A codec library did not start (no memory for its state, say): not the file's doing, the job is retried.
    case codecStart(String)
}

/// A streaming decoder over bytes held in memory: PCM comes out a chunk at a time, mixed down to mono,
/// so a whole note's PCM is never held at once.
protocol AudioDecoder: AnyObject {
    /// Sample rate of the PCM `readMono` returns.
    var sampleRate: Int { get }
    /// Length in samples from the container (Ogg granule positions, MP3 frame scan), known before decoding.
    var declaredFrames: Int64? { get }
    /// Replaces `mono` with the next chunk of samples in [-1, 1]; returns false at the end of the stream.
    func readMono(into mono: inout [Float]) throws(AudioDecodeError) -> Bool
}

/// Which codec an Ogg stream carries, from the first packet of its first page.
enum OggCodec {
    case opus, vorbis, other(String)

    static func identify(_ bytes: UnsafeRawBufferPointer) -> OggCodec {
        // Page header: "OggS", version, flags, granule(8), serial(4), sequence(4), crc(4), segment count.
        guard bytes.count >= 28, bytes[0] == 0x4F, bytes[1] == 0x67, bytes[2] == 0x67, bytes[3] == 0x53 else {
            return .other("not an Ogg stream")
        }
        let segments = Int(bytes[26])
        let start = 27 + segments
        guard bytes.count >= start + 8 else { return .other("a truncated first Ogg page") }
        let head = Array(bytes[start..<min(bytes.count, start + 8)])
        if head.elementsEqual("OpusHead".utf8) { return .opus }
        if head.count >= 7, head[0] == 1, head[1..<7].elementsEqual("vorbis".utf8) { return .vorbis }
        if head.count >= 5, head[0] == 0x7F, head[1..<5].elementsEqual("FLAC".utf8) { return .other("FLAC") }
        if head.count >= 5, head[0..<5].elementsEqual("Speex".utf8) { return .other("Speex") }
        return .other("an unknown codec")
    }
}

/// Ogg/Opus through libopusfile: pre-skip, output gain, chained links and holes handled; always 48 kHz.
final class OpusStreamDecoder: AudioDecoder {
    private let file: OpaquePointer
    private let direct: OpaquePointer?
    private var interleaved = [Float](repeating: 0, count: 5760 * 8)  // 120 ms at 48 kHz, up to 8 channels
    /// Gaps in the page sequence that were skipped.
    private(set) var holes = 0
    let sampleRate = 48_000
    let declaredFrames: Int64?

    init(_ bytes: UnsafeRawBufferPointer) throws(AudioDecodeError) {
        var error: Int32 = 0
        guard let base = bytes.baseAddress,
              let file = op_open_memory(base.assumingMemoryBound(to: UInt8.self), bytes.count, &error) else {
            throw .corrupt("the Ogg/Opus stream does not open (libopusfile error \(error))")
        }
        self.file = file
        direct = mw_opus_direct_attach(file)
        let total = op_pcm_total(file, -1)
        declaredFrames = total >= 0 ? total : nil
    }

    deinit {
        op_free(file)
        mw_opus_direct_free(direct)
    }

    func readMono(into mono: inout [Float]) throws(AudioDecodeError) -> Bool {
        while true {
            var link: Int32 = 0
            let count = interleaved.count
            let n = interleaved.withUnsafeMutableBufferPointer { op_read_float(file, $0.baseAddress, Int32(count), &link) }
            if n == OP_HOLE { holes += 1; continue }
            if n < 0 { throw .corrupt("the Opus data does not decode (libopusfile error \(n))") }
            if n == 0 { return false }
            let channels = Int(op_channel_count(file, link))
            mixDown(interleaved, frames: Int(n), channels: channels, into: &mono)
            return true
        }
    }
}

/// Ogg Vorbis through libvorbisfile.
final class VorbisStreamDecoder: AudioDecoder {
    /// On the heap, never moved: libvorbisfile keeps pointers into it (its vorbis_block points at its dsp state).
    private let file: UnsafeMutablePointer<OggVorbis_File>
    private var reader: UnsafeMutablePointer<MwVorbisReader>
    let sampleRate: Int
    let declaredFrames: Int64?

    init(_ bytes: UnsafeRawBufferPointer) throws(AudioDecodeError) {
        reader = .allocate(capacity: 1)
        reader.initialize(to: MwVorbisReader(data: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), length: bytes.count, position: 0))
        file = .allocate(capacity: 1)
        file.initialize(to: OggVorbis_File())
        // On failure ov_open_callbacks clears what it set up itself.
        guard mw_vorbis_open_memory(reader, file) == 0, let info = ov_info(file, -1) else {
            reader.deallocate()
            file.deallocate()
            throw .corrupt("the Ogg Vorbis stream does not open")
        }
        sampleRate = info.pointee.rate
        let total = ov_pcm_total(file, -1)
        declaredFrames = total >= 0 ? total : nil
    }

    deinit {
        ov_clear(file)
        file.deallocate()
        reader.deallocate()
    }

    func readMono(into mono: inout [Float]) throws(AudioDecodeError) -> Bool {
        while true {
            var channelsPointer: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>? = nil
            var stream: Int32 = 0
            let n = ov_read_float(file, &channelsPointer, 4096, &stream)
            if n == OV_HOLE { continue }
            if n < 0 { throw .corrupt("the Vorbis data does not decode (libvorbisfile error \(n))") }
            if n == 0 { return false }
            guard let info = ov_info(file, stream), let channelsPointer else { throw .corrupt("a Vorbis link without a header") }
            if info.pointee.rate != sampleRate { throw .unsupported("a Vorbis stream whose sample rate changes mid-stream") }
            let channels = Int(info.pointee.channels), frames = Int(n)
            mono.removeAll(keepingCapacity: true)
            mono.reserveCapacity(frames)
            let scale = 1 / Float(channels)
            for i in 0..<frames {
                var sum: Float = 0
                for c in 0..<channels { sum += channelsPointer[c]![i] }
                mono.append(sum * scale)
            }
            return true
        }
    }
}

/// MP3 through libmpg123; the frame headers are scanned first so the exact length is known before decoding.
final class MP3StreamDecoder: AudioDecoder {
    private let handle: OpaquePointer
    private var reader: UnsafeMutablePointer<MwMemoryReader>
    private var buffer = [Float](repeating: 0, count: 1152 * 2 * 8)
    private var channels = 1
    let sampleRate: Int
    let declaredFrames: Int64?

    init(_ bytes: UnsafeRawBufferPointer) throws(AudioDecodeError) {
        var error: Int32 = 0
        guard let handle = mpg123_new(nil, &error) else { throw .codecStart("libmpg123 cannot start (\(error))") }
        reader = .allocate(capacity: 1)
        reader.initialize(to: MwMemoryReader(data: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), length: bytes.count, position: 0))
        self.handle = handle
        var rate = 0, channelCount: Int32 = 0, encoding: Int32 = 0
        guard mw_mpg123_quiet_float(handle) == MPG123_OK.rawValue,
              mw_mpg123_open_memory(handle, reader) == MPG123_OK.rawValue,
              mpg123_scan(handle) == MPG123_OK.rawValue,
              mpg123_getformat(handle, &rate, &channelCount, &encoding) == MPG123_OK.rawValue, rate > 0 else {
            mpg123_delete(handle)
            reader.deallocate()
            throw .corrupt("the MP3 stream has no decodable frame")
        }
        sampleRate = rate
        channels = Int(channelCount)
        let length = mpg123_length(handle)
        declaredFrames = length > 0 ? Int64(length) : nil
    }

    deinit {
        mpg123_close(handle)
        mpg123_delete(handle)
        reader.deallocate()
    }

    func readMono(into mono: inout [Float]) throws(AudioDecodeError) -> Bool {
        while true {
            var done = 0
            let capacity = buffer.count * MemoryLayout<Float>.size
            let status = buffer.withUnsafeMutableBytes { mpg123_read(handle, $0.baseAddress, capacity, &done) }
            // The frame count uses the channel count the samples were decoded with: a stream switching from mono
            // to stereo (make fuzz found one) must not be read with the new count over the old samples.
            let frames = done / MemoryLayout<Float>.size / channels
            if status == MPG123_NEW_FORMAT.rawValue {
                var rate = 0, channelCount: Int32 = 0, encoding: Int32 = 0
                mpg123_getformat(handle, &rate, &channelCount, &encoding)
                if rate != sampleRate { throw .unsupported("an MP3 stream whose sample rate changes mid-stream") }
                guard (1...2).contains(channelCount) else { throw .corrupt("an MP3 stream with \(channelCount) channels") }
                if frames > 0 { mixDown(buffer, frames: frames, channels: channels, into: &mono) }
                channels = Int(channelCount)
                if frames > 0 { return true }
                continue
            } else if status == MPG123_DONE.rawValue {
                if frames == 0 { return false }
            } else if status != MPG123_OK.rawValue {
                throw .corrupt("the MP3 data does not decode (libmpg123 error \(status))")
            }
            if frames > 0 {
                mixDown(buffer, frames: frames, channels: channels, into: &mono)
                return true
            }
        }
    }
}

/// Interleaved PCM → mono (the mean of the channels).
@inline(__always)
func mixDown(_ interleaved: [Float], frames: Int, channels: Int, into mono: inout [Float]) {
    mono.removeAll(keepingCapacity: true)
    mono.reserveCapacity(frames)
    if channels == 1 {
        mono.append(contentsOf: interleaved[0..<min(frames, interleaved.count)])
        return
    }
    let scale = 1 / Float(channels)
    // Never past the samples there are, whatever a decoder reported.
    let frames = min(frames, interleaved.count / max(1, channels))
    interleaved.withUnsafeBufferPointer { p in
        for i in 0..<frames {
            var sum: Float = 0
            for c in 0..<channels { sum += p[i * channels + c] }
            mono.append(sum * scale)
        }
    }
}
