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
    /// Held from opening until the scrapers stop (``ScrapeService``): one process per data
    /// directory (nil with `--storage.agent.no-lockfile`).
    let directoryLock: DirectoryLock?
    public let metrics: AgentMetrics
    public let pool = ScrapePool()
    /// The HTTP server's connections: open, refused over the cap, closed by a deadline.
    public let connectionCounts = ConnectionCounts()
    /// The remote-write queues (a reload may change the set).
    public let queueSet: RemoteWriteQueueSet
    public var queues: [RemoteWriteQueue] { queueSet.queues }
    let fetch: ScrapeFetch?
    let logger: Logger
    /// Where scrape loops and their targets' connections run.
    let eventLoopGroup: any EventLoopGroup
    /// Sample timestamps.
    let clock: WallClock
    /// The settings loops are made from (replaced by ``reload(_:)``).
    let current: Mutex<AgentConfiguration>
    /// Targets of `file_sd_configs`, merged into their jobs' static ones.
    let discovery = FileDiscovery()
    /// The targets `relabel_configs` dropped, by job, as the loops were last made
    /// (`/api/v1/targets`'s `droppedTargets`).
    public let droppedTargets = Mutex<[(job: String, discoveredLabels: [String: String])]>([])
    /// Flags, configuration text and reload outcome for `/api/v1/status/*` (set by the command).
    public let runtime = Mutex(RuntimeStatus())

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
        // Before the WAL is opened: a second process there would append to the same WAL.
        directoryLock = configuration.lockDataDirectory ? try DirectoryLock(directory: configuration.dataDirectory) : nil
        if let directoryLock, directoryLock.foundStale {
            logger.warning("the data directory's lock file was left behind: the last run did not stop cleanly", metadata: ["path": "\(directoryLock.path)"])
        }
        storage = try QueueStorage(directory: configuration.dataDirectory, logger: logger)
        self.fetch = fetch
        current = Mutex(configuration)
        let storage = self.storage
        // The queues ask the pool's loops for their metadata when they send it.
        let pool = self.pool
        queueSet = RemoteWriteQueueSet(
            configs: configuration.remoteWrites, storage: storage, dataDirectory: configuration.dataDirectory, retention: configuration.retention,
            registry: metrics.registry, logger: logger, clock: clock, metadata: { Self.metadata(of: pool) })
        Self.warnIgnored(configuration, logger)
        for error in discovery.refresh(configuration.scrapeConfigs).errors { logger.warning("file_sd: file left as it was", metadata: ["error": "\(error)"]) }
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
        var dropped: [(job: String, discoveredLabels: [String: String])] = []
        for var sc in configuration.scrapeConfigs {
            for sd in sc.fileSDConfigs { sc.staticConfigs += discovery.groups(sd) }
            let client = fetch == nil ? try ScrapeClient(settings: sc.http) : nil
            let (targets, droppedHere) = ScrapeTarget.resolveKeepingDropped(sc)
            dropped += droppedHere.map { (sc.jobName, $0) }
            for target in targets {
                // A running loop is kept only while its job's settings are unchanged (interval,
                // relabelling, limits, …): otherwise a new loop applies them.
                if let same = existing[ScrapePool.key(target)], same.target.config.withoutTargets == sc.withoutTargets,
                    same.externalLabels == configuration.externalLabels
                {
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
        droppedTargets.withLock { $0 = dropped }
        return loops
    }

    /// Applies a new configuration's scrape targets and external labels (SIGHUP): new targets
    /// start, removed ones stop and their series get stale markers; unchanged ones keep
    /// running; changed `remote_write` entries stop and start (unchanged ones keep running).
    /// Listen and storage need a restart; a change there is logged and ignored.
    public func reload(_ configuration: AgentConfiguration) async throws {
        let old = current.withLock { $0 }
        if configuration.host != old.host || configuration.port != old.port || configuration.dataDirectory != old.dataDirectory {
            logger.warning("reload: listen and storage changes need a restart; applying scrape targets, external_labels and remote_write")
        }
        if configuration.remoteWrites != old.remoteWrites {
            current.withLock { $0.remoteWrites = configuration.remoteWrites }
            let (started, stopped) = await queueSet.replace(configuration.remoteWrites)
            logger.info("remote_write reloaded", metadata: ["started": "\(started)", "stopped": "\(stopped)"])
        }
        Self.warnIgnored(configuration, logger)
        for error in discovery.refresh(configuration.scrapeConfigs).errors { logger.warning("file_sd: file left as it was", metadata: ["error": "\(error)"]) }
        let (targets, added, removed) = try await applyTargets(configuration.scrapeConfigs, externalLabels: configuration.externalLabels)
        logger.info("configuration reloaded", metadata: ["targets": "\(targets)", "added": "\(added)", "removed": "\(removed)"])
    }

    /// Makes loops for the current configuration (with `scrapeConfigs` replacing its jobs, on
    /// a reload) and the discovered targets, and swaps them in. Under the configuration's lock,
    /// so a reload and a file_sd change never apply an older set after a newer one.
    func applyTargets(_ scrapeConfigs: [ScrapeConfig]? = nil, externalLabels: [String: String]? = nil) async throws -> (targets: Int, added: Int, removed: Int) {
        let (count, added, removed) = try current.withLock { c in
            if let scrapeConfigs { c.scrapeConfigs = scrapeConfigs }
            // New external labels make every series a new one: new loops, and the old
            // series end with stale markers.
            if let externalLabels { c.externalLabels = externalLabels }
            let loops = try makeLoops(c)
            let (added, removed) = pool.replace(loops, start: true)
            return (loops.count, added, removed)
        }
        await pool.stop(removed, clock: clock)
        return (count, added, removed.count)
    }

    /// Re-reads the `file_sd_configs` files that changed and applies the targets they now hold.
    func refreshDiscovery() async {
        let configs = current.withLock { $0.scrapeConfigs }
        let (changed, errors) = discovery.refresh(configs)
        for error in errors { logger.warning("file_sd: file left as it was", metadata: ["error": "\(error)"]) }
        guard changed else { return }
        do {
            let (targets, added, removed) = try await applyTargets()
            logger.info("file_sd: targets changed", metadata: ["targets": "\(targets)", "added": "\(added)", "removed": "\(removed)"])
        } catch {
            logger.error("file_sd: cannot apply the discovered targets", metadata: ["error": "\(error)"])
        }
    }

    static func warnIgnored(_ configuration: AgentConfiguration, _ logger: Logger) {
        guard !configuration.ignoredKeys.isEmpty else { return }
        logger.warning(
            "configuration keys the agent does not act on (a Prometheus server's), accepted and ignored",
            metadata: ["keys": "\(configuration.ignoredKeys.joined(separator: ", "))"])
    }

    /// Scrapers, queues and WAL upkeep (HTTP comes from `AgentServer`).
    public var services: [any Service] {
        [ScrapeService(agent: self), FileDiscoveryService(agent: self), queueSet]
            + [
                WALUpkeepService(
                    storage: storage, queues: { [queueSet] in queueSet.queues }, retention: configuration.retention, logger: logger, clock: clock,
                    tick: { [self] in
                        metrics.activeSeries.set(Double(activeSeries))
                        let newest = storage.highestTimestamp.load(ordering: .relaxed)
                        if newest != .min { metrics.highestTimestamp.set(Double(newest) / 1000) }
                    })
            ]
    }

    /// The metric metadata of every target of `pool` as of its last good scrape (each queue
    /// sends the distinct entries every `metadata_config.send_interval`).
    static func metadata(of pool: ScrapePool) -> [MetricMetadata] {
        pool.loops.flatMap { loop in loop.state.withLock { $0.metadata } }
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
        // The last service to stop: the stale markers the loops wrote on stopping are flushed,
        // and the directory is given up.
        try? agent.storage.wal.sync()
        agent.directoryLock?.release()
    }
}

/// Looks at the `file_sd_configs` files once a second (a stat each; read when changed or
/// their `refresh_interval` passed) until graceful shutdown.
struct FileDiscoveryService: Service {
    let agent: Agent

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .seconds(1))
            await agent.refreshDiscovery()
        }
    }
}
