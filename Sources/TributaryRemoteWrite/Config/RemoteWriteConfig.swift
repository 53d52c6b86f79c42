import TributaryModel
import TributaryWire

public struct QueueConfig: Sendable, Equatable {
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

/// `metadata_config`: metric metadata (type, help, unit of each family the sender knows)
/// sent every `sendInterval` in requests of their own, as Prometheus sends it over remote
/// write 1.0 (remote write 2.0 carries metadata on each series; Prometheus sends none there
/// unless its WAL records metadata, and neither do we).
public struct MetadataConfig: Sendable, Equatable {
    public var send = true
    public var sendInterval: Int64 = 60_000
    public var maxSamplesPerSend = 500

    public init() {}
}

public struct RemoteWriteConfig: Sendable, Equatable {
    public var url: String
    public var name: String
    public var remoteTimeout: Int64 = 30_000
    public var headers: [String: String] = [:]
    public var http = HTTPClientSettings()
    public var queue = QueueConfig()
    public var writeRelabelConfigs: [RelabelConfig] = []
    public var version = RemoteWriteVersion.v1
    /// Send the exemplars the agent scrapes (OpenMetrics targets), as Prometheus's option.
    public var sendExemplars = false
    public var metadata = MetadataConfig()
    /// Headers computed for each request (a receiver's forwarding path), after `headers`.
    public var dynamicHeaders: DynamicHeaders?

    public init(url: String, name: String) {
        self.url = url
        self.name = name
    }
}

/// Headers a sender computes for each request. Equal when their names are (the closure is
/// not compared).
public struct DynamicHeaders: Sendable, Equatable {
    public let name: String
    public let make: @Sendable () -> [(String, String)]

    public init(name: String, make: @escaping @Sendable () -> [(String, String)]) {
        self.name = name
        self.make = make
    }

    public static func == (a: DynamicHeaders, b: DynamicHeaders) -> Bool { a.name == b.name }
}
