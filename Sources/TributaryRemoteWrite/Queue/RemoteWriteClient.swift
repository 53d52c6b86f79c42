import NIOCore
import NIOSSL
import Synchronization
import TributaryWire

/// Posts a queue's request bodies to its URL: the headers prepared once (content type and
/// protocol version, snappy, credentials, the configured extra headers), one kept-alive
/// ``HTTP1Connection`` per request in flight, taken from and returned to an idle list.
final class RemoteWriteClient: Sendable {
    let endpoint: HTTPEndpoint
    let tls: NIOSSLContext
    let serverName: String?
    let head: String
    let dynamicHeaders: DynamicHeaders?
    let timeout: Int64
    let idle = Mutex<[HTTP1Connection]>([])

    /// A response body is read up to this size (receivers answer with a short error text).
    static let maxResponseBody = 1 << 20

    init(_ config: RemoteWriteConfig) throws {
        endpoint = try HTTPEndpoint(url: config.url)
        tls = try NIOSSLContext(configuration: config.http.tlsConfiguration())
        serverName = config.http.tls.serverName
        timeout = config.remoteTimeout
        head = try Self.head(config, endpoint)
        dynamicHeaders = config.dynamicHeaders
    }

    /// No line breaks in a computed header (they would start a header of their own).
    static func isSafe(_ s: String) -> Bool { !s.utf8.contains { $0 == 13 || $0 == 10 } }

    static func head(_ config: RemoteWriteConfig, _ endpoint: HTTPEndpoint) throws(HTTPEndpoint.Failure) -> String {
        var headers = [
            ("Content-Type", config.version == .v2 ? "application/x-protobuf;proto=io.prometheus.write.v2.Request" : "application/x-protobuf"),
            ("Content-Encoding", "snappy"),
            ("User-Agent", "Tributary/0.1"),
            ("X-Prometheus-Remote-Write-Version", config.version == .v2 ? "2.0.0" : "0.1.0")
        ]
        if let auth = config.http.authorizationHeader { headers.append(("Authorization", auth)) }
        headers += config.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return try endpoint.head(method: "POST", headers: headers)
    }

    /// Posts `body`; the response, whatever its status, or an error when there was none in time.
    func post(_ body: [UInt8]) async throws -> HTTPResponseReader {
        let connection = idle.withLock { $0.popLast() } ?? HTTP1Connection(endpoint: endpoint, tls: tls, serverName: serverName)
        var request = ByteBuffer()
        request.reserveCapacity(head.utf8.count + 32 + body.count)
        request.writeString(head)
        for (name, value) in dynamicHeaders?.make() ?? [] where Self.isSafe(name) && Self.isSafe(value) { request.writeString("\(name): \(value)\r\n") }
        request.writeString("Content-Length: \(body.count)\r\n\r\n")
        request.writeBytes(body)
        let response = try await connection.exchange(request, maxBody: Self.maxResponseBody, deadline: .now() + .milliseconds(timeout))
        idle.withLock { $0.append(connection) }
        return response
    }
}
