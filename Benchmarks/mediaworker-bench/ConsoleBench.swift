// mediaworker-bench console: how fast the operations console's reads answer with a big queue.
//
//   mediaworker-bench console [--jobs N] [--repeat R] [--database-url postgres://…] [--keep PATH]
//
// N jobs (default 1,000,000) are inserted in bulk with one SQL statement (not through the pipeline) into a fresh
// SQLite file, or into the schema `bench_console` (dropped and made again) of the PostgreSQL server given, after
// the queue's own migrations: submissions one every 30 days / N up to now; 0.2 % dead, 10 % rejected (five codes),
// the rest accepted (image, voice note, document, sticker), the newest 200 queued; 20 business numbers, a
// conversation per 10 jobs. Then, R times each (default 200), what the console's pages ask the queue:
//   overview       QueueOverview.read: active counts, final jobs per minute for the hour and per hour for the day,
//                  refusals by code, median/p95 to final, oldest queued, outbox backlog
//   jobs:…         one jobs page (51 rows: 50 + the one that tells whether there is an older page) per filter,
//                  first page and a page deep into the history (keyset cursor)
// and prints p50, p95 and max per query in milliseconds; the last line is machine-readable:
//   RESULT backend=sqlite jobs=1000000 overview_p95_ms=… jobs_page_p95_ms=…   (the worst filter's p95)

import ArgumentParser
import Foundation
import GRDB
import MediaPostgres
import MediaQueue
import MediaSQLite
import PostgresNIO

