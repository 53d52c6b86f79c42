import Prometheus
import Synchronization
import TributaryModel
import TributaryWire

/// Why samples or requests were refused; the `reason` label of the rejection counters.
public enum RejectionReason: String, Sendable, CaseIterable {
    case bodyTooLarge = "body_too_large"
    case unsupportedContentType = "unsupported_content_type"
    case unsupportedEncoding = "unsupported_encoding"
    case snappy
    case protobuf
    case tooManySeries = "too_many_series"
    case invalidSeries = "invalid_series"
    case outOfOrder = "out_of_order"
    case tooOld = "too_old"
    case duplicateTimestamp = "duplicate_timestamp"
    case overBudget = "over_budget"
    case storage
    case unauthorized
    /// A native histogram sample (not stored yet).
    case nativeHistogram = "native_histogram"
    /// A native histogram whose counts, spans or schema do not agree.
    case malformedHistogram = "malformed_histogram"
    /// An exemplar older than the newest of its series.
    case exemplarOutOfOrder = "exemplar_out_of_order"
    /// An exemplar whose labels are longer than 128 code points.
    case exemplarLabelsTooLong = "exemplar_labels_too_long"
    /// An exemplar while `storage.exemplars.max_exemplars` is 0.
    case exemplarsDisabled = "exemplars_disabled"
    /// A write this receiver forwarded itself, come back (see ``ForwardingPath``).
    case forwardingLoop = "forwarding_loop"

    /// The reasons a single sample can be refused for (the others refuse whole requests).
    static let sampleReasons: [RejectionReason] = [.invalidSeries, .tooManySeries, .outOfOrder, .tooOld, .duplicateTimestamp]
    /// The reasons a histogram sample can be refused for.
    static let histogramReasons: [RejectionReason] = [.nativeHistogram, .malformedHistogram, .invalidSeries]
    /// The reasons an exemplar can be refused for.
    static let exemplarReasons: [RejectionReason] = [.exemplarOutOfOrder, .exemplarLabelsTooLong, .exemplarsDisabled, .invalidSeries]

    init(_ code: WireError.Code) {
        switch code {
        case .bodyTooLarge: self = .bodyTooLarge
        case .snappyFramed, .snappyCorrupt: self = .snappy
        case .protobufMalformed, .invalidSymbols: self = .protobuf
        case .tooManySeries: self = .tooManySeries
        case .invalidSeries: self = .invalidSeries
        }
    }

    init(_ error: AppendError) {
        switch error {
        case .outOfOrder: self = .outOfOrder
        case .tooOld: self = .tooOld
        case .duplicateTimestamp: self = .duplicateTimestamp
        case .unknownSeries: self = .invalidSeries
        }
    }
}

