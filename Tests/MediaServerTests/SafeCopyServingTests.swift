import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MediaTestSupport
import Testing

/// Issue #23 over HTTP, through the application `serve` runs: a visitor's hostile PDF comes back with a `safe_copy`
/// served `inline` under its own CSP (no `sandbox`, no script), while the original stays an `attachment` under the
/// sandbox CSP; the copy's bytes pass the independent pikepdf walk.
@Suite(.serialized, .offCooperativePool) struct SafeCopyServingTests {
    @Test("a visitor's PDF: safe_copy inline under a CSP without sandbox or script, the original an attachment; the served copy passes the pikepdf walk", arguments: TestBackend.allCases)
    func safeCopyServed(_ backend: TestBackend) async throws {
        try await withServer(backend) { server in
            let job = try await server.uploadAndWait("hostile/pdf_active_content.pdf", query: "from=visitor&fileName=invoice.pdf")
            #expect(job["state"] as? String == "accepted")
            let artifacts = job["artifacts"] as? [[String: Any]] ?? []
            let copy = try #require(artifacts.first { $0["role"] as? String == "safe_copy" })
            #expect(copy["pages"] as? Int == 2 && copy["contentType"] as? String == "application/pdf")
            let served = try await server.request("GET", copy["url"] as? String ?? "", auth: false)
            #expect(served.status == 200 && served.header("Content-Type") == "application/pdf")
            #expect(served.header("Content-Disposition") == "inline; filename=\"invoice.pdf\"; filename*=UTF-8''invoice.pdf")
            let csp = served.header("Content-Security-Policy") ?? ""
            #expect(!csp.contains("sandbox") && csp.hasPrefix("default-src 'none';") && !csp.contains("script-src"), "\(csp)")
            let verdict = SafeCopyCheck.run(copy: [UInt8](served.body),
                                            original: try FixtureManifest.named("pdf-active-content").bytes())
            #expect(verdict.ok, "\(verdict.output)")
            let original = try await server.request("GET", artifacts.first { $0["role"] as? String == "original" }?["url"] as? String ?? "",
                                                    auth: false)
            #expect(original.header("Content-Disposition")?.hasPrefix("attachment;") == true)
            #expect(original.header("Content-Security-Policy")?.hasPrefix("sandbox;") == true)
            // An operator's PDF goes out as it is and gets no copy.
            let sent = try await server.uploadAndWait("documents/text_3_pages.pdf", query: "from=operator&fileName=offer.pdf")
            let roles = (sent["artifacts"] as? [[String: Any]] ?? []).compactMap { $0["role"] as? String }
            #expect(Set(roles) == ["original", "thumbnail", "delivery"], "\(roles)")
        }
    }
}
