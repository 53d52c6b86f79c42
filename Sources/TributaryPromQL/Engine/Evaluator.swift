import Foundation
import TributaryModel

/// Series a selector loaded once for the whole query, with samples sorted by time.
struct LoadedSeries {
    let labels: Labels
    let samples: [Sample]
    /// Whether any sample is a stale marker (windows without need no filtering).
    let hasStale: Bool
}

/// The state of one query: its time range, the data its selectors loaded, limits and
/// annotations. Expressions are evaluated step by step over the preloaded data.
struct Evaluator {
    let options: EngineOptions
    let querier: any Querier
    /// The query's range (equal for instant queries) and step (0 for instant queries).
    let start: Int64
    let end: Int64
    let step: Int64
    let deadline: Date
    var loaded: [Int: [LoadedSeries]] = [:]
    /// Grouping keys of aggregations, per aggregation (by position) and input labels: the
    /// same series meet the same aggregation at every step.
    var groupKeys: [Int: [Labels: Labels]] = [:]
    var groupTables: [Int: GroupTable] = [:]
    /// Per selector and series, where the last window started: range queries move forward
    /// step by step, so the next window is found by a short scan instead of a search.
    var windowHints: [Int: [Int]] = [:]
    var samplesLoaded = 0
    /// Prometheus's `totalQueryableSamples` of the step-by-step evaluation, shared by copies
    /// (``evalCopy(_:at:)``).
    let queryable = QueryableCount()
    var annotations = Annotations()
    /// Columnar sub-expressions computed before step-by-step evaluation (``precomputeColumns``).
    var precomputed: [NodeKey: [StepSeries]] = [:]

    init(options: EngineOptions, querier: any Querier, start: Int64, end: Int64, step: Int64) {
        self.options = options
        self.querier = querier
        self.start = start
        self.end = end
        self.step = step
        self.deadline = Date().addingTimeInterval(options.timeout)
    }

    func checkLimits() throws(EvaluationError) {
        if Date() > deadline { throw EvaluationError.timedOut }
    }

    // MARK: preloading

    /// Loads every selector's series over the times the query will read them.
    mutating func preload(_ expr: Expr) throws(EvaluationError) {
        try preload(expr, from: start, to: end)
    }

    private mutating func preload(_ expr: Expr, from: Int64, to: Int64) throws(EvaluationError) {
        if !precomputed.isEmpty, precomputed[NodeKey(expr)] != nil { return }
        switch expr {
        case .number, .string, .timeFunction:
            return
        case .vectorSelector(let v):
            let (a, b) = window(from: from, to: to, at: v.at, offset: offset(v.offset, v.offsetExpr))
            try load(v, a - options.lookbackDelta, b)
        case .matrixSelector(let m):
            let (a, b) = window(from: from, to: to, at: m.selector.at, offset: offset(m.selector.offset, m.selector.offsetExpr))
            try load(m.selector, a - rangeOf(m), b)
        case .subquery(let s):
            let (a, b) = window(from: from, to: to, at: s.at, offset: offset(s.offset, s.offsetExpr))
            try preload(s.expr, from: a - range(s.range, s.rangeExpr), to: b)
        case .paren(let e, _), .unary(_, let e, _):
            try preload(e, from: from, to: to)
        case .binary(let b):
            try preload(b.lhs, from: from, to: to)
            try preload(b.rhs, from: from, to: to)
        case .aggregate(let a):
            if let p = a.parameter { try preload(p, from: from, to: to) }
            try preload(a.expr, from: from, to: to)
        case .call(let c):
            for arg in c.args { try preload(arg, from: from, to: to) }
        }
    }

    func window(from: Int64, to: Int64, at: AtModifier?, offset: Int64) -> (Int64, Int64) {
        if let at {
            let t = resolve(at)
            return (t - offset, t - offset)
        }
        return (from - offset, to - offset)
    }

    func resolve(_ at: AtModifier) -> Int64 {
        switch at {
        case .timestamp(let t): t
        case .start: start
        case .end: end
        }
    }

    func offset(_ value: Int64, _ expr: DurationExpr?) -> Int64 {
        expr?.evaluate(step: step, range: end - start) ?? value
    }

    func range(_ value: Int64, _ expr: DurationExpr?) -> Int64 {
        expr?.evaluate(step: step, range: end - start) ?? value
    }

    func rangeOf(_ m: MatrixSelector) -> Int64 { range(m.range, m.rangeExpr) }

