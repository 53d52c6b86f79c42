import Foundation
import TributaryHTTPServer
import TributaryModel
import TributaryRemoteWrite
import TributaryWire

/// Settings of `tributary agent`: a `prometheus.yml` subset (see configs/agent.yml).
public struct AgentConfiguration: Sendable {
    public var host = "0.0.0.0"
    public var port = 9202
    public var dataDirectory = "./data/agent"
    /// Take the data directory's lock file (``DirectoryLock``); off with
    /// `--storage.agent.no-lockfile`, as Prometheus's, for filesystems without `flock`.
    public var lockDataDirectory = true
    /// Scraped data older than this is dropped from the WAL while a receiver is unreachable.
    public var retention: Int64 = 2 * 3600 * 1000
    public var scrapeInterval: Int64 = 60_000
    public var scrapeTimeout: Int64 = 10_000
    public var externalLabels: [String: String] = [:]
    public var scrapeConfigs: [ScrapeConfig] = []
    public var remoteWrites: [RemoteWriteConfig] = []
    /// Connection cap and read deadlines of the agent's HTTP server (flags only).
    public var connectionLimits = ConnectionLimits()
    /// Keys of a stock `prometheus.yml` the agent accepts but does not act on (`rule_files`,
    /// `alerting`, …), with their line: logged once as a warning at start and at each reload.
    public var ignoredKeys: [String] = []

    public init() {}
}

public struct StaticConfig: Sendable, Equatable {
    public var targets: [String] = []
    public var labels: [String: String] = [:]

    public init() {}
}

/// One `file_sd_configs` entry: files (glob patterns ending in .json, .yml or .yaml, relative
/// to the configuration file's directory) holding lists of `{targets, labels}` groups, read
/// again when they change and every `refresh_interval`.
public struct FileSDConfig: Sendable, Equatable {
    public var files: [String] = []
    public var refreshInterval: Int64 = 300_000

    public init() {}
}

public struct ScrapeConfig: Sendable, Equatable {
    public var jobName: String
    public var scrapeInterval: Int64
    public var scrapeTimeout: Int64
    public var metricsPath = "/metrics"
    public var scheme = "http"
    public var params: [String: [String]] = [:]
    public var honorLabels = false
    public var honorTimestamps = true
    /// Limits, as Prometheus names them; 0 means none (body: 128 MiB when 0). A scrape over a
    /// limit fails as a whole: `up` is 0 and its series end.
    public var limits = ScrapeLimits()
    public var http = HTTPClientSettings()
    public var relabelConfigs: [RelabelConfig] = []
    public var metricRelabelConfigs: [RelabelConfig] = []
    public var staticConfigs: [StaticConfig] = []
    /// `file_sd_configs`: target groups read from files (see ``FileDiscovery``).
    public var fileSDConfigs: [FileSDConfig] = []

    /// The settings without the target lists (static and discovered), to tell whether a
    /// running target's loop can go on as it is.
    var withoutTargets: ScrapeConfig {
        var c = self
        c.staticConfigs = []
        c.fileSDConfigs = []
        return c
    }

    public init(jobName: String, scrapeInterval: Int64, scrapeTimeout: Int64) {
        self.jobName = jobName
        self.scrapeInterval = scrapeInterval
        self.scrapeTimeout = scrapeTimeout
    }
}

public struct ScrapeLimits: Sendable, Equatable {
    public var bodySizeLimit = 0
    public var sampleLimit = 0
    public var labelLimit = 0
    public var labelNameLengthLimit = 0
    public var labelValueLengthLimit = 0

    public init() {}

    /// The body limit in bytes the HTTP client enforces.
    public var bodyBytes: Int { bodySizeLimit > 0 ? bodySizeLimit : 128 << 20 }
}
