import Foundation

/// `Tests/safecopy/check_safe_copy.py`: walks every object of a safe copy with pikepdf (qpdf), independently of the
/// Swift writer, and compares its pages with the original's. Runs in the tools venv (`.build-tools/venv`, `make test`
/// installs it from scripts/python-tools.txt); a missing venv fails the check, it never passes silently.
public enum SafeCopyCheck {
    public struct Verdict: Sendable {
        public var ok: Bool
        public var output: String
    }

    static let root = FixtureManifest.folder.deletingLastPathComponent()
    public static let script = root.appendingPathComponent("Tests/safecopy/check_safe_copy.py")
    public static let python = root.appendingPathComponent(".build-tools/venv/bin/python")

    /// Checks `copy` against `original` (their bytes).
    public static func run(copy: [UInt8], original: [UInt8]) -> Verdict {
        do {
            guard FileManager.default.isExecutableFile(atPath: python.path) else {
                return Verdict(ok: false, output: "no \(python.path): run `make .build-tools/venv/.ready` (pikepdf)")
            }
            let folder = try TestBinary.temporaryFolder("mw-safecopy")
            defer { try? FileManager.default.removeItem(at: folder) }
            let copyFile = folder.appendingPathComponent("copy.pdf"), originalFile = folder.appendingPathComponent("original.pdf")
            try Data(copy).write(to: copyFile)
            try Data(original).write(to: originalFile)
            let process = Process()
            process.executableURL = python
            process.arguments = [script.path, copyFile.path, originalFile.path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Verdict(ok: process.terminationStatus == 0, output: String(decoding: data, as: UTF8.self))
        } catch {
            return Verdict(ok: false, output: "the checker did not run: \(error)")
        }
    }
}
