import Foundation
import MediaDomain
@testable import MediaServer
import Testing

/// The console's reading of forms (Hummingbird's `URLEncodedFormDecoder`) and of stored outcomes (Foundation), and
/// the filter choices derived from the domain's enums. In process: no server needed.
@Suite struct ConsoleFormTests {
    @Test("forms decode into their structs: percent-encoding and `+` undone, absent fields nil, empty ones empty")
    func forms() {
        let login = ConsoleService.decodeForm(LoginForm.self, "user=ops&password=p%40ss+w%C3%B6rd%26%3D&next=%2Fconsole%2Fjobs%3Fstate%3Ddead")
        #expect(login.user == "ops")
        #expect(login.password == "p@ss wörd&=")
        #expect(login.next == "/console/jobs?state=dead")
        let none = ConsoleService.decodeForm(LoginForm.self, "")
        #expect(none.user == nil && none.password == nil && none.next == nil)
        #expect(ConsoleService.decodeForm(ActionForm.self, "csrf=").csrf == "")
        #expect(ConsoleService.decodeForm(ActionForm.self, "csrf=abc&other=1").csrf == "abc")
        #expect(ConsoleService.decodeForm(ActionForm.self, "csrf").csrf == nil, "a field without `=` carries no value")

        let retry = ConsoleService.decodeForm(RetryAllForm.self, "csrf=t0k&kind=image&reason=too_large&business=%2B34600000002&conversation=c+1")
        #expect(retry.csrf == "t0k")
        #expect(retry.filter.kind == "image" && retry.filter.reason == "too_large" && retry.filter.state == nil)
        #expect(retry.filter.business == "+34600000002" && retry.filter.conversation == "c 1")
    }

    @Test("a form the decoder refuses counts as a form without fields (so the action is refused for its missing token)",
          arguments: ["csrf=%zz", "csrf=%", "csrf=a&csrf=b", "csrf[]=a", "csrf[x]=a", "csrf=a&x[=1", "%zz=1&csrf=a"])
    func refusedForms(_ text: String) {
        #expect(ConsoleService.decodeForm(ActionForm.self, text).csrf == nil, "\(text)")
        let login = ConsoleService.decodeForm(LoginForm.self, text.replacingOccurrences(of: "csrf", with: "user"))
        #expect(login.user == nil && login.password == nil)
    }

    @Test("the filter's choices come from the domain: every attachment kind (video too), every code a job can end with")
    func filterChoices() {
        #expect(ConsoleViews.kinds == ["image", "document", "voice_note", "animation", "sticker", "video"])
        #expect(Set(ConsoleViews.rejectionCodes) == Set(RejectionReason.allCases.map(\.rawValue)).subtracting(["checksum_mismatch"]))
        #expect(ConsoleViews.rejectionCodes.count == RejectionReason.allCases.count - 1)
    }

    @Test("a stored outcome's shown members are read member by member; one of another type is left out")
    func outcomeSummary() throws {
        let voice = try #require(OutcomeSummary(json: #"{"status":"accepted","kind":"voice_note","detectedType":"audio/ogg","waveform":[0,0.5,1]}"#))
        #expect(voice == OutcomeSummary(kind: "voice_note", detectedType: "audio/ogg", waveform: [0, 0.5, 1]))
        let refused = try #require(OutcomeSummary(json: #"{"status":"rejected","reason":"too_large","message":"5 MB \u00e9","kind":7}"#))
        #expect(refused == OutcomeSummary(reason: "too_large", message: "5 MB é"))
        #expect(OutcomeSummary(json: "{}") == OutcomeSummary())
        #expect(ConsoleViews.pretty(#"{"b":[1,2],"a":"x"}"#).map { $0.firstRange(of: "\"a\"")!.lowerBound < $0.firstRange(of: "\"b\"")!.lowerBound } == true)
        #expect(ConsoleViews.pretty(#"{"a":1}"#)?.contains("\n") == true)
    }

    @Test("malformed outcomes are not shown, and never trap", arguments: [
        #"{"kind":"\ud800\u0041"}"#, #"{"kind":"\ud800"}"#, #"{"kind":"\udc00"}"#, #"{"kind":"image""#, #"{"kind":"\u00"#,
        "", "{", String(repeating: "[", count: 10_000),
        String(repeating: "{\"a\":", count: 10_000) + "1" + String(repeating: "}", count: 10_000),
    ])
    func malformedOutcomes(_ text: String) {
        #expect(OutcomeSummary(json: text) == nil)
        #expect(ConsoleViews.pretty(text) == nil)
    }

}