    private mutating func load(_ v: VectorSelector, _ from: Int64, _ to: Int64) throws(EvaluationError) {
        let key = v.positionRange.start
        do {
            let series = try querier.selectUnsorted(v.matchers, start: from, end: to)
            var out = loaded[key] ?? []
            var seen = Set(out.map(\.labels))
            for s in series where !seen.contains(s.labels) {
                var samples: [Sample] = []
                s.appendSamples(to: &samples)
                samplesLoaded += samples.count
                if samplesLoaded > options.maxSamples {
                    throw EvaluationError(.tooManySamples, "query processing would load too many samples into memory in query execution")
                }
                out.append(LoadedSeries(labels: s.labels, samples: samples, hasStale: samples.contains(where: \.isStale)))
                seen.insert(s.labels)
            }
            loaded[key] = out
        } catch let error as EvaluationError {
            throw error
        } catch {
            throw EvaluationError(.execution, "\(error)")
        }
    }

    // MARK: evaluation

    mutating func eval(_ expr: Expr, at t: Int64) throws(EvaluationError) -> StepValue {
        if !precomputed.isEmpty, let vector = precomputedVector(expr, at: t) { return .vector(vector) }
        switch expr {
        case .number(let v, _): return .scalar(v)
        case .string(let s, _): return .string(s)
        case .paren(let e, _): return try eval(e, at: t)
        case .timeFunction(let name, _):
            switch name {
            case "start": return .scalar(Double(start) / 1000)
            case "end": return .scalar(Double(end) / 1000)
            case "range": return .scalar(Double(end - start) / 1000)
            default: return .scalar(Double(step) / 1000)
            }
        case .vectorSelector(let v):
            let picked = instantSelect(v, at: t)
            queryable.count += picked.count
            return .vector(picked)
        case .matrixSelector(let m):
            let windows = rangeSelect(m, at: t)
            queryable.count += windows.reduce(0) { $0 + $1.samples.count }
            return .matrix(windows)
        case .subquery(let s):
            return .matrix(try subquery(s, at: t))
        case .unary(_, let e, _):
            switch try eval(e, at: t) {
            case .scalar(let v): return .scalar(-v)
            case .vector(let vector):
                return .vector(
                    vector.map {
                        var s = $0; s.value = -s.value; s.dropName = true; return s
                    })
            default: throw EvaluationError(.execution, "unary minus on a non-numeric value")
            }
        case .binary(let b):
            return try binary(b, at: t)
        case .aggregate(let a):
            return try aggregate(a, at: t)
        case .call(let c):
            return try call(c, at: t)
        }
    }

    /// The latest sample of each series at `t` within the lookback window, skipping series
    /// whose latest sample is a stale marker.
    func instantSelect(_ v: VectorSelector, at t: Int64) -> [VectorSample] {
        let ref = (v.at.map(resolve) ?? t) - offset(v.offset, v.offsetExpr)
        var out: [VectorSample] = []
        for (k, s) in (loaded[v.positionRange.start] ?? []).enumerated() {
            guard let i = Self.lastIndex(s.samples, atOrBefore: ref) else { continue }
            let sample = s.samples[i]
            guard sample.timestamp > ref - options.lookbackDelta, !sample.isStale else { continue }
            var x = VectorSample(labels: s.labels, value: sample.value)
            x.id = Self.seriesID(v, k)
            out.append(x)
        }
        return out
    }

    /// Samples of each series in `(t - range, t]`, stale markers left out.
    func rangeSelect(_ m: MatrixSelector, at t: Int64) -> [SeriesResult] {
        let v = m.selector
        let ref = (v.at.map(resolve) ?? t) - offset(v.offset, v.offsetExpr)
        let lower = ref - rangeOf(m)
        var out: [SeriesResult] = []
        for s in loaded[v.positionRange.start] ?? [] {
            let from = Self.firstIndex(s.samples, after: lower)
            guard from < s.samples.count, s.samples[from].timestamp <= ref else { continue }
            var samples: [Sample] = []
            var i = from
            while i < s.samples.count, s.samples[i].timestamp <= ref {
                if !s.samples[i].isStale { samples.append(s.samples[i]) }
                i += 1
            }
            if !samples.isEmpty { out.append(SeriesResult(labels: s.labels, samples: samples)) }
        }
        return out
    }

