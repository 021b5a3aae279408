import Foundation

/// Where the PostgreSQL server is, read from `MEDIAWORKER_DATABASE_URL`:
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|require][&schema=NAME]`.
/// `schema` keeps the tables in their own schema (created when missing), so several deployments or test runs
/// can share one database.
public struct PostgresLocation: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var requireTLS: Bool
    public var schema: String?

    public init(url: String) throws {
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? ""),
              let host = parts.host, !host.isEmpty else {
            throw PostgresFailure("MEDIAWORKER_DATABASE_URL must look like postgres://user[:password]@host[:port]/database")
        }
        self.host = host
        port = parts.port ?? 5432
        user = parts.user ?? "postgres"  // URLComponents has decoded %XX already
        password = parts.password
        let path = parts.path.hasPrefix("/") ? String(parts.path.dropFirst()) : parts.path
        database = path.isEmpty ? user : path
        var requireTLS = false
        var schema: String?
        for item in parts.queryItems ?? [] {
            switch (item.name, item.value ?? "") {
            case ("sslmode", "disable"), ("sslmode", "prefer"), ("sslmode", "allow"): requireTLS = false
            case ("sslmode", "require"), ("sslmode", "verify-full"), ("sslmode", "verify-ca"): requireTLS = true
            case ("schema", let name):
                // An identifier we quote ourselves: letters, digits and underscores only.
                // At most 40 characters: the NOTIFY channel is "mediaworker_jobs_" + the name, and channels stop at 63.
                guard !name.isEmpty, name.count <= 40, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                    throw PostgresFailure("schema=\(name): 1–40 letters, digits and underscores")
                }
                schema = name.lowercased()
            case (let name, let value):
                throw PostgresFailure("MEDIAWORKER_DATABASE_URL: unsupported parameter \(name)=\(value) (sslmode, schema)")
            }
        }
        self.requireTLS = requireTLS
        self.schema = schema
    }

    /// True when `url` names a PostgreSQL server rather than a SQLite file.
    public static func isPostgres(_ url: String) -> Bool {
        url.hasPrefix("postgres://") || url.hasPrefix("postgresql://")
    }
}
