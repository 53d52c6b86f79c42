import Foundation
import TributaryModel

/// Series-at-a-time evaluation: the expressions dashboards are made of (selectors, range
/// functions over selectors, value functions, arithmetic with constants, sum/avg/min/max/
/// count/group/stddev/stdvar) are evaluated for all steps at once, one series after another.
/// Each series' samples are decoded once into a reused buffer and walked once for every
/// step; aggregations fold each series into per-group step arrays as it passes, so memory
/// holds one series' samples plus the result, never every touched sample.
///
/// Other expressions run step by step (``Evaluator/eval(_:at:)``); columnar sub-expressions
/// under them are computed first and read from at each step.
extension Evaluator {
    typealias SeriesSink = (inout StepSeries) throws(EvaluationError) -> Void

    /// Steps of the query: one for an instant query.
    var stepCount: Int { step == 0 ? 1 : Int((end - start) / step) + 1 }

    func stepTime(_ i: Int) -> Int64 { start + Int64(i) * step }

    /// The step evaluated at `t`, when `t` is one of the query's own steps.
    func stepIndex(of t: Int64) -> Int? {
        if step == 0 { return t == start ? 0 : nil }
        let d = t - start
        guard d >= 0, d % step == 0 else { return nil }
        let i = Int(d / step)
        return i < stepCount ? i : nil
    }

    func makeColumnContext() -> ColumnContext {
        ColumnContext(maxSamples: options.maxSamples, deadline: deadline)
    }

    /// Adds what the columnar evaluation found and counted to the query's annotations.
    mutating func note(_ context: ColumnContext) {
        annotations.add(warnings: context.warnings)
        annotations.samplesRead = context.samplesRead + samplesLoaded
        annotations.queryableSamples = context.queryable + queryable.count
        annotations.peakSamples = max(context.peak, context.points + samplesLoaded)
    }

    // MARK: which expressions

    /// Whether `expr` is an instant vector this evaluation can compute series at a time.
    static func isColumnar(_ expr: Expr) -> Bool {
        switch expr {
        case .paren(let e, _):
            return isColumnar(e)
        case .vectorSelector(let v):
            return !v.smoothed
        case .unary(_, let e, _):
            return e.type == .vector && isColumnar(e)
        case .aggregate(let a):
            switch a.op {
            case .sum, .avg, .count, .min, .max, .group, .stddev, .stdvar: return a.parameter == nil && isColumnar(a.expr)
            default: return false
            }
        case .binary(let b):
            guard !b.op.isSetOperator, b.fillLeft == nil, b.fillRight == nil else { return false }
            if constant(b.rhs) != nil { return b.lhs.type == .vector && isColumnar(b.lhs) }
            if constant(b.lhs) != nil { return b.rhs.type == .vector && isColumnar(b.rhs) }
            return b.lhs.type == .vector && b.rhs.type == .vector && isColumnar(b.lhs) && isColumnar(b.rhs)
        case .call(let c):
            if let f = RangeFunction(name: c.function.name) {
                let matrixIndex = f == .quantileOverTime ? 1 : 0
                guard case .matrixSelector(let m) = unparen(c.args[matrixIndex]), m.mode == .standard, !m.selector.smoothed else { return false }
                return c.args.indices.allSatisfy { $0 == matrixIndex || constant(c.args[$0]) != nil }
            }
            guard !c.args.isEmpty, valueFunctionNames.contains(c.function.name) else { return false }
            return isColumnar(c.args[0]) && c.args.dropFirst().allSatisfy { constant($0) != nil }
        default:
            return false
        }
    }

    /// Functions of one value that ``valueFunction(_:_:)`` implements.
    static let valueFunctionNames: Set<String> = [
        "abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "sgn", "deg", "rad", "acos", "acosh", "asin", "asinh",
        "atan", "atanh", "cos", "cosh", "sin", "sinh", "tan", "tanh", "clamp", "clamp_min", "clamp_max", "round",
        "day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year"
    ]

    /// The value of a number literal, possibly in parentheses.
    static func constant(_ expr: Expr) -> Double? {
        switch expr {
        case .number(let v, _): v
        case .paren(let e, _): constant(e)
        case .unary(_, let e, _): constant(e).map { -$0 }
        default: nil
        }
    }

    // MARK: evaluation

    /// Evaluates a columnar expression (``isColumnar(_:)``) at every step, handing its series
    /// to `sink` one at a time. Series without a value at any step are not handed on.
    func forEachSeries(_ expr: Expr, _ context: ColumnContext, _ sink: SeriesSink) throws(EvaluationError) {
        switch expr {
        case .paren(let e, _):
            try forEachSeries(e, context, sink)
        case .vectorSelector(let v):
            try selectColumns(v, context, sink)
        case .unary(_, let e, _):
            try forEachSeries(e, context) { (s: inout StepSeries) throws(EvaluationError) in
                for i in s.values.indices { s.values[i] = -s.values[i] }
                s.dropName = true
                try sink(&s)
            }
        case .binary(let b):
            if Self.constant(b.lhs) == nil && Self.constant(b.rhs) == nil {
                try vectorBinaryColumns(b, context, sink)
            } else {
                try binaryColumns(b, context, sink)
            }
        case .aggregate(let a):
            try aggregateColumns(a, context, sink)
        case .call(let c):
            if let f = RangeFunction(name: c.function.name) {
                try rangeFunctionColumns(f, c, context, sink)
            } else {
                try valueFunctionColumns(c, context, sink)
            }
        default:
            throw EvaluationError(.execution, "expression cannot be evaluated series at a time")
        }
    }

