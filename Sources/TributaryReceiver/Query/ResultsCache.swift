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
        let series: [CachedSeries]
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
    /// A point takes about 45 bytes (its JSON, timestamp and offset).
    public let maxPoints: Int
    private let state = Mutex(State())

    public init(maxPoints: Int = 2_000_000) {
        self.maxPoints = maxPoints
    }

    /// What a lookup found: the cached steps to reuse (already cut to the asked range) and the
    /// range left to compute.
    struct Hit {
        let series: [CachedSeries]
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
            var series: [CachedSeries] = []
            for s in entry.series {
                let kept = s.cut(from: start, to: last)
                if !kept.timestamps.isEmpty { series.append(kept) }
            }
            state.clock &+= 1
            entry.lastUsed = state.clock
            state.entries[key] = entry
            return Hit(series: series, warnings: entry.warnings, computeFrom: last + step)
        }
    }

    /// Keeps `series` (the answer's steps from `start` up to `boundary`, computed when
    /// ``Head/lateWrites`` was `lateWrites`), replacing what the key held.
    func store(_ key: String, series: [CachedSeries], warnings: [String], start: Int64, boundary: Int64, lateWrites: UInt64) {
        guard boundary >= start else { return }
        let kept = series.filter { !$0.timestamps.isEmpty }
        let points = kept.reduce(0) { $0 + $1.timestamps.count }
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
}

/// The settled steps of one series of a cached answer, kept as the JSON the API writes for
/// them: a refreshed dashboard's answer is mostly these bytes copied, not numbers formatted
/// again (formatting was most of a large answer's time).
struct CachedSeries: Sendable {
    let labels: Labels
    /// Each step's `[seconds,"value"]` followed by a comma.
    var json: ArraySlice<UInt8>
    /// Where each step starts in `json` (indices of `json`'s base array).
    var offsets: ArraySlice<UInt32>
    var timestamps: ArraySlice<Int64>

    init(labels: Labels) {
        self.labels = labels
        json = []
        offsets = []
        timestamps = []
    }

    /// The steps in `[from, to]`, sharing this one's storage.
    func cut(from: Int64, to: Int64) -> CachedSeries {
        var out = CachedSeries(labels: labels)
        let first = timestamps.partitioningIndex { $0 >= from }
        let end = timestamps[first...].partitioningIndex { $0 > to }
        guard first < end else { return out }
        let jsonStart = Int(offsets[first])
        let jsonEnd = end < timestamps.endIndex ? Int(offsets[end]) : json.endIndex
        out.json = json[jsonStart..<jsonEnd]
        out.offsets = offsets[first..<end]
        out.timestamps = timestamps[first..<end]
        return out
    }

    /// This series' steps followed by `samples`, in storage of its own.
    func appending(_ samples: ArraySlice<Sample>) -> CachedSeries {
        var json: [UInt8] = []
        json.reserveCapacity(self.json.count + samples.count * 32)
        var offsets: [UInt32] = []
        offsets.reserveCapacity(timestamps.count + samples.count)
        let base = self.offsets.first ?? 0
        for o in self.offsets { offsets.append(o - base) }
        json.append(contentsOf: self.json)
        var timestamps = Array(self.timestamps)
        for s in samples {
            offsets.append(UInt32(json.count))
            JSONWriter.appendPoint(s.timestamp, s.value, to: &json)
            json.append(UInt8(ascii: ","))
            timestamps.append(s.timestamp)
        }
        var out = CachedSeries(labels: labels)
        out.json = json[...]
        out.offsets = offsets[...]
        out.timestamps = timestamps[...]
        return out
    }
}

/// One series of a range answer: its cached steps (as JSON) and the steps after them.
struct AnswerSeries {
    let cached: CachedSeries
    let later: [Sample]
}
