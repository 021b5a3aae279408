import Foundation
import MediaDomain
import MediaQueue
import Mustache

/// The console's pages: swift-mustache templates (HTML-escaped by default) and the data they are given. Charts and
/// waveforms are inline SVG made here from numbers only. No script anywhere: the CSP forbids it.
struct ConsoleViews: Sendable {
    let library: MustacheLibrary

    init() throws {
        var library = MustacheLibrary()
        for (name, text) in Self.templates { try library.register(text, named: name) }
        self.library = library
    }

    func render(_ name: String, _ data: [String: Any]) -> String {
        library.render(data, withTemplate: name) ?? "template \(name) missing"
    }

    // MARK: Data

    /// The rejection filter's choices: every code a job can end with. `checksum_mismatch` is decided at upload
    /// (422, nothing stored), so no job carries it.
    static let rejectionCodes = RejectionReason.allCases.filter { $0 != .checksumMismatch }.map(\.rawValue)
    /// The kind filter's choices: every kind of attachment.
    static let kinds = AttachmentKind.allCases.map(\.rawValue)

    func page(session: ConsoleSession, title: String, extra: [String: Any] = [:]) -> [String: Any] {
        var data: [String: Any] = ["title": title, "user": session.user, "csrf": session.csrf]
        for (k, v) in extra { data[k] = v }
        return data
    }

    func overview(_ o: QueueOverview, health: ProcessingHealth, session: ConsoleSession) -> [String: Any] {
        func seconds(_ s: Double?) -> String { s.map(Self.duration) ?? "—" }
        let helpers: String
        if let failure = health.failure { helpers = "failing: \(failure)" }
        else if health.missingProtections.isEmpty { helpers = "ok" }
        else { helpers = "ok, without " + health.missingProtections.map { String($0.prefix { $0 != ":" }) }.joined(separator: ", ") }
        return page(session: session, title: "Overview", extra: [
            "overviewNav": true,
            "queued": o.active[.queued] ?? 0, "running": o.active[.running] ?? 0, "dead": o.active[.dead] ?? 0,
            "hasDead": (o.active[.dead] ?? 0) > 0,
            "acceptedHour": o.acceptedHour, "rejectedHour": o.rejectedHour, "deadHour": o.deadHour,
            "acceptedDay": o.acceptedDay, "rejectedDay": o.rejectedDay,
            "median": seconds(o.medianToFinal), "p95": seconds(o.p95ToFinal),
            "latency": o.queueLatency.map(Self.duration) ?? "none queued",
            "outbox": o.outboxPending, "helpers": helpers, "helpersFailing": health.failure != nil,
            "hourChart": Self.barChart(o.lastHour, label: { Self.clock($0, seconds: false) }, every: 10),
            "dayChart": Self.barChart(o.lastDay, label: { Self.clock($0, seconds: false) }, every: 4),
            "refusalsHour": o.refusalsHour.map { ["code": $0.code, "count": $0.count] },
            "refusalsDay": o.refusalsDay.map { ["code": $0.code, "count": $0.count] },
            "hasRefusalsDay": !o.refusalsDay.isEmpty,
            "now": Self.clock(o.now, seconds: true),
        ])
    }

    func jobs(_ jobs: [Job], filter: JobFilter, older: String?, first: Bool, retried: Int?, session: ConsoleSession) -> [String: Any] {
        let q = Self.query(filter, state: filter.state)
        var data = page(session: session, title: "Jobs", extra: [
            "jobsNav": true,
            "rows": jobs.map(row),
            "empty": jobs.isEmpty,
            "states": [["value": "", "label": "any state", "selected": filter.state == nil]]
                + JobState.allCases.map { ["value": $0.rawValue, "label": $0.rawValue, "selected": filter.state == $0] },
            "kinds": [["value": "", "label": "any kind", "selected": filter.kind == nil]]
                + Self.kinds.map { ["value": $0, "label": $0, "selected": filter.kind == $0] },
            "reasons": [["value": "", "label": "any rejection", "selected": filter.reason == nil]]
                + Self.rejectionCodes.map { ["value": $0, "label": $0, "selected": filter.reason == $0] },
            "business": filter.businessNumber ?? "", "conversation": filter.conversationId ?? "",
            "filtered": !filter.isEmpty,
            "retryQuery": Self.query(filter, state: nil),
            "showRetryAll": (filter.state == nil || filter.state == .dead) && filter.reason == nil,
            "firstQuery": q,
        ])
        if let older { data["olderQuery"] = q + (q.isEmpty ? "" : "&") + "before=\(older)" }
        if !first { data["notFirst"] = true }
        if let retried { data["retried"] = retried; data["retriedOne"] = retried == 1 }
        return data
    }

