import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization
import TributaryReceiver
import TributaryTestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A receiver on a free loopback port for one test, in this process; stopped by `stop()`.
final class TestServer: @unchecked Sendable {
    let receiver: Receiver
    let directory: String
    private let group: ServiceGroup
    private let task: Task<Void, any Error>
    let port: Int
    /// Whether the application's run (which reports the bound port, and accepts connections)
    /// ran on an event loop (``OnEventLoop``).
    let startedOnEventLoop: Bool

    init(directory: String? = nil, configure: (inout ReceiverConfiguration) -> Void = { _ in }) async throws {
        let dir = directory ?? NSTemporaryDirectory() + "tributary-receiver-" + UUID().uuidString
        self.directory = dir
        var settings = ReceiverConfiguration()
        settings.host = "127.0.0.1"
        settings.port = 0
        settings.dataDirectory = dir
        configure(&settings)
        var logger = Logger(label: "test.receiver")
        logger.logLevel = .warning
        receiver = try Receiver(configuration: settings, logger: logger)
        let bound = Mutex<Int?>(nil)
        let onLoop = Mutex(false)
        let app = try ReceiverServer.application(
            receiver, logger: logger,
            onRunning: { port in
                onLoop.withLock { $0 = MultiThreadedEventLoopGroup.currentEventLoop != nil }
                bound.withLock { $0 = port }
            })
        group = ServiceGroup(
            services: [WALSyncService(receiver: receiver, logger: logger), TSDBMaintenanceService(receiver: receiver, logger: logger)] + receiver.forwardingServices + [app],
            logger: logger)
        let g = group
        task = Task { try await g.run() }
        port = try await boundPort(bound, "the receiver")
        startedOnEventLoop = onLoop.withLock { $0 }
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    func removeData() { try? FileManager.default.removeItem(atPath: directory) }

    var base: String { "http://127.0.0.1:\(port)" }

    func get(_ path: String) async throws -> (Int, [String: Any], String) {
        try await send(URLRequest(url: URL(string: base + path)!))
    }

    func postForm(_ path: String, _ form: String) async throws -> (Int, [String: Any], String) {
        var r = URLRequest(url: URL(string: base + path)!)
        r.httpMethod = "POST"
        r.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        r.httpBody = Data(form.utf8)
        return try await send(r)
    }

    func write(_ body: [UInt8], contentType: String = "application/x-protobuf", encoding: String? = "snappy") async throws -> (Int, [AnyHashable: Any], String) {
        var r = URLRequest(url: URL(string: base + "/api/v1/write")!)
        r.httpMethod = "POST"
        r.setValue(contentType, forHTTPHeaderField: "Content-Type")
        if let encoding { r.setValue(encoding, forHTTPHeaderField: "Content-Encoding") }
        r.httpBody = Data(body)
        let (data, response) = try await URLSession.shared.data(for: r)
        let http = response as? HTTPURLResponse
        return (http?.statusCode ?? 0, http?.allHeaderFields ?? [:], String(decoding: data, as: UTF8.self))
    }

    /// The sum of a metric's samples on the receiver's `/metrics`.
    func metric(_ name: String, labels: String = "") async throws -> Double {
        let (_, _, text) = try await get("/metrics")
        return exposedValue(text, name, labels: labels)
    }

    /// The single value of an instant query's vector result (URL-encoded query), 0 if empty.
    func queryScalar(_ encodedQuery: String) async throws -> Double {
        let (_, json, _) = try await get("/api/v1/query?query=" + encodedQuery)
        let first = ((json["data"] as? [String: Any])?["result"] as? [[String: Any]])?.first
        return ((first?["value"] as? [Any])?.last as? String).flatMap(Double.init) ?? 0
    }

    func send(_ request: URLRequest) async throws -> (Int, [String: Any], String) {
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return (status, json, String(decoding: data, as: UTF8.self))
    }
}

struct TestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
