import Foundation
import MediaJSON

/// The JSON the outbox delivers when a job reaches a final state.
public enum JobEventPayload {
    /// `{"id":…,"type":"job.finished","createdAt":…,"job":{…}}` for `job` as it now is.
    public static func payload(eventID: String, job: Job, at: Date) -> String {
        JSONValue.object([
            ("id", .string(eventID)), ("type", .string("job.finished")),
            ("createdAt", .string(Job.timestamp(at))), ("job", job.json()),
        ]).serialized()
    }
}
