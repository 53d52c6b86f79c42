import Foundation
import Synchronization
import TributaryModel
import TributaryPromQL
import TributaryTSDB

/// Range-query answers kept so that a dashboard refreshed with its window moved forward
/// computes only the steps it has not seen (what Thanos's query frontend and
/// VictoriaMetrics's rollup cache give their users).
///
/// One entry per query text, step and step alignment: the answer's steps from the first one
/// asked to the last. Correctness rests on three facts:
/// - the value at a step depends only on samples at or before it, so a sample at `t` changes
///   no step before `t`; queries that can read later samples (`@`, negative offsets) or depend
///   on the query's own range (`start()`, `step()`, ...) are not cached;
/// - the head tells the oldest sample stored since an entry was computed
///   (``RecentWrites``): a refresh reuses the steps before it and recomputes the rest. With
///   agents writing as they scrape, that is the last scrape-and-send delay (seconds); after an
///   HA backlog or an out-of-order sample, from that sample on;
/// - deletions and retention bump ``Head/removals``; an entry computed before that is dropped.
///
/// Other caches keep a fixed age instead (VictoriaMetrics's `-search.cacheTimestampOffset`, 5
/// minutes; Thanos's `max_freshness`) and recompute it on every refresh.
///
/// Concurrency: a mutex around the entries; evaluation happens outside it.
public final class ResultsCache: Sendable {
    struct Entry {
        /// ``RecentWrites/mark()`` and ``Head/removals`` taken before the answer was computed.
        let mark: RecentWrites.Mark
        let removals: UInt64
        /// First and last cached step.
        let start: Int64
        let end: Int64
        let series: [CachedSeries]
        /// The places of `series`, once made (``SeriesPositions``).
        let positions: SeriesPositions?
        let warnings: [String]
        let points: Int
        var lastUsed: UInt64
    }

    struct State {
        var entries: [String: Entry] = [:]
        var points = 0
        var clock: UInt64 = 0
    }

    /// Most points (series × steps) kept over all entries; the least recently used go first,
    /// and an answer over half of it is not kept. A point takes about 45 bytes (its JSON,
    /// timestamp and end, an eighth more for room to append in place; ``CachedSteps``) and
    /// its share of the compressed runs: ``bytesPerPoint`` in all.
    public let maxPoints: Int
    private let state = Mutex(State())

    public init(maxPoints: Int = 2_000_000) {
        self.maxPoints = maxPoints
    }

    /// Bytes a cached point takes in all (its JSON, its share of the compressed runs and of
    /// the storage's room to grow): what sizes the default below. Measured as the process's
    /// own memory grew per point stored: 49 for a 6 h panel of 4,704 filesystem ratios, 57
    /// after two refreshes (both in gzip); the runs a series keeps joined
    /// (``CachedFragments/Joined``) hold its compressed steps a second time, ~13 bytes a
    /// point for those ratios (3.2 MB compressed for 226k points), so 72.
    static let bytesPerPoint = 72

    /// The size when the configuration leaves it to the machine (`results_cache_max_points`
    /// 0): a 32nd of the memory the process may use (``MachineMemory``), in points. About
    /// what VictoriaMetrics gives its rollup cache (a 16th of the 60 % of memory it allows
    /// itself), so that a machine sized for a larger TSDB keeps larger dashboards: 11M points
    /// with 24 GiB, enough for a 6 h panel of 4,700 series at 30 s; 930k with 2 GiB. 2M when
    /// the memory is not known; never under 100k.
    static func defaultMaxPoints(memory: Int?) -> Int {
        guard let memory else { return 2_000_000 }
        return max(100_000, memory / 32 / bytesPerPoint)
    }

    /// What a lookup found: the cached steps to reuse (already cut to the asked range) and the
    /// range left to compute.
    struct Hit {
        /// The entry's series in its order, each cut to the asked range: a series may have no
        /// step left in it (then it is in the answer only if new steps are computed for it).
        let series: [CachedSeries]
        /// Their places by labels, when the entry had them.
        let positions: SeriesPositions?
        let warnings: [String]
        /// First step still to compute (after the cached ones).
        let computeFrom: Int64
    }

    /// Whether answers of `expr` may be cached: nothing in it reads after the evaluation time
    /// or depends on the query's start, end or step.
    static func isCacheable(_ expr: Expr) -> Bool {
        switch expr {
        case .number, .string: return true
        case .timeFunction: return false
        case .vectorSelector(let v): return v.at == nil && v.offsetExpr == nil && v.offset >= 0
        case .matrixSelector(let m):
            return m.selector.at == nil && m.selector.offsetExpr == nil && m.selector.offset >= 0 && m.rangeExpr == nil
        case .subquery(let s):
            return s.at == nil && s.offsetExpr == nil && s.offset >= 0 && s.rangeExpr == nil && s.stepExpr == nil && isCacheable(s.expr)
        case .paren(let e, _), .unary(_, let e, _): return isCacheable(e)
        case .binary(let b): return isCacheable(b.lhs) && isCacheable(b.rhs)
        case .aggregate(let a): return (a.parameter.map(isCacheable) ?? true) && isCacheable(a.expr)
        case .call(let c): return c.args.allSatisfy(isCacheable)
        }
    }

    static func key(_ expr: Expr, start: Int64, step: Int64, lookback: Int64) -> String {
        let phase = ((start % step) + step) % step
        return "\(step)/\(phase)/\(lookback)/" + expr.formatted
    }

