import Foundation
import TributaryModel

extension Evaluator {
    /// Classic buckets of one histogram: `(upper bound, cumulative count)`.
    typealias Buckets = [(upper: Double, count: Double)]

    /// Groups `_bucket` samples by their labels without `le`.
    func bucketGroups(_ vector: [VectorSample]) -> [(Labels, Buckets)] {
        var order: [Labels] = []
        var groups: [Labels: Buckets] = [:]
        for s in vector {
            guard let le = s.labels.value(of: "le"), let upper = Self.parseBound(le) else { continue }
            let key = s.labels.dropping("le", "__name__")
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append((upper, s.value))
        }
        return order.map { ($0, groups[$0] ?? []) }
    }

    static func parseBound(_ s: String) -> Double? {
        switch s.lowercased() {
        case "+inf", "inf": return .infinity
        case "-inf": return -.infinity
        case "nan": return .nan
        default: return Double(s)
        }
    }

    mutating func histogramQuantile(_ c: Call, at t: Int64) throws(EvaluationError) -> [VectorSample] {
        guard case .scalar(let q) = try eval(c.args[0], at: t), case .vector(let v) = try eval(c.args[1], at: t) else { return [] }
        if q.isNaN || q < 0 || q > 1 {
            annotations.add(warnings: ["PromQL warning: quantile value should be between 0 and 1, got \(Self.formatValue(q))"])
        }
        return bucketGroups(v).map { labels, buckets in
            var s = VectorSample(labels: labels, value: Self.bucketQuantile(q, buckets))
            s.dropName = true
            return s
        }
    }

    /// `histogram_quantiles(v, "label", q1, q2, …)`: one series per quantile, labelled.
    mutating func histogramQuantiles(_ c: Call, at t: Int64) throws(EvaluationError) -> [VectorSample] {
        guard case .vector(let v) = try eval(c.args[0], at: t), case .string(let label) = try eval(c.args[1], at: t) else { return [] }
        var qs: [Double] = []
        for arg in c.args.dropFirst(2) {
            guard case .scalar(let q) = try eval(arg, at: t) else { continue }
            if q.isNaN || q < 0 || q > 1 {
                annotations.add(warnings: ["PromQL warning: quantile value should be between 0 and 1, got \(Self.formatValue(q))"])
            }
            qs.append(q)
        }
        var out: [VectorSample] = []
        for (labels, buckets) in bucketGroups(v) {
            for q in qs {
                // Quantile labels read "0.0", "0.25", "1.0", as Prometheus prints them.
                let text = q == q.rounded() && abs(q) < 1e15 ? String(format: "%.1f", q) : Self.formatValue(q)
                var s = VectorSample(labels: labels.setting(label, text), value: Self.bucketQuantile(q, buckets))
                s.dropName = true
                out.append(s)
            }
        }
        return out
    }

    mutating func histogramFraction(_ c: Call, at t: Int64) throws(EvaluationError) -> [VectorSample] {
        guard case .scalar(let lower) = try eval(c.args[0], at: t), case .scalar(let upper) = try eval(c.args[1], at: t),
            case .vector(let v) = try eval(c.args[2], at: t)
        else { return [] }
        return bucketGroups(v).map { labels, buckets in
            var s = VectorSample(labels: labels, value: Self.bucketFraction(lower, upper, buckets))
            s.dropName = true
            return s
        }
    }

    /// Sorts, merges equal bounds and forces counts to be monotonic.
    static func prepare(_ input: Buckets) -> Buckets? {
        var buckets = input.filter { !$0.upper.isNaN }.sorted { $0.upper < $1.upper }
        guard let last = buckets.last, last.upper == .infinity else { return nil }
        var merged: Buckets = []
        for b in buckets {
            if let l = merged.last, l.upper == b.upper {
                merged[merged.count - 1].count += b.count
            } else {
                merged.append(b)
            }
        }
        buckets = merged
        var maximum = -Double.infinity
        for i in buckets.indices {
            if buckets[i].count > maximum { maximum = buckets[i].count } else { buckets[i].count = maximum }
        }
        return buckets
    }

    /// Prometheus's `bucketQuantile` for classic histograms.
    static func bucketQuantile(_ q: Double, _ input: Buckets) -> Double {
        if q.isNaN { return .nan }
        if q < 0 { return -.infinity }
        if q > 1 { return .infinity }
        guard let buckets = prepare(input), buckets.count >= 2 else { return .nan }
        let observations = buckets[buckets.count - 1].count
        guard observations > 0, !observations.isNaN else { return .nan }
        var rank = q * observations
        var b = 0
        while b < buckets.count - 1, buckets[b].count < rank { b += 1 }
        if b == buckets.count - 1 { return buckets[buckets.count - 2].upper }
        if b == 0, buckets[0].upper <= 0 { return buckets[0].upper }
        var bucketStart = 0.0
        let bucketEnd = buckets[b].upper
        var count = buckets[b].count
        if b > 0 {
            bucketStart = buckets[b - 1].upper
            count -= buckets[b - 1].count
            rank -= buckets[b - 1].count
        }
        return bucketStart + (bucketEnd - bucketStart) * (rank / count)
    }

    /// Share of observations between `lower` and `upper`, interpolating inside buckets.
    static func bucketFraction(_ lower: Double, _ upper: Double, _ input: Buckets) -> Double {
        guard let buckets = prepare(input), let total = buckets.last?.count, total > 0, !lower.isNaN, !upper.isNaN else { return .nan }
        if lower >= upper { return 0 }
        func cumulative(_ x: Double) -> Double {
            var previousUpper = 0.0, previousCount = 0.0
            for (i, b) in buckets.enumerated() {
                if i == 0, b.upper <= 0 {
                    // The lowest bucket reaches down to -Inf: nothing to interpolate, its
                    // observations count as lying below any finite bound.
                    if x <= b.upper { return x == -.infinity ? 0 : b.count }
                    previousUpper = b.upper
                    previousCount = b.count
                    continue
                }
                let start = i == 0 ? 0 : previousUpper
                if x <= b.upper {
                    if b.upper == .infinity { return x == .infinity ? b.count : previousCount }
                    if x <= start { return previousCount }
                    return previousCount + (b.count - previousCount) * (x - start) / (b.upper - start)
                }
                previousUpper = b.upper
                previousCount = b.count
            }
            return total
        }
        return (cumulative(upper) - cumulative(lower)) / total
    }
}
