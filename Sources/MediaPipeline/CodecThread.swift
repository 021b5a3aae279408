import Foundation

/// The one way blocking codec work leaves Swift's cooperative pool: the in-process pipeline, or the wait on a helper
/// process's answer, runs on a thread of its own while the calling task is suspended. The pool's few threads (one
/// per core) stay free for the database and HTTP work of every other job. How many run at once is bounded by the
/// caller (the worker's slots, `MEDIAWORKER_WORKERS`), so this needs no pool of its own.
public enum CodecThread {
    /// Stack size of such threads: libvips and the decoders recurse deeper than a default secondary thread allows.
    static let stackSize = 8 << 20

    /// Runs `body` on a new thread and returns (or throws) what it did.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            let thread = Thread {
                c.resume(with: Result { try body() })
            }
            thread.name = "mediaworker.codec"
            thread.stackSize = stackSize
            thread.start()
        }
    }
}
