import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Binds a ``Receiver`` to HTTP with Hummingbird: the remote-write endpoint, the Prometheus
/// HTTP API and the health endpoints.
public enum ReceiverServer {
    /// API paths served for GET and POST (form bodies).
    static let apiPaths = ["query", "query_range", "series", "labels", "metadata", "status/buildinfo", "status/tsdb",
                           "query_exemplars", "format_query"]

    /// The HTTP application; `onRunning` receives the bound port (useful with port 0).
    public static func application(
        _ receiver: Receiver, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        let bodyLimit = receiver.configuration.maxBodyBytes
        let writers = Authenticator(receiver.configuration.auth.write)
        let readers = Authenticator(receiver.configuration.auth.read)
        router.post("/api/v1/write") { request, _ -> Response in
            var request = request
            if let denied = refuse(request, writers) {
                // Read the body first: answering while the client still sends it makes the
                // connection close under it, and the client may never see the 401.
                _ = try? await request.collectBody(upTo: bodyLimit)
                return denied
            }
            let buffer: ByteBuffer
            do {
                buffer = try await request.collectBody(upTo: bodyLimit)
            } catch {
                return response(.text(413, "request body over the limit of \(bodyLimit) bytes"))
            }
            let answer = receiver.write(
                body: Array(buffer.readableBytesView),
                contentType: request.headers[.contentType], contentEncoding: request.headers[.contentEncoding]
            )
            return response(answer)
        }
        for path in apiPaths {
            router.get("/api/v1/\(path)") { request, _ in
                if let denied = refuse(request, readers) { return denied }
                return response(receiver.api(path, query: request.uri.query, form: nil))
            }
            router.post("/api/v1/\(path)") { request, _ in
                var request = request
                if let denied = refuse(request, readers) {
                    _ = try? await request.collectBody(upTo: 1 << 20)
                    return denied
                }
                let body = try await request.collectBody(upTo: 1 << 20)
                return response(receiver.api(path, query: request.uri.query, form: String(buffer: body)))
            }
        }
        router.get("/api/v1/label/{name}/values") { request, context in
            if let denied = refuse(request, readers) { return denied }
            let name = context.parameters.get("name") ?? ""
            return response(receiver.api("label/\(name)/values", query: request.uri.query, form: nil))
        }
        router.get("/-/healthy") { _, _ in response(.text(200, "Tributary is Healthy.")) }
        router.get("/-/ready") { _, _ in response(.text(200, "Tributary is Ready.")) }
        router.get("/metrics") { _, _ in response(receiver.metricsText()) }
        let configuration = ApplicationConfiguration(
            address: .hostname(receiver.configuration.host, port: receiver.configuration.port),
            serverName: "tributary"
        )
        return Application(router: router, configuration: configuration, onServerRunning: { channel in
            await onRunning(channel.localAddress?.port ?? 0)
        }, logger: logger)
    }

    /// A 401 when `authenticator` does not accept the request's credentials.
    static func refuse(_ request: Request, _ authenticator: Authenticator) -> Response? {
        guard !authenticator.allows(request.headers[.authorization]) else { return nil }
        return response(.text(401, "unauthorized", headers: [("WWW-Authenticate", authenticator.challenge)]))
    }

    static func response(_ answer: HTTPAnswer) -> Response {
        var fields = HTTPFields()
        for (name, value) in answer.headers {
            if let n = HTTPField.Name(name) { fields.append(HTTPField(name: n, value: value)) }
        }
        return Response(
            status: HTTPResponse.Status(code: answer.status),
            headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body))
        )
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
        try receiver.sync()
        logger.info("WAL flushed; receiver stopped")
    }
}
