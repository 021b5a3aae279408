/// A JSON value that keeps object keys in the order they were written, so output reads like contract.md.
public indirect enum JSONValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool { a.serialized() == b.serialized() }

    /// Compact, single-line JSON.
    public func serialized() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .string(let s): Self.writeString(s, to: &out)
        case .int(let i): out += String(i)
        case .double(let d): out += d.isFinite ? String(d) : "null"
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out += "," }
                Self.writeString(key, to: &out)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

extension Outcome {
    /// The outcome as contract.md's CLI JSON; `location` gives each artifact's `path` (or nil to omit it).
    public func json(location: (Artifact) -> String?) -> JSONValue {
        func artifactJSON(_ a: Artifact) -> JSONValue {
            var members: [(String, JSONValue)] = [("role", .string(a.role.rawValue))]
            if let path = location(a) { members.append(("path", .string(path))) }
            members.append(("contentType", .string(a.contentType)))
            members.append(("size", .int(a.bytes.count)))
            if let w = a.width { members.append(("width", .int(w))) }
            if let h = a.height { members.append(("height", .int(h))) }
            if let d = a.durationMs { members.append(("durationMs", .int(d))) }
            return .object(members)
        }
        switch self {
        case .accepted(let a):
            var members: [(String, JSONValue)] = [
                ("status", .string("accepted")), ("detectedType", .string(a.detectedType)),
                ("kind", .string(a.kind.rawValue)), ("size", .int(a.size)),
            ]
            if let why = a.previewUnavailable { members.append(("previewUnavailable", .string(why.rawValue))) }
            if let gain = a.gainDb { members.append(("gainDb", .double(gain))) }
            if let waveform = a.waveform { members.append(("waveform", .array(waveform.map { .double($0) }))) }
            members.append(("artifacts", .array(a.artifacts.map(artifactJSON))))
            return .object(members)
        case .rejected(let r):
            var members: [(String, JSONValue)] = [
                ("status", .string("rejected")), ("reason", .string(r.reason.rawValue)),
                ("message", .string(r.message)),
            ]
            if let t = r.detectedType { members.append(("detectedType", .string(t))) }
            members.append(("size", .int(r.size)))
            members.append(("artifacts", .array([])))
            return .object(members)
        }
    }
}
