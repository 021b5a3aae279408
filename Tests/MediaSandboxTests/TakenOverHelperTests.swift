import Foundation
import MediaTestSupport
import Testing
@testable import MediaPipeline
@testable import MediaSandbox

/// Helpers taken over by their file (`mediaworker-attack-helper`, fully locked down, real decoders loaded): the
/// parent believes no forged or stale answer, kills the helper, ends the job `corrupt`, and keeps serving.
@Suite(.offCooperativePool, .serialized) struct TakenOverHelperTests {
    func pool() throws -> SandboxedPipeline {
        let pool = try SandboxedPipeline(environment: [:], capacity: 1, executable: TestBinary.attackHelper.path)
        pool.start()
        return pool
    }

    /// A file that tells the attack helper what to do.
    static func attack(_ name: String, payload: String = "<!doctype html><script>alert(document.cookie)</script>") -> [UInt8] {
        Array("MWATTACK\n{\"attack\": \"\(name)\"}\n\(payload)\n".utf8)
    }

    func process(_ pool: SandboxedPipeline, _ bytes: [UInt8], _ facts: AttachmentFacts = AttachmentFacts(from: .visitor)) throws -> Outcome {
        var timings = AttachmentPipeline.PhaseTimings()
        return try pool.process(bytes, facts: facts, timings: &timings)
    }

    /// The pool still answers a real photo for real.
    func expectServesPhoto(_ pool: SandboxedPipeline, after attack: String) throws {
        let fixture = FixtureManifest.named("jpeg-whatsapp-photo")
        let bytes = try fixture.bytes()
        guard case .accepted(let photo) = try process(pool, bytes, fixture.facts) else {
            Issue.record("after \(attack): the photo is not accepted"); return
        }
        #expect(photo.detectedType == MediaType.jpeg && photo.size == bytes.count, "after \(attack)")
        #expect(photo.artifacts.map(\.role) == [.original, .thumbnail], "after \(attack)")
        #expect(photo.artifacts.first { $0.role == .thumbnail }?.width == 480, "after \(attack)")
    }

    static let forgeries = ["forge-html-as-png", "visitor-delivery", "thumbnail-as-html", "thumbnail-not-image",
                            "huge-dimensions", "wrong-request-id", "transforming-html", "long-message"]

    @Test("forged answers (HTML as PNG with an SVG thumbnail, a visitor's delivery, the helper's own content type, a thumbnail that is not an image, huge dimensions, a wrong request id, a forged transforming report, a long message): the job ends corrupt, nothing forged comes back, the helper is counted and replaced")
    func forgedAnswersAreRefused() throws {
        let pool = try pool()
        for (i, name) in Self.forgeries.enumerated() {
            let bytes = Self.attack(name)
            let outcome = try process(pool, bytes)
            guard case .rejected(let rejection) = outcome else {
                Issue.record("\(name): the forged answer was believed: \(outcome)"); continue
            }
            #expect(rejection.reason == .corrupt, "\(name)")
            #expect(rejection.message.contains("the helper's answer failed verification"), "\(name): \(rejection.message)")
            #expect(rejection.detectedType == nil && rejection.size == bytes.count, "\(name)")
            #expect(pool.statistics.invalidAnswers == i + 1, "\(name)")
            try expectServesPhoto(pool, after: name)
        }
        #expect(pool.statistics.crashes == 0 && pool.statistics.failures == 0)
        #expect(pool.statistics.starts >= Self.forgeries.count + 1, "each taken-over helper is replaced")
    }

    static let pageForgeries = ["safe-copy-wrong-bytes", "safe-copy-huge-page", "safe-copy-fewer-pages", "safe-copy-too-large-claimed"]

    @Test("forged safe copy pages (a byte count that is not width × height × 3, a 4.4 MP page, fewer pages than announced, a too_large only the parent decides): the job ends corrupt, no copy comes back, the helper is replaced")
    func forgedSafeCopyPagesAreRefused() throws {
        let pool = try pool()
        for (i, name) in Self.pageForgeries.enumerated() {
            let bytes = Self.attack(name, payload: "%PDF-1.4 a PDF in the eyes of the signature check")
            let outcome = try process(pool, bytes)
            guard case .rejected(let rejection) = outcome else {
                Issue.record("\(name): the forged pages were believed: \(outcome)"); continue
            }
            #expect(rejection.reason == .corrupt, "\(name)")
            #expect(rejection.message.contains("the helper's answer failed verification"), "\(name): \(rejection.message)")
            #expect(pool.statistics.invalidAnswers == i + 1, "\(name)")
            try expectServesPhoto(pool, after: name)
        }
        // And a real visitor's PDF still gets its copy from a fresh helper.
        let fixture = FixtureManifest.named("pdf-text-3-pages")
        guard case .accepted(let pdf) = try process(pool, try fixture.bytes(), fixture.facts) else {
            Issue.record("the real PDF is not accepted"); return
        }
        #expect(pdf.artifacts.first { $0.role == .safeCopy }?.pages == 3)
    }

    @Test("pixels a taken-over renderer chose (PDF syntax with a JavaScript action, as RGB bytes) only ever become one image: the copy the parent writes passes the pikepdf walk and holds none of those bytes")
    func chosenPixelsStayPixels() throws {
        let pool = try pool()
        let bytes = Self.attack("safe-copy-chosen-pixels", payload: "%PDF-1.4 a PDF in the eyes of the signature check")
        guard case .accepted(let a) = try process(pool, bytes),
              let copy = a.artifacts.first(where: { $0.role == .safeCopy }) else {
            Issue.record("no safe copy"); return
        }
        #expect(copy.pages == 1)
        let planted = Array("/JavaScript".utf8)
        #expect(!copy.bytes.indices.dropLast(planted.count).contains { copy.bytes[$0..<($0 + planted.count)].elementsEqual(planted) })
        // The walk compares page sizes with an original: the copy itself stands in (its one page is 96 × 48 pt).
        let verdict = SafeCopyCheck.run(copy: copy.bytes, original: copy.bytes)
        #expect(verdict.ok, "\(verdict.output)")
    }

    @Test("a stale frame left in the pipe never answers the next job: that helper is found out before the next job and replaced")
    func staleFrameIsNotTheNextAnswer() throws {
        let pool = try pool()
        // The attack file's own answer is the real one (libmagic calls it text, which no one may send).
        let first = try process(pool, Self.attack("stale", payload: "nothing but text"))
        guard case .rejected(let rejection) = first else { Issue.record("\(first)"); return }
        #expect(rejection.reason == .unsupportedType && rejection.detectedType?.hasPrefix("text/") == true, "\(rejection)")
        // The copy of that answer waits in the pipe; the next job gets its own outcome.
        try expectServesPhoto(pool, after: "stale")
        #expect(pool.statistics.invalidAnswers == 1)
        try expectServesPhoto(pool, after: "stale, twice")
        #expect(pool.statistics.invalidAnswers == 1)
    }

    @Test("the attack helper serves ordinary files for real and answers an unknown attack with a rejection saying so")
    func unknownAttack() throws {
        let pool = try pool()
        try expectServesPhoto(pool, after: "nothing")
        guard case .rejected(let rejection) = try process(pool, Self.attack("no-such-attack")) else {
            Issue.record("not rejected"); return
        }
        #expect(rejection.reason == .unsupportedType && rejection.message == "unknown attack no-such-attack")
        #expect(pool.statistics.invalidAnswers == 0)
    }
}
