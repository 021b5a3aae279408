import ArgumentParser
import Foundation
import MediaServer

/// `mediaworker console-hash`: a bcrypt hash of a password read from standard input, for MEDIAWORKER_CONSOLE_USERS.
struct ConsoleHashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console-hash",
        abstract: "Read a console password from standard input (one line) and print NAME:HASH for MEDIAWORKER_CONSOLE_USERS.")

    @Argument(help: "The console user's name.") var name: String
    @Option(help: "bcrypt cost (work factor), 10…16.") var cost: UInt8 = 12

    func run() throws {
        guard (10...16).contains(cost) else { throw ValidationError("--cost: expected 10…16") }
        guard let password = readLine(strippingNewline: true), !password.isEmpty else {
            throw ValidationError("no password on standard input")
        }
        print("\(name):\(ConsoleSettings.hash(password: password, cost: cost))")
    }
}
