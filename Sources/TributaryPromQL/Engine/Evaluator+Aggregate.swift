import Foundation
import TributaryModel

extension Evaluator {
    mutating func aggregate(_ a: AggregateExpr, at t: Int64) throws(EvaluationError) -> StepValue {
        guard case .vector(let input) = try eval(a.expr, at: t) else {
            throw EvaluationError(.execution, "aggregation over a non-vector")
        }
        var parameter: Double = 0
        var label = ""
        if let p = a.parameter {
            switch try eval(p, at: t) {
            case .scalar(let v): parameter = v
            case .string(let s): label = s
            default: throw EvaluationError(.execution, "aggregation parameter must be a scalar or string")
            }
        }
        switch a.op {
        case .sum, .avg, .count, .min, .max, .group:
            return .vector(streamingAggregate(a, input))
        case .topk, .bottomk:
            return .vector(try topK(a, parameter: parameter, input))
        default:
            break
        }
        // Group by the grouping labels.
        let grouping = LabelNames(a.grouping), dropped = LabelNames(a.grouping + ["__name__"])
        var order: [Labels] = []
        var groups: [Labels: [VectorSample]] = [:]
        var keys = groupKeys[a.positionRange.start] ?? [:]
        for s in input {
            let key: Labels
            if let cached = keys[s.labels] {
                key = cached
            } else {
                key = a.without ? s.labels.dropping(dropped) : s.labels.keeping(grouping)
                keys[s.labels] = key
            }
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(s)
        }
        groupKeys[a.positionRange.start] = keys
        switch a.op {
        case .limitk, .limitRatio:
            return .vector(try selectK(a, parameter: parameter, order: order, groups: groups))
        case .countValues:
            guard Self.isValidLabelName(label) else { throw EvaluationError(.execution, "invalid label name \"\(label)\"") }
            var counts: [Labels: Int] = [:]
            var countOrder: [Labels] = []
            for key in order {
                for s in groups[key] ?? [] {
                    let k = key.setting(label, Self.formatValue(s.value))
                    if counts[k] == nil { countOrder.append(k) }
                    counts[k, default: 0] += 1
                }
            }
            return .vector(countOrder.map { VectorSample(labels: $0, value: Double(counts[$0] ?? 0)) })
        default:
            break
        }
        if a.op == .quantile, parameter.isNaN || parameter < 0 || parameter > 1 {
            annotations.add(warnings: ["PromQL warning: quantile value should be between 0 and 1, got \(Self.formatValue(parameter))"])
        }
        var out: [VectorSample] = []
        for key in order {
            let values = (groups[key] ?? []).map(\.value)
            let v: Double
            switch a.op {
            case .sum: v = Self.kahanSum(values)
            case .avg: v = Self.mean(values)
            case .count: v = Double(values.count)
            case .group: v = 1
            case .min: v = values.reduce(Double.nan) { $0.isNaN || $1 < $0 ? $1 : $0 }
            case .max: v = values.reduce(Double.nan) { $0.isNaN || $1 > $0 ? $1 : $0 }
            case .stddev: v = Self.variance(values).squareRoot()
            case .stdvar: v = Self.variance(values)
            case .quantile: v = Self.quantile(parameter, values)
            default: v = .nan
            }
            var sample = VectorSample(labels: key, value: v)
            // A metric name kept by `by (__name__)` is still dropped later if the inputs'
            // names were to be dropped (Prometheus's delayed name removal).
            sample.dropName = (groups[key] ?? []).contains { $0.dropName }
            out.append(sample)
        }
        return .vector(out)
    }

    /// Output label sets of an aggregation, and which of them each input series belongs to;
    /// kept across steps because the same series meet the same aggregation at every step.
    struct GroupTable {
        var keys: [Labels] = []
        var index: [Labels: Int] = [:]
        var bySeries: [Labels: Int] = [:]
        var byID: [Int: Int] = [:]

        /// The group of `s`, creating it on first sight.
        mutating func group(of s: VectorSample, _ key: () -> Labels) -> Int {
            if s.id >= 0, let g = byID[s.id] { return g }
            if s.id < 0, let g = bySeries[s.labels] { return g }
            let k = key()
            let g: Int
            if let existing = index[k] {
                g = existing
            } else {
                g = keys.count
                keys.append(k)
                index[k] = g
            }
            if s.id >= 0 { byID[s.id] = g } else { bySeries[s.labels] = g }
            return g
        }
    }

