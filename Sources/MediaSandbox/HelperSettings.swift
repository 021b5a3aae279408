import MediaPipeline

/// How helper processes are run and limited, from `MEDIAWORKER_*` variables (defaults in docs/configuration.md).
public struct HelperSettings: Sendable, Equatable {
    /// What happens when the kernel refuses part of the sandbox (`MEDIAWORKER_SANDBOX`).
    public enum Mode: String, Sendable, CaseIterable {
        /// A helper without every protection is not used: `/readyz` fails and workers stop claiming.
        case required
        /// The helper is used; the missing protections are logged and shown by `/readyz`.
        case bestEffort = "best-effort"
    }

    /// Data limit of one helper (heap and anonymous mappings), bytes (`MEDIAWORKER_HELPER_MEMORY_MB`, default
    /// 1024 MiB: the largest legitimate input, a 50-megapixel interlaced 16-bit PNG, needs about 500 MiB).
    public var memoryBytes: UInt64 = 1024 << 20
    /// A helper is replaced after this many files (`MEDIAWORKER_HELPER_MAX_JOBS`).
    public var maxJobs: Int = 500
    /// A helper is replaced when, after a file, its resident memory passes this (`MEDIAWORKER_HELPER_RECYCLE_MB`).
    public var recycleResidentBytes: Int64 = 384 << 20
    /// Seconds a new helper may take to start and report ready (`MEDIAWORKER_HELPER_START_TIMEOUT`).
    public var startTimeout: Double = 10
    /// Threads libvips uses inside one helper (`MEDIAWORKER_HELPER_VIPS_THREADS`): parallelism comes from
    /// running one helper per worker slot.
    public var vipsThreads: Int = 1
    /// `MEDIAWORKER_SANDBOX`: `required` (default) or `best-effort`.
    public var mode: Mode = .required
    /// The account helpers run as when the service runs as root (`MEDIAWORKER_HELPER_USER`).
    public var user: String = "mediaworker-helper"

    public init() {}

    /// Every variable `init(environment:)` reads (passed on to helpers, which read them too).
    public static let environmentKeys: Set<String> = [
        "MEDIAWORKER_HELPER_MEMORY_MB", "MEDIAWORKER_HELPER_MAX_JOBS", "MEDIAWORKER_HELPER_RECYCLE_MB",
        "MEDIAWORKER_HELPER_START_TIMEOUT", "MEDIAWORKER_HELPER_VIPS_THREADS", "MEDIAWORKER_SANDBOX",
        "MEDIAWORKER_HELPER_USER",
    ]

    public init(environment: [String: String]) throws {
        self.init()
        let env = Settings(environment: environment)
        if let v = try env.int("MEDIAWORKER_HELPER_MEMORY_MB", 64...(1 << 20)) { memoryBytes = UInt64(v) << 20 }
        if let v = try env.int("MEDIAWORKER_HELPER_MAX_JOBS", 1...1_000_000) { maxJobs = v }
        if let v = try env.int("MEDIAWORKER_HELPER_RECYCLE_MB", 16...(1 << 20)) { recycleResidentBytes = Int64(v) << 20 }
        if let v = try env.int("MEDIAWORKER_HELPER_START_TIMEOUT", 1...600) { startTimeout = Double(v) }
        if let v = try env.int("MEDIAWORKER_HELPER_VIPS_THREADS", 1...64) { vipsThreads = v }
        if let v = try env.choice("MEDIAWORKER_SANDBOX", Mode.self) { mode = v }
        if let v = try env.parsed("MEDIAWORKER_HELPER_USER", expected: "a user name", { name -> String? in
            !name.isEmpty && name.count <= 32 && name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
                ? name : nil
        }) { user = v }
    }
}
