import Foundation
import TributaryModel
import TributaryWire

/// Settings of `tributary agent`: a `prometheus.yml` subset (see configs/agent.yml).
public struct AgentConfiguration: Sendable {
    public var host = "0.0.0.0"
    public var port = 9202
    public var dataDirectory = "./data/agent"
    /// Scraped data older than this is dropped from the WAL while a receiver is unreachable.
    public var retention: Int64 = 2 * 3600 * 1000
    public var scrapeInterval: Int64 = 60_000
    public var scrapeTimeout: Int64 = 10_000
    public var externalLabels: [String: String] = [:]
    public var scrapeConfigs: [ScrapeConfig] = []
    public var remoteWrites: [RemoteWriteConfig] = []

    public init() {}
}

/// `basic_auth`, `authorization` and `tls_config`, as scrape and remote-write configs share them.
public struct HTTPClientSettings: Sendable {
    public var basicAuth: (username: String, password: String)?
    public var authorization: (type: String, credentials: String)?
    public var tls = TLSClientSettings()

    public init() {}

    /// The `Authorization` header value, if any.
    public var authorizationHeader: String? {
        if let a = authorization { return "\(a.type) \(a.credentials)" }
        if let b = basicAuth { return "Basic " + Data("\(b.username):\(b.password)".utf8).base64EncodedString() }
        return nil
    }
}

public struct TLSClientSettings: Sendable, Equatable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public var serverName: String?
    public var insecureSkipVerify = false

    public init() {}
}

public struct StaticConfig: Sendable {
    public var targets: [String] = []
    public var labels: [String: String] = [:]

    public init() {}
}

public struct ScrapeConfig: Sendable {
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

public struct QueueConfig: Sendable {
    public var capacity = 10_000
    public var maxShards = 50
    public var minShards = 1
    public var maxSamplesPerSend = 2_000
    public var batchSendDeadline: Int64 = 5_000
    public var minBackoff: Int64 = 30
    public var maxBackoff: Int64 = 5_000
    public var retryOnHTTP429 = true

    public init() {}
}

public struct RemoteWriteConfig: Sendable {
    public var url: String
    public var name: String
    public var remoteTimeout: Int64 = 30_000
    public var headers: [String: String] = [:]
    public var http = HTTPClientSettings()
    public var queue = QueueConfig()
    public var writeRelabelConfigs: [RelabelConfig] = []
    public var version = RemoteWriteVersion.v1

    public init(url: String, name: String) {
        self.url = url
        self.name = name
    }
}
