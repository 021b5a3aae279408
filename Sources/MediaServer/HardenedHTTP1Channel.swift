import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import NIOCore
import NIOHTTPTypes

/// Hummingbird's HTTP/1 channel with the limits a server facing slow or hostile clients needs:
/// - a request head must arrive whole within `headerTimeout` of its first byte (a slowloris client that drips a
///   header a byte at a time is closed; NIO's idle handler alone never fires while bytes keep coming);
/// - a request body must keep coming: no byte for `body.timeout` while the server waits for one, or an average under
///   `body.minRate` once the body has taken longer than `body.timeout`, is answered 408 and the connection closed
///   (the idle timeout restarts on every byte, so alone it never cuts a client that drips a body);
/// - a connection with no request in flight is closed after `idleTimeout`;
/// - the head is bounded (`maxHeadBytes` for the header list and each field; NIO answers 431 past it).
public struct HardenedHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    public typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>
    public let responder: HTTPChannelHandler.Responder
    let headerTimeout: TimeAmount
    let body: BodyLimits
    let idleTimeout: TimeAmount
    let maxHeadBytes: Int

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let clock = HeadClock(timeout: headerTimeout)
        let body = self.body
        let inner = HTTP1Channel(responder: responder, configuration: .init(
            additionalChannelHandlers: [ResponseEndWatcher(clock: clock), RequestBodyWatcher(limits: body, logger: logger)],
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

/// How slowly a request body may arrive (`MEDIAWORKER_HTTP_BODY_TIMEOUT`, `MEDIAWORKER_HTTP_MIN_BODY_RATE`).
public struct BodyLimits: Sendable {
    /// Longest wait for the next body byte; also the grace period before the average rate is checked.
    public var timeout: TimeAmount
    /// Lowest average body rate, bytes a second, once the body has taken longer than `timeout` (0: no rate rule).
    public var minRate: Int

    public init(timeout: TimeAmount, minRate: Int) {
        self.timeout = timeout
        self.minRate = minRate
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with a header-read timeout, request-body timeouts, an idle timeout and a bound on the request head.
    public static func hardenedHTTP1(headerTimeout: TimeAmount, body: BodyLimits, idleTimeout: TimeAmount,
                                     maxHeadBytes: Int) -> HTTPServerBuilder {
        .init { responder in
            HardenedHTTP1Channel(responder: responder, headerTimeout: headerTimeout, body: body, idleTimeout: idleTimeout,
                                 maxHeadBytes: maxHeadBytes)
        }
    }
}

extension ServerSettings {
    /// The HTTP/1 server these settings describe: header-read, body and idle timeouts, a bounded head.
    public var httpServer: HTTPServerBuilder {
        .hardenedHTTP1(headerTimeout: TimeAmount(headerTimeout), body: BodyLimits(timeout: TimeAmount(bodyTimeout), minRate: minBodyRate),
                       idleTimeout: TimeAmount(idleTimeout), maxHeadBytes: maxHeadBytes)
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

/// After the HTTP codec: the request-body clock of one connection (on its event loop). Time counts only while the
/// server is asking for bytes (a `read` has passed towards the socket and no bytes have come back yet), so a handler
/// that is slow to take the body (backpressure) never makes its client look slow. A body that gets no byte for
/// `limits.timeout` of such waiting, or whose average over the waiting time falls under `limits.minRate` once that
/// time passes `limits.timeout`, is answered `408 request_timeout` (unless an answer has begun; then it is only cut)
/// and the connection is closed, which frees its connection slot. The handler reading the body then sees an error
/// (NIO's decoder reports the body's premature end), never a shortened body.
final class RequestBodyWatcher: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let limits: BodyLimits
    let logger: Logger
    /// Between a request head and its end.
    private var inBody = false
    /// Body bytes of the current request.
    private var bytes = 0
    /// Time the server has waited for body bytes of the current request, not counting the wait in progress.
    private var waited = TimeAmount.zero
    /// Since when a read has been outstanding (asked for, no bytes back yet).
    private var waitingSince: NIODeadline?
    private var timer: Scheduled<Void>?
    /// Request heads seen and response heads written on this connection, and whether a response is being written:
    /// a 408 may be written only when every earlier request has its whole answer and the current one has none.
    private var requests = 0
    private var responses = 0
    private var responding = false
    /// Once cut, nothing more is written (the server's own answer, when it comes, is dropped).
    private var cut = false

    init(limits: BodyLimits, logger: Logger) {
        self.limits = limits
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if cut { return }
        switch unwrapInboundIn(data) {
        case .head:
            requests += 1
            inBody = true
            bytes = 0
            waited = .zero
            waitingSince = nil  // the read that brought the head is answered; the body's clock starts at the next one
            cancelTimer()
        case .body(let buffer):
            bytes += buffer.readableBytes
        case .end:
            inBody = false
            cancelTimer()
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Bytes came back: the wait in progress ends (it counts towards the average).
        if let since = waitingSince {
            if inBody { waited = waited + (NIODeadline.now() - since) }
            waitingSince = nil
        }
        cancelTimer()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if waitingSince == nil { waitingSince = .now() }
        if inBody && timer == nil && !cut { schedule(context: context) }
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if cut {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head: responses += 1; responding = true
        case .end: responding = false
        case .body: break
        }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The input was shut (an oversize upload's 413): no more body is read, so none is waited for.
        if case .some(.inputClosed) = event as? ChannelEvent {
            inBody = false
            cancelTimer()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    /// The verdict now: why the body is cut, or how long until it could be.
    private enum Verdict { case wait(TimeAmount), stalled, tooSlow }

    private func verdict(now: NIODeadline) -> Verdict {
        guard let since = waitingSince else { return .wait(limits.timeout) }
        let stalled = now - since
        if stalled >= limits.timeout { return .stalled }
        var next = limits.timeout - stalled
        if limits.minRate > 0 {
            let total = waited + stalled
            // The waiting time these bytes pay for at the lowest rate (never less than the grace period).
            let paid = TimeAmount.nanoseconds(max(limits.timeout.nanoseconds,
                                                  Int64(min(1e18, Double(bytes) / Double(limits.minRate) * 1e9))))
            if total >= paid { return .tooSlow }
            next = min(next, paid - total)
        }
        return .wait(next)
    }

    private func schedule(context: ChannelHandlerContext) {
        guard case .wait(let delay) = verdict(now: .now()) else { return check(context: context) }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay + .milliseconds(1)) { [self] in
            timer = nil
            check(context: context)
        }
    }

    private func check(context: ChannelHandlerContext) {
        guard inBody, !cut, waitingSince != nil else { return }
        switch verdict(now: .now()) {
        case .wait: schedule(context: context)
        case .stalled: cutOff(context: context, reason: "stalled")
        case .tooSlow: cutOff(context: context, reason: "too_slow")
        }
    }

    private func cutOff(context: ChannelHandlerContext, reason: String) {
        cancelTimer()
        Counter(label: "mediaworker_http_slow_bodies_total", dimensions: [("reason", reason)]).increment()
        logger.notice("request body too slow: connection cut", metadata: [
            "reason": "\(reason)", "body_bytes": "\(bytes)", "address": "\(context.channel.remoteAddress?.ipAddress ?? "unknown")",
        ])
        let channel = context.channel
        guard !responding && responses == requests - 1 else {
            cut = true
            context.close(promise: nil)
            return
        }
        let message = reason == "stalled"
            ? "no request body bytes for \(Self.seconds(limits.timeout)) s"
            : "the request body is arriving slower than \(limits.minRate) bytes/s"
        let code = APIErrorCode.requestTimeout
        let body = ByteBuffer(string: #"{"error":"\#(code.rawValue)","message":"\#(message)"}"# + "\n")
        let head = HTTPResponse(status: code.status, headerFields: [
            .contentType: "application/json", .contentLength: "\(body.readableBytes)", .connection: "close",
            .cacheControl: "no-store",
        ])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        cut = true
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }

    static func seconds(_ t: TimeAmount) -> String {
        let s = Double(t.nanoseconds) / 1e9
        return s == s.rounded() ? "\(Int(s))" : "\(s)"
    }
}
