/// The columns of the `jobs` table, the one list both drivers read and write: every SELECT lists `JobColumn.all`
/// and decodes by `JobColumn` position, every enqueue inserts `JobColumn.submitted`. A new column is a new case here
/// (plus each driver's migration, whose SQL types differ).
public enum JobColumn: Int, CaseIterable, Sendable {
    case id, state, sender, channel, declaredType, fileName, idempotencyKey, conversationId, businessNumber,
         contentSHA256, size, attempts, createdAt, startedAt, finishedAt, runAfter, leaseOwner, leaseExpiresAt,
         lastError, outcome, artifacts, erasedAt, erasure

    /// The column's SQL name.
    public var name: String {
        switch self {
        case .id: "id"
        case .state: "state"
        case .sender: "sender"
        case .channel: "channel"
        case .declaredType: "declared_type"
        case .fileName: "file_name"
        case .idempotencyKey: "idempotency_key"
        case .conversationId: "conversation_id"
        case .businessNumber: "business_number"
        case .contentSHA256: "content_sha256"
        case .size: "size"
        case .attempts: "attempts"
        case .createdAt: "created_at"
        case .startedAt: "started_at"
        case .finishedAt: "finished_at"
        case .runAfter: "run_after"
        case .leaseOwner: "lease_owner"
        case .leaseExpiresAt: "lease_expires_at"
        case .lastError: "last_error"
        case .outcome: "outcome"
        case .artifacts: "artifacts"
        case .erasedAt: "erased_at"
        case .erasure: "erasure"
        }
    }

    /// Every column, comma-separated, in declaration order: a row read with it decodes by `rawValue`.
    public static let all = allCases.map(\.name).joined(separator: ", ")

    /// `all`, each qualified with `table` (statements that join the table).
    public static func all(qualifiedBy table: String) -> String {
        allCases.map { "\(table).\($0.name)" }.joined(separator: ", ")
    }

    /// What an enqueue writes from the submission, in this order (the driver adds `state`, `attempts`, `run_after`).
    public static let submitted: [JobColumn] = [.id, .sender, .channel, .declaredType, .fileName, .idempotencyKey,
                                                .conversationId, .businessNumber, .contentSHA256, .size, .createdAt]
}

extension Array where Element == JobColumn {
    /// The columns' names, comma-separated.
    public var names: String { map(\.name).joined(separator: ", ") }
}
