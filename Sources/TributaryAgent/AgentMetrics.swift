import Prometheus

/// The agent's self-monitoring, under Prometheus's own remote-storage and scrape metric names
/// where those exist, in a swift-prometheus registry that `/metrics` emits.
public final class AgentMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let activeSeries: Gauge
    let highestTimestamp: Gauge
    let scrapesTotal: Counter
    let scrapesFailed: Counter
    let scrapeSamples: Counter

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        highestTimestamp = registry.makeGauge(
            descriptor: .init(metricName: "prometheus_remote_storage_highest_timestamp_in_seconds", unitName: "", helpText: "Newest sample timestamp written to the WAL the queues read."))
        activeSeries = registry.makeGauge(descriptor: .init(metricName: "prometheus_agent_active_series", unitName: "", helpText: "Series the scrape loops currently hold."))
        scrapesTotal = registry.makeCounter(descriptor: .init(metricName: "tributary_agent_scrapes_total", unitName: "", helpText: "Scrapes attempted."))
        scrapesFailed = registry.makeCounter(descriptor: .init(metricName: "tributary_agent_scrapes_failed_total", unitName: "", helpText: "Scrapes that failed (target down, timeout, bad body)."))
        scrapeSamples = registry.makeCounter(descriptor: .init(metricName: "tributary_agent_scraped_samples_total", unitName: "", helpText: "Samples written to the WAL by the scrape loops, synthetic ones included."))
    }
}