    /// Evaluates the inner expression at the subquery's steps: multiples of the step after
    /// `t - offset - range`, up to `t - offset`.
    mutating func subquery(_ s: Subquery, at t: Int64) throws(EvaluationError) -> [SeriesResult] {
        let ref = (s.at.map(resolve) ?? t) - offset(s.offset, s.offsetExpr)
        let subStep = range(s.step, s.stepExpr) > 0 ? range(s.step, s.stepExpr) : options.defaultSubqueryStep
        let lower = ref - range(s.range, s.rangeExpr)
        var ts = Self.floorDiv(lower, subStep) * subStep
        if ts <= lower { ts += subStep }
        // Each step yields at least one point per series: refuse subqueries whose steps alone
        // exceed the sample limit, before evaluating any of them.
        if (ref - ts) / subStep >= Int64(options.maxSamples) {
            throw EvaluationError(.tooManySamples, "query processing would load too many samples into memory in query execution")
        }
        var index: [Labels: Int] = [:]
        var out: [SeriesResult] = []
        while ts <= ref {
            switch try eval(s.expr, at: ts) {
            case .vector(let vector):
                for x in vector {
                    if let i = index[x.labels] {
                        out[i].samples.append(Sample(timestamp: ts, value: x.value))
                    } else {
                        index[x.labels] = out.count
                        var r = SeriesResult(labels: x.labels, samples: [Sample(timestamp: ts, value: x.value)])
                        r.dropName = x.dropName
                        out.append(r)
                    }
                }
            case .scalar(let v):
                if index[.empty] == nil {
                    index[.empty] = out.count
                    out.append(SeriesResult(labels: .empty, samples: []))
                }
                if let i = index[.empty] { out[i].samples.append(Sample(timestamp: ts, value: v)) }
            default:
                throw EvaluationError(.execution, "subquery of a non-vector expression")
            }
            try checkLimits()
            ts += subStep
        }
        return out
    }

    /// A query-wide identity for series `index` of selector `v`.
    static func seriesID(_ v: VectorSelector, _ index: Int) -> Int {
        v.positionRange.start << 32 | index
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// Index of the last sample with timestamp ≤ t.
    static func lastIndex(_ samples: [Sample], atOrBefore t: Int64) -> Int? {
        var low = 0, high = samples.count
        while low < high {
            let mid = (low + high) / 2
            if samples[mid].timestamp <= t { low = mid + 1 } else { high = mid }
        }
        return low > 0 ? low - 1 : nil
    }

    /// Index of the first sample with timestamp > t, scanning forward from `hint` when the
    /// answer cannot be before it.
    @inline(__always)
    static func firstIndex(_ samples: [Sample], after t: Int64, hint: Int) -> Int {
        if hint > 0, hint <= samples.count, samples[hint - 1].timestamp <= t {
            var i = hint
            var steps = 0
            while i < samples.count, samples[i].timestamp <= t {
                i += 1
                steps += 1
                if steps == 16 { return firstIndex(samples, after: t) }
            }
            return i
        }
        return firstIndex(samples, after: t)
    }

    /// Index of the first sample with timestamp > t.
    static func firstIndex(_ samples: [Sample], after t: Int64) -> Int {
        var low = 0, high = samples.count
        while low < high {
            let mid = (low + high) / 2
            if samples[mid].timestamp <= t { low = mid + 1 } else { high = mid }
        }
        return low
    }

    // MARK: results

    /// Drops metric names marked for removal and refuses duplicate label sets.
    /// Dropped together: the metric name and the type-and-unit labels that qualify it.
    static let nameLabels = LabelNames(["__name__", "__type__", "__unit__"])

    func finish(_ vector: [VectorSample]) throws(EvaluationError) -> [VectorSample] {
        try Self.finish(vector)
    }

    func finish(_ matrix: [SeriesResult]) throws(EvaluationError) -> [SeriesResult] {
        try Self.finish(matrix)
    }

    /// Drops the names marked for removal, then refuses duplicate label sets. Generic over
    /// a protocol rather than key paths: a key path is followed at run time (four per item,
    /// ~2 % of a one-step query over 1,176 series).
    static func finish<T: Labelled>(_ items: [T]) throws(EvaluationError) -> [T] {
        var out = items
        var seen = Set<Labels>()
        for i in out.indices {
            if out[i].dropName { out[i].labels = out[i].labels.dropping(nameLabels) }
            guard seen.insert(out[i].labels).inserted else {
                throw EvaluationError(.execution, "vector cannot contain metrics with the same labelset")
            }
        }
        return out
    }
}

/// A result element whose metric name may be dropped at the end (``Evaluator/finish(_:)``).
protocol Labelled {
    var labels: Labels { get set }
    var dropName: Bool { get }
}

extension VectorSample: Labelled {}
extension SeriesResult: Labelled {}

/// Label names as bytes, made once for an operation that filters many label sets (a
/// grouping, `on`/`ignoring`, the name labels): comparing them with a set's bytes needs no
/// `String` per label.
///
/// Kept sorted (as a set's pairs are, by their names' bytes), so a set is filtered by walking
/// both together: the walk ends at the first pair sorted after the last name, and the pairs
/// after it are copied in one append (dropping) or never read (keeping). A repeated name is
/// passed over like any name sorted before the pair being read. `a / b`'s signatures drop
/// `__name__`, which sorts before the usual names; `by (group)` keeps one from the middle.
/// Reading every pair's name and searching the list for it cost ~200 instructions a pair (a
/// sixth of a one-step `1 - a / b`, callgrind).
struct LabelNames {
    let names: [[UInt8]]

