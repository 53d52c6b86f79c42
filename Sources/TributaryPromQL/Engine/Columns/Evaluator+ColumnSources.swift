import Foundation
import Synchronization
import TributaryModel

/// The leaves of series-at-a-time evaluation: instant selectors and range functions over
/// matrix selectors, each series read once for all steps.
extension Evaluator {
    /// Buffers one thread reuses from series to series. Each belongs to one worker, which
    /// uses it for one series at a time: their accesses are not checked at run time (a
    /// `swift_beginAccess` pair each, several per series).
    final class Scratch {
        @exclusivity(unchecked) var samples: [Sample] = []
        /// The samples without stale markers, and the positions of counter resets.
        @exclusivity(unchecked) var kept: [Sample] = []
        @exclusivity(unchecked) var resets: [Int] = []
        /// Prometheus's queryable samples of the series this worker computed: one per step an
        /// instant selector has a value at, the samples of each step's window for a range
        /// function.
        @exclusivity(unchecked) var queryable = 0
    }

    /// Series one task reads and computes when each has `steps` steps: for a refresh's few
    /// steps up to 16 consecutive ones, so that two workers do not take turns at the task
    /// counter for every series or write neighbouring slots of a batch (one cache line); a
    /// one-step read over 13k-15k series took 11-15 % less CPU. One for 64 steps and more, where
    /// a series is tens of microseconds of work and larger tasks left a worker idle at the end
    /// of a batch (`max_over_time` over 235 series and 241 steps: ~10 % slower).
    static func seriesPerTask(steps: Int) -> Int {
        max(1, min(16, 64 / max(1, steps)))
    }

    /// What a leaf computes from one stored series (its labels and samples, stale markers
    /// included): its columns, written into `out` (the series computed before in the same
    /// slot, to be reset first; ``StepSeries/reset(labels:steps:dropName:)``), and whether
    /// any step has a value. Called from several threads at once, each with its own scratch
    /// buffers.
    typealias Leaf = (_ labels: Labels, _ samples: UnsafeBufferPointer<Sample>, Scratch, _ out: inout StepSeries) -> Bool

    /// Reads each series matching `v` in `[from, to]`, computes `leaf` of it and hands the
    /// result to `sink` in the order the storage returned the series. With a worker pool,
    /// batches are read and computed on several threads; without, one series at a time (a
    /// batch's results would push the series being read out of the caches). With
    /// `newestOnly`, `leaf` uses only each series' newest sample in `[from, to]`, and the
    /// storage may hand it that one alone (``SelectedSeries/readNewest(_:appendingTo:)``).
    func forEachStoredSeries(
        _ v: VectorSelector, from: Int64, to: Int64, newestOnly: Bool = false, _ context: ColumnContext, _ leaf: Leaf, _ sink: SeriesSink
    ) throws(EvaluationError) {
        let series: any SelectedSeries
        do {
            series =
                options.deferredSelection
                ? try querier.selectDeferred(v.matchers, start: from, end: to, on: options.workers)
                : SelectedList(try querier.selectUnsorted(v.matchers, start: from, end: to, on: options.workers))
        } catch {
            throw EvaluationError(reading: error)
        }
        let pool = WorkerPool.spreading(series.count, on: options.workers)
        let batch = pool?.batch(steps: stepCount) ?? 1
        let perTask = Self.seriesPerTask(steps: stepCount)
        let scratch = (0..<(pool?.workers ?? 1)).map { _ in Scratch() }
        // Two batches in flight: while one is computed, the one before it is handed to `sink`
        // (one task among the computing ones: the folds above are not safe to run twice at
        // once, and they are in order because each batch's run ends before the next starts).
        // Handed on by the caller after each batch, they left the helpers idle a third of a
        // heavy query's time.
        var computing = KeptSlots.shared.take(min(batch, series.count), steps: stepCount)
        var handing = KeptSlots.shared.take(min(batch, series.count), steps: stepCount)
        defer {
            KeptSlots.shared.give(&computing, steps: stepCount)
            KeptSlots.shared.give(&handing, steps: stepCount)
        }
        var pending = 0
        func handOn(_ results: UnsafeMutableBufferPointer<Computed>, _ n: Int) throws(EvaluationError) {
            for j in 0..<n {
                try context.read(results[j].samplesRead)
                guard results[j].hasValues else { continue }
                // Handed on in place: unless the sink takes it (``StepSeries/take()``), the
                // slot's arrays are reused by the next series computed in it.
                try sink(&results[j].series)
            }
        }
        var first = 0
        let failure = Mutex<EvaluationError?>(nil)
        while first < series.count {
            let n = min(batch, series.count - first)
            let previous = pending
            let offset = previous > 0 ? 1 : 0
            computing.withUnsafeMutableBufferPointer { results in
                handing.withUnsafeMutableBufferPointer { handing in
                    runTasks(on: pool, tasks: (n + perTask - 1) / perTask + offset) { worker, task in
                        if task < offset {
                            do throws(EvaluationError) {
                                try handOn(handing, previous)
                            } catch {
                                failure.withLock { $0 = error }
                            }
                            return
                        }
                        let buffers = scratch[worker]
                        let from = (task - offset) * perTask
                        series.prepare((first + from)..<(first + min(n, from + perTask)))
                        for j in from..<min(n, from + perTask) {
                            buffers.samples.removeAll(keepingCapacity: true)
                            results[j].samplesRead = 0
                            results[j].hasValues = false
                            // Read here, on the thread that computes it.
                            let labels: Labels?
                            do throws(QueryError) {
                                labels =
                                    try newestOnly
                                    ? series.readNewest(first + j, appendingTo: &buffers.samples)
                                    : series.read(first + j, appendingTo: &buffers.samples)
                            } catch {
                                failure.withLock { $0 = EvaluationError(reading: error) }
                                return
                            }
                            guard let labels else { continue }
                            results[j].samplesRead = buffers.samples.count
                            results[j].hasValues = buffers.samples.withUnsafeBufferPointer { leaf(labels, $0, buffers, &results[j].series) }
                        }
                    }
                }
            }
            if let error = failure.withLock({ $0 }) { throw error }
            swap(&computing, &handing)
            pending = n
            first += n
        }
        try handing.withUnsafeMutableBufferPointer { (handing) throws(EvaluationError) in try handOn(handing, pending) }
        for s in scratch { context.queryable += s.queryable }
    }

