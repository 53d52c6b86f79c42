import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

/// Hummingbird's HTTP/1 child channel with ``ConnectionGuard`` in front: the connection cap
/// and the head, body and idle deadlines of ``ConnectionLimits``; each connection's requests
/// handled on its event loop.
public struct GuardedHTTP1Channel: ServerChildChannel {
    public typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    let limits: ConnectionLimits
    let counts: ConnectionCounts

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let limits = self.limits, counts = self.counts, base = self.base
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionGuard(limits: limits, counts: counts, logger: logger))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    /// Runs on the connection's event loop (``EventLoopExecutor``): routes that do more than
    /// light work move it off the loop themselves.
    public func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopExecutor(value.channel.eventLoop)) {
            await base.handle(value: value, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// An HTTP/1 server (HTTPS with `tls`) whose connections obey `limits`, counted in `counts`.
    public static func guarded(_ limits: ConnectionLimits, counts: ConnectionCounts, tls: TLSConfiguration? = nil) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            let http = HTTP1Channel(responder: responder, configuration: .init(additionalChannelHandlers: [RequestProgress()]))
            let guarded = GuardedHTTP1Channel(base: http, limits: limits, counts: counts)
            guard let tls else { return guarded }
            return try TLSChannel(guarded, tlsConfiguration: tls)
        }
    }
}
