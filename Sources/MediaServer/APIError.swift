import HTTPTypes
import Hummingbird

/// The API's error codes (docs/http-api.md) and the one table of their HTTP statuses.
public enum APIErrorCode: String, Sendable {
    case unauthorized
    case invalidParameter = "invalid_parameter"
    case checksumMismatch = "checksum_mismatch"
    case tooLarge = "too_large"
    case forbidden, expired
    case notFound = "not_found"
    case rangeNotSatisfiable = "range_not_satisfiable"
    case storageUnavailable = "storage_unavailable"
    case notReady = "not_ready"
    /// A request body stalled or came too slowly (written by `RequestBodyWatcher`, not by a handler).
    case requestTimeout = "request_timeout"

    public var status: HTTPResponse.Status {
        switch self {
        case .invalidParameter: return .badRequest
        case .unauthorized: return .unauthorized
        case .forbidden, .expired: return .forbidden
        case .notFound: return .notFound
        case .tooLarge: return .contentTooLarge
        case .rangeNotSatisfiable: return .rangeNotSatisfiable
        case .checksumMismatch: return .unprocessableContent
        case .storageUnavailable, .notReady: return .serviceUnavailable
        case .requestTimeout: return .requestTimeout
        }
    }
}

/// An error answer, thrown from a handler or a middleware and written by Hummingbird: `{"error": code, "message": …}`
/// with the code's status (and any extra headers).
public struct APIError: HTTPResponseError, Sendable {
    public var code: APIErrorCode
    public var message: String
    public var headers: HTTPFields

    public init(_ code: APIErrorCode, _ message: String, headers: HTTPFields = [:]) {
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var status: HTTPResponse.Status { code.status }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        MediaHTTPService.error(status, code.rawValue, message, extra: headers)
    }
}

/// The bearer-token check of a route group: a request without one of `tokens` is answered 401 before its handler
/// runs. The scheme name is case-insensitive (RFC 9110 §11.1); tokens are compared in constant time.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: [String]
    /// The message when the header is missing, and when its token is not one of `tokens`.
    let missing: String
    let invalid: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.prefix(7).lowercased() == "bearer " else {
            throw APIError(.unauthorized, missing, headers: [.wwwAuthenticate: "Bearer"])
        }
        let token = String(header.dropFirst(7))
        var ok = false
        for known in tokens where constantTimeEquals(token, known) { ok = true }
        guard ok else { throw APIError(.unauthorized, invalid, headers: [.wwwAuthenticate: "Bearer"]) }
        return try await next(request, context)
    }
}
