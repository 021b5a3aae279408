import ArgumentParser
import Foundation
import MediaApplication
import MediaDomain
import MediaIntake
import MediaJSON
import MediaQueue
import MediaServer
import ServiceLifecycle

/// `mediaworker enqueue FILE`: stores the file and queues its job; prints the job.
struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Store a file and queue it for processing; print the job as JSON.",
        discussion: "Exit 0 for a new job or the existing job of a repeated idempotency key with the same bytes; exit 3 when the key was used for other bytes.")

    @Argument(help: "The file to enqueue.") var file: String
    @Option(help: "Who sent it: visitor or operator.") var from: Sender
    @Option(help: "The messaging channel: whatsapp.") var channel: MessagingChannel = .whatsapp
    @Option(name: .customLong("declared-type"), help: "The MIME type the sender declared.") var declaredType: String?
    @Option(name: .customLong("file-name"), help: "The sender's file name (recorded only).") var fileName: String?
    @Option(name: .customLong("idempotency-key"), help: "WhatsApp's message id plus the attachment's index.") var idempotencyKey: String?
    @Option(name: .customLong("conversation-id")) var conversationId: String?
    @Option(name: .customLong("business-number")) var businessNumber: String?
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        guard let bytes = readFile(file) else { throw ValidationError("cannot read \(file)") }
        let result = try await storage.using { storage in
            try await AttachmentIntake(queue: storage.queue, store: storage.store).submit(
                bytes, from: from, channel: channel, declaredType: declaredType, fileName: fileName,
                idempotencyKey: idempotencyKey, conversationId: conversationId, businessNumber: businessNumber)
        }
        printJSON(result.job.json())
        if case .conflict = result {
            FileHandle.standardError.write(Data("idempotency key \(idempotencyKey ?? "") was already used for other bytes\n".utf8))
            throw ExitCode(3)
        }
    }
}

/// `mediaworker work`: runs workers until SIGTERM or SIGINT.
struct WorkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "work",
        abstract: "Process queued jobs until stopped (SIGTERM/SIGINT: finish in-flight jobs within the grace period).")

    @OptionGroup var storage: StorageOptions

    func run() async throws {
        Logs.bootstrap()
        let group = try await asUsageError { try await buildWorkerGroup(storage.configuration) }
        try await group.run()
    }
}

