import Logging
import NIOCore
import NIOHTTPTypes

/// First handler of a connection's pipeline (after TLS): enforces ``ConnectionLimits``. It
/// sees raw bytes, so it knows when a request starts; ``RequestProgress``, after the HTTP
/// decoder, tells it when the head and the body are complete and when the response is sent.
///
/// Phases: a new connection or the first byte of a request starts the head deadline; a
/// complete head starts the read deadline (body); a complete request stops the clock while
/// the response is made (queries may take minutes); a sent response starts the idle
/// deadline. A deadline that passes closes the connection.
final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Phase { case idle, head, body, responding }

    let limits: ConnectionLimits
    let counts: ConnectionCounts
    let logger: Logger
    private var phase = Phase.head
    private var deadline: Scheduled<Void>?
    private var counted = false

    init(limits: ConnectionLimits, counts: ConnectionCounts, logger: Logger) {
        self.limits = limits
        self.counts = counts
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let open = counts.opened()
        counted = true
        guard open <= limits.maxConnections else {
            counts.refusedOne()
            logger.warning("connection refused: too many open", metadata: ["max_connections": "\(limits.maxConnections)"])
            context.close(promise: nil)
            return
        }
        arm(context, limits.readHeaderTimeout, "request head")
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        if counted {
            counts.closed()
            counted = false
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if phase == .idle {
            phase = .head
            arm(context, limits.readHeaderTimeout, "request head")
        }
        context.fireChannelRead(data)
    }

    func headReceived(_ context: ChannelHandlerContext) {
        phase = .body
        arm(context, limits.readTimeout, "request body")
    }

    func requestReceived() {
        phase = .responding
        deadline?.cancel()
        deadline = nil
    }

    func responseSent(_ context: ChannelHandlerContext) {
        guard phase == .responding else { return }  // a pipelined request is already under way
        phase = .idle
        arm(context, limits.readTimeout, "next request")
    }

    private func arm(_ context: ChannelHandlerContext, _ ms: Int64, _ what: String) {
        deadline?.cancel()
        let channel = context.channel
        let counts = self.counts, logger = self.logger
        deadline = context.eventLoop.scheduleTask(in: .milliseconds(ms)) {
            counts.timedOutOne()
            logger.debug("connection closed: no \(what) in time", metadata: ["timeout_ms": "\(ms)", "peer": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
            channel.close(promise: nil)
        }
    }
}

/// After the HTTP decoder: reports a request's head and end, and the response's end, to the
/// connection's ``ConnectionGuard``.
final class RequestProgress: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var connection: ConnectionGuard?
    private var guardContext: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        connection = try? context.pipeline.syncOperations.handler(type: ConnectionGuard.self)
        guardContext = try? context.pipeline.syncOperations.context(handlerType: ConnectionGuard.self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let connection, let guardContext {
            switch unwrapInboundIn(data) {
            case .head: connection.headReceived(guardContext)
            case .end: connection.requestReceived()
            case .body: break
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), let connection, let guardContext {
            connection.responseSent(guardContext)
        }
        context.write(data, promise: promise)
    }
}
