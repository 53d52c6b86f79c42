import TributaryTSDB
import Synchronization

extension Receiver {
    /// `/metrics` in the Prometheus text format: ingestion counters and head gauges.
    func metricsText() -> HTTPAnswer {
        var lines: [String] = []
        func metric(_ name: String, _ type: String, _ help: String, _ value: Int) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            lines.append("\(name) \(value)")
        }
        metric("tributary_samples_received_total", "counter", "Samples received in remote-write requests.", stats.samplesReceived.load(ordering: .relaxed))
        metric("tributary_samples_stored_total", "counter", "Samples appended to the TSDB.", stats.samplesStored.load(ordering: .relaxed))
        metric("tributary_samples_deduplicated_total", "counter", "Samples dropped as HA duplicates.", stats.samplesDeduplicated.load(ordering: .relaxed))
        metric("tributary_samples_rejected_total", "counter", "Samples refused (invalid, out of order, conflicting).", stats.samplesRejected.load(ordering: .relaxed))
        metric("tributary_requests_rejected_total", "counter", "Remote-write requests refused as a whole.", stats.requestsRejected.load(ordering: .relaxed))
        metric("tributary_head_series", "gauge", "Series in the head.", head.numSeries)
        metric("tributary_head_memory_bytes", "gauge", "Approximate bytes the head holds.", head.memoryBytes)
        return HTTPAnswer(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")], body: Array((lines.joined(separator: "\n") + "\n").utf8))
    }
}
