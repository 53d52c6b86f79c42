import ArgumentParser
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import TributaryAgent
import TributaryConfig
import UnixSignals

/// `tributary agent`: the edge agent.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run an edge agent (scrape, label, buffer on disk, remote-write)."
    )

    @Option(help: "Path to agent.yml (see configs/agent.yml); flags override it.") var config: String
    @Option(help: "Listen address, HOST:PORT (default 0.0.0.0:9202).") var listen: String?
    @Option(name: .customLong("data-dir"), help: "Data directory, for wal/ and queues/ (default ./data/agent).") var dataDir: String?

    func run() async throws {
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
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let metrics = AgentMetrics()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics.registry))
        let logger = Logger(label: "tributary.agent")
        let agent: Agent
        do {
            agent = try Agent(configuration: settings, metrics: metrics, logger: logger)
        } catch {
            throw CommandError("cannot start the agent in \(settings.dataDirectory): \(error)")
        }
        let host = settings.host
        let app = AgentServer.application(agent, logger: logger) { port in
            logger.info("listening", metadata: ["address": "http://\(host):\(port)"])
        }
        // ServiceGroup stops services in reverse order: HTTP first, then WAL upkeep (a last
        // sync), the queues, and the scrapers.
        let reload = ReloadOnHangup(agent: agent, path: config, logger: logger)
        let group = ServiceGroup(services: agent.services + [reload, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

/// SIGHUP re-reads agent.yml and applies its scrape targets (``Agent/reload(_:)``); a file
/// with errors is logged with its position and the running configuration stays.
struct ReloadOnHangup: Service {
    let agent: TributaryAgent.Agent
    let path: String
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                do {
                    try await agent.reload(try AgentConfigFile.load(path: path))
                } catch {
                    logger.error("reload failed; keeping the running configuration", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
