// mediaworker-bench erasure: seeds a storage with N finished jobs and their blobs, for Benchmarks/erasure.sh (which then
// erases them through a real `mediaworker serve`: POST /v1/erasures, and the retention purge). A program that prints
// figures, never a timed test.
//
//   mediaworker-bench erasure seed --jobs N --data DIR [--url postgres://…] [--conversation C] [--age-days D]
//
// The jobs go in with one bulk INSERT (as ConsoleBench does), accepted, finished D days ago (default 40), each with a
// file name, a conversation (C for all, or one per 10 jobs) and one of 20 business numbers; two blobs each (original and
// thumbnail, 2 KiB and 300 bytes): files written in FileBlobStore's layout without fsync (200,000 fsyncs would take
// longer than the benchmark), or rows of the `blobs` table with PostgreSQL.
//
//   RESULT seeded=N backend=… seconds=…

import ArgumentParser
import Foundation
import GRDB
import MediaPostgres
import MediaQueue
import MediaSQLite
import PostgresNIO

enum ErasureBench {
    struct Command: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "erasure",
            abstract: "Seeds finished jobs and their blobs for Benchmarks/erasure.sh.",
            subcommands: [Seed.self]
        )
    }

    struct Seed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "N accepted jobs finished --age-days ago, with their blobs.")

        @Option(help: "Jobs to make.", transform: positive) var jobs: Int
        @Option(help: "The data folder (SQLite file and blob files).") var data: String
        @Option(help: "A PostgreSQL server: the queue and the blobs go there (schema from the URL).") var url: String?
        @Option(help: "One conversation for every job (default: one per 10 jobs).") var conversation: String?
        @Option(name: .customLong("age-days"), help: "Days since the jobs finished (default 40).") var ageDays: Double = 40

        func run() async throws {
            let began = Date()
            let start = Date().timeIntervalSince1970 - ageDays * 86_400 - 60
            let conversationSQL = conversation.map { "'\($0.replacingOccurrences(of: "'", with: "''"))'" } ?? "'c-' || (i / 10)"
            if let url {
                let database = try PostgresDatabase(location: try PostgresLocation(url: url), maxConnections: 4)
                database.start()
                _ = try await PostgresJobQueue(database: database)
                try await database.query(PostgresQuery(unsafeSQL: Self.postgresInsert(jobs: jobs, start: start, conversation: conversationSQL)))
                try await database.query("""
                    INSERT INTO blobs (job_id, role, size, bytes)
                    SELECT id, r.role, r.size, decode(repeat('ab', r.size), 'hex') FROM jobs,
                           (VALUES ('original', 2048), ('thumbnail', 300)) AS r(role, size)
                    """)
                try await database.query("VACUUM ANALYZE")
                await database.shutdown()
                print("RESULT seeded=\(jobs) backend=postgres seconds=\(fmt(Date().timeIntervalSince(began), 1))")
                return
            }
            let path = data + "/mediaworker.sqlite"
            _ = try SQLiteJobQueue(path: path)
            let db = try DatabaseQueue(path: path)
            try await db.write { try $0.execute(sql: Self.sqliteInsert(jobs: jobs, start: start, conversation: conversationSQL)) }
            let ids = try await db.read { try String.fetchAll($0, sql: "SELECT id FROM jobs") }
            try db.close()
            let original = [UInt8](repeating: 0xAB, count: 2048), thumbnail = [UInt8](repeating: 0xCD, count: 300)
            let root = URL(fileURLWithPath: data).appendingPathComponent("blobs")
            for id in ids {
                let folder = root.appendingPathComponent(String(id.suffix(2))).appendingPathComponent(id)
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try writeFile(folder.appendingPathComponent("original").path, original)
                try writeFile(folder.appendingPathComponent("thumbnail").path, thumbnail)
            }
            print("RESULT seeded=\(jobs) backend=sqlite seconds=\(fmt(Date().timeIntervalSince(began), 1))")
        }

        static let artifacts = #"[{"role":"original","contentType":"image/jpeg","size":2048},{"role":"thumbnail","contentType":"image/webp","size":300,"width":4,"height":4}]"#

        static func sqliteInsert(jobs n: Int, start: Double, conversation: String) -> String {
            """
            WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < \(n)),
            g AS (SELECT i, \(start) + i * 0.001 AS t, CAST((\(start) + i * 0.001) * 1000 AS INTEGER) AS ms FROM s)
            INSERT INTO jobs (id, state, sender, channel, declared_type, file_name, conversation_id, business_number,
                              content_sha256, size, attempts, created_at, started_at, finished_at, run_after, outcome, artifacts)
            SELECT printf('%08x-%04x-7%03x-8%03x-%012x', ms / 65536, ms % 65536, (i / 4096) % 4096, i % 4096, i),
                   'accepted', 'visitor', 'whatsapp', 'image/jpeg', 'IMG-' || i || '.jpg', \(conversation),
                   printf('+346000000%02d', i % 20), 'ab', 2048, 1, t, t + 0.05, t + 0.3, t,
                   '{"status":"accepted","kind":"image","message":"bench"}', '\(artifacts)'
            FROM g
            """
        }

        static func postgresInsert(jobs n: Int, start: Double, conversation: String) -> String {
            """
            INSERT INTO jobs (id, state, sender, channel, declared_type, file_name, conversation_id, business_number,
                              content_sha256, size, attempts, created_at, started_at, finished_at, run_after, outcome, artifacts)
            SELECT lpad(to_hex(ms / 65536), 8, '0') || '-' || lpad(to_hex(ms % 65536), 4, '0') || '-7'
                       || lpad(to_hex((i / 4096) % 4096), 3, '0') || '-8' || lpad(to_hex(i % 4096), 3, '0') || '-'
                       || lpad(to_hex(i), 12, '0'),
                   'accepted', 'visitor', 'whatsapp', 'image/jpeg', 'IMG-' || i || '.jpg', \(conversation),
                   '+346000000' || lpad((i % 20)::text, 2, '0'), 'ab', 2048, 1, to_timestamp(t), to_timestamp(t + 0.05),
                   to_timestamp(t + 0.3), to_timestamp(t), '{"status":"accepted","kind":"image","message":"bench"}', '\(artifacts)'
            FROM (SELECT i, \(start) + i * 0.001 AS t, ((\(start) + i * 0.001) * 1000)::bigint AS ms
                  FROM generate_series(1, \(n)) AS i) AS g
            """
        }
    }
}
