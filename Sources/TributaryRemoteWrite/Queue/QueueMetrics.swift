import Prometheus

/// Per remote_write entry, labelled `remote_name` and `url` as Prometheus labels them.
final class QueueMetrics: Sendable {
    let samplesSent: Counter
    let samplesFailed: Counter
    let samplesRetried: Counter
    let samplesDropped: Counter
    let exemplarsSent: Counter
    let exemplarsFailed: Counter
    let samplesNotWritten: Counter
    let exemplarsNotWritten: Counter
    let bytesSent: Counter
    let metadataSent: Counter
    let metadataFailed: Counter
    let metadataRetried: Counter
    let metadataBytes: Counter
    let shards: Gauge
    let shardsDesired: Gauge
    let shardsMin: Gauge
    let shardsMax: Gauge
    let pending: Gauge
    let highestSent: Gauge
    let batchDuration: DurationHistogram

    init(_ registry: PrometheusCollectorRegistry, name: String, url: String, minShards: Int, maxShards: Int) {
        let l = [("remote_name", name), ("url", url)]
        samplesSent = registry.makeCounter(descriptor: .init(metricName: "prometheus_remote_storage_samples_total", unitName: "", helpText: "Samples sent to remote storage (counted when a request is attempted)."), labels: l)
        samplesFailed = registry.makeCounter(descriptor: .init(metricName: "prometheus_remote_storage_samples_failed_total", unitName: "", helpText: "Samples dropped after a non-retryable error."), labels: l)
        samplesRetried = registry.makeCounter(descriptor: .init(metricName: "prometheus_remote_storage_samples_retried_total", unitName: "", helpText: "Samples sent again after a retryable error."), labels: l)
        samplesDropped = registry.makeCounter(descriptor: .init(metricName: "prometheus_remote_storage_samples_dropped_total", unitName: "", helpText: "Samples dropped by write_relabel_configs or for being older than the retention."), labels: l)
        exemplarsSent = registry.makeCounter(descriptor: .init(metricName: "prometheus_remote_storage_exemplars_total", unitName: "", helpText: "Exemplars sent to remote storage (counted when a request is attempted)."), labels: l)
        exemplarsFailed = registry.makeCounter(descriptor: .init(metricName: "prometheus_remote_storage_exemplars_failed_total", unitName: "", helpText: "Exemplars dropped after a non-retryable error."), labels: l)
        samplesNotWritten = registry.makeCounter(descriptor: .init(metricName: "tributary_remote_storage_not_written_total", unitName: "", helpText: "Remote write 2.0: data a receiver answered 2xx for but did not count as written (X-Prometheus-Remote-Write-*-Written), by kind."), labels: l + [("kind", "samples")])
        exemplarsNotWritten = registry.makeCounter(descriptor: .init(metricName: "tributary_remote_storage_not_written_total", unitName: "", helpText: "Remote write 2.0: data a receiver answered 2xx for but did not count as written (X-Prometheus-Remote-Write-*-Written), by kind."), labels: l + [("kind", "exemplars")])
        bytesSent = registry.makeCounter(descriptor: .init(metricName: "prometheus_remote_storage_bytes_total", unitName: "", helpText: "Compressed bytes sent."), labels: l)
        metadataSent = registry.makeCounter(descriptor: .init(metricName: "prometheus_remote_storage_metadata_total", unitName: "", helpText: "Metric metadata entries sent (counted when a request is attempted)."), labels: l)
        metadataFailed = registry.makeCounter(descriptor: .init(metricName: "prometheus_remote_storage_metadata_failed_total", unitName: "", helpText: "Metric metadata entries dropped after a non-retryable error."), labels: l)
        metadataRetried = registry.makeCounter(descriptor: .init(metricName: "prometheus_remote_storage_metadata_retried_total", unitName: "", helpText: "Metric metadata entries sent again after a retryable error."), labels: l)
        metadataBytes = registry.makeCounter(descriptor: .init(metricName: "prometheus_remote_storage_metadata_bytes_total", unitName: "", helpText: "Compressed bytes of metric metadata sent."), labels: l)
        shards = registry.makeGauge(descriptor: .init(metricName: "prometheus_remote_storage_shards", unitName: "", helpText: "Shards sending in parallel."), labels: l)
        shardsDesired = registry.makeGauge(descriptor: .init(metricName: "prometheus_remote_storage_shards_desired", unitName: "", helpText: "Shards the last round's throughput asks for (the next round's count)."), labels: l)
        shardsMin = registry.makeGauge(descriptor: .init(metricName: "prometheus_remote_storage_shards_min", unitName: "", helpText: "queue_config.min_shards."), labels: l)
        shardsMax = registry.makeGauge(descriptor: .init(metricName: "prometheus_remote_storage_shards_max", unitName: "", helpText: "queue_config.max_shards."), labels: l)
        shardsMin.set(Double(minShards))
        shardsMax.set(Double(maxShards))
        shards.set(Double(minShards))
        shardsDesired.set(Double(minShards))
        pending = registry.makeGauge(descriptor: .init(metricName: "prometheus_remote_storage_samples_pending", unitName: "", helpText: "Samples read from the WAL and not yet delivered."), labels: l)
        highestSent = registry.makeGauge(descriptor: .init(metricName: "prometheus_remote_storage_queue_highest_sent_timestamp_seconds", unitName: "", helpText: "Newest sample timestamp delivered."), labels: l)
        batchDuration = registry.makeDurationHistogram(descriptor: .init(metricName: "prometheus_remote_storage_sent_batch_duration_seconds", unitName: "", helpText: "Duration of one send, retries excluded."), labels: l, buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5), .seconds(30)])
    }

    func notWritten(samples: Int, exemplars: Int) {
        if samples > 0 { samplesNotWritten.increment(by: Int64(samples)) }
        if exemplars > 0 { exemplarsNotWritten.increment(by: Int64(exemplars)) }
    }
}
