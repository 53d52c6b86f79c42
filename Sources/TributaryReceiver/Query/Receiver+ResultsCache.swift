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
        var warnings: [String]
        var work = Annotations()
        if let hit = cache.lookup(key, start: start, end: end, step: step, lateWrites: lateWrites) {
            metrics.resultsCacheHits.increment()
            series = hit.series
            warnings = hit.warnings
            if hit.computeFrom <= end {
                let (value, annotations) = try engine.rangeQuery(expr, start: hit.computeFrom, end: end, step: step, querier: head.querier())
                guard case .matrix(let computed) = value else { throw APIError(.execution, "unexpected result type in range query") }
                series = ResultsCache.merge(series, computed)
                for w in annotations.warnings where !warnings.contains(w) { warnings.append(w) }
                work = annotations
            }
        } else {
            metrics.resultsCacheMisses.increment()
            let (value, annotations) = try engine.rangeQuery(expr, start: start, end: end, step: step, querier: head.querier())
            guard case .matrix(let computed) = value else { throw APIError(.execution, "unexpected result type in range query") }
            series = computed
            warnings = annotations.warnings
            work = annotations
        }
        cache.store(key, series: series, warnings: warnings, start: start, boundary: min(end, settled), lateWrites: lateWrites)
        work.warnings = warnings
        return (series, work)
    }
}
