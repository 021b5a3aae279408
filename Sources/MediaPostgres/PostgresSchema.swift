import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Versioned schema migrations, applied at start-up by whichever process gets there first: every process
/// takes the same session advisory lock, applies what `schema_migrations` does not list yet (each version in
/// its own transaction), and releases the lock, so processes starting together apply each version once.
enum PostgresSchema {
    /// In order; a version is never edited once released, only followed by a new one.
    static let migrations: [(version: String, statements: [String])] = [
        ("v1-jobs", [
            """
            CREATE TABLE jobs (
                id text PRIMARY KEY,
                state text NOT NULL,
                sender text NOT NULL,
                channel text NOT NULL,
                declared_type text,
                file_name text,
                idempotency_key text,
                conversation_id text,
                business_number text,
                content_sha256 text NOT NULL,
                size bigint NOT NULL,
                attempts integer NOT NULL DEFAULT 0,
                created_at timestamptz NOT NULL,
                started_at timestamptz,
                finished_at timestamptz,
                run_after timestamptz NOT NULL,
                lease_owner text,
                lease_expires_at timestamptz,
                last_error text,
                outcome text,
                artifacts text
            )
            """,
            "CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL",
            // Partial indexes: the claim reads only runnable rows and expired leases, however many are final.
            "CREATE INDEX jobs_queued ON jobs (run_after, id) WHERE state = 'queued'",
            "CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running'",
            // No index on state itself: every state change would update it (two per job); listing by state walks
            // the primary key backwards (newest first) or one of the partial indexes above.
        ]),
        ("v2-outbox", [
            """
            CREATE TABLE outbox (
                id text PRIMARY KEY,
                job_id text NOT NULL,
                payload text NOT NULL,
                created_at timestamptz NOT NULL,
                attempts integer NOT NULL DEFAULT 0,
                next_attempt_at timestamptz NOT NULL,
                delivered_at timestamptz,
                last_error text
            )
            """,
            "CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL",
        ]),
        ("v3-blobs", [
            """
            CREATE TABLE blobs (
                job_id text NOT NULL,
                role text NOT NULL,
                size integer NOT NULL,
                bytes bytea NOT NULL,
                PRIMARY KEY (job_id, role)
            )
            """,
            // Media is compressed already: store it out of line without trying pglz on every write.
            "ALTER TABLE blobs ALTER COLUMN bytes SET STORAGE EXTERNAL",
        ]),
        // /readyz and /metrics count dead jobs per request: from this index, not the table.
        ("v4-dead-index", ["CREATE INDEX jobs_dead ON jobs (id) WHERE state = 'dead'"]),
        // The console's reads (PostgresJobQueue+Console.swift), each from an index.
        ("v5-console-indexes", PostgresJobQueue.consoleIndexes),
        // Jobs postponed by an outage: `postponed` is 1 while one waits for it to end; `releases` counts the times the
        // end of an outage released it (at most `JobQueueLimits.maxReleases`).
        ("v6-postponed", [
            "ALTER TABLE jobs ADD COLUMN postponed smallint NOT NULL DEFAULT 0",
            "ALTER TABLE jobs ADD COLUMN releases smallint NOT NULL DEFAULT 0",
            "CREATE INDEX jobs_postponed ON jobs (run_after) WHERE state = 'queued' AND postponed = 1",
        ]),
        // Erasure and retention (PostgresJobQueue+Erasure.swift): when and why a tombstone was made, whether its blobs
        // may still exist, and the indexes the purge and the media caches read.
        ("v7-erasure", [
            "ALTER TABLE jobs ADD COLUMN erased_at timestamptz",
            "ALTER TABLE jobs ADD COLUMN erasure text",
            "ALTER TABLE jobs ADD COLUMN blobs_pending smallint NOT NULL DEFAULT 0",
            "ALTER TABLE jobs ADD COLUMN blobs_recheck_at timestamptz",
            "CREATE INDEX jobs_erased ON jobs (erased_at) WHERE state = 'erased'",
            "CREATE INDEX jobs_blobs_pending ON jobs (id) WHERE blobs_pending = 1",
            "CREATE INDEX jobs_blobs_recheck ON jobs (blobs_recheck_at) WHERE blobs_recheck_at IS NOT NULL",
            "CREATE INDEX jobs_retention ON jobs (business_number, finished_at) WHERE finished_at IS NOT NULL",
            // An erasure deletes the job's events: by job, not by a scan of every event ever delivered.
            "CREATE INDEX outbox_job ON outbox (job_id)",
        ]),
    ]

    /// Applies pending migrations on one pooled connection, under a session advisory lock it lets go of afterwards.
    static func migrate(_ database: PostgresDatabase, logger: Logger) async throws {
        let lockName = "mediaworker.migrations.\(database.location.schema ?? "public")"
        let schema = database.location.schema
        let timeout = database.queryTimeout
        try await database.withConnection { connection in
            try await connection.run("SELECT pg_advisory_lock(hashtext(\(lockName)))", timeout: timeout, logger: logger)
            do {
                try await apply(on: connection, schema: schema, timeout: timeout, logger: logger)
            } catch {
                await unlock(connection, lockName, timeout: timeout, logger: logger)
                throw error
            }
            await unlock(connection, lockName, timeout: timeout, logger: logger)
        }
    }

    /// The connection goes back to the pool: the session lock must be let go of, or the connection closed.
    private static func unlock(_ connection: PostgresConnection, _ lockName: String, timeout: Duration, logger: Logger) async {
        if (try? await connection.run("SELECT pg_advisory_unlock(hashtext(\(lockName)))", timeout: timeout, logger: logger)) == nil {
            let closing: EventLoopFuture<Void> = connection.close()
            _ = closing
        }
    }

    private static func apply(on connection: PostgresConnection, schema: String?, timeout: Duration, logger: Logger) async throws {
        if let schema {
            try await connection.run(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \"\(schema)\""), timeout: timeout, logger: logger)
        }
        try await connection.run("""
            CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
            """, timeout: timeout, logger: logger)
        var applied = Set<String>()
        for row in try await connection.run("SELECT version FROM schema_migrations", timeout: timeout, logger: logger).rows {
            applied.insert(try row.decode(String.self))
        }
        for migration in migrations where !applied.contains(migration.version) {
            do {
                // On the connection that holds the advisory lock, so not a pooled transaction of its own.
                try await connection.transaction(timeout: timeout, logger: logger) { connection in
                    for statement in migration.statements {
                        try await connection.run(PostgresQuery(unsafeSQL: statement), timeout: timeout, logger: logger)
                    }
                    try await connection.run("INSERT INTO schema_migrations (version) VALUES (\(migration.version))",
                                             timeout: timeout, logger: logger)
                }
            } catch {
                throw PostgresFailure("migration \(migration.version) failed: \(error)")
            }
            logger.info("applied migration", metadata: ["version": "\(migration.version)"])
        }
    }
}
