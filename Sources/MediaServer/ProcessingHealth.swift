/// Whether this process can process files (its helper processes start), as `/readyz` reports it.
public struct ProcessingHealth: Sendable {
    /// Why no helper process can be started; nil when they can.
    public var failure: String?
    /// Sandbox protections the kernel refused (only with `MEDIAWORKER_SANDBOX=best-effort`).
    public var missingProtections: [String]

    /// Health as the helper pool reports it.
    public init(failure: String?, missingProtections: [String]) {
        self.failure = failure
        self.missingProtections = missingProtections
    }
}
