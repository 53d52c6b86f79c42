import Foundation
import Prometheus
import TributaryModel
import TributaryPromQL
import TributaryTSDB

extension Receiver {
    /// A range query through the results cache: the cached steps of the same query reused,
    /// the rest computed, and the answer's settled steps kept for the next refresh.
    func cachedRangeQuery(_ expr: Expr, start: Int64, end: Int64, step: Int64, engine: Engine, cache: ResultsCache) throws -> ([SeriesResult], Annotations) {
        let key = ResultsCache.key(expr, start: start, step: step, lookback: engine.options.lookbackDelta)
        // Read before evaluating: a late write during evaluation drops what this stores.
        let lateWrites = head.lateWrites
        let settled = nowMs - head.options.lateWriteAge
        var series: [SeriesResult]
        // The warnings of the whole answer; the work figures of what was computed now.
        var annotations = Annotations()
        if let hit = cache.lookup(key, start: start, end: end, step: step, lateWrites: lateWrites) {
            metrics.resultsCacheHits.increment()
            series = hit.series
            annotations.warnings = hit.warnings
            if hit.computeFrom <= end {
                let (value, computed) = try engine.rangeQuery(expr, start: hit.computeFrom, end: end, step: step, querier: db.querier())
                guard case .matrix(let later) = value else { throw APIError(.execution, "unexpected result type in range query") }
                series = ResultsCache.merge(series, later)
                annotations.samplesRead = computed.samplesRead
                annotations.peakSamples = computed.peakSamples
                annotations.add(warnings: computed.warnings)
            }
        } else {
            metrics.resultsCacheMisses.increment()
            let (value, computed) = try engine.rangeQuery(expr, start: start, end: end, step: step, querier: db.querier())
            guard case .matrix(let all) = value else { throw APIError(.execution, "unexpected result type in range query") }
            series = all
            annotations = computed
        }
        cache.store(key, series: series, warnings: annotations.warnings, start: start, boundary: min(end, settled), lateWrites: lateWrites)
        return (series, annotations)
    }
}
