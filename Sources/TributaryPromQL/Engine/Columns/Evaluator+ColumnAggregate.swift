import Foundation
import TributaryModel

/// sum, avg, count, min, max, group, stddev and stdvar over columns: each input series is
/// folded into its group's step arrays as it passes, in input order (so sums round exactly as
/// the step-by-step evaluation's do).
extension Evaluator {
    /// The running state of one output group at every step.
    struct GroupColumns {
        let labels: Labels
        var counts: [Int]
        /// Compensated sum (sum, avg), or the extreme (min, max), or Welford's mean (stddev, stdvar).
        var first: [Double]
        /// Compensation term (sum, avg) or Welford's sum of squares (stddev, stdvar).
        var second: [Double]
        /// avg: the sum of infinite inputs, and (when `tracksMean`) the incremental mean used
        /// when finite inputs overflowed the sum.
        var infinities: [Double?] = []
        var incremental: [Double] = []
        var dropName = false

        init(labels: Labels, steps: Int, op: AggregateOp, tracksMean: Bool) {
            self.labels = labels
            counts = Array(repeating: 0, count: steps)
            first = Array(repeating: op == .min || op == .max ? .nan : 0, count: steps)
            second = Array(repeating: 0, count: steps)
            if op == .avg {
                infinities = Array(repeating: nil, count: steps)
                if tracksMean { incremental = Array(repeating: 0, count: steps) }
            }
        }

        /// avg: whether finite inputs overflowed the sum at some step (the answer there is the
        /// incremental mean, which only a pass that tracks it has).
        var overflowed: Bool {
            counts.indices.contains { i in
                guard counts[i] > 0, infinities[i] == nil else { return false }
                return (first[i].isInfinite ? first[i] : first[i] + second[i]).isInfinite
            }
        }
    }

    func aggregateColumns(_ a: AggregateExpr, _ context: ColumnContext, _ sink: SeriesSink) throws(EvaluationError) {
        let grouping = LabelNames(a.grouping)
        let dropped = LabelNames(a.grouping + ["__name__"])
        let steps = stepCount
        let op = a.op
        func pass(tracksMean: Bool) throws(EvaluationError) -> [GroupColumns] {
            // A series' group is found by the bytes of its grouping labels, written into one
            // buffer reused from series to series (see LabelSetIndex).
            var index = LabelSetIndex<StableLabelHash>()
            var groups: [GroupColumns] = []
            var key: [UInt8] = []
            try forEachSeries(a.expr, context) { (s: inout StepSeries) throws(EvaluationError) in
                key.removeAll(keepingCapacity: true)
                if a.without { dropped.appendFiltered(s.labels, keep: false, to: &key) } else { grouping.appendFiltered(s.labels, keep: true, to: &key) }
                let (g, isNew) = index.number(of: key)
                if isNew {
                    groups.append(GroupColumns(labels: index.sets[g], steps: steps, op: op, tracksMean: tracksMean))
                    try context.hold(steps * 2)
                }
                Self.fold(s, into: &groups[g], op, tracksMean: tracksMean)
            }
            return groups
        }
        // avg keeps a compensated sum; the incremental mean, two divisions per point, is only
        // needed where finite inputs overflow the sum (values near 1e308), so it is tracked in
        // a second pass over the input when the first finds such a step.
        let before = context.mark()
        var groups = try pass(tracksMean: false)
        if op == .avg, groups.contains(where: \.overflowed) {
            context.rewind(to: before)
            groups = try pass(tracksMean: true)
        }
        for var group in groups {
            var out = StepSeries(labels: group.labels, steps: steps, dropName: group.dropName)
            for i in 0..<steps where group.counts[i] > 0 {
                out.present[i] = true
                out.values[i] = Self.result(of: &group, at: i, op)
            }
            try sink(&out)
        }
    }

    static func fold(_ s: StepSeries, into group: inout GroupColumns, _ op: AggregateOp, tracksMean: Bool) {
        if s.dropName { group.dropName = true }
        if op == .sum || op == .count || op == .group, s.values.count == 1 {
            // One step (a refresh's new step, an instant query): the loop below opens every
            // column of the group for it, each open a uniqueness check (three fifths of a
            // one-step fold's instructions, callgrind).
            guard s.present[0] else { return }
            group.counts[0] += 1
            if op == .sum { (group.first[0], group.second[0]) = kahanInc(s.values[0], group.first[0], group.second[0]) }
            return
        }
        if op == .sum || op == .count || op == .group || op == .avg {
            // Dashboards' usual aggregations through pointers: an indexed write checked each
            // array's uniqueness at every step. (`incremental` is empty unless avg tracks its mean.)
            let sums = op == .sum || op == .avg, isAvg = op == .avg, tracksMean = isAvg && tracksMean
            s.withColumns { values, present in
                group.counts.withUnsafeMutableBufferPointer { counts in
                    group.first.withUnsafeMutableBufferPointer { first in
                        group.second.withUnsafeMutableBufferPointer { second in
                            group.incremental.withUnsafeMutableBufferPointer { incremental in
                                for i in 0..<values.count where present[i] {
                                    let v = values[i]
                                    counts[i] += 1
                                    guard sums else { continue }
                                    (first[i], second[i]) = kahanInc(v, first[i], second[i])
                                    guard isAvg else { continue }
                                    if v.isInfinite { group.infinities[i] = (group.infinities[i] ?? 0) + v }
                                    guard tracksMean else { continue }
                                    let mean = incremental[i], n = Double(counts[i])
                                    if !(mean.isInfinite && v.isInfinite && (mean > 0) == (v > 0)) { incremental[i] = mean + (v / n - mean / n) }
                                }
                            }
                        }
                    }
                }
            }
            return
        }
        for i in s.values.indices where s.present[i] {
            let v = s.values[i]
            group.counts[i] += 1
            switch op {
            case .min:
                if group.first[i].isNaN || v < group.first[i] { group.first[i] = v }
            case .max:
                if group.first[i].isNaN || v > group.first[i] { group.first[i] = v }
            case .stddev, .stdvar:
                let n = Double(group.counts[i])
                let delta = v - group.first[i]
                group.first[i] += delta / n
                group.second[i] += delta * (v - group.first[i])
            default:
                break
            }
        }
    }

    static func result(of group: inout GroupColumns, at i: Int, _ op: AggregateOp) -> Double {
        let n = Double(group.counts[i])
        switch op {
        case .sum:
            return group.first[i].isInfinite ? group.first[i] : group.first[i] + group.second[i]
        case .avg:
            // Infinite inputs decide (NaN when mixed); finite inputs that overflowed the sum
            // take the incremental mean.
            if let inf = group.infinities[i] { return inf }
            let sum = group.first[i].isInfinite ? group.first[i] : group.first[i] + group.second[i]
            return sum.isInfinite ? group.incremental[i] : sum / n
        case .count: return n
        case .group: return 1
        case .min, .max: return group.first[i]
        case .stdvar: return group.second[i] / n
        case .stddev: return (group.second[i] / n).squareRoot()
        default: return .nan
        }
    }
}
