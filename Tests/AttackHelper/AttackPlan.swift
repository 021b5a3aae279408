import Foundation
import MediaPipeline
import MediaSandbox

/// What the taken-over helper is to do with one job, read from the job's own bytes:
///
///     MWATTACK
///     {"attack": "forge-html-as-png"}
///     …anything (the attack's payload, if it wants one)
///
/// The first line is exactly `MWATTACK`; the second is one JSON object (`attack` names the attack; further members
/// are the attack's options, read by that attack); the rest is left to the attack. A file that does not start with
/// the marker goes through the real pipeline, so the same helper also serves ordinary files.
struct AttackPlan: Decodable {
    /// The attack's name (the `switch` in `Attacker.answer`).
    var attack: String
    /// Free options for attacks that want them (`{"attack": "…", "options": {"path": "/proc/1/environ"}}`).
    var options: [String: String]?

    static let marker = Array("MWATTACK\n".utf8)

    /// The plan in `bytes`; nil when they are not an attack file; a plan named `unreadable-plan` when the JSON line
    /// does not decode.
    static func read(_ bytes: [UInt8]) -> AttackPlan? {
        guard bytes.starts(with: marker) else { return nil }
        let rest = bytes[marker.count...]
        let line = rest.prefix { $0 != UInt8(ascii: "\n") }
        return (try? JSONDecoder().decode(AttackPlan.self, from: Data(line))) ?? AttackPlan(attack: "unreadable-plan")
    }

    /// The bytes after the JSON line.
    static func payload(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        let rest = bytes.dropFirst(marker.count)
        guard let end = rest.firstIndex(of: UInt8(ascii: "\n")) else { return [] }
        return rest[(end + 1)...]
    }
}

/// The taken-over helper: follows the plan of an attack file, processes every other file for real.
struct Attacker: HelperTakeover {
    func answer(job: HelperJob, pipeline: AttachmentPipeline, write: ([HelperMessage]) -> Bool) -> Bool {
        guard let plan = AttackPlan.read(job.bytes) else {
            let reply = HelperMain.answer(job, pipeline: pipeline, write: write)
            guard write([reply]) else { return false }
            // A visitor's PDF: its safe copy's pages follow, as from a healthy helper.
            if case .request(_, .outcome(let outcome, _, _, _)) = reply,
               AttachmentPipeline.awaitsSafeCopy(outcome, facts: job.facts, settings: pipeline.settings) {
                return HelperMain.sendSafeCopyPages(job, pipeline: pipeline, write: write)
            }
            return true
        }
        let forge = ForgedAnswers(job: job)
        switch plan.attack {
        // Answers the parent must not believe (AnswerAttacks.swift).
        case "stale":
            // A correct answer, then a copy of it left in the pipe for whichever job comes next (one write: the
            // parent finds both at once).
            let real = HelperMain.answer(job, pipeline: pipeline, write: write)
            return write([real, real])
        case "wrong-request-id":
            return write([forge.withRequest(HelperMain.answer(job, pipeline: pipeline, write: write), .random())])
        case "forge-html-as-png": return write([forge.htmlAsPNG()])
        case "visitor-delivery": return write([forge.visitorDelivery()])
        case "thumbnail-as-html": return write([forge.thumbnailContentType("text/html")])
        case "thumbnail-not-image": return write([forge.thumbnailNotImage()])
        case "huge-dimensions": return write([forge.hugeDimensions()])
        case "transforming-html":
            return write([.request(job.request, .transforming(detectedType: "text/html", kind: .image)),
                          HelperMain.answer(job, pipeline: pipeline, write: { _ in true })])
        case "long-message": return write([forge.rejection(.unsupportedType, String(repeating: "x", count: 100_000))])

        // A visitor's PDF whose safe copy pages are forged (the file starts `%PDF-` in its payload, so the original's
        // signature holds): the parent's page checks must refuse each.
        case "safe-copy-wrong-bytes":
            return write([forge.pdfWithThumbnail(), forge.pages(1), forge.page(width: 100, height: 100, bytes: 100), forge.pagesEnd()])
        case "safe-copy-huge-page":
            return write([forge.pdfWithThumbnail(), forge.pages(1), forge.page(width: 2100, height: 2100), forge.pagesEnd()])
        case "safe-copy-fewer-pages":
            return write([forge.pdfWithThumbnail(), forge.pages(3), forge.page(width: 100, height: 100), forge.pagesEnd()])
        case "safe-copy-too-large-claimed":
            return write([forge.pdfWithThumbnail(), forge.pages(1), forge.page(width: 100, height: 100), forge.pagesEnd(.tooLarge)])
        // Well-formed pages whose pixels the attacker chose: believed (they are only pixels), and the copy the parent
        // writes holds one image per page and nothing else.
        case "safe-copy-chosen-pixels":
            let text = Array("endstream endobj 9 0 obj << /S /JavaScript /JS (app.alert(1)) >> ".utf8)
            let pixels = (0..<(200 * 100 * 3)).map { text[$0 % text.count] }
            return write([forge.pdfWithThumbnail(), forge.pages(1), forge.page(width: 200, height: 100, pixels: pixels), forge.pagesEnd()])

        // Lock-down attacks (LockdownAttacks.swift): every one tried, the outcome answered as a rejection whose
        // message is the report (the exfiltration channel of issue 19: a message readable through the job).
        case "lockdown":
            let report = LockdownAttacks.run(targets: plan.options ?? [:])
            return write([forge.rejection(.unsupportedType, LockdownAttacks.summary(report))])

        default:
            return write([forge.rejection(.unsupportedType, "unknown attack \(plan.attack.prefix(80))")])
        }
    }
}
