import Foundation
import Synchronization
import TributaryModel
import TributaryPromQL

/// Range-query answers kept so that a dashboard refreshed with its window moved forward
/// computes only the steps it has not seen (what Thanos's query frontend and
/// VictoriaMetrics's rollup cache give their users).
///
/// One entry per query text, step and step alignment: the answer's steps from the first one
/// asked up to the newest step older than the head's late-write age (newer steps may still
/// get samples and are always recomputed). Correctness rests on two facts:
/// - the value at a step depends only on samples at or before it, so samples that arrive in
///   time (newer than the late-write age) never touch a cached step; queries that can read
///   later samples (`@`, negative offsets) or depend on the query's own range (`start()`,
///   `step()`, ...) are not cached;
/// - any commit that stores an older sample bumps ``Head/lateWrites``; an entry computed
///   before that is dropped.
///
/// Concurrency: a mutex around the entries; evaluation happens outside it.
public final class ResultsCache: Sendable {
    struct Entry {
        /// ``Head/lateWrites`` read before the answer was computed.
        let lateWrites: UInt64
        /// First and last cached step.
        let start: Int64
        let end: Int64
        let series: [SeriesResult]
        let warnings: [String]
        let points: Int
        var lastUsed: UInt64
    }

    struct State {
        var entries: [String: Entry] = [:]
        var points = 0
        var clock: UInt64 = 0
    }

    /// Most points (series × steps) kept over all entries; the least recently used go first.
    public let maxPoints: Int
    private let state = Mutex(State())

    public init(maxPoints: Int = 5_000_000) {
        self.maxPoints = maxPoints
    }

    /// What a lookup found: the cached steps to reuse (already cut to the asked range) and the
    /// range left to compute.
    struct Hit {
        let series: [SeriesResult]
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

    func lookup(_ key: String, start: Int64, end: Int64, step: Int64, lateWrites: UInt64) -> Hit? {
        state.withLock { state -> Hit? in
            guard var entry = state.entries[key] else { return nil }
            guard entry.lateWrites == lateWrites else {
                state.points -= entry.points
                state.entries[key] = nil
                return nil
            }
            // Reusable when the asked range starts inside the cached steps (a window moved forward).
            guard start >= entry.start, start <= entry.end else { return nil }
            let last = start + (min(end, entry.end) - start) / step * step  // the last cached step asked for
            var series: [SeriesResult] = []
            for s in entry.series {
                let kept = s.samples.filter { $0.timestamp >= start && $0.timestamp <= last }
                if !kept.isEmpty { series.append(SeriesResult(labels: s.labels, samples: kept)) }
            }
            state.clock &+= 1
            entry.lastUsed = state.clock
            state.entries[key] = entry
            return Hit(series: series, warnings: entry.warnings, computeFrom: last + step)
        }
    }

    /// Keeps the steps of `series` up to `boundary` (computed when ``Head/lateWrites`` was
    /// `lateWrites`), replacing what the key held.
    func store(_ key: String, series: [SeriesResult], warnings: [String], start: Int64, boundary: Int64, lateWrites: UInt64) {
        guard boundary >= start else { return }
        var kept: [SeriesResult] = []
        var points = 0
        for s in series {
            let samples = s.samples.filter { $0.timestamp <= boundary }
            points += samples.count
            if !samples.isEmpty { kept.append(SeriesResult(labels: s.labels, samples: samples)) }
        }
        guard points <= maxPoints / 4 else { return }  // one answer may not take the whole cache
        state.withLock { state in
            if let old = state.entries[key] { state.points -= old.points }
            state.clock &+= 1
            state.entries[key] = Entry(
                lateWrites: lateWrites, start: start, end: boundary, series: kept, warnings: warnings, points: points, lastUsed: state.clock)
            state.points += points
            while state.points > maxPoints, let victim = state.entries.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                state.points -= victim.value.points
                state.entries[victim.key] = nil
            }
        }
    }

    /// Entries and points held (for tests and metrics).
    public var size: (entries: Int, points: Int) {
        state.withLock { ($0.entries.count, $0.points) }
    }

    /// `cached` followed by `computed` (steps after the cached ones), series by labels, sorted.
    static func merge(_ cached: [SeriesResult], _ computed: [SeriesResult]) -> [SeriesResult] {
        var index: [Labels: Int] = [:]
        var out = cached
        for (i, s) in out.enumerated() { index[s.labels] = i }
        for s in computed {
            if let i = index[s.labels] {
                out[i].samples += s.samples
            } else {
                index[s.labels] = out.count
                out.append(s)
            }
        }
        out.sort { $0.labels < $1.labels }
        return out
    }
}
