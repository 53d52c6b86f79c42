import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TributaryWire

/// Why a scrape got no body.
public struct ScrapeError: Error, CustomStringConvertible {
    public var description: String
}

/// The HTTP client of a scrape config: one kept-alive HTTP/1.1 connection per target, a request
/// written once per target and sent as bytes each scrape, the response read by
/// ``HTTPResponseReader`` straight into the body array, gzip inflated with zlib, TLS from the
/// config's files. Scraping with AsyncHTTPClient spent most of its time in request and pool
/// machinery a scrape does not need (perf, 200 targets).
final class ScrapeClient: Sendable {
    let settings: HTTPClientSettings
    let tls: NIOSSLContext?
    let group: any EventLoopGroup

    init(settings: HTTPClientSettings, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.settings = settings
        self.group = group
        tls = try NIOSSLContext(configuration: settings.tlsConfiguration())
    }

    /// The fetch of one target; its connection closes when the returned closure is released.
    func fetcher(for target: ScrapeTarget) -> ScrapeFetch {
        let connection = ScrapeConnection(client: self, target: target)
        return { _ in try await connection.fetch() }
    }
}

/// A target's address and request, and its open connection between scrapes.
final class ScrapeConnection: Sendable {
    let client: ScrapeClient
    let endpoint: Result<Endpoint, ScrapeError>
    let timeout: Int64
    let maxBody: Int
    let channel = Mutex<(any Channel)?>(nil)
    /// The last body's size, to size the next one's buffer.
    let lastBodySize = Atomic<Int>(0)

    struct Endpoint {
        var host: String
        var port: Int
        var https: Bool
        var request: ByteBuffer
    }

    init(client: ScrapeClient, target: ScrapeTarget) {
        self.client = client
        timeout = target.config.scrapeTimeout
        maxBody = target.config.limits.bodyBytes
        endpoint = Self.endpoint(target, settings: client.settings)
    }

    deinit {
        channel.withLock { $0?.close(promise: nil) }
    }

