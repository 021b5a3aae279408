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

/// `mediaworker helper …` runs from here, called by CHelperSandbox's constructor before `main` (after Landlock):
/// synchronously on the process's only thread, before anything starts Swift concurrency. No libdispatch worker
/// thread then exists in a helper to wake after the lock-down and trap on a refused call (libdispatch's workqueue
/// monitor reads /proc/TID/stat of its threads, which Landlock refuses, and crashes when it cannot).
@_cdecl("mw_helper_main")
func helperMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    let arguments = (2..<Int(max(argc, 2))).compactMap { argv[$0].map { String(cString: $0) } }
    HelperCommand.main(arguments)  // exits with the command's status
    return 0
}
