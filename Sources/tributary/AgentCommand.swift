import ArgumentParser
import Foundation
import Logging
import Metrics
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
import TributaryAgent
import TributaryConfig
import TributaryHTTPServer
import TributaryModel
import UnixSignals

/// `tributary agent`: the edge agent.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run an edge agent (scrape, label, buffer on disk, remote-write)."
    )

    @Option(name: [.customLong("config"), .customLong("config.file")], help: "Path to agent.yml (see configs/agent.yml); flags override it.")
    var config: String
    @Option(name: [.customLong("listen"), .customLong("web.listen-address")], help: "Listen address, HOST:PORT (default 0.0.0.0:9202).")
    var listen: String?
    @Option(name: [.customLong("data-dir"), .customLong("storage.agent.path")], help: "Data directory, for wal/ and queues/ (default ./data/agent).")
    var dataDir: String?
    @Flag(name: .customLong("storage.agent.no-lockfile"), help: "Do not take <data-dir>/lock (for filesystems without flock), as Prometheus's flag.")
    var noLockfile = false
    @OptionGroup var log: LogOptions
    @OptionGroup var web: WebOptions

    /// agent.yml with the flags applied over it (read at start and at each reload).
    func settings() throws(CommandError) -> AgentConfiguration {
        var settings: AgentConfiguration
        do {
            settings = try AgentConfigFile.load(path: config)
        } catch {
            throw CommandError(error.description)
        }
        if let listen {
            guard let address = ListenAddress(listen) else { throw CommandError("--listen \(listen): expected HOST:PORT") }
            settings.host = address.host
            settings.port = address.port
        }
        if let dataDir { settings.dataDirectory = dataDir }
        if noLockfile { settings.lockDataDirectory = false }
        try web.apply(to: &settings.connectionLimits)
        return settings
    }

    /// The flags in effect (Prometheus's names), for `/api/v1/status/flags`.
    func flagValues(_ settings: AgentConfiguration) -> [String: String] {
        WebOptions.flagValues(settings.connectionLimits, log: log).merging([
            "config.file": config, "web.listen-address": "\(settings.host):\(settings.port)", "storage.agent.path": settings.dataDirectory,
            "storage.agent.no-lockfile": "\(!settings.lockDataDirectory)"
        ]) { _, own in own }
    }

    /// The configuration file's text ("" when it cannot be read again).
    func configText() -> String {
        (try? String(contentsOfFile: config, encoding: .utf8)) ?? ""
    }

    func run() async throws {
        Allocator.configure()
        let settings = try settings()
        log.bootstrap()
        let metrics = AgentMetrics()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics.registry))
        let logger = Logger(label: "tributary.agent")
        let agent: Agent
        do {
            agent = try Agent(configuration: settings, metrics: metrics, logger: logger, eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        } catch {
            throw CommandError("cannot start the agent in \(settings.dataDirectory): \(error)")
        }
        agent.runtime.withLock {
            $0.flags = flagValues(settings)
            $0.configLoaded(yaml: configText())
        }
        let command = self
        let reloader = Reloader(path: config, registry: metrics.registry, prefix: "prometheus", logger: logger) {
            do {
                let settings = try command.settings()
                try await agent.reload(settings)
                agent.runtime.withLock {
                    $0.flags = command.flagValues(settings)
                    $0.configLoaded(yaml: command.configText())
                }
            } catch {
                agent.runtime.withLock { $0.reloadFailed() }
                throw error
            }
        }
        let host = settings.host
        let app = AgentServer.application(agent, logger: logger, reload: { try await reloader.reload() }) { port in
            logger.info("listening", metadata: ["address": "http://\(host):\(port)", "allocator": "\(Allocator.name)"])
        }
        // ServiceGroup stops services in reverse order: HTTP first, then WAL upkeep (a last
        // sync), the queues, and the scrapers.
        let group = ServiceGroup(
            services: [ProcessMetricsService(registry: metrics.registry)] + agent.services + [ReloadOnHangup(reloader: reloader), app],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