    func row(_ job: Job) -> [String: Any] {
        let outcome = job.outcomeJSON.flatMap(OutcomeSummary.init(json:))
        let roles = Set(job.artifacts.map(\.role))
        let kind = outcome?.kind
        var row: [String: Any] = [
            "id": job.id, "shortID": String(job.id.suffix(12)), "state": job.state.rawValue,
            "created": Self.clock(job.createdAt, seconds: true), "from": job.submission.from.rawValue,
            "kind": kind ?? "", "reason": outcome?.reason ?? "",
            "business": job.submission.businessNumber ?? "", "conversation": job.submission.conversationId ?? "",
            "size": Self.bytes(job.submission.size), "fileName": job.submission.fileName ?? "",
        ]
        if roles.contains(.thumbnail) { row["thumbnail"] = "/console/media/\(job.id)/thumbnail" }
        else if roles.contains(.playback), kind == AttachmentKind.voiceNote.rawValue { row["audio"] = "/console/media/\(job.id)/playback" }
        return row
    }

    func job(_ job: Job, session: ConsoleSession) -> [String: Any] {
        if job.state == .erased {
            // A tombstone: what is left, and nothing to show or do.
            let facts: [[String: String]] = [
                ["name": "state", "value": job.state.rawValue],
                ["name": "erased", "value": job.erasedAt.map(Job.timestamp) ?? ""],
                ["name": "erasure", "value": job.erasure == .retention ? "retention period ended" : "on request"],
                ["name": "submitted", "value": Job.timestamp(job.createdAt)],
            ]
            return page(session: session, title: "Job \(job.id)", extra: [
                "jobsNav": true, "id": job.id, "state": job.state.rawValue, "facts": facts, "erased": true,
            ])
        }
        let outcome = job.outcomeJSON.flatMap(OutcomeSummary.init(json:))
        var facts: [[String: String]] = [
            ["name": "state", "value": job.state.rawValue], ["name": "from", "value": job.submission.from.rawValue],
            ["name": "channel", "value": job.submission.channel.rawValue],
        ]
        func fact(_ name: String, _ value: String?) { if let value, !value.isEmpty { facts.append(["name": name, "value": value]) } }
        fact("declared type", job.submission.declaredType)
        fact("file name", job.submission.fileName)
        fact("business number", job.submission.businessNumber)
        fact("conversation", job.submission.conversationId)
        fact("idempotency key", job.submission.idempotencyKey)
        fact("size", Self.bytes(job.submission.size))
        fact("sha256", job.submission.contentSHA256)
        fact("attempts", "\(job.attempts)")
        fact("submitted", Job.timestamp(job.createdAt))
        fact("last started", job.startedAt.map(Job.timestamp))
        fact("finished", job.finishedAt.map(Job.timestamp))
        if job.state == .queued, job.attempts > 0 { fact("retry at", Job.timestamp(job.runAfter)) }
        fact("lease", job.leaseOwner.map { "\($0) until \(job.leaseExpiresAt.map(Job.timestamp) ?? "?")" })
        fact("detected type", outcome?.detectedType)
        fact("kind", outcome?.kind)
        fact("rejection", outcome?.reason)
        fact("message", outcome?.message)
        var phases: [[String: String]] = []
        if let started = job.startedAt { phases.append(["name": "waited in queue (to last start)", "value": Self.duration(started.timeIntervalSince(job.createdAt))]) }
        if let started = job.startedAt, let finished = job.finishedAt, finished >= started {
            phases.append(["name": "processing (last attempt)", "value": Self.duration(finished.timeIntervalSince(started))])
        }
        if let finished = job.finishedAt { phases.append(["name": "submission to final state", "value": Self.duration(finished.timeIntervalSince(job.createdAt))]) }
        var artifacts: [[String: Any]] = []
        for a in job.artifacts {
            let role = a.role.rawValue, type = a.contentType
            let url = "/console/media/\(job.id)/\(role)"
            var item: [String: Any] = ["role": role, "contentType": type, "url": url, "size": Self.bytes(a.size)]
            var details: [String] = []
            if let w = a.width, let h = a.height { details.append("\(w)×\(h)") }
            if let ms = a.durationMs { details.append(Self.duration(Double(ms) / 1000)) }
            if let s = a.sendAs { details.append("send as \(s.rawValue)") }
            if let p = a.pages { details.append(p == 1 ? "1 page" : "\(p) pages") }
            if a.role == .safeCopy { item["safeCopy"] = true }
            item["details"] = details.joined(separator: ", ")
            if type.hasPrefix("image/") { item["image"] = true }
            else if type.hasPrefix("audio/") {
                item["audio"] = true
                // A voice note's peaks are stored in its outcome (`waveform`), drawn under its playback.
                let stored = a.role == .playback ? outcome?.waveform : nil
                if let peaks = stored, !peaks.isEmpty { item["waveform"] = Self.waveform(peaks) }
            } else if type.hasPrefix("video/") { item["video"] = true }
            artifacts.append(item)
        }
        let outcomeText = job.outcomeJSON.flatMap(Self.pretty) ?? ""
        return page(session: session, title: "Job \(job.id)", extra: [
            "jobsNav": true, "id": job.id, "state": job.state.rawValue, "facts": facts, "phases": phases,
            "lastError": job.lastError ?? "", "hasLastError": job.lastError != nil,
            "outcome": outcomeText, "hasOutcome": !outcomeText.isEmpty,
            "artifacts": artifacts, "hasArtifacts": !artifacts.isEmpty, "dead": job.state == .dead,
            "hasPhases": true,
        ])
    }

