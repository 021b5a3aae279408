import Foundation

/// `Tests/checks/whatsapp_delivery_check.py`: an independent reader of WhatsApp's published media rules
/// (ffprobe for video, its own marker and chunk walk for JPEG and PNG). It runs as its own process on the bytes.
public enum DeliveryCheck {
    public struct Verdict: Sendable {
        public var ok: Bool
        public var output: String
        /// The video's duration as ffprobe reads it, when it reported one.
        public var durationMs: Int?
    }

    public static let script = FixtureManifest.folder.deletingLastPathComponent()
        .appendingPathComponent("Tests/checks/whatsapp_delivery_check.py")

    public static func run(_ bytes: [UInt8], sendAs: String) -> Verdict {
        do {
            let folder = try TestBinary.temporaryFolder("mw-delivery")
            defer { try? FileManager.default.removeItem(at: folder) }
            let file = folder.appendingPathComponent("artifact")
            try Data(bytes).write(to: file)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [script.path, file.path, sendAs]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let output = String(decoding: data, as: UTF8.self)
            var duration: Int? = nil
            if let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
               let facts = json["facts"] as? [String: Any] {
                if let ms = facts["durationMs"] as? Int { duration = ms }
                else if let s = facts["duration"] as? Double { duration = Int((s * 1000).rounded()) }
                else if let s = (facts["duration"] as? String).flatMap(Double.init) { duration = Int((s * 1000).rounded()) }
            }
            return Verdict(ok: process.terminationStatus == 0, output: output, durationMs: duration)
        } catch {
            return Verdict(ok: false, output: "the checker did not run: \(error)", durationMs: nil)
        }
    }
}
