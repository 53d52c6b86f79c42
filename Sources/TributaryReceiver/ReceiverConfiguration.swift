import TributaryHTTPServer
import TributaryRemoteWrite
import TributaryTSDB
import TributaryWAL
import TributaryWire

/// Settings of `tributary receive`; every one has a default.
public struct ReceiverConfiguration: Sendable {
    public var host = "0.0.0.0"
    public var port = 9201
    /// The TSDB directory (Prometheus's layout: `wal/` inside).
    public var dataDirectory = "./data/receiver"
    public var walFsync: WAL.FsyncPolicy = .batch
    /// Seconds between WAL syncs with `batch`.
    public var walSyncInterval: Double = 5
    public var head = HeadOptions()
    /// Blocks, compaction and retention (`storage.block_duration`, `retention_time`,
    /// `retention_size`); the head's chunks follow the block duration.
    public var storage = DBOptions()
    /// The TSDB admin API (`/api/v1/admin/tsdb/…`), off by default as in Prometheus
    /// (`--web.enable-admin-api`).
    public var adminAPI = false
    /// Take the data directory's lock file (``DirectoryLock``); off with
    /// `--storage.tsdb.no-lockfile`, as Prometheus's, for filesystems without `flock`.
    public var lockDataDirectory = true
    /// Connection cap and read deadlines of the HTTP server (flags only, as Prometheus's). The
    /// cap is higher than Prometheus's 512: every shard of every agent keeps a connection.
    public var connectionLimits = ConnectionLimits(maxConnections: 4096)
    /// Seconds between runs of block writing, compaction and retention (a minute).
    public var storageMaintenanceInterval: Double = 60
    /// Labels that name the replica of an HA pair; removed before storage.
    public var replicaLabels = ["replica", "__replica__"]
    /// One sample per series per window (milliseconds).
    public var dedupWindow: Int64 = 15_000
    /// Largest compressed request body.
    public var maxBodyBytes = 32 << 20
    public var decoder = DecoderLimits.default
    /// Bearer tokens or basic users for the write endpoint and the query API (open by default).
    public var auth = AuthConfiguration()
    /// HTTPS instead of HTTP when set.
    public var tls: TLSFiles?
    /// Upstream receivers that get everything this one stores (forwarding).
    public var remoteWrites: [RemoteWriteConfig] = []
    /// Labels added to every forwarded series that lacks them (a site's `site="…"`), as
    /// Prometheus's `global.external_labels` for remote write; what is stored here is unchanged.
    public var externalLabels: [String: String] = [:]
    /// Forwarded data older than this is dropped while an upstream is unreachable.
    public var forwardRetention: Int64 = 2 * 3600 * 1000
    /// Queries run at once (Prometheus's `query.max-concurrency`); more wait in a queue.
    public var queryMaxConcurrency = 20
    /// Range-query results cache (``ResultsCache``); `nocache=1` skips it for one query.
    public var queryResultsCache = true
    /// Most points (series × steps) the results cache holds; 0 (the default) sizes it from the
    /// machine's memory (``ResultsCache/defaultMaxPoints(memory:)``).
    public var queryResultsCacheMaxPoints = 0
    /// Threads one query may use for its per-series work (itself and helpers); 0 (the
    /// default) means one per core. Helpers run at the query threads' low priority and only
    /// while no other query runs, so busy dashboards fall back to a thread each.
    public var queryParallelism = 0
    /// Most samples one query may hold at once (Prometheus's `query.max-samples`); beyond it
    /// the query fails with `execution_too_many_samples`, not the process.
    public var queryMaxSamples = 50_000_000
    /// Longest a query may run, in milliseconds (Prometheus's `query.timeout`).
    public var queryTimeout: Int64 = 120_000
    /// Queries that take longer are logged with their range and time (milliseconds).
    public var slowQueryThreshold: Int64 = 5_000

    public init() {}

    /// Whether the `query` section differs from `other`'s (it is bound at start: a reload that
    /// changes it needs a restart).
    func queryDiffers(from other: ReceiverConfiguration) -> Bool {
        queryMaxConcurrency != other.queryMaxConcurrency || queryResultsCache != other.queryResultsCache
            || queryResultsCacheMaxPoints != other.queryResultsCacheMaxPoints || queryParallelism != other.queryParallelism
            || queryMaxSamples != other.queryMaxSamples || queryTimeout != other.queryTimeout || slowQueryThreshold != other.slowQueryThreshold
    }
}

/// PEM files for serving HTTPS; with `clientCAFile`, clients must present a certificate it signed.
public struct TLSFiles: Sendable, Equatable {
    public var certFile: String
    public var keyFile: String
    public var clientCAFile: String?

    public init(certFile: String, keyFile: String, clientCAFile: String? = nil) {
        self.certFile = certFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
    }
}
