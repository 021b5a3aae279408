import Foundation
import MediaJSON

/// The JSON the outbox delivers when a job reaches a final state.
enum MediaJSONEvent {
    static func payload(eventID: String, job: Job, at: Date) -> String {
        JSONValue.object([
            ("id", .string(eventID)), ("type", .string("job.finished")),
            ("createdAt", .string(Job.timestamp(at))), ("job", job.json()),
        ]).serialized()
    }
}
