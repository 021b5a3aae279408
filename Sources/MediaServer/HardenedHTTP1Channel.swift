import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes

/// Hummingbird's HTTP/1 channel with the limits a server facing slow or hostile clients needs:
/// - a request head must arrive whole within `headerTimeout` of its first byte (a slowloris client that drips a
///   header a byte at a time is closed; NIO's idle handler alone never fires while bytes keep coming);
/// - a connection with no request in flight is closed after `idleTimeout`;
/// - the head is bounded (`maxHeadBytes` for the header list and each field; NIO answers 431 past it).
public struct HardenedHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    public typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>
    public let responder: HTTPChannelHandler.Responder
    let headerTimeout: TimeAmount
    let idleTimeout: TimeAmount
    let maxHeadBytes: Int

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let clock = HeadClock(timeout: headerTimeout)
        let inner = HTTP1Channel(responder: responder, configuration: .init(
            additionalChannelHandlers: [ResponseEndWatcher(clock: clock)],
            idleTimeout: idleTimeout,
            httpDecoderConfiguration: .init(maxHeaderFieldSize: maxHeadBytes, maxHeaderListSize: maxHeadBytes, maxHeaderFieldCount: 100)))
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(HeadStartWatcher(clock: clock), position: .first)
        }.flatMap { inner.setup(channel: channel, logger: logger) }
    }

    public func handle(value: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with a header-read timeout, an idle timeout and a bound on the request head.
    public static func hardenedHTTP1(headerTimeout: TimeAmount, idleTimeout: TimeAmount, maxHeadBytes: Int) -> HTTPServerBuilder {
        .init { responder in
            HardenedHTTP1Channel(responder: responder, headerTimeout: headerTimeout, idleTimeout: idleTimeout, maxHeadBytes: maxHeadBytes)
        }
    }
}

extension ServerSettings {
    /// The HTTP/1 server these settings describe: header-read and idle timeouts, a bounded head.
    public var httpServer: HTTPServerBuilder {
        .hardenedHTTP1(headerTimeout: .milliseconds(Int64(headerTimeout * 1000)), idleTimeout: .milliseconds(Int64(idleTimeout * 1000)),
                       maxHeadBytes: maxHeadBytes)
    }

    /// Address, backlog and the cap on open connections (more wait in the kernel's backlog).
    public var applicationConfiguration: ApplicationConfiguration {
        .init(address: .hostname(host, port: port), serverName: "mediaworker", backlog: 1024,
              availableConnectionsDelegate: MaximumAvailableConnections(maxConnections))
    }
}

/// Per connection, on its event loop: between requests the clock is stopped; the first byte of a request head
/// starts it; the end of the head (a blank line) stops it; the end of the response re-opens it for the next head.
/// Touched only by the connection's two handlers, on the connection's event loop (hence unchecked).
final class HeadClock: @unchecked Sendable {
    enum State { case betweenRequests, inHead, inRequest }
    let timeout: TimeAmount
    var state = State.betweenRequests
    var timer: Scheduled<Void>?
    /// The last three bytes seen in the head, so a blank line split across reads is still found.
    var tail: [UInt8] = []

    init(timeout: TimeAmount) { self.timeout = timeout }
}

/// First in the pipeline (raw bytes): starts the clock at a head's first byte and stops it at its blank line.
final class HeadStartWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let clock: HeadClock

    init(clock: HeadClock) { self.clock = clock }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if clock.state == .betweenRequests && buffer.readableBytes > 0 {
            clock.state = .inHead
            clock.tail.removeAll(keepingCapacity: true)
            let channel = context.channel
            clock.timer = context.eventLoop.scheduleTask(in: clock.timeout) {
                channel.close(promise: nil)
            }
        }
        if clock.state == .inHead, let bytes = buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) {
            let scan = clock.tail + bytes
            if Self.containsBlankLine(scan) {
                clock.state = .inRequest
                clock.timer?.cancel()
                clock.timer = nil
            } else {
                clock.tail = Array(scan.suffix(3))
            }
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        clock.timer?.cancel()
        context.fireChannelInactive()
    }

    static func containsBlankLine(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return true
        }
        return false
    }
}

/// After the HTTP codec: a response's end re-opens the clock for the next request head on the connection.
final class ResponseEndWatcher: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart
    let clock: HeadClock

    init(clock: HeadClock) { self.clock = clock }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { clock.state = .betweenRequests }
        context.write(data, promise: promise)
    }
}
