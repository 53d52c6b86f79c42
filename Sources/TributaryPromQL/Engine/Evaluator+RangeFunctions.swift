import Foundation
import TributaryModel

extension Evaluator {
    /// Functions over a range vector: one output sample per input series.
    mutating func rangeFunction(_ c: Call, at t: Int64) throws(EvaluationError) -> [VectorSample] {
        let name = c.function.name
        guard let function = RangeFunction(name: name) else {
            throw EvaluationError(.execution, "function \(name) is not implemented")
        }
        let matrixArg = c.args[function.matrixArgument]
        var scalars: [Double] = []
        for (i, arg) in c.args.enumerated() where i != function.matrixArgument {
            guard case .scalar(let v) = try eval(arg, at: t) else { continue }
            scalars.append(v)
        }
        if let warning = try Self.checkParameters(function, scalars) { annotations.add(warnings: [warning]) }
        // The window for extrapolation: (t - offset - range, t - offset].
        var rangeStart = t, rangeEnd = t, rangeSeconds = 0.0
        if case .matrixSelector(let m) = Self.unparen(matrixArg) {
            let ref = (m.selector.at.map(resolve) ?? t) - offset(m.selector.offset, m.selector.offsetExpr)
            rangeEnd = ref
            rangeStart = ref - rangeOf(m)
            rangeSeconds = Double(rangeOf(m)) / 1000
        } else if case .subquery(let s) = Self.unparen(matrixArg) {
            let ref = (s.at.map(resolve) ?? t) - offset(s.offset, s.offsetExpr)
            rangeEnd = ref
            rangeStart = ref - range(s.range, s.rangeExpr)
            rangeSeconds = Double(range(s.range, s.rangeExpr)) / 1000
        }
        var out: [VectorSample] = []
        func emit(_ labels: Labels, _ samples: UnsafeBufferPointer<Sample>, _ dropName: Bool, id: Int = -1) {
            guard !samples.isEmpty,
                let v = Self.compute(
                    function, samples, t: t, rangeStart: rangeStart, rangeEnd: rangeEnd,
                    rangeSeconds: rangeSeconds, scalars: scalars)
            else { return }
            var sample = VectorSample(labels: labels, value: v)
            sample.dropName = function.keepsName ? dropName : true
            sample.id = id
            out.append(sample)
        }
        if case .matrixSelector(let m) = Self.unparen(matrixArg) {
            // Fast path: read the window straight from the loaded samples, no copies (a range
            // query evaluates this once per step and series).
            let key = m.selector.positionRange.start
            let all = loaded[key] ?? []
            var hints = windowHints[key] ?? []
            if hints.count != all.count { hints = Array(repeating: 0, count: all.count) }
            defer { windowHints[key] = hints }
            for (k, series) in all.enumerated() {
                let id = Self.seriesID(m.selector, k)
                let from = Self.firstIndex(series.samples, after: rangeStart, hint: hints[k])
                let to = Self.firstIndex(series.samples, after: rangeEnd, hint: from)
                hints[k] = from
                guard from < to else { continue }
                let window = series.samples[from..<to]
                if series.hasStale, window.contains(where: \.isStale) {
                    let kept = window.filter { !$0.isStale }
                    queryable.count += kept.count
                    kept.withUnsafeBufferPointer { emit(series.labels, $0, false, id: id) }
                } else {
                    queryable.count += window.count
                    window.withUnsafeBufferPointer { emit(series.labels, $0, false, id: id) }
                }
            }
            return out
        }
        // A subquery: as Prometheus counts it here, its points in the window, not what its own
        // selectors picked.
        let counted = queryable.count
        guard case .matrix(let matrix) = try eval(matrixArg, at: t) else { return [] }
        queryable.count = counted + matrix.reduce(0) { $0 + $1.samples.count }
        for series in matrix {
            series.samples.withUnsafeBufferPointer { emit(series.labels, $0, series.dropName) }
        }
        return out
    }

