import ArgumentParser
import Foundation
import MediaSandbox

// Before any command: this process's /proc files (environment with the tokens and keys, memory, open descriptors)
// are closed to other processes of its user, and what it creates — data folders, the database, blobs — is private
// to its user (docs/operations.md, "Process model").
_ = Sandbox.protectService()
umask(0o077)

// A helper runs synchronously on the main thread, before anything starts Swift concurrency: no libdispatch worker
// threads exist in it, so none can wake after the lock-down and trip over a refused call (libdispatch's workqueue
// monitor reads /proc/TID/stat of its threads, which Landlock refuses, and traps).
if CommandLine.arguments.dropFirst().first == HelperCommand.configuration.commandName {
    HelperCommand.main(Array(CommandLine.arguments.dropFirst(2)))
} else {
    // What ArgumentParser's async main does (its `main()` overloads resolve to the synchronous one here).
    do {
        var command = try MediaWorkerCommand.parseAsRoot()
        if var asyncCommand = command as? AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
    } catch {
        MediaWorkerCommand.exit(withError: error)
    }
}
