import CLame

/// Mono MP3 through libmp3lame, VBR, with a Xing/LAME tag (frame count, seek table, encoder delay and
/// padding) in the first frame so players compute the exact duration and seek correctly.
///
/// VBR rather than CBR: at 24 kHz a CBR frame under 64 kbps is too small to hold the LAME tag (libmp3lame
/// then silently drops it), and without it a player's duration includes ~50–70 ms of encoder delay and padding.
final class MP3Encoder {
    private let lame: OpaquePointer
    private var output: [UInt8] = []
    private var scratch: [UInt8] = []
    /// The first negative return of libmp3lame; after it nothing more is encoded and `finish` returns nil.
    private(set) var failure: Int32?

    /// - Parameters: inputRate is the PCM's rate; libmp3lame resamples to `outputRate` itself.
    init(inputRate: Int, outputRate: Int, vbrQuality: Int, quality: Int) throws(AudioDecodeError) {
        guard let lame = lame_init() else { throw .codecStart("libmp3lame cannot start") }
        self.lame = lame
        lame_set_num_channels(lame, 1)
        lame_set_mode(lame, MONO)
        lame_set_in_samplerate(lame, Int32(inputRate))
        lame_set_out_samplerate(lame, Int32(outputRate))
        lame_set_VBR(lame, vbr_mtrh)
        lame_set_VBR_quality(lame, Float(vbrQuality))
        lame_set_quality(lame, Int32(quality))
        lame_set_bWriteVbrTag(lame, 1)
        lame_set_write_id3tag_automatic(lame, 0)
        guard lame_init_params(lame) >= 0 else {
            lame_close(lame)
            throw .unsupported("libmp3lame refuses \(inputRate) Hz → \(outputRate) Hz at V\(vbrQuality)")
        }
    }

    deinit { lame_close(lame) }

    /// Reserves room for the whole MP3 up front, so a long note's buffer is not grown by doubling.
    func reserve(bytes: Int) { output.reserveCapacity(bytes) }

    func encode(_ mono: [Float]) {
        guard !mono.isEmpty, failure == nil else { return }
        let needed = mono.count + mono.count / 4 + 7200  // libmp3lame's worst case
        if scratch.count < needed { scratch = [UInt8](repeating: 0, count: needed) }
        let capacity = Int32(scratch.count)
        let written = mono.withUnsafeBufferPointer { pcm in
            scratch.withUnsafeMutableBufferPointer { out in
                lame_encode_buffer_ieee_float(lame, pcm.baseAddress, pcm.baseAddress, Int32(mono.count), out.baseAddress, capacity)
            }
        }
        if written < 0 { failure = written } else if written > 0 { output.append(contentsOf: scratch[0..<Int(written)]) }
    }

    /// Flushes the encoder and writes the Info tag into the frame libmp3lame reserved at the start; nil when
    /// libmp3lame failed on any call (the MP3 would be missing audio).
    func finish() -> [UInt8]? {
        guard failure == nil else { return nil }
        if scratch.count < 7200 { scratch = [UInt8](repeating: 0, count: 7200) }
        let capacity = Int32(scratch.count)
        let written = scratch.withUnsafeMutableBufferPointer { lame_encode_flush(lame, $0.baseAddress, capacity) }
        if written < 0 { failure = written; return nil }
        if written > 0 { output.append(contentsOf: scratch[0..<Int(written)]) }
        var tag = [UInt8](repeating: 0, count: 2880)
        let tagSize = tag.withUnsafeMutableBufferPointer { lame_get_lametag_frame(lame, $0.baseAddress, $0.count) }
        if tagSize > 0 && tagSize <= output.count && output.starts(with: [0xFF]) {
            output.replaceSubrange(0..<tagSize, with: tag[0..<tagSize])
        }
        return output
    }
}
