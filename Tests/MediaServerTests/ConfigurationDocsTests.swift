import Foundation
import Testing

/// docs/configuration.md against the code: every `MEDIAWORKER_*` variable the sources read has a row in a table
/// there, with a default, and every row names a variable the sources know.
@Suite struct ConfigurationDocsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The quoted `"MEDIAWORKER_…"` names in Sources/ (the keys settings are read by).
    static func namesInSources() throws -> Set<String> {
        var names: Set<String> = []
        let sources = root.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        let pattern = try NSRegularExpression(pattern: #""(MEDIAWORKER_[A-Z0-9_]+)""#)
        while let url = files?.nextObject() as? URL {
            guard url.pathExtension == "swift", let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
            for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                names.insert(String(text[Range(match.range(at: 1), in: text)!]))
            }
        }
        return names
    }

    /// Rows `| `MEDIAWORKER_…` | default | meaning |` of docs/configuration.md: name → default column.
    static func documented() throws -> [String: String] {
        let text = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        var rows: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| `MEDIAWORKER_") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3 else { continue }
            rows[cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = cells[1]
        }
        return rows
    }

    @Test("every MEDIAWORKER_* variable in Sources/ has a row with a default in docs/configuration.md, and every row is read somewhere")
    func everySettingDocumented() throws {
        let names = try Self.namesInSources(), rows = try Self.documented()
        #expect(names.count > 50, "found \(names.count) names under \(Self.root.path)")
        for name in names.sorted() {
            #expect(rows[name] != nil, "\(name) is read in Sources/ but has no row in docs/configuration.md")
            #expect(rows[name].map { !$0.isEmpty } ?? true, "\(name): no default in docs/configuration.md")
        }
        for name in rows.keys.sorted() {
            #expect(names.contains(name), "docs/configuration.md lists \(name), which Sources/ never reads")
        }
    }
}
