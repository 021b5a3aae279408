import ArgumentParser
import Foundation
import MediaPipeline
import MediaSandbox

/// `mediaworker`: command-line parsing and wiring only.
@main
struct MediaWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mediaworker",
        abstract: "Judges, checks and converts the attachments of a WhatsApp customer-service channel.",
        subcommands: [ServeCommand.self, ProcessCommand.self, EnqueueCommand.self, WorkCommand.self, JobsCommand.self, BlobsCommand.self,
                      HelperCommand.self, ConsoleHashCommand.self]
    )

    /// Before any command: this process's /proc files (environment with the tokens and keys, memory, open
    /// descriptors) are closed to other processes of its user, and what it creates — data folders, the database,
    /// blobs — is private to its user (docs/operations.md, "Process model"). (`mediaworker helper` never gets
    /// here: it runs before main, see `helperMain`.)
    static func main() async {
        _ = Sandbox.protectService()
        umask(0o077)
        await Self.main(nil)
    }
}
