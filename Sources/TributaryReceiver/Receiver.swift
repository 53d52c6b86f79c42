import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TributaryHTTPServer
import TributaryModel
import TributaryPromQL
import TributaryRemoteWrite
import TributaryTSDB
import TributaryWAL
import TributaryWire

/// The receiver's state and request handling, independent of the HTTP library: the head and
/// its WAL, the PromQL engine, decoders, metadata. `ReceiverServer` binds it to HTTP.
///
/// Concurrency: thread-safe; decoders come from a pool, commits are serialised by the head.
public final class Receiver: Sendable {
    /// The configuration the receiver was opened with; what a reload changes is in ``live``.
    public let configuration: ReceiverConfiguration
    /// The settings a reload applies while running (auth, limits, dedup), read once a request.
    let live: Mutex<LiveSettings>
    public let head: Head
    /// The head and the persisted blocks, read as one.
    public let db: DB
    /// Set by a commit that leaves the head due for a block: maintenance runs without waiting
    /// for its minute.
    let maintenanceWanted = Atomic<Bool>(false)
    /// Set by a query that held many points: ``HeapTrimService`` gives the heap it freed back.
    let heapTrimWanted = Atomic<Bool>(false)
    /// The HTTP server's connections: open, refused over the cap, closed by a deadline.
    public let connectionCounts = ConnectionCounts()
    let wal: WAL
    /// Helper threads for queries, one set per process and size (they live as long as it does).
    static let workerPools = Mutex<[Int: WorkerPool]>([:])

    /// The pool that gives a query `parallelism` threads (0: one per core), nil for one.
    static func queryWorkers(parallelism: Int) -> WorkerPool? {
        let threads = parallelism > 0 ? parallelism : ProcessInfo.processInfo.activeProcessorCount
        guard threads > 1 else { return nil }
        return workerPools.withLock { pools in
            if let pool = pools[threads] { return pool }
            let pool = WorkerPool(helpers: threads - 1) { QueryExecutor.lowerPriority() }
            pools[threads] = pool
            return pool
        }
    }

    /// The PromQL engine, with helper threads for a query's per-series work (one fewer than
    /// the cores; at the query threads' low priority, so ingest keeps precedence).
    let engine: Engine
    let logger: Logger
    /// Idle decoders, each with the reload generation whose limits it was made with.
    let decoders = Mutex<[(generation: Int, decoder: WriteRequestDecoder)]>([])
    let metadata: MetricMetadataTable
    public let metrics: ReceiverMetrics
    /// Forwarding upstream: always there, so a reload can start it; it logs nothing while
    /// `remote_write` is empty.
    let forwarder: Forwarder
    /// This receiver's id and the receivers upstream of it (forwarding loops).
    public let forwardingPath: ForwardingPath
    /// One warning per refused write, at most 10 a second.
    let badRequests: RateLimitedLog
    /// The threads queries run on, apart from those serving remote write.
    let queries: QueryExecutor
    /// Held from opening to ``releaseDataDirectory()``: one process per data directory (nil
    /// with `--storage.tsdb.no-lockfile`).
    let directoryLock: DirectoryLock?
    /// Range-query answers for dashboards that refresh (nil when `query.results_cache: false`).
    public let resultsCache: ResultsCache?
    /// Flags, configuration text and reload outcomes, for the status endpoints.
    public let runtime = Mutex(RuntimeStatus())

