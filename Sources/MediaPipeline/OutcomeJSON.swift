import MediaJSON

extension Outcome {
    /// The outcome as docs/cli.md's JSON line; `location` gives each artifact's `path` (or nil to omit it).
    public func json(location: (Artifact) -> String?) -> JSONValue {
        func artifactJSON(_ a: Artifact) -> JSONValue {
            var members: [(String, JSONValue)] = [("role", .string(a.role.rawValue))]
            if let path = location(a) { members.append(("path", .string(path))) }
            members.append(("contentType", .string(a.contentType)))
            members.append(("size", .int(a.bytes.count)))
            if let w = a.width { members.append(("width", .int(w))) }
            if let h = a.height { members.append(("height", .int(h))) }
            if let d = a.durationMs { members.append(("durationMs", .int(d))) }
            if let s = a.sendAs { members.append(("sendAs", .string(s.rawValue))) }
            if let p = a.pages { members.append(("pages", .int(p))) }
            return .object(members)
        }
        switch self {
        case .accepted(let a):
            var members: [(String, JSONValue)] = [
                ("status", .string("accepted")), ("detectedType", .string(a.detectedType)),
                ("kind", .string(a.kind.rawValue)), ("size", .int(a.size)),
            ]
            if let why = a.previewUnavailable { members.append(("previewUnavailable", .string(why.rawValue))) }
            if let why = a.safeCopyUnavailable { members.append(("safeCopyUnavailable", .string(why.rawValue))) }
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