enum ConsoleBench {
    struct Command: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "console",
            abstract: "How fast the operations console's reads answer with a big queue, on SQLite or PostgreSQL (Benchmarks/console.sh)."
        )

        @Option(help: "Jobs inserted in bulk before measuring (default: 1,000,000).", transform: positive)
        var jobs = 1_000_000

        @Option(name: .customLong("repeat"), help: "Times each query is measured (default: 200).", transform: positive)
        var repeats = 200

        @Option(name: .customLong("database-url"),
                help: ArgumentHelp("Measure on this PostgreSQL server (schema bench_console, dropped and made again) instead of SQLite.",
                                   valueName: "postgres://…"))
        var url: String?

        @Option(help: ArgumentHelp("SQLite: make the database in this folder and keep it (default: a temporary folder, removed).",
                                   valueName: "path"))
        var keep: String?

        func run() async throws { try await bench("console") { try await ConsoleBench.measure(self) } }
    }

    static func measure(_ options: Command) async throws -> Int32 {
        let jobs = options.jobs, repeats = options.repeats, url = options.url, keep = options.keep
        let now = Date().timeIntervalSince1970
        let start = now - 30 * 86_400, step = 30 * 86_400 / Double(jobs)
        let queue: any JobQueue & EventOutbox & ConsoleQueries
        let backend: String
        let began = Date()
        if let url {
            backend = "postgresql"
            try await PostgresBench.admin(url, "DROP SCHEMA IF EXISTS bench_console CASCADE")
            let full = url + (url.contains("?") ? "&" : "?") + "schema=bench_console"
            let database = try PostgresDatabase(location: try PostgresLocation(url: full), maxConnections: 4)
            database.start()
            let q = try await PostgresJobQueue(database: database)
            try await database.query("\(unescaped: postgresInsert(jobs: jobs, start: start, step: step))")
            try await database.query("VACUUM ANALYZE jobs")
            queue = q
        } else {
            backend = "sqlite"
            let folder = keep ?? NSTemporaryDirectory() + "mw-console-bench-\(getpid())"
            try? FileManager.default.removeItem(atPath: folder)
            let path = folder + "/mediaworker.sqlite"
            let q = try SQLiteJobQueue(path: path)
            let db = try DatabaseQueue(path: path)
            try await db.write { try $0.execute(sql: sqliteInsert(jobs: jobs, start: start, step: step)) }
            try await db.writeWithoutTransaction { try $0.execute(sql: "ANALYZE") }
            try db.close()
            queue = q
        }
        print("\(backend): \(jobs) jobs inserted and indexed in \(String(format: "%.1f", Date().timeIntervalSince(began))) s")

        // Deep cursors: the id of a job about 80 % back in time, and of a rejected one near it.
        let everything = try await queue.jobs(matching: JobFilter(), before: nil, limit: 1)
        _ = everything
        let deepID = try idAt(queue, fraction: 0.8, jobs: jobs, start: start, step: step)
        let overview = try await measure(repeats) { _ = try await QueueOverview.read(queue) }
        print(line("overview", overview))
        let filters: [(String, JobFilter, String?)] = [
            ("jobs: no filter", JobFilter(), nil),
            ("jobs: no filter, deep page", JobFilter(), deepID),
            ("jobs: state=rejected reason=unsupported_type", JobFilter(state: .rejected, reason: "unsupported_type"), nil),
            ("jobs: reason=unsupported_type, deep page", JobFilter(reason: "unsupported_type"), deepID),
            ("jobs: state=dead", JobFilter(state: .dead), nil),
            ("jobs: state=accepted kind=voice_note", JobFilter(state: .accepted, kind: "voice_note"), nil),
            ("jobs: business number + state=rejected", JobFilter(state: .rejected, businessNumber: "+34600000007"), nil),
            ("jobs: conversation id", JobFilter(conversationId: "c-\(jobs / 20)"), nil),
            ("jobs: state=queued", JobFilter(state: .queued), nil),
        ]
        var worst = 0.0
        for (name, filter, before) in filters {
            var rows = 0
            let t = try await measure(repeats) { rows = try await queue.jobs(matching: filter, before: before, limit: 51).count }
            worst = max(worst, t.p95)
            print(line(name, t) + "  (\(rows) rows)")
        }
        print("RESULT backend=\(backend) jobs=\(jobs) overview_p95_ms=\(String(format: "%.2f", overview.p95)) jobs_page_p95_ms=\(String(format: "%.2f", worst))")
        if url == nil, keep == nil { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "mw-console-bench-\(getpid())") }
        return 0
    }

    struct Timing { var p50: Double; var p95: Double; var max: Double }

    static func measure(_ n: Int, _ body: () async throws -> Void) async throws -> Timing {
        for _ in 0..<3 { try await body() }  // warm the caches and statement caches
        var ms: [Double] = []
        for _ in 0..<n {
            let t = DispatchTime.now().uptimeNanoseconds
            try await body()
            ms.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
        }
        ms.sort()
        func q(_ p: Double) -> Double { ms[min(ms.count - 1, max(0, Int((p * Double(ms.count)).rounded(.up)) - 1))] }
        return Timing(p50: q(0.5), p95: q(0.95), max: ms.last ?? 0)
    }

    static func line(_ name: String, _ t: Timing) -> String {
        name.padding(toLength: 48, withPad: " ", startingAt: 0)
            + String(format: "p50 %7.2f ms   p95 %7.2f ms   max %7.2f ms", t.p50, t.p95, t.max)
    }

    /// The id the bulk insert gave job `i` (see the inserts): a valid, time-ordered UUIDv7-shaped id.
    static func idAt(_ queue: any ConsoleQueries, fraction: Double, jobs: Int, start: Double, step: Double) throws -> String {
        let i = Int(Double(jobs) * (1 - fraction))
        let ms = Int((start + Double(i) * step) * 1000)
        return String(format: "%08lx-%04lx-7%03lx-8%03lx-%012lx", ms / 65536, ms % 65536, (i / 4096) % 4096, i % 4096, i)
    }

    // The generated jobs, the same on both databases (`i` from 1 to N, `t` its submission time).
    static func sqliteInsert(jobs n: Int, start: Double, step: Double) -> String {
        """
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < \(n)),
        g AS (SELECT i, \(start) + i * \(step) AS t,
                     CAST((\(start) + i * \(step)) * 1000 AS INTEGER) AS ms,
                     CASE WHEN i > \(n) - 200 THEN 'queued' WHEN i % 1000 < 2 THEN 'dead'
                          WHEN i % 1000 < 102 THEN 'rejected' ELSE 'accepted' END AS st,
                     CASE WHEN i % 20 < 10 THEN 'image' WHEN i % 20 < 16 THEN 'voice_note'
                          WHEN i % 20 < 19 THEN 'document' ELSE 'sticker' END AS k,
                     CASE i % 5 WHEN 0 THEN 'unsupported_type' WHEN 1 THEN 'too_large' WHEN 2 THEN 'corrupt'
                          WHEN 3 THEN 'too_long' ELSE 'empty' END AS r
              FROM s)
        INSERT INTO jobs (id, state, sender, channel, declared_type, file_name, conversation_id, business_number,
                          content_sha256, size, attempts, created_at, started_at, finished_at, run_after, last_error,
                          outcome, artifacts)
        SELECT printf('%08x-%04x-7%03x-8%03x-%012x', ms / 65536, ms % 65536, (i / 4096) % 4096, i % 4096, i),
               st, 'visitor', 'whatsapp', 'image/jpeg', 'IMG-' || i || '.jpg', 'c-' || (i / 10),
               printf('+346000000%02d', i % 20), 'ab', 1000 + i % 5000, CASE WHEN st = 'queued' THEN 0 ELSE 1 END,
               t, CASE WHEN st = 'queued' THEN NULL ELSE t + 0.05 END, CASE WHEN st = 'queued' THEN NULL ELSE t + 0.3 END,
               t, CASE WHEN st = 'dead' THEN 'bench: helper crashed' END,
               CASE st WHEN 'accepted' THEN '{"status":"accepted","kind":"' || k || '"}'
                       WHEN 'rejected' THEN '{"status":"rejected","reason":"' || r || '"}' END,
               CASE WHEN st IN ('accepted', 'rejected') THEN '[]' END
        FROM g
        """
    }

    static func postgresInsert(jobs n: Int, start: Double, step: Double) -> String {
        """
        INSERT INTO jobs (id, state, sender, channel, declared_type, file_name, conversation_id, business_number,
                          content_sha256, size, attempts, created_at, started_at, finished_at, run_after, last_error,
                          outcome, artifacts)
        SELECT lpad(to_hex(ms / 65536), 8, '0') || '-' || lpad(to_hex(ms % 65536), 4, '0') || '-7'
                   || lpad(to_hex((i / 4096) % 4096), 3, '0') || '-8' || lpad(to_hex(i % 4096), 3, '0') || '-'
                   || lpad(to_hex(i), 12, '0'),
               st, 'visitor', 'whatsapp', 'image/jpeg', 'IMG-' || i || '.jpg', 'c-' || (i / 10),
               '+346000000' || lpad((i % 20)::text, 2, '0'), 'ab', 1000 + i % 5000, CASE WHEN st = 'queued' THEN 0 ELSE 1 END,
               to_timestamp(t), CASE WHEN st = 'queued' THEN NULL ELSE to_timestamp(t + 0.05) END,
               CASE WHEN st = 'queued' THEN NULL ELSE to_timestamp(t + 0.3) END,
               to_timestamp(t), CASE WHEN st = 'dead' THEN 'bench: helper crashed' END,
               CASE st WHEN 'accepted' THEN '{"status":"accepted","kind":"' || k || '"}'
                       WHEN 'rejected' THEN '{"status":"rejected","reason":"' || r || '"}' END,
               CASE WHEN st IN ('accepted', 'rejected') THEN '[]' END
        FROM (SELECT i, \(start) + i * \(step) AS t, ((\(start) + i * \(step)) * 1000)::bigint AS ms,
                     CASE WHEN i > \(n) - 200 THEN 'queued' WHEN i % 1000 < 2 THEN 'dead'
                          WHEN i % 1000 < 102 THEN 'rejected' ELSE 'accepted' END AS st,
                     CASE WHEN i % 20 < 10 THEN 'image' WHEN i % 20 < 16 THEN 'voice_note'
                          WHEN i % 20 < 19 THEN 'document' ELSE 'sticker' END AS k,
                     CASE i % 5 WHEN 0 THEN 'unsupported_type' WHEN 1 THEN 'too_large' WHEN 2 THEN 'corrupt'
                          WHEN 3 THEN 'too_long' ELSE 'empty' END AS r
              FROM generate_series(1::bigint, \(n)::bigint) AS i) g
        """
    }
}
