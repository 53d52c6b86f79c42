import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization
import TributaryWire

/// One kept-alive HTTP/1.1 connection to an endpoint, one request at a time: the request goes
/// out as prepared bytes and the response is read by ``HTTPResponseReader`` straight into its
/// body array. Opened on first use and again after the server closes it; a request that meets
/// a kept-alive connection the server had already closed is sent once more on a new one.
/// Closed when released.
package final class HTTP1Connection: Sendable {
    package let endpoint: HTTPEndpoint
    package let tls: NIOSSLContext?
    package let serverName: String?
    package let group: any EventLoopGroup
    package let channel = Mutex<(any Channel)?>(nil)
    /// Counts ``close()`` calls: a request that fails because of one is not sent again.
    package let closed = Atomic<Int>(0)

    package init(endpoint: HTTPEndpoint, tls: NIOSSLContext?, serverName: String?, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.endpoint = endpoint
        self.tls = endpoint.https ? tls : nil
        self.serverName = serverName ?? (Self.isIPAddress(endpoint.host) ? nil : endpoint.host)
        self.group = group
    }

    deinit {
        channel.withLock { $0 }?.close(promise: nil)
    }

    /// An address literal, which TLS cannot send as the server name.
    package static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    /// Sends `request` and reads the response, by `deadline`; cancelling the task closes the
    /// connection.
    package func exchange(_ request: ByteBuffer, maxBody: Int, expectedBody: Int = 0, deadline: NIODeadline) async throws -> HTTPResponseReader {
        let response = send(request, maxBody: maxBody, expectedBody: expectedBody, deadline: deadline)
        return try await withTaskCancellationHandler {
            try await response.get()
        } onCancel: {
            close()
        }
    }

    /// ``exchange(_:maxBody:expectedBody:deadline:)`` as a future, completed on the
    /// connection's event loop: a caller on that loop (a scrape loop) waits for nothing and
    /// wakes no other thread.
    package func send(_ request: ByteBuffer, maxBody: Int, expectedBody: Int = 0, deadline: NIODeadline) -> EventLoopFuture<HTTPResponseReader> {
        let reader = HTTPResponseReader(maxBody: maxBody, expectedBody: expectedBody)
        let closes = closed.load(ordering: .relaxed)
        guard let open = channel.withLock({ $0 }), open.isActive else {
            return connect(deadline, closes).flatMap { self.send(on: $0, request, reader, deadline) }
        }
        return send(on: open, request, reader, deadline).flatMapError { error in
            // The server closed the idle connection as the request went out (not we, by
            // `close()`): sent once more on a new one.
            guard let e = error as? HTTPResponseReader.Failure, e.beforeResponse, self.closed.load(ordering: .relaxed) == closes else {
                return open.eventLoop.makeFailedFuture(error)
            }
            return self.connect(deadline, closes).flatMap { self.send(on: $0, request, reader, deadline) }
        }
    }

    /// Closes the connection: a request in flight fails, and is not sent again.
    package func close() {
        closed.add(1, ordering: .relaxed)
        // Closed outside the lock: on the event loop, closing runs the handlers at once, and
        // they come back here.
        channel.withLock { $0 }?.close(promise: nil)
    }

    /// A new connection, unless ``close()`` was called since the request began (`closes`).
    private func connect(_ deadline: NIODeadline, _ closes: Int) -> EventLoopFuture<any Channel> {
        channel.withLock { channel in
            defer { channel = nil }
            return channel
        }?.close(promise: nil)
        let tls = tls, serverName = serverName, endpoint = endpoint
        let left = deadline - .now()
        guard left > .zero else {
            return group.next().makeFailedFuture(HTTPClientError(description: "timeout before connecting to \(endpoint.authority)"))
        }
        // Completed once the connection can carry a request: at once in plain HTTP, after the
        // handshake in TLS. A handshake that fails (an untrusted certificate) fails the connect
        // with its own reason, not as a connection closed before a response.
        let ready = group.next().makePromise(of: Void.self)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(left)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(HTTP1ResponseHandler(handshake: tls == nil ? nil : ready))
                    if tls == nil { ready.succeed() }
                }
            }
        return bootstrap.connect(host: endpoint.host, port: endpoint.port)
            .flatMapErrorThrowing { error in
                ready.fail(error)
                throw HTTPClientError(description: "cannot connect to \(endpoint.host):\(endpoint.port): \(error)")
            }
            .flatMap { opened in
                // The request's deadline covers the handshake: a server that never answers it
                // would otherwise hold the request for ever.
                let timeout = opened.eventLoop.scheduleTask(deadline: deadline) {
                    ready.fail(HTTPClientError(description: "timeout: TLS handshake not finished in time"))
                    opened.close(promise: nil)
                }
                return ready.futureResult.always { _ in timeout.cancel() }.map { opened }.flatMapErrorThrowing { error in
                    opened.close(promise: nil)
                    throw HTTPClientError(description: "TLS handshake with \(endpoint.host):\(endpoint.port) failed: \(error)")
                }
            }
            .flatMapThrowing { opened in
                self.channel.withLock { $0 = opened }
                guard self.closed.load(ordering: .relaxed) == closes else {
                    self.forget(opened)
                    throw HTTPClientError(description: "connection closed while connecting to \(endpoint.authority)")
                }
                return opened
            }
    }

    /// The channel is closed unless it can carry the next request.
    private func send(on channel: any Channel, _ request: ByteBuffer, _ reader: HTTPResponseReader, _ deadline: NIODeadline) -> EventLoopFuture<HTTPResponseReader> {
        let promise = channel.eventLoop.makePromise(of: HTTPResponseReader.self)
        let start: @Sendable () -> Void = {
            do {
                // Closed since it was picked (the event loop has seen it go): nothing will answer.
                guard channel.isActive else { throw HTTPResponseReader.Failure(description: "connection closed before a response", beforeResponse: true) }
                let handler = try channel.pipeline.syncOperations.handler(type: HTTP1ResponseHandler.self)
                handler.begin(reader, promise: promise, deadline: deadline, channel: channel)
                channel.writeAndFlush(request, promise: nil)
            } catch {
                promise.fail(error)
            }
        }
        if channel.eventLoop.inEventLoop { start() } else { channel.eventLoop.execute(start) }
        return promise.futureResult.always { result in
            switch result {
            case .success(let response) where response.keepAlive: break
            default: self.forget(channel)
            }
        }
    }

    private func forget(_ closing: any Channel) {
        closing.close(promise: nil)
        channel.withLock { if $0 === closing { $0 = nil } }
    }
}

