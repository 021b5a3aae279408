import Foundation
import Logging
import MediaQueue
import MediaStore
import MediaTestSupport
import MediaWorker
import Testing

/// A real S3 outage: the SeaweedFS volume server stopped (reads answer 500, writes hang 30 s; HEAD and listings still
/// answer). In the main test stream, one test at a time: it stops the server the other S3 tests share.
@Suite(.serialized, .onQueueExecutor) struct S3VolumeOutageTests {
    @Test("SeaweedFS's volume server stopped for 15 s (or MEDIAWORKER_TEST_OUTAGE_SECONDS): every job is final within 15 s after it is back, none dead, no attempt used",
          arguments: TestBackend.allCases)
    func volumeServer(_ backend: TestBackend) async throws {
        let server = try TestS3.server()
        let h = try await Harness(backend, s3: true)
        defer { h.storage.remove() }
        let ids = try await h.submit(OutageRecoveryTests.fixtures, times: 1, key: "s3-recovery")
        try server.stopVolume()
        var restarted = false
        defer { if !restarted { try? server.startVolume() } }
        let drained = Task { try await h.drain(store: h.files, settings: WorkerSettings.recovery, timeout: 120) }
        try await Task.sleep(for: .seconds(max(15, OutageRecoveryTests.outage)))
        let during = try await h.queue.counts()
        #expect((during[.accepted] ?? 0) + (during[.rejected] ?? 0) < ids.count, "jobs waited for the volume server: \(during)")
        try server.startVolume()
        restarted = true
        let cleared = Date()
        try await drained.value
        let after = Date().timeIntervalSince(cleared)
        #expect(after < 15, "every job final \(after) s after the volume server came back")
        print("recovery: S3 volume server, \(backend): every job final \(String(format: "%.1f", after)) s after it came back")
        try await h.expectFinalInOneAttempt(ids)
    }
}