    /// One slot of a batch: the series computed in it, whether it has a value at any step,
    /// and the samples read for it (counted against the query's budget when it is handed on).
    /// Slots are reused batch after batch, and with them the series' arrays
    /// (``StepSeries/reset(labels:steps:dropName:)``).
    struct Computed {
        var series = StepSeries.empty
        var hasValues = false
        var samplesRead = 0
    }

    /// Batch slots (``Computed``) kept from one query to the next when their series have few
    /// steps, with the arrays of the series computed in them: a refresh's one-step read of
    /// 2k-13k series allocated two small arrays per series in fresh slots and freed them all
    /// at its end (a quarter of its CPU with malloc's locking and consolidation). At most
    /// ``most`` sets of slots, for up to ``maxSteps`` steps: a few MB.
    final class KeptSlots: Sendable {
        static let shared = KeptSlots()
        static let most = 4
        static let maxSteps = 8
        /// Smallest first.
        private let kept = Mutex<[[Computed]]>([])

        /// At least `count` slots: the smallest kept set large enough (the larger ones stay for
        /// larger queries running at the same time), else new empty ones.
        func take(_ count: Int, steps: Int) -> [Computed] {
            if steps <= Self.maxSteps,
                let found = kept.withLock({ kept -> [Computed]? in
                    guard let i = kept.firstIndex(where: { $0.count >= count }) else { return nil }
                    return kept.remove(at: i)
                })
            {
                return found
            }
            return [Computed](repeating: Computed(), count: count)
        }

        /// Keeps `slots` (left empty) for a later query, their labels dropped; when ``most``
        /// are kept, in place of the smallest one if that is smaller (else a dashboard's small
        /// panels would fill the places and its large panel would find none).
        func give(_ slots: inout [Computed], steps: Int) {
            guard steps <= Self.maxSteps, !slots.isEmpty else { return }
            var given: [Computed] = []
            swap(&given, &slots)
            given.withUnsafeMutableBufferPointer { slots in
                for i in slots.indices { slots[i].series.labels = .empty }
            }
            kept.withLock { kept in
                if kept.count == Self.most {
                    guard let smallest = kept.first, smallest.count < given.count else { return }
                    kept.removeFirst()
                }
                kept.insert(given, at: kept.firstIndex { $0.count > given.count } ?? kept.count)
            }
        }

        /// Sets kept (for tests).
        var count: Int { kept.withLock { $0.count } }
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
        // Every step at one time (one step, or `@`): only the newest sample before it counts.
        try forEachStoredSeries(
            v, from: min(first, last) - lookback, to: max(first, last), newestOnly: first == last, context,
            { labels, samples, scratch, out in
                out.reset(labels: labels, steps: steps, dropName: false)
                var next = 0  // first sample after the reference time
                // Through pointers, as in rangeFunctionColumns; `any` lives inside the closure
                // (see there).
                return out.withMutableColumns { values, present -> Bool in
                    var any = false
                    var picked = 0
                    defer { scratch.queryable += picked }
                    refs.withUnsafeBufferPointer { refs in
                        for i in 0..<steps {
                            let ref = refs[i]
                            while next < samples.count, samples[next].timestamp <= ref { next += 1 }
                            guard next > 0 else { continue }
                            let sample = samples[next - 1]
                            guard sample.timestamp > ref - lookback, !sample.isStale else { continue }
                            values[i] = sample.value
                            present[i] = true
                            any = true
                            picked += 1
                        }
                    }
                    return any
                }
            }, sink)
    }