    /// All series of a columnar expression, counted against the query's sample budget.
    func columns(_ expr: Expr, _ context: ColumnContext) throws(EvaluationError) -> [StepSeries] {
        var out: [StepSeries] = []
        try forEachSeries(expr, context) { (s: inout StepSeries) throws(EvaluationError) in
            try context.hold(s.pointCount)
            out.append(s.take())
        }
        return out
    }

    /// abs, ceil, clamp, round, the date functions of a value, ...
    func valueFunctionColumns(_ c: Call, _ context: ColumnContext, _ sink: SeriesSink) throws(EvaluationError) {
        let scalars = c.args.dropFirst().compactMap(Self.constant)
        guard let f = try Self.valueFunction(c.function.name, scalars) else {
            // Empty whatever the input; the input is still evaluated, as Prometheus does (its
            // errors and its samples in `stats` count).
            try forEachSeries(c.args[0], context) { (_: inout StepSeries) throws(EvaluationError) in }
            return
        }
        try forEachSeries(c.args[0], context) { (s: inout StepSeries) throws(EvaluationError) in
            var any = false
            for i in s.values.indices where s.present[i] {
                if let v = f(s.values[i]) {
                    s.values[i] = v
                    any = true
                } else {
                    s.present[i] = false
                }
            }
            s.dropName = true
            if any { try sink(&s) }
        }
    }

    // MARK: around step-by-step evaluation

    /// Computes the columnar sub-expressions of `expr` that step-by-step evaluation would
    /// otherwise evaluate at every step (not plain selectors, which it reads directly, and
    /// nothing inside subqueries, which run at their own steps).
    mutating func precomputeColumns(_ expr: Expr, _ context: ColumnContext) throws(EvaluationError) {
        if expr.type == .vector, Self.isColumnar(expr) {
            if case .vectorSelector = Self.unparen(expr) { return }
            precomputed[NodeKey(expr)] = try columns(expr, context)
            return
        }
        switch expr {
        case .paren(let e, _), .unary(_, let e, _):
            try precomputeColumns(e, context)
        case .binary(let b):
            try precomputeColumns(b.lhs, context)
            try precomputeColumns(b.rhs, context)
        case .aggregate(let a):
            if let p = a.parameter { try precomputeColumns(p, context) }
            try precomputeColumns(a.expr, context)
        case .call(let c):
            for arg in c.args { try precomputeColumns(arg, context) }
        default:
            return
        }
    }

    /// The precomputed value of `expr` at `t`, when there is one.
    func precomputedVector(_ expr: Expr, at t: Int64) -> [VectorSample]? {
        guard let series = precomputed[NodeKey(expr)], let i = stepIndex(of: t) else { return nil }
        var out: [VectorSample] = []
        for (k, s) in series.enumerated() where s.present[i] {
            var x = VectorSample(labels: s.labels, value: s.values[i])
            x.dropName = s.dropName
            x.id = 1 << 62 | k
            out.append(x)
        }
        return out
    }

    // MARK: results

    /// The range query's matrix from columns: names dropped, series that end up with the same
    /// labels merged (an error when both have a value at the same step), sorted by labels
    /// unless `sorted` is false (then in the order of `columns`).
    func rangeResult(_ columns: [StepSeries], sorted: Bool = true) throws(EvaluationError) -> [SeriesResult] {
        var index: [Labels: Int] = [:]
        var merged: [StepSeries] = []
        // Most answers have no two series with the same labels: room for all at once, not
        // grown (and every key hashed again) a dozen times on the way to 9,000.
        index.reserveCapacity(columns.count)
        merged.reserveCapacity(columns.count)
        for var s in columns {
            if s.dropName { s.labels = s.labels.dropping(Self.nameLabels) }
            guard let i = index[s.labels] else {
                index[s.labels] = merged.count
                merged.append(s)
                continue
            }
            for k in s.present.indices where s.present[k] {
                if merged[i].present[k] { throw EvaluationError(.execution, "vector cannot contain metrics with the same labelset") }
                merged[i].present[k] = true
                merged[i].values[k] = s.values[k]
            }
        }
        var out: [SeriesResult] = []
        out.reserveCapacity(merged.count)
        for s in merged {
            var samples: [Sample] = []
            samples.reserveCapacity(s.pointCount)
            for k in s.present.indices where s.present[k] { samples.append(Sample(timestamp: stepTime(k), value: s.values[k])) }
            out.append(SeriesResult(labels: s.labels, samples: samples))
        }
        if sorted { out.sort { $0.labels < $1.labels } }
        return out
    }

    /// The instant query's vector from columns of one step.
    func instantResult(_ columns: [StepSeries]) throws(EvaluationError) -> [VectorSample] {
        let vector = columns.compactMap { s -> VectorSample? in
            guard s.present[0] else { return nil }
            var x = VectorSample(labels: s.labels, value: s.values[0])
            x.dropName = s.dropName
            return x
        }
        return try finish(vector)
    }
}
