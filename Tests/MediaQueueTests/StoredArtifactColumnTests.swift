import MediaDomain
import Testing

/// The `artifacts` column: written in a fixed member order, read back with Foundation, and every text the service
/// did not write is an error the drivers can report (never a crash of the process holding the queue).
@Suite struct StoredArtifactColumnTests {
    static let artifacts = [
        StoredArtifact(role: .thumbnail, contentType: "image/webp", size: 1234, etag: "00112233445566778899aabbccddeeff",
                       width: 320, height: 240),
        StoredArtifact(role: .playback, contentType: "audio/mpeg", size: 99, durationMs: 4500),
        StoredArtifact(role: .delivery, contentType: "video/mp4", size: 7, sendAs: .video),
    ]

    @Test("the column text is written member by member in the documented order, and reads back equal")
    func roundTrip() throws {
        let text = StoredArtifact.columnText(Self.artifacts)
        #expect(text == #"[{"role":"thumbnail","contentType":"image/webp","size":1234,"etag":"00112233445566778899aabbccddeeff","width":320,"height":240},"#
            + #"{"role":"playback","contentType":"audio/mpeg","size":99,"durationMs":4500},"#
            + #"{"role":"delivery","contentType":"video/mp4","size":7,"sendAs":"video"}]"#)
        #expect(try StoredArtifact.fromColumn(text) == Self.artifacts)
        #expect(try StoredArtifact.fromColumn(nil) == [])
        #expect(try StoredArtifact.fromColumn("[]") == [])
        // Members by name: order and white space do not matter.
        #expect(try StoredArtifact.fromColumn(#" [ { "size" : 5 , "contentType" : "a/b", "role" : "original" } ] "#)
            == [StoredArtifact(role: .original, contentType: "a/b", size: 5)])
        // Escapes, a surrogate pair included, are decoded.
        #expect(try StoredArtifact.fromColumn(#"[{"role":"original","contentType":"x\ud83d\ude00\u0041\n","size":1}]"#)
            .first?.contentType == "x\u{1F600}A\n")
    }

    @Test("malformed column texts throw StoredArtifactError, never trap", arguments: [
        #"[{"role":"original","contentType":"\ud800\u0041","size":1}]"#,  // high surrogate, then no low one
        #"[{"role":"original","contentType":"\ud800","size":1}]"#,  // lone high surrogate at the end of a string
        #"[{"role":"original","contentType":"\udc00","size":1}]"#,  // lone low surrogate
        #"[{"role":"original","contentType":"\ud800\udbff","size":1}]"#,  // high, then another high
        #"[{"role":"original","contentType":"\u12"#,  // truncated inside an escape
        #"[{"role":"original","contentType":"image/webp","size":1"#,  // truncated object
        #"[{"role":"original""#, "[", "", " ", "nul", "\"\\ud800\\u0041\"",
        String(repeating: "[", count: 10_000),  // deeper than any parser should recurse
        String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000),
        String(repeating: "{\"a\":", count: 10_000) + "1" + String(repeating: "}", count: 10_000),
        // Well-formed JSON that the service never wrote.
        "{}", "null", "[1]", #"[{"role":"preview","contentType":"a/b","size":1}]"#,
        #"[{"contentType":"a/b","size":1}]"#, #"[{"role":"original","size":1}]"#,
        #"[{"role":"original","contentType":"a/b","size":"1"}]"#,
        #"[{"role":"original","contentType":"a/b","size":1,"sendAs":"gif"}]"#,
        #"[{"role":"original","contentType":"a/b","size":1,"width":"wide"}]"#,
    ])
    func malformed(_ text: String) {
        #expect(throws: StoredArtifactError.self) { try StoredArtifact.fromColumn(text) }
    }
}
