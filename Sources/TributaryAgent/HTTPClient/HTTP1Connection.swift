import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TributaryWire

/// One kept-alive HTTP/1.1 connection to an endpoint, one request at a time: the request goes
/// out as prepared bytes and the response is read by ``HTTPResponseReader`` straight into its
/// body array. Opened on first use and again after the server closes it; a request that meets
/// a kept-alive connection the server had already closed is sent once more on a new one.
/// Closed when released.
final class HTTP1Connection: Sendable {
    let endpoint: HTTPEndpoint
    let tls: NIOSSLContext?
    let serverName: String?
    let group: any EventLoopGroup
    let channel = Mutex<(any Channel)?>(nil)

    init(endpoint: HTTPEndpoint, tls: NIOSSLContext?, serverName: String?, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.endpoint = endpoint
        self.tls = endpoint.https ? tls : nil
        self.serverName = serverName ?? (Self.isIPAddress(endpoint.host) ? nil : endpoint.host)
        self.group = group
    }

    deinit {
        channel.withLock { $0?.close(promise: nil) }
    }

    /// An address literal, which TLS cannot send as the server name.
    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    /// Sends `request` and reads the response, by `deadline`. With `closeOnCancel`, cancelling
    /// the task closes the connection; without, the exchange stays on the caller's executor
    /// (a cancellation handler would run it on Swift's global one) and ``close()`` ends it.
    nonisolated(nonsending) func exchange(_ request: ByteBuffer, maxBody: Int, expectedBody: Int = 0, deadline: NIODeadline,
                                          closeOnCancel: Bool = true) async throws -> HTTPResponseReader {
        let reader = HTTPResponseReader(maxBody: maxBody, expectedBody: expectedBody)
        if let open = channel.withLock({ $0 }), open.isActive {
            do {
                return try await exchange(on: open, request, reader, deadline, closeOnCancel)
            } catch let e as HTTPResponseReader.Failure where e.beforeResponse && !Task.isCancelled {
                // The server closed the idle connection as the request went out (not we, to
                // stop the task).
            }
        }
        return try await exchange(on: try await connect(deadline), request, reader, deadline, closeOnCancel)
    }

    /// Closes the connection (a request in flight fails).
    func close() {
        channel.withLock { $0?.close(promise: nil) }
    }

    nonisolated(nonsending) private func connect(_ deadline: NIODeadline) async throws -> any Channel {
        channel.withLock { $0?.close(promise: nil); $0 = nil }
        let tls = tls, serverName = serverName
        let left = deadline - .now()
        guard left > .zero else { throw HTTPClientError(description: "timeout before connecting to \(endpoint.authority)") }
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(left)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(HTTP1ResponseHandler())
                }
            }
        let opened: any Channel
        do {
            opened = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).value()
        } catch {
            throw HTTPClientError(description: "cannot connect to \(endpoint.host):\(endpoint.port): \(error)")
        }
        channel.withLock { $0 = opened }
        return opened
    }

    /// The channel is closed unless it can carry the next request.
    nonisolated(nonsending) private func exchange(on channel: any Channel, _ request: ByteBuffer, _ reader: HTTPResponseReader, _ deadline: NIODeadline,
                                                       _ closeOnCancel: Bool) async throws -> HTTPResponseReader {
        let promise = channel.eventLoop.makePromise(of: HTTPResponseReader.self)
        channel.eventLoop.execute {
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
        do {
            let response: HTTPResponseReader
            if closeOnCancel {
                response = try await withTaskCancellationHandler {
                    try await promise.futureResult.value()
                } onCancel: {
                    channel.close(promise: nil)
                }
            } else {
                response = try await promise.futureResult.value()
            }
            if !response.keepAlive { forget(channel) }
            return response
        } catch {
            forget(channel)
            throw error
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

    func begin(_ reader: HTTPResponseReader, promise: EventLoopPromise<HTTPResponseReader>, deadline: NIODeadline, channel: any Channel) {
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

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
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

    func channelInactive(context: ChannelHandlerContext) {
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

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
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
