import Foundation
import GRDB
import MediaQueue

/// The SQLite file's opening and versioned schema (`jobs`, `outbox`, the console's indexes).
enum SQLiteSchema {
    /// `PRAGMA journal_mode = WAL` on a new file answers SQLITE_BUSY at once, without the busy handler, while
    /// another process is switching it too (several processes opening one new database together): retried for
    /// up to 30 s like any other lock wait.
    static func open(path: String, configuration: Configuration) throws -> DatabasePool {
        let deadline = Date().addingTimeInterval(30)
        var pause = 0.002
        while true {
            do {
                return try DatabasePool(path: path, configuration: configuration)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && Date() < deadline {
                Thread.sleep(forTimeInterval: pause * Double.random(in: 0.5...1.5))
                pause = min(pause * 2, 0.1)
            }
        }
    }

    /// Applies the pending migrations. Each runs in its own write transaction, but GRDB reads which ones are
    /// applied before taking the write lock, so a process starting beside another can try a migration the other
    /// has just committed ("table … already exists", its transaction rolled back): it then reads again.
    static func migrate(_ pool: DatabasePool) throws {
        let deadline = Date().addingTimeInterval(30)
        while true {
            do {
                return try migrator.migrate(pool)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_ERROR
                        && (error.message ?? "").contains("already exists") && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
    }

    /// Versioned schema; GRDB records applied migrations and runs each once, in a write transaction.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-jobs") { db in
            try db.execute(sql: """
                CREATE TABLE jobs (
                    id TEXT PRIMARY KEY NOT NULL,
                    state TEXT NOT NULL,
                    sender TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    declared_type TEXT,
                    file_name TEXT,
                    idempotency_key TEXT,
                    conversation_id TEXT,
                    business_number TEXT,
                    content_sha256 TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    created_at REAL NOT NULL,
                    started_at REAL,
                    finished_at REAL,
                    run_after REAL NOT NULL,
                    lease_owner TEXT,
                    lease_expires_at REAL,
                    last_error TEXT,
                    outcome TEXT,
                    artifacts TEXT
                );
                CREATE UNIQUE INDEX jobs_idempotency_key ON jobs(idempotency_key) WHERE idempotency_key IS NOT NULL;
                CREATE INDEX jobs_runnable ON jobs(state, run_after);
                CREATE INDEX jobs_leases ON jobs(state, lease_expires_at);
                """)
        }
        m.registerMigration("v2-outbox") { db in
            try db.execute(sql: """
                CREATE TABLE outbox (
                    id TEXT PRIMARY KEY NOT NULL,
                    job_id TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at REAL NOT NULL,
                    delivered_at REAL,
                    last_error TEXT
                );
                CREATE INDEX outbox_due ON outbox(delivered_at, next_attempt_at);
                """)
        }
        // The console's reads (SQLiteJobQueue+Console.swift), each from an index.
        m.registerMigration("v3-console-indexes") { db in try db.execute(sql: SQLiteJobQueue.consoleIndexes) }
        // Jobs postponed by an outage: `postponed` is 1 while one waits for it to end; `releases` counts the times the
        // end of an outage released it (at most `SQLiteJobQueue.maxReleases`).
        m.registerMigration("v4-postponed") { db in
            try db.execute(sql: """
                ALTER TABLE jobs ADD COLUMN postponed INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE jobs ADD COLUMN releases INTEGER NOT NULL DEFAULT 0;
                CREATE INDEX jobs_postponed ON jobs(run_after) WHERE state = 'queued' AND postponed = 1;
                """)
        }
        // Erasure and retention (SQLiteJobQueue+Erasure.swift): when and why a tombstone was made, whether its blobs
        // may still exist, and the indexes the purge and the media caches read.
        m.registerMigration("v5-erasure") { db in
            try db.execute(sql: """
                ALTER TABLE jobs ADD COLUMN erased_at REAL;
                ALTER TABLE jobs ADD COLUMN erasure TEXT;
                ALTER TABLE jobs ADD COLUMN blobs_pending INTEGER NOT NULL DEFAULT 0;
                CREATE INDEX jobs_erased ON jobs(erased_at) WHERE state = 'erased';
                CREATE INDEX jobs_blobs_pending ON jobs(id) WHERE blobs_pending = 1;
                CREATE INDEX jobs_retention ON jobs(business_number, finished_at);
                CREATE TABLE erasure_reclaim (id INTEGER PRIMARY KEY CHECK (id = 1), pending INTEGER NOT NULL, due_at REAL);
                INSERT INTO erasure_reclaim (id, pending, due_at) VALUES (1, 0, NULL);
                """)
        }
        return m
    }

}
