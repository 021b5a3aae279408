import HTTPTypes
import Hummingbird
import HummingbirdAuth

/// The bearer-token check of a route group: a request without one of `tokens` is answered 401 (`unauthorized`,
/// `WWW-Authenticate: Bearer`) before its handler runs. HummingbirdAuth extracts the token; the scheme name is
/// case-insensitive (RFC 9110 §11.1); tokens are compared in constant time.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: [String]
    /// The message when the header is missing, and when its token is not one of `tokens`.
    let missing: String
    let invalid: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let bearer = Self.bearer(in: request.headers) else {
            throw APIError(.unauthorized, missing, headers: [.wwwAuthenticate: "Bearer"])
        }
        // Every configured token is compared, whichever matches, so the time taken says nothing about which one.
        var ok = false
        for known in tokens where constantTimeEquals(bearer.token, known) { ok = true }
        guard ok else { throw APIError(.unauthorized, invalid, headers: [.wwwAuthenticate: "Bearer"]) }
        return try await next(request, context)
    }

    /// The `Authorization: Bearer` credential, through HummingbirdAuth's `HTTPFields.bearer`. That reads the scheme
    /// spelled `Bearer ` only; a client may spell it in any case (RFC 9110 §11.1, and the API has always accepted
    /// `bearer`), so another spelling is handed to it as `Bearer`.
    static func bearer(in headers: HTTPFields) -> BearerAuthentication? {
        if let bearer = headers.bearer { return bearer }
        guard let header = headers[.authorization], header.prefix(7).lowercased() == "bearer " else { return nil }
        let canonical: HTTPFields = [.authorization: "Bearer " + header.dropFirst(7)]
        return canonical.bearer
    }
}
