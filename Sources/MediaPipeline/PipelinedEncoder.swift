import Foundation

/// Runs an `MP3Encoder` on its own thread so decoding and encoding of one note overlap on two cores.
/// The queue between them is bounded, so memory stays small however long the note is.
final class PipelinedEncoder: @unchecked Sendable {
    private let encoder: MP3Encoder
    private let condition = NSCondition()
    private var queue: [[Float]] = []
    private var closed = false
    private var cancelled = false
    private var output: [UInt8]? = nil
    private var exited = false
    private static let depth = 8

    init(_ encoder: MP3Encoder, expectedBytes: Int = 0) {
        if expectedBytes > 0 { encoder.reserve(bytes: expectedBytes) }
        self.encoder = encoder
        let thread = Thread { [self] in run() }
        thread.name = "mediaworker.mp3"
        thread.start()
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !closed && !cancelled { condition.wait() }
            if cancelled || (queue.isEmpty && closed) {
                let finish = !cancelled
                condition.unlock()
                let bytes = finish ? encoder.finish() : nil
                condition.lock()
                output = bytes
                exited = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let chunk = queue.removeFirst()
            condition.broadcast()
            condition.unlock()
            encoder.encode(chunk)
        }
    }

    /// Hands a chunk to the encoder; waits while the queue is full.
    func push(_ chunk: [Float]) {
        condition.lock()
        while queue.count >= Self.depth && !cancelled { condition.wait() }
        queue.append(chunk)
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for everything queued to be encoded and returns the MP3 (nil when libmp3lame failed).
    func finish() -> [UInt8]? {
        condition.lock()
        closed = true
        condition.broadcast()
        while !exited { condition.wait() }
        let bytes = output
        condition.unlock()
        return bytes
    }

    /// libmp3lame's error code when it failed (after `finish`).
    var failure: Int32? { encoder.failure }

    /// Stops the encoder without finishing (the note was refused); waits for its thread to end.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        while !exited { condition.wait() }
        condition.unlock()
    }
}
