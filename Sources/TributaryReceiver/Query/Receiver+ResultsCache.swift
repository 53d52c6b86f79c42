import Foundation
import Prometheus
import TributaryModel
import TributaryPromQL
import TributaryTSDB

extension Receiver {
    /// A range query through the results cache: the cached steps of the same query that no
    /// write since has touched reused, the rest computed, and the whole answer kept for the
    /// next refresh. The answer is written from the cache's JSON, so no step is formatted twice;
    /// one computed whole that the cache would not keep is handed back as computed.
    func cachedRangeQuery(_ expr: Expr, start: Int64, end: Int64, step: Int64, engine: Engine, cache: ResultsCache) throws -> (CachedAnswer, Annotations) {
        let key = ResultsCache.key(expr, start: start, step: step, lookback: engine.options.lookbackDelta)
        // Taken before the lookup and the evaluation: whatever is written after them is
        // measured from here by the next refresh.
        let mark = head.recentWrites.mark()
        let removals = head.removals
        var cached: [CachedSeries] = []
        var computed: [SeriesResult] = []
        // The warnings of the whole answer; the work figures of what was computed now.
        var annotations = Annotations()
        var reused = false
        if let hit = cache.lookup(key, start: start, end: end, step: step, removals: removals, oldestWritten: head.recentWrites.oldestWritten(since:)) {
            metrics.resultsCacheHits.increment()
            reused = true
            cached = hit.series
            annotations.warnings = hit.warnings
            if hit.computeFrom <= end {
                let (value, work) = try engine.rangeQuery(expr, start: hit.computeFrom, end: end, step: step, querier: db.querier())
                guard case .matrix(let later) = value else { throw APIError(.execution, "unexpected result type in range query") }
                computed = later
                annotations.samplesRead = work.samplesRead
                annotations.queryableSamples = work.queryableSamples
                annotations.peakSamples = work.peakSamples
                annotations.add(warnings: work.warnings)
            }
        } else {
            metrics.resultsCacheMisses.increment()
            let (value, work) = try engine.rangeQuery(expr, start: start, end: end, step: step, querier: db.querier())
            guard case .matrix(let all) = value else { throw APIError(.execution, "unexpected result type in range query") }
            annotations = work
            // Too large for the cache to keep: written as computed, a part at a time, instead
            // of as the cache's JSON of every step first (a 6 h panel of 4,704 series: 135 MB
            // of JSON held at once, only for the cache to turn it away).
            guard cache.keeps(points: all.reduce(0) { $0 + $1.samples.count }) else {
                return (.uncached(value), annotations)
            }
            computed = all
        }
        // Both in label order (the cache keeps answers so): one walk pairs a series' cached
        // steps with its computed ones.
        computed.sort { $0.labels < $1.labels }
        var pairs: [Pair] = []
        pairs.reserveCapacity(max(cached.count, computed.count))
        var i = 0
        var j = 0
        while i < cached.count || j < computed.count {
            if j == computed.count || (i < cached.count && cached[i].labels < computed[j].labels) {
                pairs.append(.cached(i))
                i += 1
            } else if i == cached.count || computed[j].labels < cached[i].labels {
                pairs.append(.computed(j))
                j += 1
            } else {
                pairs.append(.both(i, j))
                i += 1
                j += 1
            }
        }
        // The computed steps formatted as JSON (most of a cold answer's writing), on the
        // query's helper threads when it has them; each task initialises its own slot.
        let series = [CachedSeries](unsafeUninitializedCapacity: pairs.count) { answer, count in
            runTasks(on: WorkerPool.spreading(pairs.count, on: engine.options.workers), tasks: pairs.count) { _, k in
                let made: CachedSeries
                switch pairs[k] {
                case .cached(let c): made = cached[c]
                case .computed(let n): made = CachedSeries(labels: computed[n].labels).appending(computed[n].samples[...])
                case .both(let c, let n): made = computed[n].samples.isEmpty ? cached[c] : cached[c].appending(computed[n].samples[...])
                }
                answer.initializeElement(at: k, to: made)
            }
            count = pairs.count
        }
        cache.store(key, series: series, warnings: annotations.warnings, start: start, end: end, mark: mark, removals: removals)
        return (.cached(series, hit: reused), annotations)
    }

    /// A range answer through the results cache: the cache's series (`hit`: cached steps were
    /// reused), or, when it was computed whole and is too large to keep, the engine's matrix.
    enum CachedAnswer {
        case cached([CachedSeries], hit: Bool)
        case uncached(QueryValue)
    }

    /// Where one series of a cached range answer comes from.
    private enum Pair {
        case cached(Int)
        case computed(Int)
        /// Cached steps followed by newly computed ones.
        case both(Int, Int)
    }
}
