import Foundation
import NIOCore
import Synchronization

/// Served artifacts of final jobs, within a byte budget (least recently added dropped first).
final class MediaCache: Sendable {
    /// An artifact ready to serve: its bytes and the headers that depend on it.
    struct Entry: Sendable {
        var bytes: ByteBuffer
        var contentType: String
        var etag: String
        var disposition: String
        /// The artifact's role (`safe_copy` is served under its own CSP).
        var role: String = ""
    }

    private struct Contents {
        var entries: [String: Entry] = [:]
        /// Keys in the order they were added: the first is dropped first.
        var order: [String] = []
        var used = 0
    }

    private let contents = Mutex(Contents())
    private let budget: Int

    init(budget: Int) { self.budget = budget }

    func get(_ key: String) -> Entry? { contents.withLock { $0.entries[key] } }

    /// Drops every entry of these jobs (keys `JOB/ROLE`), erased here or elsewhere.
    func drop(jobIDs: [String]) {
        guard !jobIDs.isEmpty else { return }
        let gone = Set(jobIDs.map { $0.lowercased() })
        contents.withLock { c in
            guard !c.entries.isEmpty else { return }
            let dropped = c.order.filter { gone.contains(String($0.prefix { $0 != "/" }).lowercased()) }
            guard !dropped.isEmpty else { return }
            for key in dropped { c.used -= c.entries.removeValue(forKey: key)?.bytes.readableBytes ?? 0 }
            let droppedSet = Set(dropped)
            c.order.removeAll { droppedSet.contains($0) }
        }
    }

    /// Drops everything.
    func removeAll() { contents.withLock { $0 = Contents() } }

    var isEmpty: Bool { contents.withLock { $0.entries.isEmpty } }

    /// The cross-process erasure check (`MediaHTTPService.checkErasures`): `at`, the queue's clock at the last look
    /// (from the beginning of time until the first); `last`, this process's clock then (looks are a second apart).
    let erasureCheck = Mutex<(at: Date, last: Date, running: Bool)>((.distantPast, .distantPast, false))

    func put(_ key: String, _ entry: Entry) {
        let size = entry.bytes.readableBytes
        // One large file must not push out everything else.
        guard size <= budget / 4 else { return }
        let budget = self.budget
        contents.withLock { c in
            guard c.entries[key] == nil else { return }
            c.entries[key] = entry
            c.order.append(key)
            c.used += size
            while c.used > budget, !c.order.isEmpty {
                let old = c.order.removeFirst()
                c.used -= c.entries.removeValue(forKey: old)?.bytes.readableBytes ?? 0
            }
        }
    }
}
