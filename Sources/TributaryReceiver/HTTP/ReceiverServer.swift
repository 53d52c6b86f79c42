import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization
import TributaryHTTPServer

/// Binds a ``Receiver`` to HTTP with Hummingbird: the remote-write endpoint, the Prometheus
/// HTTP API and the health endpoints.
public enum ReceiverServer {
    /// API paths served for GET and POST (form bodies).
    static let apiPaths = [
        "query", "query_range", "series", "labels", "metadata", "status/buildinfo", "status/tsdb",
        "query_exemplars", "format_query", "status/runtimeinfo", "status/flags", "status/config", "status/blocks", "status/groups",
        "status/queues", "rules", "alerts", "targets"
    ]

    /// The HTTP application (HTTPS when the configuration names TLS files); `onRunning` receives
    /// the bound port (useful with port 0). `reload` serves `POST /-/reload` (re-reads the
    /// configuration file and applies it; throws with the reason when it cannot), which needs
    /// the write credentials when writes need them.
    public static func application(
        _ receiver: Receiver, logger: Logger, reload: (@Sendable () async throws -> Void)? = nil,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some Service {
        let router = Router()
        router.add(middleware: LatencyMiddleware(metrics: receiver.metrics))
        router.post("/api/v1/write") { request, _ -> Response in
            var request = request
            // Auth and limits as they are now: a reload changes them for the next request.
            let settings = receiver.live.withLock { $0 }
            let bodyLimit = settings.maxBodyBytes
            if let denied = refuse(request, settings.writers) {
                // Read the body first: answering while the client still sends it makes the
                // connection close under it, and the client may never see the 401.
                _ = try? await request.collectBody(upTo: bodyLimit)
                receiver.metrics.answered(401, refused: .unauthorized)
                return denied
            }
            let buffer: ByteBuffer
            do {
                buffer = try await request.collectBody(upTo: bodyLimit)
            } catch {
                return response(receiver.refuseRequest(.bodyTooLarge, status: 413, message: "request body over the limit of \(bodyLimit) bytes", bytes: bodyLimit))
            }
            let headers = request.headers
            let answer = await offLoop {
                receiver.write(
                    body: Array(buffer.readableBytesView),
                    contentType: headers[.contentType], contentEncoding: headers[.contentEncoding],
                    peer: headers[.userAgent] ?? "", forwardedBy: headers[Self.forwardedBy], settings: settings
                )
            }
            return response(answer)
        }
        for path in apiPaths {
            router.get("/api/v1/\(path)") { request, _ in
                if let denied = refuse(request, receiver.live.withLock { $0.readers }) { return denied }
                return response(await receiver.queryAPI(path, query: request.uri.query, form: nil, gzip: acceptsGzip(request.headers[.acceptEncoding])))
            }
            router.post("/api/v1/\(path)") { request, _ in
                var request = request
                if let denied = refuse(request, receiver.live.withLock { $0.readers }) {
                    _ = try? await request.collectBody(upTo: 1 << 20)
                    return denied
                }
                let body = try await request.collectBody(upTo: 1 << 20)
                return response(await receiver.queryAPI(path, query: request.uri.query, form: String(buffer: body), gzip: acceptsGzip(request.headers[.acceptEncoding])))
            }
        }
        router.get("/api/v1/label/{name}/values") { request, context in
            if let denied = refuse(request, receiver.live.withLock { $0.readers }) { return denied }
            let name = context.parameters.get("name") ?? ""
            return response(await receiver.queryAPI("label/\(name)/values", query: request.uri.query, form: nil, gzip: acceptsGzip(request.headers[.acceptEncoding])))
        }
        for (path, page) in ReceiverPages.byPath {
            router.get(RouterPath(path)) { _, _ in
                response(HTTPAnswer(status: 200, headers: [("Content-Type", "text/html; charset=utf-8")], body: Array(page.utf8)))
            }
        }
        router.get("/-/healthy") { _, _ in response(.text(200, "Tributary is Healthy.")) }
        router.get("/-/ready") { _, _ in response(.text(200, "Tributary is Ready.")) }
        router.get("/metrics") { _, _ in response(await offLoop { receiver.metricsText() }) }
        // The TSDB admin API needs --web.enable-admin-api and the write credentials.
        for action in ["snapshot", "delete_series", "clean_tombstones"] {
            for method in [HTTPRequest.Method.post, .put] {
                router.on("/api/v1/admin/tsdb/\(action)", method: method) { request, _ in
                    var request = request
                    let body = try await request.collectBody(upTo: 1 << 20)
                    if let denied = refuse(request, receiver.live.withLock { $0.writers }) { return denied }
                    let query = request.uri.query
                    let form = body.readableBytes > 0 ? String(buffer: body) : nil
                    return response(try await offPoolAnswer { receiver.admin(action, query: query, form: form) })
                }
            }
        }
        router.post("/-/reload") { request, _ in
            if let denied = refuse(request, receiver.live.withLock { $0.writers }) { return denied }
            return response(await offLoop { await reloadAnswer(reload) })
        }
        let configuration = ApplicationConfiguration(
            address: .hostname(receiver.configuration.host, port: receiver.configuration.port),
            serverName: "tributary"
        )
        var tls: TLSConfiguration?
        if let files = receiver.configuration.tls {
            do { tls = try files.serverConfiguration() } catch { throw ServerError(error.message) }
        }
        let server = HTTPServerBuilder.guarded(receiver.configuration.connectionLimits, counts: receiver.connectionCounts, tls: tls)
        return Application(
            router: router, server: server, configuration: configuration,
            onServerRunning: { channel in
                await onRunning(channel.localAddress?.port ?? 0)
            }, logger: logger
        ).onEventLoop()
    }

    static let forwardedBy = HTTPField.Name(ForwardingPath.header) ?? .via

    /// Whether an `Accept-Encoding` header takes gzip (`gzip` or `*`, not with `q=0`).
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let value = header?.lowercased() else { return false }
        return value.split(separator: ",").contains { part in
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            return (fields.first == "gzip" || fields.first == "*") && !fields.dropFirst().contains { $0.replacingOccurrences(of: " ", with: "") == "q=0" }
        }
    }

