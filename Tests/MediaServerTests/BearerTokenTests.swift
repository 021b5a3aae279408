import HTTPTypes
@testable import MediaServer
import Testing

/// `BearerTokenMiddleware`'s reading of `Authorization` (through HummingbirdAuth). The answers themselves (401,
/// `WWW-Authenticate: Bearer`, the bodies) are checked against a real server in `HTTPServiceTests`.
@Suite struct BearerTokenTests {
    static func token(_ header: String?) -> String? {
        var fields = HTTPFields()
        if let header { fields[.authorization] = header }
        return BearerTokenMiddleware<MediaRequestContext>.bearer(in: fields)?.token
    }

    @Test("the token after `Bearer `; the scheme's spelling does not matter (RFC 9110 §11.1); other schemes are none")
    func extraction() {
        #expect(Self.token("Bearer abc") == "abc")
        #expect(Self.token("bearer abc") == "abc")
        #expect(Self.token("BEARER a b") == "a b")
        #expect(Self.token("Bearer ") == nil, "a field value loses its trailing white space: `Bearer`, no token")
        #expect(Self.token(nil) == nil)
        #expect(Self.token("Basic YWJjOmRlZg==") == nil)
        #expect(Self.token("Bearer") == nil)
        #expect(Self.token("Bearerabc") == nil)
    }
}
