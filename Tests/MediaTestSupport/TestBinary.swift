import Foundation

/// The built `mediaworker` executable, for tests that run it as a user would (`make test` builds it first).
public enum TestBinary {
    public static let mediaworker: URL = built("mediaworker")

    /// `mediaworker helper` taken over by its files' plans (`Tests/AttackHelper`), built beside `mediaworker`.
    public static let attackHelper: URL = built("mediaworker-attack-helper")

    /// An executable of this package's build, found next to the test bundle.
    static func built(_ name: String) -> URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return FixtureManifest.folder.deletingLastPathComponent().appendingPathComponent(".build/debug/\(name)")
    }

    /// A new empty folder under the system's temporary folder.
    public static func temporaryFolder(_ prefix: String = "mw-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