    /// sum, avg, count, min, max and group in one pass with an accumulator per group, without
    /// collecting each group's samples (range queries run this at every step).
    mutating func streamingAggregate(_ a: AggregateExpr, _ input: [VectorSample]) -> [VectorSample] {
        var table = groupTables[a.positionRange.start] ?? GroupTable()
        let grouping = LabelNames(a.grouping), dropped = LabelNames(a.grouping + ["__name__"])
        var sums: [Double] = [], comps: [Double] = [], counts: [Int] = [], extremes: [Double] = []
        var dropName: [Bool] = [], infinities: [Double?] = []
        var seenOrder: [Int] = []
        func grow(_ n: Int) {
            while sums.count < n {
                sums.append(0); comps.append(0); counts.append(0); extremes.append(.nan); dropName.append(false)
                infinities.append(nil)
            }
        }
        for s in input {
            let g = table.group(of: s) { a.without ? s.labels.dropping(dropped) : s.labels.keeping(grouping) }
            grow(g + 1)
            if counts[g] == 0 { seenOrder.append(g) }
            counts[g] += 1
            if s.dropName { dropName[g] = true }
            let v = s.value
            switch a.op {
            case .sum, .avg: (sums[g], comps[g]) = Self.kahanInc(v, sums[g], comps[g])
            case .min: if extremes[g].isNaN || v < extremes[g] { extremes[g] = v }
            case .max: if extremes[g].isNaN || v > extremes[g] { extremes[g] = v }
            default: break
            }
            if a.op == .avg, v.isInfinite { infinities[g] = (infinities[g] ?? 0) + v }
        }
        groupTables[a.positionRange.start] = table
        var out: [VectorSample] = []
        out.reserveCapacity(seenOrder.count)
        for g in seenOrder {
            let value: Double
            switch a.op {
            case .sum: value = sums[g].isInfinite ? sums[g] : sums[g] + comps[g]
            case .avg:
                let sum = sums[g].isInfinite ? sums[g] : sums[g] + comps[g]
                if let inf = infinities[g] {
                    value = inf
                }  // infinities decide (NaN when mixed)
                else if sum.isInfinite {
                    value = Self.mean(input.filter { x in table.group(of: x) { .empty } == g }.map(\.value))
                } else {
                    value = sum / Double(counts[g])
                }
            case .count: value = Double(counts[g])
            case .group: value = 1
            default: value = extremes[g]
            }
            var sample = VectorSample(labels: table.keys[g], value: value)
            sample.dropName = dropName[g]
            out.append(sample)
        }
        return out
    }

    /// topk/bottomk: the k best of each group in a heap per group, with Prometheus's moves (so
    /// that ties keep the series Prometheus keeps), handed out best first.
    mutating func topK(_ a: AggregateExpr, parameter: Double, _ input: [VectorSample]) throws(EvaluationError) -> [VectorSample] {
        let k = try Self.count(fromK: parameter)
        guard k > 0 else { return [] }
        var table = groupTables[a.positionRange.start] ?? GroupTable()
        let grouping = LabelNames(a.grouping), dropped = LabelNames(a.grouping + ["__name__"])
        var groupOf: [Int] = []
        groupOf.reserveCapacity(input.count)
        var members: [Int] = []
        var order: [Int] = []
        for s in input {
            let g = table.group(of: s) { a.without ? s.labels.dropping(dropped) : s.labels.keeping(grouping) }
            while members.count <= g { members.append(0) }
            if members[g] == 0 { order.append(g) }
            members[g] += 1
            groupOf.append(g)
        }
        groupTables[a.positionRange.start] = table
        let best = BestK(top: a.op == .topk)
        let widths = members.map { min(k, $0) }
        var values = widths.map { [Double](repeating: 0, count: $0) }
        var ids = widths.map { [Int32](repeating: 0, count: $0) }
        var counts = [Int](repeating: 0, count: widths.count)
        for (j, s) in input.enumerated() {
            let g = groupOf[j]
            best.offer(s.value, id: Int32(j), values: &values[g], ids: &ids[g], base: 0, count: &counts[g], k: widths[g])
        }
        return order.flatMap { g in best.ordered(values: values[g], ids: ids[g], base: 0, count: counts[g]).map { input[Int($0)] } }
    }