    func confirm(count: Int, limit: Int, filter: JobFilter, session: ConsoleSession) -> [String: Any] {
        var hidden: [[String: String]] = []
        if let v = filter.kind { hidden.append(["name": "kind", "value": v]) }
        if let v = filter.reason { hidden.append(["name": "reason", "value": v]) }
        if let v = filter.businessNumber { hidden.append(["name": "business", "value": v]) }
        if let v = filter.conversationId { hidden.append(["name": "conversation", "value": v]) }
        let described = hidden.map { "\($0["name"]!) = \($0["value"]!)" }.joined(separator: ", ")
        return page(session: session, title: "Retry dead jobs", extra: [
            "jobsNav": true, "count": count, "atLimit": count >= limit, "limit": limit, "hidden": hidden,
            "described": described.isEmpty ? "all dead jobs" : "dead jobs with " + described,
            "none": count == 0, "backQuery": Self.query(filter, state: .dead),
        ])
    }

    // MARK: Formatting

    /// The filter as a query string (values percent-encoded), with `state` in place of the filter's.
    static func query(_ f: JobFilter, state: JobState?) -> String {
        var parts: [String] = []
        func add(_ k: String, _ v: String?) {
            if let v { parts.append(k + "=" + (v.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")) }
        }
        add("state", state?.rawValue)
        add("kind", f.kind)
        add("reason", f.reason)
        add("business", f.businessNumber)
        add("conversation", f.conversationId)
        return parts.joined(separator: "&")
    }

    static func clock(_ date: Date, seconds: Bool) -> String {
        let t = Job.timestamp(date)  // 2026-11-25T16:00:00.000Z
        let time = t.dropFirst(11).prefix(seconds ? 8 : 5)
        return "\(t.prefix(10)) \(time)"
    }

    static func duration(_ s: Double) -> String {
        if s < 1 { return "\(Int((s * 1000).rounded())) ms" }
        if s < 60 { return String(format: "%.1f s", s) }
        if s < 3600 { return "\(Int(s) / 60) min \(Int(s) % 60) s" }
        if s < 86_400 { return "\(Int(s) / 3600) h \(Int(s) % 3600 / 60) min" }
        return "\(Int(s) / 86_400) d \(Int(s) % 86_400 / 3600) h"
    }

    static func bytes(_ n: Int) -> String {
        if n < 1024 { return "\(n) B" }
        if n < 1024 * 1024 { return String(format: "%.1f KiB", Double(n) / 1024) }
        return String(format: "%.1f MiB", Double(n) / 1024 / 1024)
    }

    /// A stored outcome as indented JSON, keys sorted; nil when the text is not JSON. Its shape is open (each kind
    /// of outcome has its own members), so it goes through `JSONSerialization` rather than a `Codable` type.
    static func pretty(_ json: String) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed),
              let out = try? JSONSerialization.data(withJSONObject: object,
                                                    options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed]) else {
            return nil
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Stacked bars (accepted, refused, dead) per slot, with a title per bar and a time label every `every` slots.
    static func barChart(_ buckets: [FinishedBucket], label: (Date) -> String, every: Int) -> String {
        let width = 720.0, height = 160.0, base = 140.0, top = 10.0
        let slot = width / Double(max(1, buckets.count))
        let peak = max(1, buckets.map { $0.accepted + $0.rejected + $0.dead }.max() ?? 1)
        let scale = (base - top) / Double(peak)
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"final jobs per slot\" xmlns=\"http://www.w3.org/2000/svg\">"
        svg += "<line x1=\"0\" y1=\"\(base)\" x2=\"\(width)\" y2=\"\(base)\" class=\"axis\"/>"
        svg += "<text x=\"2\" y=\"\(top + 2)\" class=\"tick\">\(peak)</text>"
        for (i, b) in buckets.enumerated() {
            let x = Double(i) * slot + 1
            var y = base
            svg += "<g><title>\(label(b.start)): \(b.accepted) accepted, \(b.rejected) refused, \(b.dead) dead</title>"
            for (n, cls) in [(b.accepted, "acc"), (b.rejected, "rej"), (b.dead, "dead")] where n > 0 {
                let h = Double(n) * scale
                y -= h
                svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"%@\"/>", x, y, max(1, slot - 2), h, cls)
            }
            svg += "</g>"
            if i % every == 0 {
                svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\">%@</text>", x, base + 15, String(label(b.start).suffix(5)))
            }
        }
        return svg + "</svg>"
    }