/// `mediaworker jobs show|list|retry`.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "Inspect, re-queue and erase jobs.",
        subcommands: [Show.self, List.self, Retry.self, Erase.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one job as JSON (exit 4 when there is none).")
        @Argument var id: String
        @OptionGroup var storage: StorageOptions
        func run() async throws {
            try await storage.using { storage in
                try printJob(try await storage.queue.job(id: id), or: "no job \(id)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print jobs, newest first, one JSON object per line.")
        @Option(help: "Only jobs in this state: queued, running, accepted, rejected, dead or erased.") var state: JobState?
        @Option(help: "At most this many.") var limit: Int = 100
        @OptionGroup var storage: StorageOptions
        func run() async throws {
            try await storage.using { storage in
                for job in try await storage.queue.jobs(state: state, limit: limit) { printJSON(job.json()) }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-queue a dead job with a fresh attempt budget (exit 4 unless it is dead).")
        @Argument var id: String
        @OptionGroup var storage: StorageOptions
        func run() async throws {
            try await storage.using { storage in
                let retried = try await storage.queue.retry(id: id, now: Date())
                try printJob(retried ? try await storage.queue.job(id: id) : nil,
                             or: "job \(id) is not dead (or does not exist)")
            }
        }
    }
}

extension JobsCommand {
    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase one job (print its tombstone; exit 4 when there is none), or every job of a conversation or business number (print {\"erased\":N}).",
            discussion: "As DELETE /v1/jobs/{id} and POST /v1/erasures: every blob is deleted and the job keeps only a tombstone. It cannot be undone.")
        @Argument(help: "The job to erase.") var id: String?
        @Option(name: .customLong("conversation-id"), help: "Erase every job of this conversation.") var conversationId: String?
        @Option(name: .customLong("business-number"), help: "Erase every job of this business number.") var businessNumber: String?
        @OptionGroup var storage: StorageOptions

        func validate() throws {
            guard [id, conversationId, businessNumber].compactMap({ $0 }).count == 1 else {
                throw ValidationError("give exactly one of a job id, --conversation-id and --business-number")
            }
            if let businessNumber, !UploadParameters.isE164(businessNumber) {
                throw ValidationError("--business-number must be an E.164 number such as +34600000000")
            }
        }

        func run() async throws {
            let batch = try storage.configuration.settings.int("MEDIAWORKER_ERASURE_BATCH", 1...10_000) ?? 500
            try await storage.using { storage in
                let eraser = JobEraser(queue: storage.queue, store: storage.store, batch: batch)
                if let id {
                    try printJob(JobID.isValid(id) ? try await eraser.erase(jobID: id.lowercased()) : nil, or: "no job \(id)")
                } else {
                    let selector: ErasureSelector = conversationId.map { .conversation($0) } ?? .businessNumber(businessNumber ?? "")
                    printJSON(.object([("erased", .int(try await eraser.erase(selector)))]))
                }
            }
        }
    }
}

/// Prints the job as JSON, or `message` on standard error and exit status 4 when there is none.
private func printJob(_ job: Job?, or message: String) throws {
    guard let job else {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        throw ExitCode(4)
    }
    printJSON(job.json())
}

extension JobState: ExpressibleByArgument {}

/// `mediaworker blobs verify|gc`: repair checks of the blob store against the jobs, on any queue and store.
struct BlobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blobs", abstract: "Check the blob store against the jobs, and remove what no job names.",
        subcommands: [Verify.self, Collect.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that every blob a job names exists with its size; print a JSON report (exit 5 when any is missing or has another size).")
        @OptionGroup var storage: StorageOptions
        func run() async throws {
            let report = try await storage.using { storage in try await BlobRepair(storage).verify() }
            printJSON(.object([
                ("jobs", .int(report.jobs)), ("blobs", .int(report.blobs)), ("problems", .int(report.problems.count)),
                ("details", .array(report.problems.prefix(1000).map { p in
                    .object([("jobId", .string(p.jobID)), ("role", .string(p.role)), ("expectedSize", .int(p.expectedSize)),
                             ("foundSize", p.foundSize.map { .int($0) } ?? .null)])
                })),
            ]))
            if !report.problems.isEmpty { throw ExitCode(5) }
        }
    }

    struct Collect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc",
            abstract: "Delete blobs no job names (left by refused uploads or crashes); print a JSON report.",
            discussion: "A blob is only taken when its job id is older than --min-age, and never while its job is queued or running.")
        @Flag(name: .customLong("dry-run"), help: "Report what would be deleted; delete nothing.") var dryRun = false
        @Option(name: .customLong("min-age"), help: "Seconds a blob's job id must be old before it can be taken (default 3600).")
        var minAge: Double = 3600
        @OptionGroup var storage: StorageOptions
        func run() async throws {
            guard minAge >= 0 else { throw ValidationError("--min-age must be 0 or more seconds") }
            let report = try await storage.using { storage in try await BlobRepair(storage).collect(dryRun: dryRun, minimumAge: minAge) }
            printJSON(.object([
                ("dryRun", .bool(dryRun)), ("scanned", .int(report.scanned)), ("orphans", .int(report.orphans.count)),
                ("bytes", .int(report.bytes)), ("deleted", .int(report.deleted)), ("tooYoung", .int(report.tooYoung)),
                ("kept", .int(report.kept)),
                ("details", .array(report.orphans.prefix(1000).map { o in
                    .object([("jobId", .string(o.blob.jobID)), ("role", .string(o.blob.role)), ("size", .int(o.blob.size)),
                             ("why", .string(o.why))])
                })),
            ]))
        }
    }
}
