import Foundation
import TributaryModel

/// The leaves of series-at-a-time evaluation: instant selectors and range functions over
/// matrix selectors, each series read once for all steps.
extension Evaluator {
    /// Space one thread reuses from series to series.
    struct Scratch {
        var samples: [Sample] = []
        var kept: [Sample] = []
        var resets: [Int] = []
    }

    /// What a leaf computes from one stored series (its labels and samples, stale markers
    /// included): its columns, or nil when it has no value at any step. Called from several
    /// threads at once with the worker's own scratch space.
    typealias Leaf = (Labels, UnsafeBufferPointer<Sample>, inout Scratch) -> StepSeries?

    /// Reads each series matching `v` in `[from, to]`, computes `leaf` of it and hands the
    /// result to `sink` in the order the storage returned the series. With a worker pool,
    /// batches of series are read and computed on several threads, then handed on in order.
    func forEachStoredSeries(
        _ v: VectorSelector, from: Int64, to: Int64, _ context: ColumnContext, _ leaf: Leaf, _ sink: SeriesSink
    ) throws(EvaluationError) {
        let series: [QueriedSeries]
        do {
            series = try querier.selectUnsorted(v.matchers, start: from, end: to)
        } catch {
            throw EvaluationError(.execution, "\(error)")
        }
        guard let pool = options.workers, pool.helpers > 0, series.count >= pool.minimumSeries else {
            var scratch = Scratch()
            for s in series {
                scratch.samples.removeAll(keepingCapacity: true)
                s.appendSamples(to: &scratch.samples)
                try context.read(scratch.samples.count)
                let samples = scratch.samples
                guard var out = samples.withUnsafeBufferPointer({ leaf(s.labels, $0, &scratch) }) else { continue }
                try sink(&out)
            }
            return
        }
        let scratch = UnsafeMutableBufferPointer<Scratch>.allocate(capacity: pool.workers)
        _ = scratch.initialize(from: repeatElement(Scratch(), count: pool.workers))
        let results = UnsafeMutableBufferPointer<StepSeries?>.allocate(capacity: pool.batch)
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: pool.batch)
        defer {
            scratch.deinitialize().deallocate()
            results.deallocate()
            counts.deallocate()
        }
        var first = 0
        while first < series.count {
            let n = min(pool.batch, series.count - first)
            let base = first
            pool.run(tasks: n) { worker, j in
                let s = series[base + j]
                scratch[worker].samples.removeAll(keepingCapacity: true)
                s.appendSamples(to: &scratch[worker].samples)
                counts[j] = scratch[worker].samples.count
                let samples = scratch[worker].samples
                (results.baseAddress! + j).initialize(to: samples.withUnsafeBufferPointer { leaf(s.labels, $0, &scratch[worker]) })
            }
            defer { _ = results.baseAddress.map { $0.deinitialize(count: n) } }
            for j in 0..<n {
                try context.read(counts[j])
                guard var out = results[j] else { continue }
                try sink(&out)
            }
            first += n
        }
    }

    /// The time a selector reads at step `i`: the step's time (or its `@`) minus its offset.
    func referenceTimes(_ v: VectorSelector) -> [Int64] {
        let offset = offset(v.offset, v.offsetExpr)
        if let at = v.at {
            return Array(repeating: resolve(at) - offset, count: stepCount)
        }
        return (0..<stepCount).map { stepTime($0) - offset }
    }

    /// An instant selector: at each step the latest sample within the lookback window, unless
    /// it is a stale marker.
    func selectColumns(_ v: VectorSelector, _ context: ColumnContext, _ sink: SeriesSink) throws(EvaluationError) {
        let refs = referenceTimes(v)
        guard let first = refs.first, let last = refs.last else { return }
        let lookback = options.lookbackDelta
        let steps = stepCount
        try forEachStoredSeries(
            v, from: min(first, last) - lookback, to: max(first, last), context,
            { labels, samples, _ in
                var out = StepSeries(labels: labels, steps: steps, dropName: false)
                var next = 0  // first sample after the reference time
                var any = false
                for i in 0..<steps {
                    let ref = refs[i]
                    while next < samples.count, samples[next].timestamp <= ref { next += 1 }
                    guard next > 0 else { continue }
                    let sample = samples[next - 1]
                    guard sample.timestamp > ref - lookback, !sample.isStale else { continue }
                    out.values[i] = sample.value
                    out.present[i] = true
                    any = true
                }
                return any ? out : nil
            }, sink)
    }

    /// A range function over a matrix selector: each step's window `(ref - range, ref]` found
    /// by moving two indexes forward through the series' samples.
    func rangeFunctionColumns(_ function: RangeFunction, _ c: Call, _ context: ColumnContext, _ sink: SeriesSink) throws(EvaluationError) {
        let matrixIndex = function == .quantileOverTime ? 1 : 0
        guard case .matrixSelector(let m) = Self.unparen(c.args[matrixIndex]) else { return }
        let scalars = c.args.indices.filter { $0 != matrixIndex }.compactMap { Self.constant(c.args[$0]) }
        var quantile = Double.nan
        switch function {
        case .doubleExponentialSmoothing:
            let sf = scalars.count > 0 ? scalars[0] : .nan, tf = scalars.count > 1 ? scalars[1] : .nan
            guard sf > 0, sf < 1 else { throw EvaluationError(.execution, "invalid smoothing factor. Expected: 0 < sf < 1, got: \(Self.formatValue(sf))") }
            guard tf > 0, tf < 1 else { throw EvaluationError(.execution, "invalid trend factor. Expected: 0 < tf < 1, got: \(Self.formatValue(tf))") }
        case .quantileOverTime:
            quantile = scalars.first ?? .nan
            if quantile.isNaN || quantile < 0 || quantile > 1 {
                context.warnings.append("PromQL warning: quantile value should be between 0 and 1, got \(Self.formatValue(quantile))")
            }
        default:
            break
        }
        let refs = referenceTimes(m.selector)
        guard let first = refs.first, let last = refs.last else { return }
        let range = rangeOf(m)
        let rangeSeconds = Double(range) / 1000
        let steps = stepCount
        let dropName = !function.keepsName
        let leaf: Leaf = { labels, stored, scratch in
            var out = StepSeries(labels: labels, steps: steps, dropName: dropName)
            var any = false
            // This thread's buffers, borrowed for the series.
            var resets: [Int] = [], kept: [Sample] = []
            swap(&resets, &scratch.resets)
            swap(&kept, &scratch.kept)
            defer {
                swap(&resets, &scratch.resets)
                swap(&kept, &scratch.kept)
            }
            func evaluate(_ samples: UnsafeBufferPointer<Sample>) {
                if function == .rate || function == .increase || function == .delta {
                    extrapolatedRates(samples)
                    return
                }
                var from = 0, to = 0
                for i in 0..<steps {
                    let ref = refs[i], lower = ref - range
                    while to < samples.count, samples[to].timestamp <= ref { to += 1 }
                    while from < to, samples[from].timestamp <= lower { from += 1 }
                    guard from < to else { continue }
                    let window = UnsafeBufferPointer(rebasing: samples[from..<to])
                    guard
                        let v = Self.compute(
                            function, window, t: stepTime(i), rangeStart: lower, rangeEnd: ref,
                            rangeSeconds: rangeSeconds, scalars: scalars, quantile: quantile)
                    else { continue }
                    out.values[i] = v
                    out.present[i] = true
                    any = true
                }
            }
            // rate, increase and delta in constant time per step: the counter resets are
            // found once, and each window adds the values before the resets inside it, in
            // order (the same additions as extrapolatedRate's loop, so the same result).
            func extrapolatedRates(_ samples: UnsafeBufferPointer<Sample>) {
                let isCounter = function != .delta
                resets.removeAll(keepingCapacity: true)
                if isCounter {
                    for k in samples.indices.dropFirst() where samples[k].value < samples[k - 1].value { resets.append(k) }
                }
                var from = 0, to = 0, reset = 0
                for i in 0..<steps {
                    let ref = refs[i], lower = ref - range
                    while to < samples.count, samples[to].timestamp <= ref { to += 1 }
                    while from < to, samples[from].timestamp <= lower { from += 1 }
                    guard to - from >= 2 else { continue }
                    let first = samples[from], last = samples[to - 1]
                    var result = last.value - first.value
                    if isCounter {
                        while reset < resets.count, resets[reset] <= from { reset += 1 }
                        var k = reset
                        while k < resets.count, resets[k] < to {
                            result += samples[resets[k] - 1].value
                            k += 1
                        }
                    }
                    out.values[i] = Self.extrapolate(
                        result, first: first, last: last, count: to - from, rangeStart: lower, rangeEnd: ref,
                        rangeSeconds: rangeSeconds, isCounter: isCounter, isRate: function == .rate)
                    out.present[i] = true
                    any = true
                }
            }
            // Windows never include stale markers: leave them out once.
            if stored.contains(where: \.isStale) {
                kept.removeAll(keepingCapacity: true)
                for s in stored where !s.isStale { kept.append(s) }
                kept.withUnsafeBufferPointer { evaluate($0) }
            } else {
                evaluate(stored)
            }
            return any ? out : nil
        }
        try forEachStoredSeries(m.selector, from: min(first, last) - range, to: max(first, last), context, leaf, sink)
    }
}
