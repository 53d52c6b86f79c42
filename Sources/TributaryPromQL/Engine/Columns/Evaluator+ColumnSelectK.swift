import TributaryModel

/// topk and bottomk of a range query, series at a time: each input series is read once and
/// offered to its group's best-k list at every step, instead of the whole input being gathered
/// into a vector and ranked at every step (a 1-hour `topk(5, rate(...))` over 940 series spent
/// most of its time building those vectors).
///
/// Only for the whole query with a number for k: inside another expression the order of its
/// output would matter (a sum adds in input order, and step-by-step topk hands on its series
/// best first), and a k that changes per step would need the steps anyway.
extension Evaluator {
    /// The `topk`/`bottomk` at the root of `expr` when it can be evaluated series at a time.
    static func columnarSelectK(_ expr: Expr) -> (AggregateExpr, k: Double)? {
        guard case .aggregate(let a) = unparen(expr), a.op == .topk || a.op == .bottomk, let k = a.parameter.flatMap(constant),
            a.expr.type == .vector, isColumnar(a.expr)
        else { return nil }
        return (a, k)
    }

    /// The series of `a` over the query's steps: each input series with the steps at which it
    /// was among the best `parameter` of its group. Ties and NaN are settled as in
    /// ``topK(_:parameter:_:)``, by the same heap moves as Prometheus's.
    func selectKColumns(_ a: AggregateExpr, parameter: Double, _ context: ColumnContext) throws(EvaluationError) -> [StepSeries] {
        let grouping = LabelNames(a.grouping), dropped = LabelNames(a.grouping + ["__name__"])
        var groupOf: [Labels: Int] = [:]
        var inputs: [StepSeries] = []
        var groups: [Int] = []
        var members: [Int] = []
        try forEachSeries(a.expr, context) { (s: inout StepSeries) throws(EvaluationError) in
            try context.hold(s.pointCount)
            let key = a.without ? s.labels.dropping(dropped) : s.labels.keeping(grouping)
            let g = groupOf[key] ?? members.count
            if g == members.count {
                groupOf[key] = g
                members.append(0)
            }
            members[g] += 1
            groups.append(g)
            inputs.append(s.take())
        }
        // The parameter is checked after the input is read, as step by step (inner
        // expressions are computed first there, and fail first).
        let k = try Self.count(fromK: parameter)
        guard k > 0 else { return [] }
        let steps = stepCount
        let best = BestK(top: a.op == .topk)
        // Per group, per step, a heap of up to `width` (value, input) pairs.
        let widths = members.map { min(k, $0) }
        var values = widths.map { [Double](repeating: 0, count: $0 * steps) }
        var chosen = widths.map { [Int32](repeating: 0, count: $0 * steps) }
        var counts = widths.map { _ in [Int](repeating: 0, count: steps) }
        for (j, s) in inputs.enumerated() {
            let g = groups[j], width = widths[g]
            for i in 0..<steps where s.present[i] {
                best.offer(s.values[i], id: Int32(j), values: &values[g], ids: &chosen[g], base: i * width, count: &counts[g][i], k: width)
            }
        }
        var kept = [Bool](repeating: false, count: inputs.count)
        var present = inputs.map { [Bool](repeating: false, count: $0.present.count) }
        for g in widths.indices {
            let width = widths[g]
            for i in 0..<steps {
                for p in 0..<counts[g][i] {
                    let j = Int(chosen[g][i * width + p])
                    kept[j] = true
                    present[j][i] = true
                }
            }
        }
        var out: [StepSeries] = []
        for j in inputs.indices where kept[j] {
            var s = inputs[j]
            s.present = present[j]
            out.append(s)
        }
        return out
    }
}