    /// The stored peaks (0…1, loudest = 1) as mirrored bars.
    static func waveform(_ peaks: [Double]) -> String {
        let width = 640.0, height = 80.0, mid = height / 2
        let step = width / Double(peaks.count)
        var svg = "<svg class=\"waveform\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"waveform\" xmlns=\"http://www.w3.org/2000/svg\">"
        for (i, p) in peaks.enumerated() {
            let h = max(1, min(1, max(0, p)) * (height - 4))
            svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>", Double(i) * step, mid - h / 2, max(1, step * 0.7), h)
        }
        return svg + "</svg>"
    }
}

/// The members of a stored outcome (docs/jobs.md) the console shows as facts and in the job list.
struct OutcomeSummary: Decodable, Equatable {
    var kind: String?
    var reason: String?
    var detectedType: String?
    var message: String?
    /// A voice note's peaks, 0…1.
    var waveform: [Double]?

    private enum CodingKeys: String, CodingKey { case kind, reason, detectedType, message, waveform }

    /// Nil when `json` is not a JSON object (Foundation throws on malformed text, it never traps).
    init?(json: String) {
        guard let summary = try? JSONDecoder().decode(Self.self, from: Data(json.utf8)) else { return nil }
        self = summary
    }

    init(kind: String? = nil, reason: String? = nil, detectedType: String? = nil, message: String? = nil,
         waveform: [Double]? = nil) {
        self.kind = kind
        self.reason = reason
        self.detectedType = detectedType
        self.message = message
        self.waveform = waveform
    }

    /// Member by member: one of another type is left out (the console only displays), the others still show.
    /// Malformed text (a lone surrogate in a string, say) is still an error: Foundation reads strings lazily.
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func member<T: Decodable>(_ type: T.Type, _ key: CodingKeys) throws -> T? {
            do { return try c.decodeIfPresent(type, forKey: key) } catch DecodingError.typeMismatch { return nil }
        }
        self.init(kind: try member(String.self, .kind), reason: try member(String.self, .reason),
                  detectedType: try member(String.self, .detectedType), message: try member(String.self, .message),
                  waveform: try member([Double].self, .waveform))
    }
}