    /// A range function over a matrix selector: each step's window `(ref - range, ref]` found
    /// by moving two indexes forward through the series' samples.
    func rangeFunctionColumns(_ function: RangeFunction, _ c: Call, _ context: ColumnContext, _ sink: SeriesSink) throws(EvaluationError) {
        guard case .matrixSelector(let m) = Self.unparen(c.args[function.matrixArgument]) else { return }
        let scalars = c.args.indices.filter { $0 != function.matrixArgument }.compactMap { Self.constant(c.args[$0]) }
        if let warning = try Self.checkParameters(function, scalars) { context.warnings.append(warning) }
        let refs = referenceTimes(m.selector)
        guard let first = refs.first, let last = refs.last else { return }
        let range = rangeOf(m)
        let rangeSeconds = Double(range) / 1000
        let steps = stepCount
        let dropName = !function.keepsName
        let leaf: Leaf = { labels, stored, scratch, out in
            out.reset(labels: labels, steps: steps, dropName: dropName)
            // Columns written through pointers: an indexed write checked the arrays'
            // uniqueness at every step. `any` is the closure's own and returned: captured from
            // outside it, reading it afterwards was a run-time exclusivity check per series.
            return out.withMutableColumns { values, present -> Bool in
                var any = false
                refs.withUnsafeBufferPointer { refs in
                    func set(_ i: Int, _ value: Double) {
                        values[i] = value
                        present[i] = true
                        any = true
                    }
                    /// Calls `body` with each step and the indexes `from..<to` of its window's samples.
                    func forEachWindow(_ samples: UnsafeBufferPointer<Sample>, _ body: (_ step: Int, _ from: Int, _ to: Int) -> Void) {
                        var from = 0, to = 0, windowed = 0
                        for i in 0..<steps {
                            while to < samples.count, samples[to].timestamp <= refs[i] { to += 1 }
                            while from < to, samples[from].timestamp <= refs[i] - range { from += 1 }
                            windowed += to - from
                            body(i, from, to)
                        }
                        scratch.queryable += windowed
                    }
                    func evaluate(_ samples: UnsafeBufferPointer<Sample>) {
                        guard function == .rate || function == .increase || function == .delta else {
                            forEachWindow(samples) { i, from, to in
                                guard from < to,
                                    let v = Self.compute(
                                        function, UnsafeBufferPointer(rebasing: samples[from..<to]), t: stepTime(i), rangeStart: refs[i] - range,
                                        rangeEnd: refs[i], rangeSeconds: rangeSeconds, scalars: scalars)
                                else { return }
                                set(i, v)
                            }
                            return
                        }
                        // rate, increase and delta in constant time per step: the counter resets are
                        // found once, and each window adds the values before the resets inside it, in
                        // order (the same additions as extrapolatedRate's loop, so the same result).
                        let isCounter = function != .delta
                        scratch.resets.removeAll(keepingCapacity: true)
                        if isCounter {
                            for k in samples.indices.dropFirst() where samples[k].value < samples[k - 1].value { scratch.resets.append(k) }
                        }
                        let resets = scratch.resets
                        var reset = 0
                        var extrapolate = Extrapolation(rangeSeconds: rangeSeconds, isCounter: isCounter, isRate: function == .rate)
                        forEachWindow(samples) { i, from, to in
                            guard to - from >= 2 else { return }
                            var result = samples[to - 1].value - samples[from].value
                            if isCounter {
                                while reset < resets.count, resets[reset] <= from { reset += 1 }
                                var k = reset
                                while k < resets.count, resets[k] < to {
                                    result += samples[resets[k] - 1].value
                                    k += 1
                                }
                            }
                            set(i, extrapolate(result, first: samples[from], last: samples[to - 1], count: to - from, rangeStart: refs[i] - range, rangeEnd: refs[i]))
                        }
                    }
                    // Windows never include stale markers: leave them out once.
                    if stored.contains(where: \.isStale) {
                        scratch.kept.removeAll(keepingCapacity: true)
                        for s in stored where !s.isStale { scratch.kept.append(s) }
                        scratch.kept.withUnsafeBufferPointer { evaluate($0) }
                    } else {
                        evaluate(stored)
                    }
                }
                return any
            }
        }
        try forEachStoredSeries(m.selector, from: min(first, last) - range, to: max(first, last), context, leaf, sink)
    }
}
