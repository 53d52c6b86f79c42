import Foundation
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization
import TributaryHTTPServer
import TributaryModel
import TributaryRemoteWrite
import TributaryWAL

/// The edge agent: scrape loops writing to the agent's WAL, one remote-write queue per
/// `remote_write` entry reading it back, and the WAL's upkeep. `services` runs them in a
/// ServiceGroup; `AgentServer` adds HTTP.
public final class Agent: Sendable {
    public let configuration: AgentConfiguration
    public let storage: QueueStorage
    public let metrics: AgentMetrics
    public let pool = ScrapePool()
    /// The HTTP server's connections: open, refused over the cap, closed by a deadline.
    public let connectionCounts = ConnectionCounts()
    public let queues: [RemoteWriteQueue]
    let fetch: ScrapeFetch?
    let logger: Logger
    /// Where scrape loops and their targets' connections run.
    let eventLoopGroup: any EventLoopGroup
    /// Sample timestamps.
    let clock: WallClock
    /// The settings loops are made from (replaced by ``reload(_:)``).
    let current: Mutex<AgentConfiguration>

    /// The scrape loops, in configuration order.
    public var loops: [ScrapeLoop] { pool.loops }

    /// Opens the WAL (repairing a torn tail) and sets up loops and queues. Scrape loops run on
    /// `eventLoopGroup` (each on its target's connection's loop) and stamp samples with
    /// `clock`; `fetch` replaces HTTP scraping (tests).
    public init(
        configuration: AgentConfiguration, metrics: AgentMetrics = AgentMetrics(), logger: Logger,
        eventLoopGroup: any EventLoopGroup, clock: WallClock = .system, fetch: ScrapeFetch? = nil
    ) throws {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.clock = clock
        self.metrics = metrics
        self.logger = logger
        storage = try QueueStorage(directory: configuration.dataDirectory, logger: logger)
        self.fetch = fetch
        current = Mutex(configuration)
        let storage = self.storage
        queues = configuration.remoteWrites.map {
            RemoteWriteQueue(
                config: $0, storage: storage, dataDirectory: configuration.dataDirectory, retention: configuration.retention, registry: metrics.registry, logger: logger,
                clock: clock)
        }
        let loops = try makeLoops(configuration)
        _ = pool.replace(loops, start: false)
        logger.info("agent configured", metadata: ["targets": "\(loops.count)", "remote_write": "\(queues.count)"])
    }

    /// Loops for every target of `configuration`, reusing the running loop of an unchanged
    /// target (so its series cache and staleness tracking carry over).
    func makeLoops(_ configuration: AgentConfiguration) throws -> [ScrapeLoop] {
        let existing = Dictionary(pool.loops.map { (ScrapePool.key($0.target), $0) }, uniquingKeysWith: { a, _ in a })
        var loops: [ScrapeLoop] = []
        // Exemplars are scraped (and logged) only when a queue sends them.
        let keepExemplars = configuration.remoteWrites.contains(where: \.sendExemplars)
        for sc in configuration.scrapeConfigs {
            let client = fetch == nil ? try ScrapeClient(settings: sc.http) : nil
            for target in ScrapeTarget.resolve(sc) {
                if let same = existing[ScrapePool.key(target)] {
                    loops.append(same)
                } else if let fetch {
                    loops.append(
                        ScrapeLoop(
                            target: target, storage: storage, externalLabels: configuration.externalLabels, keepExemplars: keepExemplars, metrics: metrics, logger: logger, clock: clock,
                            source: .fetch(fetch)))
                } else if let client {
                    // The loop and its target's connection share an event loop.
                    let eventLoop = eventLoopGroup.next()
                    loops.append(
                        ScrapeLoop(
                            target: target, storage: storage, externalLabels: configuration.externalLabels, keepExemplars: keepExemplars, metrics: metrics, logger: logger,
                            clock: clock, source: .scraper(client.scraper(for: target, on: eventLoop))))
                }
            }
        }
        return loops
    }

    /// Applies a new configuration's scrape targets (SIGHUP): new targets start, removed ones
    /// stop and their series get stale markers; unchanged ones keep running. Other settings
    /// (listen, storage, remote_write, external_labels) need a restart; a change there is
    /// logged and ignored.
    public func reload(_ configuration: AgentConfiguration) async throws {
        let old = current.withLock { $0 }
        if configuration.host != old.host || configuration.port != old.port || configuration.dataDirectory != old.dataDirectory
            || configuration.remoteWrites.map(\.url) != old.remoteWrites.map(\.url) || configuration.externalLabels != old.externalLabels
        {
            logger.warning("reload: listen, storage, remote_write and external_labels changes need a restart; applying scrape targets only")
        }
        var applied = configuration
        applied.externalLabels = old.externalLabels
        let loops = try makeLoops(applied)
        current.withLock { $0.scrapeConfigs = configuration.scrapeConfigs }
        let (added, removed) = await pool.apply(loops, start: true, clock: clock)
        logger.info("configuration reloaded", metadata: ["targets": "\(loops.count)", "added": "\(added)", "removed": "\(removed)"])
    }

    /// Scrapers, queues and WAL upkeep (HTTP comes from `AgentServer`).
    public var services: [any Service] {
        [ScrapeService(agent: self)] + queues.map { $0 as any Service }
            + [
                WALUpkeepService(
                    storage: storage, queues: queues, retention: configuration.retention, logger: logger, clock: clock,
                    tick: { [self] in metrics.activeSeries.set(Double(activeSeries)) })
            ]
    }

    /// Series the scrape loops hold.
    public var activeSeries: Int {
        loops.reduce(0) { n, loop in n + loop.state.withLock { $0.cache.count + $0.synthetic.count } }
    }
}

/// Runs every scrape loop until graceful shutdown.
struct ScrapeService: Service {
    let agent: Agent

    func run() async throws {
        agent.pool.startAll()
        try? await gracefulShutdown()
        await agent.pool.stopAll()
    }
}
