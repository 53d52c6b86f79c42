import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import Synchronization
import TributaryHTTPServer
import TributaryRemoteWrite
import TributaryWAL

/// The agent's HTTP side: `/metrics`, `/-/healthy`, `/-/ready`, `/api/v1/targets` (Prometheus's
/// shape), a plain HTML targets page at `/`, and `POST /-/reload` when given `reload` (200 when
/// applied, 500 with the reason when the file has errors, as Prometheus answers).
public enum AgentServer {
    public static func application(
        _ agent: Agent, logger: Logger, reload: (@Sendable () async throws -> Void)? = nil,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get("/metrics") { _, _ in
            agent.metrics.activeSeries.set(Double(agent.activeSeries))
            return text(agent.metrics.registry.emitToBuffer(), "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/-/healthy") { _, _ in text(Array("Tributary agent is Healthy.\n".utf8), "text/plain") }
        router.get("/-/ready") { _, _ in text(Array("Tributary agent is Ready.\n".utf8), "text/plain") }
        router.get("/api/v1/targets") { _, _ in text(Array(targetsJSON(agent).utf8), "application/json") }
        router.get("/") { _, _ in text(Array(targetsPage(agent).utf8), "text/html; charset=utf-8") }
        router.post("/-/reload") { _, _ in
            guard let reload else { return Response(status: .notFound) }
            do {
                try await reload()
                return Response(status: .ok)
            } catch {
                var response = text(Array("failed to reload config: \(error)\n".utf8), "text/plain; charset=utf-8")
                response.status = .internalServerError
                return response
            }
        }
        let configuration = ApplicationConfiguration(address: .hostname(agent.configuration.host, port: agent.configuration.port), serverName: "tributary-agent")
        return Application(
            router: router, server: .guarded(agent.configuration.connectionLimits, counts: agent.connectionCounts), configuration: configuration,
            onServerRunning: { channel in
                await onRunning(channel.localAddress?.port ?? 0)
            }, logger: logger)
    }

    static func text(_ body: [UInt8], _ type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type], body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func targetsJSON(_ agent: Agent) -> String {
        var active: [[String: Any]] = []
        for loop in agent.loops {
            let s = loop.status.withLock { $0 }
            let iso = ISO8601DateFormatter()
            iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            active.append([
                "discoveredLabels": ["__address__": loop.target.instance, "job": loop.target.job],
                "labels": loop.target.labels,
                "scrapePool": loop.target.job,
                "scrapeUrl": loop.target.url,
                "globalUrl": loop.target.url,
                "lastError": s.lastError,
                "lastScrape": s.lastScrape > 0 ? iso.string(from: Date(timeIntervalSince1970: s.lastScrape)) : "0001-01-01T00:00:00Z",
                "lastScrapeDuration": s.lastScrapeDuration,
                "health": s.health,
                "scrapeInterval": ScrapeTarget.formatDuration(loop.target.config.scrapeInterval),
                "scrapeTimeout": ScrapeTarget.formatDuration(loop.target.config.scrapeTimeout)
            ])
        }
        let body: [String: Any] = ["status": "success", "data": ["activeTargets": active, "droppedTargets": [] as [Any]]]
        guard let data = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]) else { return "{\"status\":\"error\"}" }
        return String(decoding: data, as: UTF8.self)
    }

    static func targetsPage(_ agent: Agent) -> String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var rows = ""
        for loop in agent.loops {
            let s = loop.status.withLock { $0 }
            let labels = loop.target.labels.sorted { $0.key < $1.key }.map { "\(esc($0.key))=\"\(esc($0.value))\"" }.joined(separator: " ")
            let ago = s.lastScrape > 0 ? String(format: "%.1fs ago", Date().timeIntervalSince1970 - s.lastScrape) : "never"
            rows += "<tr><td>\(esc(loop.target.url))</td><td class=\"\(s.health)\">\(s.health)</td><td>\(labels)</td><td>\(ago)</td><td>\(String(format: "%.3fs", s.lastScrapeDuration))</td><td>\(s.samples)</td><td>\(esc(s.lastError))</td></tr>\n"
        }
        let queues = agent.queues.map { q in "<li>\(esc(q.config.name)): \(esc(q.config.url)), delivered up to WAL position \(q.committed.withLock { $0.map(\.description) ?? "-" })</li>" }.joined()
        return """
            <!doctype html><html><head><meta charset="utf-8"><title>Tributary agent: targets</title>
            <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
            .up{color:#080}.down{color:#c00}.unknown{color:#888}</style></head><body>
            <h1>Tributary agent</h1><p>\(agent.loops.count) targets, \(agent.activeSeries) active series. <a href="/metrics">/metrics</a> · <a href="/api/v1/targets">/api/v1/targets</a></p>
            <table><tr><th>endpoint</th><th>state</th><th>labels</th><th>last scrape</th><th>duration</th><th>samples</th><th>error</th></tr>
            \(rows)</table><h2>remote write</h2><ul>\(queues)</ul></body></html>
            """
    }
}