/// Why an HTTP exchange failed (connecting, timing out).
public struct HTTPClientError: Error, CustomStringConvertible {
    public var description: String
}

/// Feeds a connection's bytes to the response being read. Lives on its channel's event loop.
final class HTTP1ResponseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var reader: HTTPResponseReader?
    private var promise: EventLoopPromise<HTTPResponseReader>?
    private var timeout: Scheduled<Void>?
    /// Completed when the TLS handshake has finished (or failed, or the connection closed
    /// first); nil without TLS.
    private var handshake: EventLoopPromise<Void>?

    init(handshake: EventLoopPromise<Void>?) {
        self.handshake = handshake
    }

    package func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            handshake?.succeed()
            handshake = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    package func handlerRemoved(context: ChannelHandlerContext) {
        handshake?.fail(HTTPClientError(description: "connection closed during the TLS handshake"))
        handshake = nil
    }

    package func begin(_ reader: HTTPResponseReader, promise: EventLoopPromise<HTTPResponseReader>, deadline: NIODeadline, channel: any Channel) {
        guard self.promise == nil else {
            promise.fail(HTTPClientError(description: "a request is already in flight on this connection"))
            return
        }
        self.reader = reader
        self.promise = promise
        timeout = channel.eventLoop.scheduleTask(deadline: deadline) {
            promise.fail(HTTPClientError(description: "timeout: no complete response in time"))
            channel.close(promise: nil)
        }
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard var reader else {
            // Bytes nobody asked for: the connection is out of step.
            context.close(promise: nil)
            return
        }
        // Taken out while it grows, so its body array is not copied.
        self.reader = nil
        do {
            try buffer.withUnsafeReadableBytes { bytes throws(HTTPResponseReader.Failure) in
                _ = try reader.feed(bytes)
            }
            buffer.moveReaderIndex(to: buffer.writerIndex)
            if reader.isComplete { finish(.success(reader)) } else { self.reader = reader }
        } catch {
            finish(.failure(error))
            context.close(promise: nil)
        }
    }

    package func channelInactive(context: ChannelHandlerContext) {
        handshake?.fail(HTTPClientError(description: "connection closed during the TLS handshake"))
        handshake = nil
        if var reader {
            self.reader = nil
            do throws(HTTPResponseReader.Failure) {
                try reader.closed()
                finish(.success(reader))
            } catch {
                finish(.failure(error))
            }
        }
        context.fireChannelInactive()
    }

    package func errorCaught(context: ChannelHandlerContext, error: any Error) {
        handshake?.fail(error)
        handshake = nil
        reader = nil
        finish(.failure(error))
        context.close(promise: nil)
    }

    private func finish(_ result: Result<HTTPResponseReader, any Error>) {
        timeout?.cancel()
        timeout = nil
        let p = promise
        promise = nil
        p?.completeWith(result)
    }
}
