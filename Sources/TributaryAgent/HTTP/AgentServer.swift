import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization
import TributaryHTTPServer
import TributaryModel
import TributaryRemoteWrite
import TributaryWAL

/// The agent's HTTP side: `/metrics`, `/-/healthy`, `/-/ready`, `/api/v1/targets` (Prometheus's
/// shape), `/api/v1/status/queues` (the remote-write queues), the targets page at `/targets`
/// and `/`, and `POST /-/reload` when given `reload` (200 when applied, 500 with the reason
/// when the file has errors, as Prometheus answers).
public enum AgentServer {
    public static func application(
        _ agent: Agent, logger: Logger, reload: (@Sendable () async throws -> Void)? = nil,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        let router = Router()
        router.get("/metrics") { _, _ in
            agent.metrics.activeSeries.set(Double(agent.activeSeries))
            return text(agent.metrics.registry.emitToBuffer(), "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/-/healthy") { _, _ in text(Array("Tributary agent is Healthy.\n".utf8), "text/plain") }
        router.get("/-/ready") { _, _ in text(Array("Tributary agent is Ready.\n".utf8), "text/plain") }
        router.get("/api/v1/targets") { request, _ in
            let query = request.uri.queryParameters
            return text(Array(targetsJSON(agent, state: query.get("state"), scrapePool: query.get("scrapePool")).utf8), "application/json")
        }
        router.get("/api/v1/status/queues") { _, _ in
            text(RemoteWriteQueue.statusAnswer(agent.queues, walHighest: agent.storage.highestTimestamp.load(ordering: .relaxed)), "application/json")
        }
        // Prometheus's status endpoints, as its agent mode serves them: what an operator checks
        // after a reload.
        for path in ["config", "flags", "runtimeinfo", "buildinfo"] {
            router.get(RouterPath("/api/v1/status/" + path)) { _, _ in text(Array(statusJSON(agent, path).utf8), "application/json") }
        }
        for path in ["/", "/targets"] {
            router.get(RouterPath(path)) { _, _ in text(Array(TargetsPage.html.utf8), "text/html; charset=utf-8") }
        }
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
            }, logger: logger
        ).onEventLoop()
    }

    /// One of `status/{config,flags,runtimeinfo,buildinfo}` in Prometheus's envelope.
    static func statusJSON(_ agent: Agent, _ path: String) -> String {
        let runtime = agent.runtime.withLock { $0 }
        let data: Any
        switch path {
        case "config": data = ["yaml": runtime.configYAML]
        case "flags": data = runtime.flags
        case "runtimeinfo":
            // Storage settings apply at start only (a reload leaves them), so `configuration`'s.
            let storage = agent.configuration
            data = runtime.runtimeInfo(storageRetention: PrometheusDuration.format(storage.retention), dataDirectory: storage.dataDirectory)
        default: data = TributaryBuild.buildInfo
        }
        guard let json = try? JSONSerialization.data(withJSONObject: ["status": "success", "data": data], options: [.sortedKeys]) else {
            return "{\"status\":\"error\",\"errorType\":\"internal\",\"error\":\"cannot encode \(path)\"}"
        }
        return String(decoding: json, as: UTF8.self)
    }

    static func text(_ body: [UInt8], _ type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type], body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// Prometheus's answer: `state` (`active`, `dropped`, `any` or none: both; anything else:
    /// neither, as Prometheus) and `scrapePool` (one job's targets) filter it; dropped targets
    /// show the labels they had before `relabel_configs`, and `droppedTargetCounts` how many
    /// each job dropped.
    static func targetsJSON(_ agent: Agent, state: String? = nil, scrapePool: String? = nil) -> String {
        let state = (state ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        let showActive = state.isEmpty || state == "any" || state == "active"
        let showDropped = state.isEmpty || state == "any" || state == "dropped"
        var active: [[String: Any]] = []
        for loop in agent.loops where showActive && (scrapePool == nil || scrapePool == loop.target.job) {
            let s = loop.status.withLock { $0 }
            let iso = ISO8601DateFormatter()
            iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            active.append([
                "discoveredLabels": loop.target.discoveredLabels,
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
        let allDropped = agent.droppedTargets.withLock { $0 }
        var dropped: [[String: Any]] = []
        var droppedCounts: [String: Int] = [:]
        for job in Set(agent.current.withLock { $0.scrapeConfigs.map(\.jobName) }) { droppedCounts[job] = 0 }
        for d in allDropped {
            droppedCounts[d.job, default: 0] += 1
            if showDropped, scrapePool == nil || scrapePool == d.job { dropped.append(["discoveredLabels": d.discoveredLabels, "scrapePool": d.job]) }
        }
        let data: [String: Any] = ["activeTargets": active, "droppedTargets": dropped, "droppedTargetCounts": droppedCounts]
        let body: [String: Any] = ["status": "success", "data": data]
        guard let data = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]) else { return "{\"status\":\"error\"}" }
        return String(decoding: data, as: UTF8.self)
    }
}
