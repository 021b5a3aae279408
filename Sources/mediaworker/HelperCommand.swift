import ArgumentParser
import Foundation
import MediaSandbox

/// `mediaworker helper`: a sandboxed helper process, started by the worker and the CLI (never by hand).
struct HelperCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "helper",
        abstract: "Internal: decode files for the worker in a sandboxed process (jobs on fd 3, answers on fd 4).",
        shouldDisplay: false)

    @Option(help: "The process that started this helper; the helper dies with it.") var parent: Int32?

    @Flag(name: .customLong("probe-sandbox"),
          help: "Apply the sandbox, try to open a socket, write a file and run a program, print what happened.")
    var probeSandbox = false

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        if probeSandbox { throw ExitCode(HelperMain.probe(environment: environment)) }
        guard let parent else { throw ValidationError("--parent is required") }
        throw ExitCode(HelperMain.run(parent: parent, environment: environment))
    }
}