    init(_ names: some Sequence<String>) {
        self.names = names.map { Array($0.utf8) }.sorted { a, b in a.withUnsafeBytes { a in b.withUnsafeBytes { b in FlatLabels.compare(a, b) < 0 } } }
    }

    /// Appends the pairs of `labels` whose name is (`keep`) or is not one of these to `out`,
    /// in the flat encoding (the bytes of ``Labels/keeping(_:)`` or ``Labels/dropping(_:)-(LabelNames)``).
    /// Kept pairs are copied as they are encoded, each run of them in one append. A malformed
    /// pair ends the set (the whole pairs before it are filtered); where the walk has ended
    /// before it, dropping copies the rest unread.
    func appendFiltered(_ labels: Labels, keep: Bool, to out: inout [UInt8]) {
        // `sum(x)`, `count(x)`: nothing kept, and no pair read.
        if keep, names.isEmpty { return }
        labels.withView { view in
            let bytes = view.bytes
            var run = 0  // where the kept pairs not yet copied start
            let end = walk(bytes) { pair, next, listed in
                guard listed != keep else { return }
                if run < pair { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[run..<pair])) }
                run = next
            }
            // After the walk: dropping keeps every pair left, keeping none.
            let last = keep || end.malformed ? end.offset : bytes.count
            if run < last { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[run..<last])) }
        }
    }

    /// Whether filtering `labels` (as ``appendFiltered(_:keep:to:)``) leaves out any pair.
    func leavesOut(_ labels: Labels, keep: Bool) -> Bool {
        labels.withView { view in
            var out = false
            let end = walk(view.bytes) { _, _, listed in if listed != keep { out = true } }
            // Keeping: pairs after the walk's end are left out.
            return out || (keep && end.offset < view.bytes.count)
        }
    }

    /// Calls `pair` with each pair's bounds and whether its name is one of these, in order,
    /// up to the first pair sorted after every name (the pairs after it are not read), the end
    /// of the bytes, or a malformed pair (not called for it); returns where it stopped (the
    /// first pair not read) and whether a malformed pair stopped it.
    private func walk(
        _ bytes: UnsafeRawBufferPointer, _ pair: (_ start: Int, _ next: Int, _ listed: Bool) -> Void
    ) -> (offset: Int, malformed: Bool) {
        var offset = 0
        var n = 0  // names before names[n] sort before the pairs not yet read
        while offset < bytes.count, n < names.count {
            let start = offset
            guard let name = FlatLabels.readString(bytes, at: &offset), FlatLabels.readString(bytes, at: &offset) != nil else {
                return (start, true)
            }
            var order = 1
            while n < names.count {
                order = names[n].withUnsafeBytes { FlatLabels.compare(name, $0) }
                if order <= 0 { break }
                n += 1
            }
            if order == 0 { n += 1 }
            pair(start, offset, order == 0)
        }
        return (offset, false)
    }
}

extension Labels {
    /// These labels without `names`.
    func dropping(_ names: String...) -> Labels {
        filtered(LabelNames(names), keep: false)
    }

    func dropping(_ names: LabelNames) -> Labels {
        filtered(names, keep: false)
    }

    /// Only the labels in `names`.
    func keeping(_ names: LabelNames) -> Labels {
        filtered(names, keep: true)
    }

    /// The labels whose name is (`keep`) or is not in `names`, copied as bytes (binary
    /// operators drop `__name__` from every series of their answer: through `String` pairs
    /// that took a tenth of a large answer's time).
    private func filtered(_ names: LabelNames, keep: Bool) -> Labels {
        guard names.leavesOut(self, keep: keep) else { return self }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(self.bytes.count)
        names.appendFiltered(self, keep: keep, to: &bytes)
        return Labels(trustedBytes: bytes)
    }

    /// With `name` set to `value` (removed when empty).
    func setting(_ name: String, _ value: String) -> Labels {
        var b = LabelsBuilder(self)
        b.set(name, value)
        return b.labels()
    }
}

/// A count that copies of an ``Evaluator`` share.
final class QueryableCount {
    var count = 0
}