    /// Splits `scheme://authority/path?query` and writes the GET request for it.
    static func endpoint(_ target: ScrapeTarget, settings: HTTPClientSettings) -> Result<Endpoint, ScrapeError> {
        let url = target.url
        guard let schemeEnd = url.range(of: "://") else { return .failure(ScrapeError(description: "bad target URL \(url)")) }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return .failure(ScrapeError(description: "unsupported scheme \(scheme) in \(url)")) }
        let rest = url[schemeEnd.upperBound...]
        let pathStart = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = String(rest[..<pathStart])
        var path = String(rest[pathStart...])
        if path.isEmpty || path.first == "?" { path = "/" + path }
        var host = authority
        var port = scheme == "https" ? 443 : 80
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") {
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else {
                return .failure(ScrapeError(description: "bad port in \(url)"))
            }
            port = p
            host = String(authority[..<colon])
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !path.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) else {
            return .failure(ScrapeError(description: "bad target URL \(url)"))
        }
        var head = "GET \(path) HTTP/1.1\r\nHost: \(authority)\r\nUser-Agent: Tributary/0.1\r\n"
        head += "Accept: \(ExpositionFormat.acceptHeader)\r\nAccept-Encoding: gzip\r\n"
        head += "X-Prometheus-Scrape-Timeout-Seconds: \(Double(target.config.scrapeTimeout) / 1000)\r\n"
        if let auth = settings.authorizationHeader { head += "Authorization: \(auth)\r\n" }
        head += "\r\n"
        return .success(Endpoint(host: host, port: port, https: scheme == "https", request: ByteBuffer(string: head)))
    }

    /// One scrape: the body and its content type, within the scrape timeout.
    func fetch() async throws -> (body: [UInt8], contentType: String?) {
        let endpoint = try endpoint.get()
        let deadline = NIODeadline.now() + .milliseconds(timeout)
        var response: HTTPResponseReader
        if let open = channel.withLock({ $0 }), open.isActive {
            do {
                response = try await exchange(open, endpoint, deadline)
            } catch let e as HTTPResponseReader.Failure where e.beforeResponse {
                // The server closed the idle connection as the request went out: once more on a new one.
                response = try await exchange(try await connect(endpoint, deadline), endpoint, deadline)
            }
        } else {
            response = try await exchange(try await connect(endpoint, deadline), endpoint, deadline)
        }
        guard response.status == 200 else {
            throw ScrapeError(description: "server returned HTTP status \(response.status) \(response.reason)")
        }
        var body = response.body
        if let encoding = response.contentEncoding, encoding != "identity" {
            guard encoding == "gzip" || encoding == "x-gzip" else { throw ScrapeError(description: "unsupported Content-Encoding \(encoding)") }
            body = try Gunzip.inflate(body, limit: maxBody, expected: lastBodySize.load(ordering: .relaxed))
        }
        lastBodySize.store(body.count, ordering: .relaxed)
        return (body, response.contentType)
    }

    private func connect(_ endpoint: Endpoint, _ deadline: NIODeadline) async throws -> any Channel {
        channel.withLock { $0?.close(promise: nil); $0 = nil }
        let tls = endpoint.https ? client.tls : nil
        let serverName = client.settings.tls.serverName ?? (Self.isIPAddress(endpoint.host) ? nil : endpoint.host)
        let left = deadline - .now()
        guard left > .zero else { throw ScrapeError(description: "scrape timeout before connecting") }
        let bootstrap = ClientBootstrap(group: client.group)
            .connectTimeout(left)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(ScrapeResponseHandler())
                }
            }
        let opened: any Channel
        do {
            opened = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            throw ScrapeError(description: "cannot connect to \(endpoint.host):\(endpoint.port): \(error)")
        }
        channel.withLock { $0 = opened }
        return opened
    }

    static func isIPAddress(_ host: String) -> Bool {
        host.contains(":") || host.allSatisfy { $0 == "." || $0.isNumber }
    }

    /// Sends the request on `channel` and reads the response; the channel is closed unless it
    /// can carry the next scrape.
    private func exchange(_ channel: any Channel, _ endpoint: Endpoint, _ deadline: NIODeadline) async throws -> HTTPResponseReader {
        let promise = channel.eventLoop.makePromise(of: HTTPResponseReader.self)
        let maxBody = maxBody, expected = lastBodySize.load(ordering: .relaxed)
        channel.eventLoop.execute {
            do {
                // Closed since it was picked (the event loop has seen it go): nothing will answer.
                guard channel.isActive else { throw HTTPResponseReader.Failure(description: "connection closed before a response", beforeResponse: true) }
                let handler = try channel.pipeline.syncOperations.handler(type: ScrapeResponseHandler.self)
                handler.begin(HTTPResponseReader(maxBody: maxBody, expectedBody: expected), promise: promise, deadline: deadline, channel: channel)
                channel.writeAndFlush(endpoint.request, promise: nil)
            } catch {
                promise.fail(error)
            }
        }
        do {
            let response = try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                channel.close(promise: nil)
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

/// Feeds a connection's bytes to the response of the scrape in flight. Lives on its channel's
/// event loop.
final class ScrapeResponseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var reader: HTTPResponseReader?
    private var promise: EventLoopPromise<HTTPResponseReader>?
    private var timeout: Scheduled<Void>?

    func begin(_ reader: HTTPResponseReader, promise: EventLoopPromise<HTTPResponseReader>, deadline: NIODeadline, channel: any Channel) {
        guard self.promise == nil else {
            promise.fail(ScrapeError(description: "a scrape is already in flight on this connection"))
            return
        }
        self.reader = reader
        self.promise = promise
        timeout = channel.eventLoop.scheduleTask(deadline: deadline) {
            promise.fail(ScrapeError(description: "scrape timeout: no complete response in time"))
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