    /// A 401 when `authenticator` does not accept the request's credentials.
    static func refuse(_ request: Request, _ authenticator: Authenticator) -> Response? {
        guard !authenticator.allows(request.headers[.authorization]) else { return nil }
        return response(.text(401, "unauthorized", headers: [("WWW-Authenticate", authenticator.challenge)]))
    }

    /// Runs `body` on the cooperative pool, off the connection's event loop, which serves every
    /// connection it holds: work that takes long or may block (decoding and appending a write,
    /// rendering metrics, a reload's disk reads). Queries go to their own threads instead.
    static func offLoop<T: Sendable>(_ body: @Sendable () async -> T) async -> T {
        await withTaskExecutorPreference(globalConcurrentExecutor) { await body() }
    }

    /// Runs blocking work (disk I/O) on a thread of its own, off the cooperative pool.
    static func offPoolAnswer(_ body: @escaping @Sendable () -> HTTPAnswer) async throws -> HTTPAnswer {
        await withCheckedContinuation { (done: CheckedContinuation<HTTPAnswer, Never>) in
            Thread { done.resume(returning: body()) }.start()
        }
    }

    /// `POST /-/reload` as Prometheus answers it: 200 when applied, 500 with the reason when
    /// the file has errors (the running configuration stays).
    static func reloadAnswer(_ reload: (@Sendable () async throws -> Void)?) async -> HTTPAnswer {
        guard let reload else { return .text(404, "reloading needs a configuration file (--config)") }
        do {
            try await reload()
            return HTTPAnswer(status: 200)
        } catch {
            return .text(500, "failed to reload config: \(error)")
        }
    }

    static func response(_ answer: HTTPAnswer) -> Response {
        var fields = HTTPFields()
        for (name, value) in answer.headers {
            if let n = HTTPField.Name(name) { fields.append(HTTPField(name: n, value: value)) }
        }
        guard let stream = answer.stream else {
            return Response(status: HTTPResponse.Status(code: answer.status), headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
        // Sent as the query thread writes it, chunked; a failed write (client gone) stops it.
        let body = ResponseBody { writer in
            while let chunk = await stream.next() {
                do {
                    try await writer.write(chunk)
                } catch {
                    stream.abandon()
                    throw error
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: HTTPResponse.Status(code: answer.status), headers: fields, body: body)
    }
}

/// The server could not be set up (e.g. a TLS file is unusable).
public struct ServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Records each request's latency in `tributary_http_request_duration_seconds`.
struct LatencyMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ReceiverMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        defer { metrics.observe(path: request.uri.path, duration: ContinuousClock.now - start) }
        return try await next(request, context)
    }
}

/// Flushes the WAL every few seconds (`wal_fsync: batch`) and once more at shutdown.
public struct WALSyncService: Service {
    let receiver: Receiver
    let logger: Logger

    public init(receiver: Receiver, logger: Logger) {
        self.receiver = receiver
        self.logger = logger
    }

    public func run() async throws {
        let interval = receiver.configuration.walSyncInterval
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
                do { try receiver.sync() } catch { logger.error("WAL sync failed", metadata: ["error": "\(error)"]) }
            }
        }
        defer { receiver.releaseDataDirectory() }
        try receiver.sync()
        logger.info("WAL flushed; receiver stopped")
    }
}