    /// Opens the data directory and replays the WAL.
    public init(
        configuration: ReceiverConfiguration, metrics: ReceiverMetrics = ReceiverMetrics(),
        logger: Logger = Logger(label: "tributary.receiver")
    ) throws {
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        badRequests = RateLimitedLog(logger: logger, perSecond: 10)
        var engineOptions = EngineOptions()
        engineOptions.workers = Self.queryWorkers(parallelism: configuration.queryParallelism)
        engineOptions.maxSamples = configuration.queryMaxSamples
        engineOptions.timeout = Double(configuration.queryTimeout) / 1000
        engine = Engine(options: engineOptions)
        queries = QueryExecutor(maxConcurrency: configuration.queryMaxConcurrency, queueTimeout: .seconds(engine.options.timeout))
        let cachePoints =
            configuration.queryResultsCacheMaxPoints > 0
            ? configuration.queryResultsCacheMaxPoints : ResultsCache.defaultMaxPoints(memory: MachineMemory.bytes())
        resultsCache = configuration.queryResultsCache ? ResultsCache(maxPoints: cachePoints) : nil
        // Before anything in the directory is opened: a second process there would append to
        // the same WAL.
        directoryLock = configuration.lockDataDirectory ? try DirectoryLock(directory: configuration.dataDirectory) : nil
        if let directoryLock, directoryLock.foundStale {
            logger.warning("the data directory's lock file was left behind: the last run did not stop cleanly", metadata: ["path": "\(directoryLock.path)"])
        }
        forwardingPath = try ForwardingPath(directory: configuration.dataDirectory)
        let metadata = MetricMetadataTable()
        self.metadata = metadata
        // Forwarding sends upstream the metadata senders sent here (a chained receiver's
        // dashboards know the metric types too).
        forwarder = try Forwarder(
            configuration: configuration, path: forwardingPath, registry: metrics.registry, logger: logger, metadata: { Array(metadata.all.values) })
        wal = try WAL(directory: configuration.dataDirectory + "/wal", options: .init(fsync: configuration.walFsync), logger: logger)
        var headOptions = configuration.head
        headOptions.chunkRange = configuration.storage.blockDuration
        head = Head(options: headOptions, wal: wal, logger: logger)
        let replay = try head.replayWAL()
        db = try DB(directory: configuration.dataDirectory, head: head, options: configuration.storage, logger: logger)
        live = Mutex(LiveSettings(configuration))
        logger.info(
            "receiver opened",
            metadata: [
                "data_dir": "\(configuration.dataDirectory)", "series": "\(replay.series)", "samples": "\(replay.samples)",
                "blocks": "\(db.blocks.count)"
            ])
    }

    /// Runs `body` with a pooled decoder made with `settings`' limits (a decoder from before a
    /// reload is dropped, not reused).
    func withDecoder<R>(_ settings: LiveSettings, _ body: (WriteRequestDecoder) throws -> R) rethrows -> R {
        let pooled = decoders.withLock { $0.popLast() }
        let decoder = pooled.flatMap { $0.generation == settings.generation ? $0.decoder : nil } ?? WriteRequestDecoder(limits: settings.decoder)
        defer { decoders.withLock { pool in if pool.count < 16 { pool.append((settings.generation, decoder)) } } }
        return try body(decoder)
    }

    /// The forwarding queues and their WAL upkeep; run them in the service group next to the
    /// HTTP server.
    public var forwardingServices: [any Service] { forwarder.services }

    /// Flushes the WAL to disk (graceful shutdown and the periodic sync).
    public func sync() throws {
        try wal.sync()
    }

    /// Gives up the data directory at the end of a graceful shutdown, after the last WAL
    /// flush: another receiver may open it from now on (a restart in the same process). The
    /// receiver must not write after this.
    public func releaseDataDirectory() {
        directoryLock?.release()
    }

    /// `/metrics`: the registry's exposition text with the head gauges brought up to date.
    func metricsText() -> HTTPAnswer {
        let body = metrics.emit(
            head: .init(
                series: head.numSeries, memoryBytes: head.memoryBytes, walBytes: wal.bytesWritten.load(ordering: .relaxed),
                exemplars: head.exemplars?.count ?? 0, exemplarSeries: head.exemplars?.seriesCount ?? 0,
                mismatchedIntervals: head.seriesWithMismatchedIntervals, blocks: db.blocks.count, blockBytes: db.blocks.reduce(0) { $0 + $1.sizeBytes },
                cachePoints: resultsCache?.size.points ?? 0, cacheMaxPoints: resultsCache?.maxPoints ?? 0,
                dbCounts: db.counts.all
            ))
        return HTTPAnswer(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: body)
    }
}