    /// Checks a range function's scalar arguments (in order, the range vector left out): an
    /// invalid smoothing or trend factor fails the query; a quantile outside [0, 1] gives the
    /// returned warning.
    static func checkParameters(_ function: RangeFunction, _ scalars: [Double]) throws(EvaluationError) -> String? {
        switch function {
        case .doubleExponentialSmoothing:
            let sf = scalars.count > 0 ? scalars[0] : .nan, tf = scalars.count > 1 ? scalars[1] : .nan
            guard sf > 0, sf < 1 else { throw EvaluationError(.execution, "invalid smoothing factor. Expected: 0 < sf < 1, got: \(formatValue(sf))") }
            guard tf > 0, tf < 1 else { throw EvaluationError(.execution, "invalid trend factor. Expected: 0 < tf < 1, got: \(formatValue(tf))") }
            return nil
        case .quantileOverTime:
            let q = scalars.first ?? .nan
            return q.isNaN || q < 0 || q > 1 ? "PromQL warning: quantile value should be between 0 and 1, got \(formatValue(q))" : nil
        default:
            return nil
        }
    }

    /// One range function over the samples of one series in its window.
    static func compute(
        _ function: RangeFunction, _ samples: UnsafeBufferPointer<Sample>, t: Int64, rangeStart: Int64, rangeEnd: Int64,
        rangeSeconds: Double, scalars: [Double]
    ) -> Double? {
        let n = samples.count
        switch function {
        case .rate, .increase, .delta:
            return extrapolatedRate(
                samples, rangeStart: rangeStart, rangeEnd: rangeEnd, rangeSeconds: rangeSeconds,
                isCounter: function != .delta, isRate: function == .rate)
        case .irate, .idelta:
            return instantRate(samples, isRate: function == .irate)
        case .deriv:
            return n < 2 ? nil : linearRegression(samples, interceptTime: samples[0].timestamp).slope
        case .predictLinear:
            if n < 2 { return nil }
            let (slope, intercept) = linearRegression(samples, interceptTime: t)
            return slope * (scalars.first ?? .nan) + intercept
        case .changes:
            var count = 0
            for i in 1..<max(n, 1) where i < n {
                let a = samples[i - 1].value, b = samples[i].value
                if !(a == b || (a.isNaN && b.isNaN)) { count += 1 }
            }
            return Double(count)
        case .resets:
            var count = 0
            for i in 1..<max(n, 1) where i < n && samples[i].value < samples[i - 1].value { count += 1 }
            return Double(count)
        case .avgOverTime: return mean(samples.map(\.value))
        case .sumOverTime:
            var sum = 0.0, c = 0.0
            for s in samples { (sum, c) = kahanInc(s.value, sum, c) }
            return sum.isInfinite ? sum : sum + c
        case .countOverTime: return Double(n)
        case .minOverTime:
            var m = Double.nan
            for s in samples where m.isNaN || s.value < m { m = s.value }
            return m
        case .maxOverTime:
            var m = Double.nan
            for s in samples where m.isNaN || s.value > m { m = s.value }
            return m
        case .lastOverTime: return samples[n - 1].value
        case .firstOverTime: return samples[0].value
        case .presentOverTime: return 1
        case .stddevOverTime: return variance(samples.map(\.value)).squareRoot()
        case .stdvarOverTime: return variance(samples.map(\.value))
        case .quantileOverTime: return Self.quantile(scalars.first ?? .nan, samples.map(\.value))
        case .madOverTime:
            let values = samples.map(\.value)
            if values.contains(where: \.isNaN) { return .nan }
            let median = Self.quantile(0.5, values)
            return Self.quantile(0.5, values.map { abs($0 - median) })
        case .tsOfFirstOverTime: return Double(samples[0].timestamp) / 1000
        case .tsOfLastOverTime: return Double(samples[n - 1].timestamp) / 1000
        case .tsOfMinOverTime, .tsOfMaxOverTime:
            var best = samples[0]
            for s in samples.dropFirst() {
                if best.value.isNaN || (function == .tsOfMinOverTime ? s.value <= best.value : s.value >= best.value) { best = s }
            }
            return Double(best.timestamp) / 1000
        case .doubleExponentialSmoothing:
            return smoothing(samples.map(\.value), sf: scalars[0], tf: scalars[1])
        }
    }

