import Foundation
import Logging
import MediaQueue
import MediaStore
import MediaTestSupport
import MediaWorker
import Synchronization
import Testing

/// Jobs postponed by an outage finish within 15 s after it ends, with the default backoff (1 s doubling to 300 s): the
/// worker probes the store and the queue while jobs wait, and makes them due as soon as both answer. Without the probe
/// the backoff grows with the outage (a 30 s full disk once left four of five jobs waiting 203 s).
///
/// Mostly waiting: `make test` runs this suite beside the others (scripts/run-tests.sh). The real S3 outage (a
/// SeaweedFS volume server stopped) is `S3VolumeOutageTests` (a file of its own: the filter also matches file
/// names), in the main stream, since it stops a shared server.
@Suite(.onQueueExecutor) struct OutageRecoveryTests {
    /// 12 s in `make test`; `MEDIAWORKER_TEST_OUTAGE_SECONDS=30` replays the 30 s outage of the 203 s report.
    static let outage: TimeInterval = ProcessInfo.processInfo.environment["MEDIAWORKER_TEST_OUTAGE_SECONDS"].flatMap(Double.init) ?? 12
    static let fixtures = ["jpeg-whatsapp-photo", "png-palette", "gif87a", "ogg-opus-voice-note", "pdf-text-3-pages"]

    @Test("a blob-store outage (reads and writes fail): every job is final within 15 s after it ends", arguments: TestBackend.allCases)
    func store(_ backend: TestBackend) async throws {
        let h = try await Harness(backend)
        defer { h.storage.remove() }
        let ids = try await h.submit(Self.fixtures, times: 1, key: "recovery")
        let flaky = FlakyStore(h.files, downFor: Self.outage)
        let cleared = Date().addingTimeInterval(Self.outage)
        try await h.drain(store: flaky, settings: WorkerSettings.recovery, timeout: 120)
        let after = Date().timeIntervalSince(cleared)
        #expect(flaky.failed > ids.count, "the outage was met")
        #expect(after < 15, "every job final \(after) s after the store came back")
        print("recovery: store outage, \(backend): every job final \(String(format: "%.1f", after)) s after it ended")
        try await h.expectFinalInOneAttempt(ids)
    }

    @Test("a database and store outage in the middle of the work: every job is final within 15 s after it ends",
          arguments: TestBackend.allCases)
    func database(_ backend: TestBackend) async throws {
        let h = try await Harness(backend)
        defer { h.storage.remove() }
        let ids = try await h.submit(Self.fixtures, times: 2, key: "db-recovery")
        let outage = OutageQueue(h.queue)
        let store = FlakyStore(h.files)
        // Once work is under way (two jobs done), the database and the store go away together for 12 s: jobs in flight
        // fail their reads, and their postponements wait for the database.
        let queue = h.queue
        let cleared = Mutex<Date?>(nil)
        Task {
            while ((try? await queue.counts())?[.accepted] ?? 0) < 2 { try? await Task.sleep(for: .milliseconds(5)) }
            outage.goDown(for: Self.outage)
            store.goDown(for: Self.outage)
            cleared.withLock { $0 = Date().addingTimeInterval(Self.outage) }
        }
        try await h.drain(store: store, settings: WorkerSettings.recovery, through: outage, timeout: 120)
        let after = Date().timeIntervalSince(try #require(cleared.withLock { $0 }))
        #expect(outage.refused > 0, "the outage was met")
        #expect(after < 15, "every job final \(after) s after the database came back")
        print("recovery: database and store outage, \(backend): every job final \(String(format: "%.1f", after)) s after it ended")
        try await h.expectFinalInOneAttempt(ids)
    }
}

extension WorkerSettings {
    /// The defaults (retry backoff 1 s doubling to 300 s, outage probe every second), two slots.
    static var recovery: WorkerSettings {
        var settings = WorkerSettings()
        settings.concurrency = 2
        return settings
    }
}
