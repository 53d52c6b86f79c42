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
        // The steps a scrape still to come may change are kept apart (``CachedSeries``).
        let settled = CachedSeries.settledThrough(newest: head.maxTime)
        var cached: [CachedSeries] = []
        var positions: SeriesPositions? = nil
        var computed: [SeriesResult] = []
        // The warnings of the whole answer; the work figures of what was computed now.
        var annotations = Annotations()
        var reused = false
        if let hit = cache.lookup(key, start: start, end: end, step: step, removals: removals, oldestWritten: head.recentWrites.oldestWritten(since:)) {
            metrics.resultsCacheHits.increment()
            reused = true
            cached = hit.series
            positions = hit.positions
            annotations.warnings = hit.warnings
            if hit.computeFrom <= end {
                // In the order evaluated: paired with the cached series below by their places.
                if positions == nil { positions = SeriesPositions(cached) }
                let (value, work) = try engine.rangeQuery(expr, start: hit.computeFrom, end: end, step: step, querier: db.querier(), sorted: false)
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
        let (pairs, same) = Self.pair(cached, computed, positions)
        // The computed steps formatted as JSON (most of a cold answer's writing), on the
        // query's helper threads when it has them; each task initialises its own slot.
        let series = [CachedSeries](unsafeUninitializedCapacity: pairs.count) { answer, count in
            runTasks(on: WorkerPool.spreading(pairs.count, on: engine.options.workers), tasks: pairs.count) { _, k in
                let made: CachedSeries
                switch pairs[k] {
                case .cached(let c): made = cached[c]
                case .computed(let n): made = CachedSeries(labels: computed[n].labels).appending(computed[n].samples[...], settledThrough: settled)
                case .both(let c, let n): made = cached[c].appending(computed[n].samples[...], settledThrough: settled)
                }
                answer.initializeElement(at: k, to: made)
            }
            count = pairs.count
        }
        cache.store(
            key, series: series, positions: same ? positions : nil, warnings: annotations.warnings, start: start, end: end, mark: mark,
            removals: removals)
        return (.cached(series, hit: reused), annotations)
    }

    /// The answer's series in label order (the cache keeps answers so), each from its cached
    /// steps (`cached`, in label order, some possibly with none), its computed ones, or both;
    /// and whether they are `cached`'s own, each in its place. A computed series continues the
    /// cached one at its place in `positions` (by labels; all are new without them, on a miss);
    /// the series new to the answer are sorted and put among them.
    private static func pair(_ cached: [CachedSeries], _ computed: [SeriesResult], _ positions: SeriesPositions?) -> ([Pair], same: Bool) {
        var continued = [Int](repeating: -1, count: cached.count)
        var fresh: [Int] = []
        for j in computed.indices where !computed[j].samples.isEmpty {
            if let c = positions?[computed[j].labels] { continued[c] = j } else { fresh.append(j) }
        }
        fresh.sort { computed[$0].labels < computed[$1].labels }
        var pairs: [Pair] = []
        pairs.reserveCapacity(cached.count + fresh.count)
        var same = fresh.isEmpty
        var f = 0
        for c in cached.indices {
            while f < fresh.count, computed[fresh[f]].labels < cached[c].labels {
                pairs.append(.computed(fresh[f]))
                f += 1
            }
            if continued[c] >= 0 {
                pairs.append(.both(c, continued[c]))
            } else if cached[c].count > 0 {
                pairs.append(.cached(c))
            } else {
                same = false  // no step left in the window, and none new
            }
        }
        pairs.append(contentsOf: fresh[f...].map { .computed($0) })
        return (pairs, same)
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
