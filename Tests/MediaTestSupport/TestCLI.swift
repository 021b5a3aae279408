import Foundation

/// Runs the built `mediaworker` on a test storage, as a user runs it: `--data` and the storage settings in its
/// environment. Its exit status and its JSON output (standard error is dropped).
public enum TestCLI {
    public struct Run {
        public var status: Int32
        public var json: [String: Any]
    }

    public static func run(_ arguments: [String], on storage: TestStorage) throws -> Run {
        let process = Process()
        process.executableURL = TestBinary.mediaworker
        process.arguments = arguments + ["--data", storage.folder.path]
        process.environment = ProcessInfo.processInfo.environment.merging(storage.environment) { $1 }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus,
                   json: (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:])
    }
}
