import ArgumentParser
import Foundation
import MediaPipeline

/// `mediaworker`: command-line parsing and wiring only (main.swift runs it).
struct MediaWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mediaworker",
        abstract: "Judges, checks and converts the attachments of a WhatsApp customer-service channel.",
        subcommands: [ServeCommand.self, ProcessCommand.self, EnqueueCommand.self, WorkCommand.self, JobsCommand.self,
                      HelperCommand.self, ConsoleHashCommand.self]
    )
}
