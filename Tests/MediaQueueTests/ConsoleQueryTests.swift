import Foundation
import MediaPostgres
import MediaQueue
import MediaTestSupport
import Testing

/// The console's reads (`ConsoleQueries`), the same on both drivers.
@Suite(.onQueueExecutor) struct ConsoleQueryTests {
    /// A known set of jobs: 12 in all, made one second apart from t0 (ids ascend with i).
    ///  0–3 accepted images (business A, conversation c-0…c-3), 4–5 accepted voice notes (business B),
    ///  6–8 rejected unsupported_type (business A), 9 rejected too_large (business B), 10 dead (business B), 11 queued (business A).
    struct Known {
        var queue: any JobQueue & EventOutbox & ConsoleQueries
        var ids: [String]
    }

    static func known(_ backend: Backend) async throws -> Known {
        let raw = try await backend.make().queue
        let q = try #require(raw as? any JobQueue & EventOutbox & ConsoleQueries)
        var ids: [String] = []
        for i in 0..<12 {
            let id = JobID.make(now: t0.addingTimeInterval(Double(i)))
            let business = [4, 5, 9, 10].contains(i) ? "+34600000002" : "+34600000001"
            _ = try await q.enqueue(NewJob(from: .visitor, declaredType: "image/jpeg", fileName: "f\(i)", conversationId: "c-\(i % 4)",
                                     businessNumber: business, contentSHA256: "d\(i)", size: 100 + i),
                              id: id, now: t0.addingTimeInterval(Double(i)))
            ids.append(id)
        }
        // Claim in run_after order (= i), finish each 30 s after submission.
        for i in 0..<11 {
            let job = try await #require(try await q.claim(worker: "w", lease: 600, maxAttempts: 5, now: t0.addingTimeInterval(20)))
            #expect(job.id == ids[i])
            let done = t0.addingTimeInterval(Double(i) + 30)
            switch i {
            case 0..<4:
                _ = try await q.complete(id: job.id, worker: "w", result: JobResult(state: .accepted,
                    outcomeJSON: #"{"status":"accepted","kind":"image"}"#, artifacts: []), now: done)
            case 4..<6:
                _ = try await q.complete(id: job.id, worker: "w", result: JobResult(state: .accepted,
                    outcomeJSON: #"{"status":"accepted","kind":"voice_note"}"#, artifacts: []), now: done)
            case 6..<9:
                _ = try await q.complete(id: job.id, worker: "w", result: JobResult(state: .rejected,
                    outcomeJSON: #"{"status":"rejected","reason":"unsupported_type"}"#, artifacts: []), now: done)
            case 9:
                _ = try await q.complete(id: job.id, worker: "w", result: JobResult(state: .rejected,
                    outcomeJSON: #"{"status":"rejected","reason":"too_large"}"#, artifacts: []), now: done)
            default:
                _ = try await q.fail(id: job.id, worker: "w", error: "boom", retryAt: nil, now: done)
            }
        }
        return Known(queue: q, ids: ids)
    }

    @Test("filters: state, kind, rejection code, business number, conversation; newest first", arguments: Backend.allCases)
    func filters(_ backend: Backend) async throws {
        let k = try await Self.known(backend)
        let q = k.queue
        func ids(_ f: JobFilter) async throws -> [String] { try await q.jobs(matching: f, before: nil, limit: 100).map(\.id) }
        #expect(try await ids(JobFilter()) == k.ids.reversed())
        #expect(try await ids(JobFilter(state: .accepted)) == Array(k.ids[0..<6].reversed()))
        #expect(try await ids(JobFilter(state: .rejected)) == Array(k.ids[6..<10].reversed()))
        #expect(try await ids(JobFilter(state: .dead)) == [k.ids[10]])
        #expect(try await ids(JobFilter(state: .queued)) == [k.ids[11]])
        #expect(try await ids(JobFilter(reason: "unsupported_type")) == Array(k.ids[6..<9].reversed()))
        #expect(try await ids(JobFilter(state: .rejected, reason: "too_large")) == [k.ids[9]])
        #expect(try await ids(JobFilter(state: .accepted, reason: "too_large")).isEmpty)
        #expect(try await ids(JobFilter(kind: "voice_note")) == [k.ids[5], k.ids[4]])
        #expect(try await ids(JobFilter(kind: "image", businessNumber: "+34600000001")) == Array(k.ids[0..<4].reversed()))
        #expect(try await ids(JobFilter(businessNumber: "+34600000002")) == [k.ids[10], k.ids[9], k.ids[5], k.ids[4]])
        #expect(try await ids(JobFilter(conversationId: "c-1")) == [k.ids[9], k.ids[5], k.ids[1]])
        #expect(try await ids(JobFilter(state: .rejected, conversationId: "c-2")) == [k.ids[6]])
        #expect(try await ids(JobFilter(businessNumber: "+34600000009")).isEmpty)
    }

    @Test("keyset paging: pages of 5 newest first, each older than the last id of the one before", arguments: Backend.allCases)
    func paging(_ backend: Backend) async throws {
        let k = try await Self.known(backend)
        var seen: [String] = []
        var before: String?
        repeat {
            let page = try await k.queue.jobs(matching: JobFilter(), before: before, limit: 5)
            seen += page.map(\.id)
            before = page.count == 5 ? page.last?.id : nil
        } while before != nil
        #expect(seen == k.ids.reversed())
        let rejected = try await k.queue.jobs(matching: JobFilter(state: .rejected), before: k.ids[8], limit: 2).map(\.id)
        #expect(rejected == [k.ids[7], k.ids[6]])
    }

    @Test("the overview's reads: final jobs by time, per slot, refusals by code, oldest due, dead ids by filter", arguments: Backend.allCases)
    func overview(_ backend: Backend) async throws {
        let k = try await Self.known(backend)
        let q = k.queue
        let finished = try await q.finishedJobs(since: t0)
        #expect(finished.count == 11)
        #expect(finished.allSatisfy { abs($0.finishedAt.timeIntervalSince($0.createdAt) - 30) < 0.01 })
        #expect(try await q.finishedJobs(since: t0.addingTimeInterval(36)).count == 5, "finished at t0+36…t0+40")
        let slots = try await q.finishedCounts(since: t0, slot: 35)  // t0+30…34 → slot 0; t0+35…40 → slot 1
        #expect(slots[0]?[.accepted] == 5)
        #expect(slots[1]?[.accepted] == 1 && slots[1]?[.rejected] == 4 && slots[1]?[.dead] == 1)
        #expect(try await q.refusals(since: t0) == ["unsupported_type": 3, "too_large": 1])
        #expect(try await q.refusals(since: t0.addingTimeInterval(39)) == ["too_large": 1])
        let due = try await #require(try await q.oldestDueSince())
        if backend == .sqlite {  // PostgreSQL schedules on its own clock (shifted in these tests)
            #expect(abs(due.timeIntervalSince(t0.addingTimeInterval(11))) < 0.01, "the queued job has been due since its submission")
        }
        #expect(try await q.deadJobIDs(matching: JobFilter(), limit: 10) == [k.ids[10]])
        #expect(try await q.deadJobIDs(matching: JobFilter(businessNumber: "+34600000002"), limit: 10) == [k.ids[10]])
        #expect(try await q.deadJobIDs(matching: JobFilter(businessNumber: "+34600000001"), limit: 10).isEmpty)
        #expect(try await q.deadJobIDs(matching: JobFilter(reason: "too_large"), limit: 10).isEmpty)

        let o = try await QueueOverview.read(q, now: t0.addingTimeInterval(60))
        #expect(o.active == [.queued: 1, .running: 0, .dead: 1])
        #expect(o.acceptedHour == 6 && o.rejectedHour == 4 && o.deadHour == 1)
        #expect(o.acceptedDay == 6 && o.rejectedDay == 4)
        #expect(o.lastHour.count == 60 && o.lastDay.count == 24)
        #expect(o.refusalsDay.map(\.code) == ["unsupported_type", "too_large"])
        #expect(o.medianToFinal.map { abs($0 - 30) < 0.01 } == true)
        #expect(o.p95ToFinal.map { abs($0 - 30) < 0.01 } == true)
        #expect(o.outboxPending == 0)

        // Retrying the dead job by filter puts it back in the queue with a fresh budget.
        for id in try await q.deadJobIDs(matching: JobFilter(), limit: 10) { #expect(try await q.retry(id: id, now: t0.addingTimeInterval(70))) }
        #expect(try await q.jobs(matching: JobFilter(state: .dead), before: nil, limit: 10).isEmpty)
        #expect(try await q.job(id: k.ids[10])?.state == .queued)
    }
}
