import Foundation
import TributaryModel

/// Arithmetic and comparisons over columns: with a constant, and between two vectors with
/// Prometheus's vector matching (one-to-one, group_left, group_right). Label work (match
/// signatures, result labels) is done once per series; each step only compares integers.
extension Evaluator {
    /// Vector op constant, constant op vector: arithmetic, or comparisons that filter or,
    /// with `bool`, give 0 or 1.
    func binaryColumns(_ b: BinaryExpr, _ context: ColumnContext, _ sink: SeriesSink) throws(EvaluationError) {
        let scalarOnLeft = Self.constant(b.rhs) == nil
        guard let scalar = Self.constant(scalarOnLeft ? b.lhs : b.rhs) else { return }
        try forEachSeries(scalarOnLeft ? b.rhs : b.lhs, context) { (s: inout StepSeries) throws(EvaluationError) in
            var any = false
            for i in s.values.indices where s.present[i] {
                let v = s.values[i]
                guard let r = Self.apply(b.op, scalarOnLeft ? scalar : v, scalarOnLeft ? v : scalar) else {
                    s.present[i] = false
                    continue
                }
                if b.op.isComparison && !b.returnBool {
                    // A filter keeps the vector's value.
                    if r != 1 { s.present[i] = false; continue }
                } else {
                    s.values[i] = r
                }
                any = true
            }
            if !b.op.isComparison || b.returnBool { s.dropName = true }
            if any { try sink(&s) }
        }
    }

