import Hummingbird
import NIOCore

/// The request context: Hummingbird's core storage plus the connection, so an oversize upload can be cut off.
public struct MediaRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