    /// The k of topk, bottomk and limitk as Prometheus reads it: NaN and values past int64
    /// fail the query, anything below 1 keeps nothing (0).
    static func count(fromK parameter: Double) throws(EvaluationError) -> Int {
        guard !parameter.isNaN else { throw EvaluationError(.execution, "Parameter value is NaN") }
        guard parameter < 9.2e18 else { throw EvaluationError(.execution, "Scalar value \(parameter) overflows int64") }
        return Int(parameter >= 1 ? parameter : 0)
    }

    /// limitk and limit_ratio keep input samples (labels unchanged).
    func selectK(_ a: AggregateExpr, parameter: Double, order: [Labels], groups: [Labels: [VectorSample]]) throws(EvaluationError) -> [VectorSample] {
        var out: [VectorSample] = []
        if a.op == .limitRatio {
            guard !parameter.isNaN else { throw EvaluationError(.execution, "Ratio value is NaN") }
            let ratio = max(-1, min(1, parameter))
            for key in order {
                for s in groups[key] ?? [] {
                    // A stable per-series position in [0, 1) from the labels' hash.
                    let position = Double(s.labels.stableHash) / 18_446_744_073_709_551_616.0
                    if ratio >= 0 ? position < ratio : position >= 1 + ratio { out.append(s) }
                }
            }
            return out
        }
        let k = try Self.count(fromK: parameter)
        guard k > 0 else { return [] }
        for key in order {
            // limitk: the first k by the labels' hash (topk and bottomk go through topK).
            out.append(contentsOf: (groups[key] ?? []).sorted { $0.labels.stableHash < $1.labels.stableHash }.prefix(k))
        }
        return out
    }

    /// Ordering for sort_desc: NaN last.
    static func greater(_ a: Double, _ b: Double) -> Bool {
        if a.isNaN { return false }
        if b.isNaN { return true }
        return a > b
    }

    static func less(_ a: Double, _ b: Double) -> Bool {
        if a.isNaN { return false }
        if b.isNaN { return true }
        return a < b
    }

    static func isValidLabelName(_ s: String) -> Bool {
        !s.isEmpty && !s.contains("\u{FFFD}")
    }

    /// Kahan–Babuška summation, as Prometheus 3 sums.
    static func kahanSum(_ values: [Double]) -> Double {
        var sum = 0.0, c = 0.0
        for v in values { (sum, c) = kahanInc(v, sum, c) }
        if sum.isInfinite { return sum }
        return sum + c
    }

    static func kahanInc(_ inc: Double, _ sum: Double, _ c: Double) -> (Double, Double) {
        let t = sum + inc
        var c = c
        if t.isInfinite {
            c = 0
        } else if abs(sum) >= abs(inc) {
            c += (sum - t) + inc
        } else {
            c += (inc - t) + sum
        }
        return (t, c)
    }

    static func mean(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        // Sum with compensation, then divide; fall back to an incremental mean only when
        // finite inputs overflowed.
        let sum = kahanSum(values)
        if !sum.isInfinite || values.contains(where: \.isInfinite) { return sum / Double(values.count) }
        var mean = 0.0
        for (i, v) in values.enumerated() {
            if mean.isInfinite && v.isInfinite && (mean > 0) == (v > 0) { continue }
            mean += v / Double(i + 1) - mean / Double(i + 1)
        }
        return mean
    }

    /// Population variance (Welford).
    static func variance(_ values: [Double]) -> Double {
        var count = 0.0, mean = 0.0, m2 = 0.0
        for v in values {
            count += 1
            let delta = v - mean
            mean += delta / count
            m2 += delta * (v - mean)
        }
        return count > 0 ? m2 / count : .nan
    }

    /// Prometheus's quantile: linear interpolation between closest ranks.
    static func quantile(_ q: Double, _ values: [Double]) -> Double {
        guard !values.isEmpty, !q.isNaN else { return .nan }
        if q < 0 { return -.infinity }
        if q > 1 { return .infinity }
        // NaN sorts first, as Go's sort.Float64s orders it.
        let sorted = values.sorted { a, b in a.isNaN ? !b.isNaN : (!b.isNaN && a < b) }
        let n = Double(sorted.count)
        let rank = q * (n - 1)
        let lower = max(0, Int(rank.rounded(.down)))
        let upper = min(sorted.count - 1, lower + 1)
        let weight = rank - rank.rounded(.down)
        return sorted[lower] * (1 - weight) + sorted[upper] * weight
    }

    /// Go's `strconv.FormatFloat(v, 'f', -1, 64)`, as count_values and label values use it:
    /// `0.0000001`, never `1e-07`.
    static func formatValue(_ v: Double) -> String { FloatText.plain(v) }
}
