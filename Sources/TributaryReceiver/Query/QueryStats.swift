import Foundation
import Logging
import Prometheus
import Synchronization
import TributaryPromQL

/// What one query cost: Prometheus's `stats` object (`stats=all` or any value asks for it)
/// and what the slow-query log writes.
struct QueryStats {
    /// Seconds spent waiting for a query thread, parsing, and evaluating.
    var queue = 0.0
    var prepare = 0.0
    var eval = 0.0
    var samplesRead = 0
    var queryableSamples = 0
    var peakSamples = 0

    init(queue: Double) {
        self.queue = queue
    }

    mutating func add(_ annotations: Annotations) {
        samplesRead += annotations.samplesRead
        queryableSamples += annotations.queryableSamples
        peakSamples = max(peakSamples, annotations.peakSamples)
    }

    /// `"stats":{"timings":{...},"samples":{...}}`, Prometheus's names.
    func write(to out: inout JSONWriter) {
        func field(_ name: String, _ seconds: Double, last: Bool = false) {
            out.raw("\"\(name)\":")
            out.raw(String(format: "%.9f", seconds))
            if !last { out.raw(",") }
        }
        out.raw(",\"stats\":{\"timings\":{")
        field("evalTotalTime", eval)
        field("resultSortTime", 0)  // sorting is part of evaluation here
        field("queryPreparationTime", prepare)
        field("innerEvalTime", eval)
        field("execQueueTime", queue)
        field("execTotalTime", queue + prepare + eval, last: true)
        out.raw("},\"samples\":{\"totalQueryableSamples\":\(queryableSamples),\"peakSamples\":\(peakSamples)}}")
    }
}

extension Receiver {
    /// Logs a query over `query.slow_query_threshold` with its text, range and time, and counts it.
    func noteSlow(_ query: String, range: String, _ stats: QueryStats) {
        let total = stats.queue + stats.prepare + stats.eval
        guard total * 1000 >= Double(configuration.slowQueryThreshold) else { return }
        metrics.slowQueries.increment()
        logger.warning(
            "slow query",
            metadata: [
                "query": "\(query)", "range": "\(range)", "seconds": "\(String(format: "%.3f", total))",
                "queue_seconds": "\(String(format: "%.3f", stats.queue))", "samples_read": "\(stats.samplesRead)",
                "queryable_samples": "\(stats.queryableSamples)", "peak_samples": "\(stats.peakSamples)"
            ])
    }

    /// Asks for the heap to be trimmed soon (``HeapTrimService``) after a query that held many
    /// points: what it freed is otherwise kept by glibc until the next maintenance run.
    func noteHeapUse(_ stats: QueryStats) {
        if stats.peakSamples >= HeapTrim.afterPeakSamples { heapTrimWanted.store(true, ordering: .relaxed) }
    }
}