    /// Vector op vector. Steps run in order and, within a step, series in the order the
    /// step-by-step evaluation meets them, so a query that breaks a matching rule fails with
    /// the same error at the same step.
    func vectorBinaryColumns(_ b: BinaryExpr, _ context: ColumnContext, _ sink: SeriesSink) throws(EvaluationError) {
        var lhs = try columns(b.lhs, context)
        var rhs = try columns(b.rhs, context)
        let matching = b.matching ?? VectorMatching()
        let card = matching.cardinality
        // With group_right the roles swap: the "one" side is the left.
        var (many, one) = card == .oneToMany ? (rhs, lhs) : (lhs, rhs)
        // Each series' signature numbered by its bytes (see LabelSetIndex).
        let (signatureNames, keep) = Self.signatureNames(b.matching)
        var index = LabelSetIndex<StableLabelHash>()
        var key: [UInt8] = []
        func signatureID(_ labels: Labels) -> Int {
            key.removeAll(keepingCapacity: true)
            signatureNames.appendFiltered(labels, keep: keep, to: &key)
            return index.number(of: key).number
        }
        let oneSignature = one.map { signatureID($0.labels) }
        let manySignature = many.map { signatureID($0.labels) }
        let signatures = index.sets
        let filter = b.op.isComparison && !b.returnBool
        if card == .oneToOne, matching.include.isEmpty,
            let partner = Self.uniquePartners(many: manySignature, one: oneSignature, signatures: signatures.count)
        {
            // The sides' arrays held once (by `many` and `one`), so that the pairs are computed
            // in the many side's columns.
            (lhs, rhs) = ([], [])
            try pairColumns(b, &many, one, partner, filter: filter, sink)
            return
        }

        // Output series: one per many-side series, or per (many, one) pair when the result
        // takes labels from the one side (group_left(labels)).
        struct Slot {
            var series: StepSeries
            /// Identity of the result's labels for the uniqueness check of group_left/right.
            let resultKey: Int
        }
        var slots: [Slot] = []
        var slotOfMany = Array(repeating: -1, count: many.count)
        var slotOfPair: [Int: Int] = [:]
        var resultKeys: [Labels: Int] = [:]
        let steps = stepCount
        func slot(_ m: Int, _ o: Int) -> Int {
            if matching.include.isEmpty, slotOfMany[m] >= 0 { return slotOfMany[m] }
            if !matching.include.isEmpty, let s = slotOfPair[m * one.count + o] { return s }
            let labels = resultMetric(many[m].labels, one[o].labels, b)
            let dropName = filter ? many[m].dropName : true
            let key = dropName ? labels.dropping("__name__") : labels
            let keyID = resultKeys[key] ?? resultKeys.count
            resultKeys[key] = keyID
            slots.append(Slot(series: StepSeries(labels: labels, steps: steps, dropName: dropName), resultKey: keyID))
            if matching.include.isEmpty { slotOfMany[m] = slots.count - 1 } else { slotOfPair[m * one.count + o] = slots.count - 1 }
            return slots.count - 1
        }

        // The one-side series of each signature at step oneAt[signature].
        var oneBySignature = Array(repeating: -1, count: signatures.count)
        var oneAt = Array(repeating: -1, count: signatures.count)
        var matchedAt = Array(repeating: -1, count: signatures.count)
        var resultAt: [Int] = []
        for i in 0..<steps {
            for (o, s) in one.enumerated() where s.present[i] {
                let sig = oneSignature[o]
                if oneAt[sig] == i {
                    let side = card == .oneToMany ? "left" : "right"
                    throw EvaluationError(
                        .execution,
                        "found duplicate series for the match group \(signatures[sig]) on the \(side) hand-side of the operation: [\(s.labels)];many-to-many matching not allowed: matching labels must be unique on one side"
                    )
                }
                oneBySignature[sig] = o
                oneAt[sig] = i
            }
            for (m, s) in many.enumerated() where s.present[i] {
                let sig = manySignature[m]
                guard oneAt[sig] == i else { continue }
                let o = oneBySignature[sig]
                if card == .oneToOne {
                    if matchedAt[sig] == i {
                        throw EvaluationError(.execution, "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
                    }
                    matchedAt[sig] = i
                }
                let (l, r) = card == .oneToMany ? (one[o].values[i], s.values[i]) : (s.values[i], one[o].values[i])
                guard let value = Self.apply(b.op, l, r) else { continue }
                if filter && value != 1 { continue }
                let k = slot(m, o)
                if card != .oneToOne {
                    let key = slots[k].resultKey
                    while resultAt.count <= key { resultAt.append(-1) }
                    if resultAt[key] == i {
                        throw EvaluationError(.execution, "multiple matches for labels: grouping labels must ensure unique matches")
                    }
                    resultAt[key] = i
                }
                slots[k].series.values[i] = filter ? l : value
                slots[k].series.present[i] = true
            }
        }
        for var s in slots { try sink(&s.series) }
    }

    /// For one-to-one matching where no signature has two series on either side (`a / b` of
    /// two metrics from the same targets, the usual case), the one-side series each many-side
    /// series pairs with (-1: none); nil when some signature repeats. Then no step can break
    /// a matching rule, and each pair is computed column by column instead of step by step.
    static func uniquePartners(many: [Int], one: [Int], signatures: Int) -> [Int]? {
        var oneOf = Array(repeating: -1, count: signatures)
        for (o, sig) in one.enumerated() {
            guard oneOf[sig] < 0 else { return nil }
            oneOf[sig] = o
        }
        var taken = Array(repeating: false, count: signatures)
        var partner = Array(repeating: -1, count: many.count)
        for (m, sig) in many.enumerated() {
            guard !taken[sig] else { return nil }
            taken[sig] = true
            partner[m] = oneOf[sig]
        }
        return partner
    }

    /// One-to-one `many op one` for ``uniquePartners(many:one:signatures:)``: each pair
    /// computed in the columns of its many-side series (taken from `many`, whose arrays nothing
    /// else holds), through pointers: a one-step refresh of a ratio of two metrics allocated
    /// two arrays per pair for its result. Results go out in the order the step-by-step loop
    /// creates them (by first matched step, then many-side order), so aggregations above add
    /// them in the same order.
    private func pairColumns(
        _ b: BinaryExpr, _ many: inout [StepSeries], _ one: [StepSeries], _ partner: [Int], filter: Bool, _ sink: SeriesSink
    ) throws(EvaluationError) {
        let steps = stepCount
        var made: [(first: Int, series: StepSeries)] = []
        for (m, o) in partner.enumerated() where o >= 0 {
            var out = many[m].take()
            let r = one[o]
            var first = steps
            out.withMutableColumns { lv, lp in
                r.withColumns { rv, rp in
                    for i in 0..<steps {
                        // A step without a result is marked absent (its value is not read).
                        guard lp[i], rp[i], let value = Self.apply(b.op, lv[i], rv[i]), !filter || value == 1 else {
                            lp[i] = false
                            continue
                        }
                        // A filter keeps the left value.
                        if !filter { lv[i] = value }
                        first = min(first, i)
                    }
                }
            }
            guard first < steps else { continue }
            if !filter { out.dropName = true }
            out.labels = resultMetric(out.labels, r.labels, b)
            made.append((first, out))
        }
        // Stable: within a step, many-side order.
        let order = made.indices.sorted { made[$0].first != made[$1].first ? made[$0].first < made[$1].first : $0 < $1 }
        for k in order { try sink(&made[k].series) }
    }
}