    /// The cached steps of `key` that `[start, end]` can reuse: those before the oldest sample
    /// written since the entry was computed (`oldestWritten(mark)`, nil when that is no longer
    /// known, which drops the entry).
    func lookup(_ key: String, start: Int64, end: Int64, step: Int64, removals: UInt64, oldestWritten: (RecentWrites.Mark) -> Int64?) -> Hit? {
        let found = state.withLock { state -> (series: [CachedSeries], positions: SeriesPositions?, warnings: [String], last: Int64)? in
            guard var entry = state.entries[key] else { return nil }
            guard entry.removals == removals, let written = oldestWritten(entry.mark) else {
                state.points -= entry.points
                state.entries[key] = nil
                return nil
            }
            // Reusable when the asked range starts inside the cached steps (a window moved
            // forward), up to the last step before the oldest write.
            let limit = min(end, entry.end, written == .min ? .min : written - 1)
            guard start >= entry.start, start <= limit else { return nil }
            state.clock &+= 1
            entry.lastUsed = state.clock
            state.entries[key] = entry
            return (entry.series, entry.positions, entry.warnings, start + (limit - start) / step * step)
        }
        guard let found else { return nil }
        // Cut outside the lock: other dashboards' lookups need not wait for this one's series.
        // Each stays in its place, even with no step left (``Hit/series``).
        let series = found.series.map { $0.cut(from: start, to: found.last) }
        return Hit(series: series, positions: found.positions, warnings: found.warnings, computeFrom: found.last + step)
    }

    /// Keeps `series` (the answer's steps from `start` to `end`, computed after `mark` and
    /// `removals` were taken), replacing what the key held. `positions`: their places, when
    /// known (then every series has steps: none is left out below, so the places hold).
    func store(
        _ key: String, series: [CachedSeries], positions: SeriesPositions?, warnings: [String], start: Int64, end: Int64,
        mark: RecentWrites.Mark, removals: UInt64
    ) {
        guard end >= start else { return }
        let kept = series.filter { $0.count > 0 }
        let points = kept.reduce(0) { $0 + $1.count }
        // (A quarter, as this was, left every answer over 500k points uncached by default: a
        // 6 h panel of 1,200 series at 30 s is 870k, and each refresh computed it whole.)
        guard keeps(points: points) else { return }
        state.withLock { state in
            if let old = state.entries[key] { state.points -= old.points }
            state.clock &+= 1
            state.entries[key] = Entry(
                mark: mark, removals: removals, start: start, end: end, series: kept, positions: positions, warnings: warnings, points: points,
                lastUsed: state.clock)
            state.points += points
            while state.points > maxPoints, let victim = state.entries.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                state.points -= victim.value.points
                state.entries[victim.key] = nil
            }
        }
    }

    /// Whether an answer of `points` points is kept: at most half the cache, so that a large
    /// panel leaves room for the rest of its dashboard.
    func keeps(points: Int) -> Bool { points <= maxPoints / 2 }

    /// Compressed runs held over all entries (with `plain`, also the runs that compressed too
    /// little to keep and go as JSON), of `steps` steps when given (for tests).
    func compressedRuns(steps: Int64? = nil, plain: Bool = false) -> Int {
        state.withLock { $0.entries.values.reduce(0) { n, e in e.series.reduce(n) { $0 + $1.fragments.count(steps: steps, plain: plain) } } }
    }

    /// The bytes of the edge runs kept short (``CachedFragments/Kept/short``) in series that
    /// hold compressed runs (which answers send compressed), or with `inRuns` false, in series
    /// that do not (for tests).
    func shortEdgeRuns(inRuns: Bool = true) -> [[UInt8]] {
        state.withLock { $0.entries.values.flatMap { e in e.series.flatMap { $0.fragments.shortEdgeRuns(inRuns: inRuns) } } }
    }

    /// The steps each cached series holds joined (``CachedFragments/Joined``), by the series'
    /// labels (for tests).
    func joinedRuns() -> [Labels: ClosedRange<Int64>] {
        state.withLock { state in
            var out: [Labels: ClosedRange<Int64>] = [:]
            for e in state.entries.values {
                for s in e.series { if let joined = s.fragments.joined { out[s.labels] = joined.first...joined.last } }
            }
            return out
        }
    }

    /// The storage of every cached series' recent steps (for tests: a refresh that writes its
    /// new recent steps in place keeps it).
    func recentStorages() -> [CachedSteps] {
        state.withLock { $0.entries.values.flatMap { e in e.series.compactMap(\.recent) } }
    }

    /// Times the cached series sent their joined runs, over all entries (for tests).
    func joinedSends() -> Int {
        state.withLock { $0.entries.values.reduce(0) { n, e in e.series.reduce(n) { $0 + $1.fragments.joinedSends } } }
    }

    /// Cached series holding their opening compressed (for tests).
    func keptOpenings() -> Int {
        state.withLock { $0.entries.values.reduce(0) { n, e in e.series.reduce(n) { $0 + ($1.fragments.holdsOpening ? 1 : 0) } } }
    }

    /// The storage of every cached series' settled steps (for tests: a refresh that extends
    /// them in place keeps it).
    func settledStorages() -> [CachedSteps] {
        state.withLock { $0.entries.values.flatMap { e in e.series.compactMap(\.steps) } }
    }

    /// Entries and points held (for tests and metrics).
    public var size: (entries: Int, points: Int) {
        state.withLock { ($0.entries.count, $0.points) }
    }
}
