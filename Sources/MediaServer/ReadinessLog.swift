import Logging
import MediaStore
import Synchronization

/// What `/readyz` answered last. A load balancer asks every few seconds; a problem is logged at `error` when it starts
/// (or changes), again at `debug` while it lasts, and its end at `notice`: a refused S3 signature or a queue that does
/// not answer is one clear line in the log, not one per probe.
final class ReadinessLog: Sendable {
    private let last = Mutex<String?>(nil)

    /// The error `/readyz` answers with for `reason`; logs `reason` and `error` when the reason is new.
    func notReady(_ reason: String, error: Any, logger: Logger) -> APIError {
        let changed = last.withLock { previous in
            defer { previous = reason }
            return previous != reason
        }
        logger.log(level: changed ? .error : .debug, "not ready: \(reason)", metadata: ["error": "\(error)"])
        return APIError(.notReady, reason)
    }

    /// `/readyz` answers 200: logs the end of the problem it answered before, if any.
    func isReady(logger: Logger) {
        if let ended = last.withLock({ previous in defer { previous = nil }; return previous }) {
            logger.notice("ready again", metadata: ["was": "\(ended)"])
        }
    }
}

extension MediaHTTPService {
    /// Whether a storage failure is the store refusing this service's settings (logged once by the store itself).
    static func isConfiguration(_ error: any Error) -> Bool {
        (error as? any BlobStoreError)?.isConfigurationError ?? false
    }
}