    static func unparen(_ e: Expr) -> Expr {
        var inner = e
        while case .paren(let x, _) = inner { inner = x }
        return inner
    }

    /// Prometheus's `extrapolatedRate` for rate, increase and delta.
    static func extrapolatedRate(
        _ samples: UnsafeBufferPointer<Sample>, rangeStart: Int64, rangeEnd: Int64, rangeSeconds: Double,
        isCounter: Bool, isRate: Bool
    ) -> Double? {
        guard samples.count >= 2 else { return nil }
        let first = samples[0], last = samples[samples.count - 1]
        var result = last.value - first.value
        if isCounter {
            var previous = first.value
            for s in samples.dropFirst() {
                if s.value < previous { result += previous }
                previous = s.value
            }
        }
        var extrapolate = Extrapolation(rangeSeconds: rangeSeconds, isCounter: isCounter, isRate: isRate)
        return extrapolate(result, first: first, last: last, count: samples.count, rangeStart: rangeStart, rangeEnd: rangeEnd)
    }

    static func instantRate(_ samples: UnsafeBufferPointer<Sample>, isRate: Bool) -> Double? {
        guard samples.count >= 2 else { return nil }
        let last = samples[samples.count - 1], previous = samples[samples.count - 2]
        var result = last.value - previous.value
        if isRate, last.value < previous.value { result = last.value }
        if !isRate { return result }
        let interval = Double(last.timestamp - previous.timestamp) / 1000
        guard interval != 0 else { return nil }
        return result / interval
    }

    /// Least-squares slope (per second) and the value at `interceptTime`, with compensated sums.
    static func linearRegression(_ samples: UnsafeBufferPointer<Sample>, interceptTime: Int64) -> (slope: Double, intercept: Double) {
        var n = 0.0
        var sumX = 0.0, cX = 0.0, sumY = 0.0, cY = 0.0, sumXY = 0.0, cXY = 0.0, sumX2 = 0.0, cX2 = 0.0
        let initY = samples[0].value
        var constY = true
        for (i, s) in samples.enumerated() {
            if constY, i > 0, s.value != initY { constY = false }
            n += 1
            let x = Double(s.timestamp - interceptTime) / 1000
            (sumX, cX) = kahanInc(x, sumX, cX)
            (sumY, cY) = kahanInc(s.value, sumY, cY)
            (sumXY, cXY) = kahanInc(x * s.value, sumXY, cXY)
            (sumX2, cX2) = kahanInc(x * x, sumX2, cX2)
        }
        if constY {
            if initY.isInfinite { return (.nan, .nan) }
            return (0, initY)
        }
        sumX += cX; sumY += cY; sumXY += cXY; sumX2 += cX2
        let covXY = sumXY - sumX * sumY / n
        let varX = sumX2 - sumX * sumX / n
        let slope = covXY / varX
        let intercept = sumY / n - slope * sumX / n
        return (slope, intercept)
    }

    static func smoothing(_ values: [Double], sf: Double, tf: Double) -> Double? {
        guard values.count >= 2 else { return nil }
        var s0 = 0.0, s1 = values[0], b = values[1] - values[0]
        for i in 1..<values.count {
            let x = sf * values[i]
            if i > 1 { b = tf * (s1 - s0) + (1 - tf) * b }
            let y = (1 - sf) * (s1 + b)
            s0 = s1
            s1 = x + y
        }
        return s1
    }
}
