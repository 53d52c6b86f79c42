import Foundation
import Prometheus
import TributaryModel
import TributaryPromQL
import TributaryTSDB

extension Receiver {
    /// A range query through the results cache: the cached steps of the same query reused,
    /// the rest computed, and the answer's settled steps kept for the next refresh. The answer
    /// is written from the cache's JSON for every settled step, so no step is formatted twice.
    func cachedRangeQuery(_ expr: Expr, start: Int64, end: Int64, step: Int64, engine: Engine, cache: ResultsCache) throws -> ([AnswerSeries], Annotations) {
        let key = ResultsCache.key(expr, start: start, step: step, lookback: engine.options.lookbackDelta)
        // Read before evaluating: a late write during evaluation drops what this stores.
        let lateWrites = head.lateWrites
        let boundary = min(end, nowMs - head.options.lateWriteAge)
        var cached: [CachedSeries] = []
        var computed: [SeriesResult] = []
        // The warnings of the whole answer; the work figures of what was computed now.
        var annotations = Annotations()
        if let hit = cache.lookup(key, start: start, end: end, step: step, lateWrites: lateWrites) {
            metrics.resultsCacheHits.increment()
            cached = hit.series
            annotations.warnings = hit.warnings
            if hit.computeFrom <= end {
                let (value, work) = try engine.rangeQuery(expr, start: hit.computeFrom, end: end, step: step, querier: db.querier())
                guard case .matrix(let later) = value else { throw APIError(.execution, "unexpected result type in range query") }
                computed = later
                annotations.samplesRead = work.samplesRead
                annotations.peakSamples = work.peakSamples
                annotations.add(warnings: work.warnings)
            }
        } else {
            metrics.resultsCacheMisses.increment()
            let (value, work) = try engine.rangeQuery(expr, start: start, end: end, step: step, querier: db.querier())
            guard case .matrix(let all) = value else { throw APIError(.execution, "unexpected result type in range query") }
            computed = all
            annotations = work
        }
        // Series by labels: cached steps, then the computed ones; settled steps join the cache.
        var index: [Labels: Int] = [:]
        var parts: [(CachedSeries, [Sample])] = []
        for c in cached {
            index[c.labels] = parts.count
            parts.append((c, []))
        }
        for s in computed {
            if let i = index[s.labels] {
                parts[i].1 = s.samples
            } else {
                index[s.labels] = parts.count
                parts.append((CachedSeries(labels: s.labels), s.samples))
            }
        }
        parts.sort { $0.0.labels < $1.0.labels }
        var answer: [AnswerSeries] = []
        answer.reserveCapacity(parts.count)
        for (old, samples) in parts {
            let settled = samples.partitioningIndex { $0.timestamp > boundary }
            let series = settled > 0 ? old.appending(samples[..<settled]) : old
            answer.append(AnswerSeries(cached: series, later: Array(samples[settled...])))
        }
        cache.store(key, series: answer.map(\.cached), warnings: annotations.warnings, start: start, boundary: boundary, lateWrites: lateWrites)
        return (answer, annotations)
    }
}
