import Foundation
import MediaTestSupport
import Testing

/// `mediaworker process` as a user runs it: a real process, one JSON line on stdout, artifacts on disk.
@Suite(.offCooperativePool) struct CLITests {
    static var binary: URL { TestBinary.mediaworker }

    struct Run {
        var status: Int32
        var stdout: String
        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any]) ?? [:]
        }
    }

    func run(_ arguments: [String], env: [String: String] = [:]) throws -> Run {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        if !env.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(env) { $1 } }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: data, as: UTF8.self))
    }

    func temporaryFolder() throws -> URL { try TestBinary.temporaryFolder("mw-cli") }

    @Test("an accepted photo: one JSON line, exit 0, artifacts written where it says")
    func accepted() throws {
        let out = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: out) }
        let photo = FixtureManifest.folder.appendingPathComponent("images/whatsapp_photo.jpg").path
        let r = try run(["process", photo, "--from", "visitor", "--declared-type", "image/png",
                         "--file-name", "../../../etc/passwd", "--out", out.path])
        #expect(r.status == 0)
        #expect(r.stdout.filter { $0 == "\n" }.count == 1, "exactly one line")
        let json = r.json
        #expect(json["status"] as? String == "accepted")
        #expect(json["detectedType"] as? String == "image/jpeg")
        #expect(json["kind"] as? String == "image")
        let artifacts = json["artifacts"] as? [[String: Any]] ?? []
        #expect(artifacts.map { $0["role"] as? String } == ["original", "thumbnail"])
        for artifact in artifacts {
            let path = artifact["path"] as? String ?? ""
            // Named by role and sniffed type inside --out, never by the user's file name.
            #expect(URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL.path == out.standardizedFileURL.path)
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
            #expect(size == artifact["size"] as? Int)
        }
        #expect(artifacts.last?["width"] as? Int == 480 && artifacts.last?["height"] as? Int == 300)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == ["original.jpg", "thumbnail.webp"])
    }

    @Test("a rejected file still exits 0, with reason, message and no artifacts")
    func rejected() throws {
        let out = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: out) }
        let html = FixtureManifest.folder.appendingPathComponent("hostile/cat.html").path
        let r = try run(["process", html, "--declared-type", "image/jpeg", "--out", out.path])
        #expect(r.status == 0)
        let json = r.json
        #expect(json["status"] as? String == "rejected")
        #expect(json["reason"] as? String == "unsupported_type")
        #expect((json["message"] as? String)?.isEmpty == false)
        #expect(json["detectedType"] as? String == "text/html")
        #expect((json["artifacts"] as? [Any])?.isEmpty == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).isEmpty)
    }

    @Test("an operator's voice note is refused through the CLI too")
    func operatorAudio() throws {
        let note = FixtureManifest.all.first { $0.id == "ogg-opus-voice-note-operator" }!.file
        let r = try run(["process", FixtureManifest.folder.appendingPathComponent(note).path, "--from", "operator",
                         "--declared-type", "application/pdf", "--file-name", "invoice.pdf"])
        #expect(r.status == 0)
        #expect(r.json["reason"] as? String == "operator_audio_not_allowed")
    }

    @Test("--sha256: the right digest (either case) processes the file; another is rejected checksum_mismatch, exit 0, nothing written")
    func checksum() throws {
        let photo = FixtureManifest.folder.appendingPathComponent("images/whatsapp_photo.jpg")
        let bytes = try Data(contentsOf: photo)
        let digest = try SHA256Hex.of(photo)
        #expect(digest.count == 64)
        for given in [digest, digest.uppercased()] {
            let out = try temporaryFolder()
            defer { try? FileManager.default.removeItem(at: out) }
            let r = try run(["process", photo.path, "--sha256", given, "--out", out.path])
            #expect(r.status == 0)
            #expect(r.json["status"] as? String == "accepted", "\(r.stdout)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == ["original.jpg", "thumbnail.webp"])
        }

        let parent = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: parent) }
        let out = parent.appendingPathComponent("out")
        let wrong = String(digest.reversed())
        let r = try run(["process", photo.path, "--sha256", wrong, "--out", out.path])
        #expect(r.status == 0, "a rejection like any other")
        #expect(r.stdout.filter { $0 == "\n" }.count == 1, "exactly one line")
        let json = r.json
        #expect(json["status"] as? String == "rejected")
        #expect(json["reason"] as? String == "checksum_mismatch")
        let message = json["message"] as? String ?? ""
        #expect(message.contains(wrong) && message.contains(digest), "expected and actual digests: \(message)")
        #expect(json["size"] as? Int == bytes.count)
        #expect(json["detectedType"] == nil, "nothing was sniffed")
        #expect((json["artifacts"] as? [Any])?.isEmpty == true)
        #expect(!FileManager.default.fileExists(atPath: out.path), "nothing written to --out")

        for malformed in ["abc", digest + "0", "0x" + digest.dropFirst(2), String(digest.dropLast()) + "z"] {
            let bad = try run(["process", photo.path, "--sha256", malformed])
            #expect(bad.status != 0 && bad.stdout.isEmpty, "\(malformed) is a usage error")
        }
    }

    @Test("usage errors exit non-zero and print no JSON")
    func usageErrors() throws {
        let photo = FixtureManifest.folder.appendingPathComponent("images/whatsapp_photo.jpg").path
        let badFrom = try run(["process", photo, "--from", "robot"])
        #expect(badFrom.status != 0 && badFrom.stdout.isEmpty)
        let missing = try run(["process", "/nonexistent/file.jpg"])
        #expect(missing.status != 0 && missing.stdout.isEmpty)
    }

    @Test("decoder attacks through the CLI: the trap file is corrupt, the hanging PDF is kept without a preview in time")
    func decoderAttacks() throws {
        let trap = try run(["process", FixtureManifest.folder.appendingPathComponent("hostile/vorbis_rate_2e31.ogg").path])
        #expect(trap.status == 0)
        #expect(trap.json["reason"] as? String == "corrupt")
        let started = ContinuousClock.now
        let hang = try run(["process", FixtureManifest.folder.appendingPathComponent("hostile/pdf_nested_xobjects.pdf").path],
                           env: ["MEDIAWORKER_TIME_LIMIT": "2"])
        #expect(ContinuousClock.now - started < .seconds(8))
        #expect(hang.status == 0)
        #expect(hang.json["status"] as? String == "accepted")
        #expect(hang.json["previewUnavailable"] as? String == "time_limit")
        let bomb = try run(["process", FixtureManifest.folder.appendingPathComponent("hostile/png_interlaced_49mp.png").path],
                           env: ["MEDIAWORKER_HELPER_MEMORY_MB": "256"])
        #expect(bomb.status == 0)
        #expect(bomb.json["reason"] as? String == "corrupt")
    }

    @Test("a 20 GB sparse file is refused as too_large from its size alone, at once")
    func sizeBeforeReading() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("huge.jpg").path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0 && ftruncate(fd, 20 << 30) == 0)
        close(fd)
        let started = ContinuousClock.now
        let r = try run(["process", path])
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(r.status == 0)
        #expect(r.json["status"] as? String == "rejected")
        #expect(r.json["reason"] as? String == "too_large")
        #expect(r.json["size"] as? Int == 20 << 30)
    }
}

/// A file's SHA-256 as lower-case hex, computed independently of the code under test (sha256sum(1)).
enum SHA256Hex {
    static func of(_ file: URL) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [file.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return String(text.prefix(64))
    }
}