/// The receiver's self-monitoring, kept in a swift-prometheus registry that `/metrics` emits.
/// Counters are created up front (one per reason and status code), so the hot path only adds.
public final class ReceiverMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    /// Samples stored per (group, replica) of HA pairs.
    let replicaFills: ReplicaFillCounters
    let samplesReceived: Counter
    let samplesStored: Counter
    /// By reason: replica, late, stale (``DedupTally``).
    let samplesDeduplicated: [Counter]
    let dedupMismatch: Gauge
    let samplesRepeated: Counter
    let samplesRejected: [RejectionReason: Counter]
    let histogramsRejected: [RejectionReason: Counter]
    let exemplarsReceived: Counter
    let exemplarsStored: Counter
    let exemplarsDeduplicated: Counter
    let exemplarsRejected: [RejectionReason: Counter]
    let headExemplars: Gauge
    let headExemplarSeries: Gauge
    let requestsRefused: [RejectionReason: Counter]
    let requestsByCode: [Int: Counter]
    let resultsCacheHits: Counter
    let resultsCacheMisses: Counter
    let resultsCachePoints: Gauge
    let resultsCacheMaxPoints: Gauge
    let slowQueries: Counter
    let headSeries: Gauge
    let headMemory: Gauge
    let walBytes: Gauge
    let blocksLoaded: Gauge
    let blocksBytes: Gauge
    let headBlocks: Counter
    let compactions: Counter
    let retentionDeletions: Counter
    let maintenanceFailures: Counter
    /// The DB's counts at the last emission (counters advance by the difference).
    let emittedCounts = Mutex<[Int]>([0, 0, 0, 0])
    let durations: [String: DurationHistogram]

    /// The handlers whose latency is recorded (the `handler` label).
    static let handlers = [
        "/api/v1/write", "/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels",
        "/api/v1/label/:name/values", "/api/v1/metadata", "/api/v1/query_exemplars", "/api/v1/format_query",
        "/api/v1/status", "/metrics", "other"
    ]
    static let codes = [204, 400, 401, 413, 415, 429, 500, 503]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        replicaFills = ReplicaFillCounters(registry: registry)
        self.registry = registry
        samplesReceived = registry.makeCounter(descriptor: .init(metricName: "tributary_remote_write_samples_received_total", unitName: "", helpText: "Samples received in remote-write requests, before deduplication."))
        samplesStored = registry.makeCounter(descriptor: .init(metricName: "tributary_remote_write_samples_stored_total", unitName: "", helpText: "Samples appended to the TSDB."))
        let dedupHelp = "Samples dropped by HA deduplication, by reason: replica (the other replica's scrape of the same interval), late (older than what the series holds), stale (a stale marker while the other replica reports the series)."
        samplesDeduplicated = ["replica", "late", "stale"].map { registry.makeCounter(descriptor: .init(metricName: "tributary_remote_write_samples_deduplicated_total", unitName: "", helpText: dedupHelp), labels: [("reason", $0)]) }
        dedupMismatch = registry.makeGauge(descriptor: .init(metricName: "tributary_dedup_interval_mismatch_series", unitName: "", helpText: "Series whose two HA replicas scrape at different intervals (a sign of mismatched agent configs at a site)."))
        samplesRepeated = registry.makeCounter(descriptor: .init(metricName: "tributary_remote_write_samples_repeated_total", unitName: "", helpText: "Samples ignored as exact repeats of stored ones (same series, timestamp and value), as a sender's retry makes them."))
        var rejected: [RejectionReason: Counter] = [:], refused: [RejectionReason: Counter] = [:]
        for reason in RejectionReason.sampleReasons {
            rejected[reason] = registry.makeCounter(descriptor: .init(metricName: "tributary_remote_write_samples_rejected_total", unitName: "", helpText: "Samples refused, by reason."), labels: [("reason", reason.rawValue)])
        }
        for reason in RejectionReason.allCases {
            refused[reason] = registry.makeCounter(descriptor: .init(metricName: "tributary_remote_write_requests_refused_total", unitName: "", helpText: "Remote-write requests refused as a whole or in part, by reason of the first problem."), labels: [("reason", reason.rawValue)])
        }
        samplesRejected = rejected
        var histograms: [RejectionReason: Counter] = [:], exemplars: [RejectionReason: Counter] = [:]
        for reason in RejectionReason.histogramReasons {
            histograms[reason] = registry.makeCounter(descriptor: .init(metricName: "tributary_remote_write_histograms_rejected_total", unitName: "", helpText: "Native histogram samples refused (answered 400), by reason."), labels: [("reason", reason.rawValue)])
        }
        for reason in RejectionReason.exemplarReasons {
            exemplars[reason] = registry.makeCounter(descriptor: .init(metricName: "tributary_remote_write_exemplars_rejected_total", unitName: "", helpText: "Exemplars refused (answered 400), by reason."), labels: [("reason", reason.rawValue)])
        }
        histogramsRejected = histograms
        exemplarsRejected = exemplars
        exemplarsReceived = registry.makeCounter(descriptor: .init(metricName: "tributary_remote_write_exemplars_received_total", unitName: "", helpText: "Exemplars received in remote-write requests."))
        exemplarsStored = registry.makeCounter(descriptor: .init(metricName: "tributary_remote_write_exemplars_stored_total", unitName: "", helpText: "Exemplars added to the exemplar storage."))
        exemplarsDeduplicated = registry.makeCounter(descriptor: .init(metricName: "tributary_remote_write_exemplars_deduplicated_total", unitName: "", helpText: "Exemplars not stored because their series already holds them (a resend) or, for HA replicas, one in the same dedup window."))
        headExemplars = registry.makeGauge(descriptor: .init(metricName: "tributary_head_exemplars", unitName: "", helpText: "Exemplars held in memory (at most storage.exemplars.max_exemplars)."))
        headExemplarSeries = registry.makeGauge(descriptor: .init(metricName: "tributary_head_exemplar_series", unitName: "", helpText: "Series with exemplars held in memory."))
        requestsRefused = refused
        var codes: [Int: Counter] = [:]
        for code in Self.codes {
            codes[code] = registry.makeCounter(descriptor: .init(metricName: "tributary_remote_write_requests_total", unitName: "", helpText: "Remote-write requests answered, by status code."), labels: [("code", String(code))])
        }
        requestsByCode = codes
        let cacheHelp = "Range queries the results cache could answer in part (hit) or not at all (miss)."
        resultsCacheHits = registry.makeCounter(descriptor: .init(metricName: "tributary_query_results_cache_requests_total", unitName: "", helpText: cacheHelp), labels: [("result", "hit")])
        slowQueries = registry.makeCounter(descriptor: .init(metricName: "tributary_query_slow_total", unitName: "", helpText: "Queries that took longer than query.slow_query_threshold (each logged)."))
        resultsCacheMisses = registry.makeCounter(descriptor: .init(metricName: "tributary_query_results_cache_requests_total", unitName: "", helpText: cacheHelp), labels: [("result", "miss")])
        resultsCachePoints = registry.makeGauge(
            descriptor: .init(metricName: "tributary_query_results_cache_points", unitName: "", helpText: "Points (series x steps) the results cache holds."))
        resultsCacheMaxPoints = registry.makeGauge(
            descriptor: .init(
                metricName: "tributary_query_results_cache_max_points", unitName: "",
                helpText: "Most points the results cache holds (query.results_cache_max_points, or sized from memory when 0)."))
        headSeries = registry.makeGauge(descriptor: .init(metricName: "tributary_head_series", unitName: "", helpText: "Series in the head."))
        headMemory = registry.makeGauge(descriptor: .init(metricName: "tributary_head_memory_bytes", unitName: "", helpText: "Approximate bytes the head holds."))
        walBytes = registry.makeGauge(descriptor: .init(metricName: "tributary_wal_written_bytes", unitName: "", helpText: "Bytes written to the WAL since start."))
        blocksLoaded = registry.makeGauge(descriptor: .init(metricName: "tributary_tsdb_blocks_loaded", unitName: "", helpText: "Persisted blocks open for reading."))
        blocksBytes = registry.makeGauge(
            descriptor: .init(metricName: "tributary_tsdb_storage_blocks_bytes", unitName: "", helpText: "Bytes of the persisted blocks on disk."))
        headBlocks = registry.makeCounter(
            descriptor: .init(metricName: "tributary_tsdb_head_blocks_written_total", unitName: "", helpText: "Blocks written from the head."))
        compactions = registry.makeCounter(
            descriptor: .init(metricName: "tributary_tsdb_compactions_total", unitName: "", helpText: "Compactions of blocks into larger ones."))
        retentionDeletions = registry.makeCounter(
            descriptor: .init(metricName: "tributary_tsdb_retention_deleted_blocks_total", unitName: "", helpText: "Blocks deleted by retention (time or size)."))
        maintenanceFailures = registry.makeCounter(
            descriptor: .init(
                metricName: "tributary_tsdb_maintenance_failures_total", unitName: "", helpText: "Failed runs of block writing, compaction and retention (retried)."))
        let buckets: [Duration] = [
            .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10),
            .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30)
        ]
        var durations: [String: DurationHistogram] = [:]
        for handler in Self.handlers {
            durations[handler] = registry.makeDurationHistogram(descriptor: .init(metricName: "tributary_http_request_duration_seconds", unitName: "", helpText: "HTTP request latency, by handler."), labels: [("handler", handler)], buckets: buckets)
        }
        self.durations = durations
    }

    func received(_ count: Int) {
        samplesReceived.increment(by: Int64(count))
    }

    func stored(_ count: Int, deduplicated: DedupTally, repeated: Int) {
        samplesStored.increment(by: Int64(count))
        for (counter, n) in zip(samplesDeduplicated, [deduplicated.replica, deduplicated.late, deduplicated.stale]) where n > 0 {
            counter.increment(by: Int64(n))
        }
        if repeated > 0 { samplesRepeated.increment(by: Int64(repeated)) }
    }

    func rejected(_ count: Int, _ reason: RejectionReason) {
        guard count > 0 else { return }
        samplesRejected[reason]?.increment(by: Int64(count))
    }

    func rejectedHistograms(_ count: Int, _ reason: RejectionReason) {
        guard count > 0 else { return }
        histogramsRejected[reason]?.increment(by: Int64(count))
    }

    func exemplars(received: Int, stored: Int, deduplicated: Int) {
        exemplarsReceived.increment(by: Int64(received))
        if stored > 0 { exemplarsStored.increment(by: Int64(stored)) }
        if deduplicated > 0 { exemplarsDeduplicated.increment(by: Int64(deduplicated)) }
    }

    func rejectedExemplars(_ count: Int, _ reason: RejectionReason) {
        guard count > 0 else { return }
        exemplarsRejected[reason]?.increment(by: Int64(count))
    }

    func answered(_ status: Int, refused reason: RejectionReason?) {
        requestsByCode[status]?.increment()
        if let reason { requestsRefused[reason]?.increment() }
    }

    /// Records a request's latency under its handler (`other` for unknown paths).
    public func observe(path: String, duration: Duration) {
        let handler: String
        if path.hasPrefix("/api/v1/label/") { handler = "/api/v1/label/:name/values" } else if path.hasPrefix("/api/v1/status/") { handler = "/api/v1/status" } else { handler = durations[path] == nil ? "other" : path }
        durations[handler]?.record(duration)
    }

    /// The exposition text of every metric, with the gauges brought up to date first.
    func emit(head: HeadGauges) -> [UInt8] {
        headSeries.set(Double(head.series))
        headMemory.set(Double(head.memoryBytes))
        walBytes.set(Double(head.walBytes))
        headExemplars.set(Double(head.exemplars))
        headExemplarSeries.set(Double(head.exemplarSeries))
        dedupMismatch.set(Double(head.mismatchedIntervals))
        blocksLoaded.set(Double(head.blocks))
        blocksBytes.set(Double(head.blockBytes))
        resultsCachePoints.set(Double(head.cachePoints))
        resultsCacheMaxPoints.set(Double(head.cacheMaxPoints))
        emittedCounts.withLock { last in
            for (i, (counter, now)) in zip([headBlocks, compactions, retentionDeletions, maintenanceFailures], head.dbCounts).enumerated() where now > last[i] {
                counter.increment(by: Int64(now - last[i]))
                last[i] = now
            }
        }
        return registry.emitToBuffer()
    }

    struct HeadGauges {
        var series: Int
        var memoryBytes: Int
        var walBytes: Int
        var exemplars = 0
        var exemplarSeries = 0
        var mismatchedIntervals = 0
        var blocks = 0
        var blockBytes = 0
        /// The results cache's points held and most points (0 without a cache).
        var cachePoints = 0
        var cacheMaxPoints = 0
        /// Head blocks written, compactions, retention deletions, maintenance failures.
        var dbCounts = [0, 0, 0, 0]
    }
}
