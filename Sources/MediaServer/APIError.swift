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
    /// The job was erased (on request or by retention): its media are gone for good.
    case erased
    case rangeNotSatisfiable = "range_not_satisfiable"
    case storageUnavailable = "storage_unavailable"
    case notReady = "not_ready"
    /// A request body stalled or came too slowly (written by `RequestBodyWatcher`, not by a handler).
    case requestTimeout = "request_timeout"

    /// The HTTP status every answer with this code has.
    public var status: HTTPResponse.Status {
        switch self {
        case .invalidParameter: return .badRequest
        case .unauthorized: return .unauthorized
        case .forbidden, .expired: return .forbidden
        case .notFound: return .notFound
        case .erased: return .gone
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
    /// The `error` member.
    public var code: APIErrorCode
    /// The `message` member, for a person reading the log.
    public var message: String
    /// Added to the answer (`WWW-Authenticate`, `Retry-After`, …).
    public var headers: HTTPFields

    /// The answer `code` with `message` and any extra headers.
    public init(_ code: APIErrorCode, _ message: String, headers: HTTPFields = [:]) {
        self.code = code
        self.message = message
        self.headers = headers
    }

    /// The code's status.
    public var status: HTTPResponse.Status { code.status }

    /// The JSON body with `no-store`, as every API answer.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        MediaHTTPService.error(status, code.rawValue, message, extra: headers)
    }
}
