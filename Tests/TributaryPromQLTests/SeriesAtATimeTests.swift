import Foundation
import Testing
import TributaryModel
import TributaryTSDB

@testable import TributaryPromQL

/// Series-at-a-time evaluation answers exactly as step-by-step evaluation does: every query
/// below, as range queries over several grids and as instant queries, gives the same labels,
/// timestamps and value bits (or the same error) both ways, on data with counter resets,
/// gaps, stale markers, NaN, infinities and sums that overflow.
@Suite struct SeriesAtATimeTests {
    static let queries = [
        "c_total", "c_total offset 3m", "c_total @ 3600", "c_total{mode!=\"idle\"}",
        "rate(c_total[5m])", "irate(c_total[1m])", "increase(c_total[10m] offset 1m)", "rate(c_total[5m] @ 4000)",
        "resets(c_total[15m])", "delta(g[5m])", "idelta(g[2m])", "deriv(g[10m])", "predict_linear(g[10m], 600)",
        "changes(g[5m])", "avg_over_time(g[5m])", "min_over_time(g[5m])", "max_over_time(g[10m])", "sum_over_time(g[5m])",
        "count_over_time(c_total[3m])", "last_over_time(c_total[2m])", "first_over_time(g[5m])", "present_over_time(g[1m])",
        "stddev_over_time(g[10m])", "stdvar_over_time(g[10m])", "quantile_over_time(0.9, g[10m])",
        "quantile_over_time(1.5, g[10m])", "mad_over_time(g[10m])", "ts_of_max_over_time(g[10m])",
        "ts_of_min_over_time(g[10m])", "ts_of_last_over_time(g[10m])", "double_exponential_smoothing(g[10m], 0.5, 0.3)",
        "holt_winters(g[10m], 1.5, 0.3)", "sum by (group) (rate(c_total[5m]))",
        "sum by (group) (rate(c_total{mode!=\"idle\"}[5m]))", "avg by (group) (g)", "avg(g)", "avg by (group) (big)", "avg(big)", "sum(big)", "sum by (group) (big)", "count(g)", "group(c_total)", "min without (instance) (g)",
        "max by (group, mode) (c_total)", "count by (group) (g)", "group by (mode) (c_total)", "stddev by (group) (g)",
        "stdvar(g)", "sum without (instance) (g)", "sum by (__name__) (c_total)", "sum by (__name__) (rate(c_total[5m]))",
        "-rate(c_total[5m])", "rate(c_total[5m]) * 8", "100 - rate(c_total[5m]) * 100", "rate(c_total[5m]) > 0.5",
        "rate(c_total[5m]) > bool 0.5", "0.5 < g", "2 ^ g", "g % 3", "abs(g)", "clamp(g, -1, 1)", "clamp(g, 1, -1)",
        "clamp_min(g, 0)", "round(g, 0.5)", "ln(g)", "hour(c_total)", "sum by (group) (rate(c_total[5m])) / 3",
        "topk(3, rate(c_total[5m]))", "histogram_quantile(0.9, sum by (le, group) (rate(b_bucket[5m])))",
        "rate(c_total[5m]) / on (group, instance, mode) c_total", "sum(rate(c_total[5m])) / sum(c_total)",
        "max_over_time(rate(c_total[1m])[10m:1m])", "rate({__name__=~\"dup_.*\"}[5m])",
        "last_over_time({__name__=~\"dup_.*\"}[5m])", "{__name__=~\"dup_.*\"} * 1", "count(g > 0.5)",
        "absent(nothing)", "sum by (group) (c_total) + on (group) group_left sum by (group) (g)",
        "timestamp(c_total)", "sort_desc(sum by (instance) (g))", "label_replace(rate(c_total[5m]), \"x\", \"$1\", \"group\", \"(.*)\")",
        "scalar(sum(g)) * g", "quantile(0.5, rate(c_total[5m]))", "count_values(\"v\", round(g))",
        "sum(rate(c_total[5m]) * on (instance) group_left g)", "avg_over_time((g * 2)[5m:30s])",
        // Vector matching, its errors included (the first at the same step both ways).
        "c_total + ignoring (mode) g", "c_total + ignoring (mode) group_left g", "g + on (group) group_right c_total",
        "c_total > on (group, instance, mode) (c_total * 0.5)", "c_total > bool ignoring (mode) group_left g",
        "c_total / on (group, instance) group_left (mode) g", "c_total / on (group, instance) group_left g",
        "g * on (group, instance) group_left (mode) c_total", "rate(c_total[5m]) - on (group, instance, mode) rate(c_total[10m])",
        "dup_a + on (x) dup_b", "last_over_time(dup_a[1h]) + on (x) dup_b",
        // One-to-one pairs computed column by column, handed on in the step-by-step order
        // (topk over ties: all ones, so order picks the series).
        "sum by (group) (rate(c_total[5m]) / on (group, instance, mode) c_total)", "topk(3, c_total / on (group, instance, mode) c_total)",
        "count by (group) (rate(c_total[5m]) > on (group, instance, mode) rate(c_total[10m]))",
        "rate(c_total[5m]) < bool on (group, instance, mode) rate(c_total[10m])",
        // topk and bottomk at the root: groups, ties (rounded values), NaN, k past the group,
        // k below 1, a NaN or overflowing k, and names that collide once dropped.
        "bottomk(2, g)", "topk by (group) (2, g)", "bottomk without (instance) (1, g)", "topk(2, round(g))",
        "bottomk by (group) (3, round(g * 2))", "topk(100, rate(c_total[5m]))", "topk(0.5, g)", "topk(-1, g)", "topk(NaN, g)",
        "topk(1e19, g)", "topk(2.9, -g)", "(topk(1, g))", "topk(1, {__name__=~\"dup_.*\"} * 1)", "topk(3, ln(g))"
    ]

    /// Counters with resets, flat stretches and a stale end (and one of a single sample),
    /// gauges with NaN and infinities, buckets, and two metrics that collide once their names
    /// are dropped. Two hours, about 15 s apart.
    static func head() throws -> Head {
        let head = Head()
        var seed: UInt64 = 42
        func random() -> Double {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(seed >> 11) / Double(1 << 53)
        }
        _ = try head.commit { b in
            for group in ["g1", "g2", "g3"] {
                for instance in 0..<4 {
                    for mode in ["idle", "user"] {
                        let labels: Labels = ["__name__": "c_total", "group": group, "instance": "i\(instance)", "mode": mode]
                        var value = 0.0
                        var t: Int64 = 0
                        while t < 7_200_000 {
                            // A reset now and then, and flat stretches (an equal value is no reset).
                            let draw = random()
                            value = draw < 0.01 ? random() * 10 : draw < 0.1 ? value : value + random() * 30
                            if !(instance == 3 && t > 3_000_000 && t < 3_600_000) {  // a gap
                                _ = b.append(labels, Sample(timestamp: t, value: value))
                            }
                            t += 15_000 + Int64(random() * 400) - 200
                        }
                        if instance == 2 { _ = b.append(labels, Sample(timestamp: t, value: StaleMarker.value)) }
                    }
                    let gauge: Labels = ["__name__": "g", "group": group, "instance": "i\(instance)"]
                    var t: Int64 = 5000
                    var k = 0
                    while t < 7_200_000 {
                        var v = random() * 4 - 1
                        if instance == 1, k % 97 == 5 { v = .nan }
                        if instance == 0, group == "g2", k == 200 { v = .infinity }
                        if instance == 3, k == 300 { v = StaleMarker.value }
                        _ = b.append(gauge, Sample(timestamp: t, value: v))
                        t += 15_000
                        k += 1
                    }
                    // Values near the largest double: a group's sum overflows at the steps
                    // where two of them meet, and avg answers the incremental mean there.
                    t = 7000
                    while t < 7_200_000 {
                        let v = random() < 0.4 ? 9.988465674311579e307 * (random() < 0.9 ? 1 : -1) : random() * 100
                        _ = b.append(["__name__": "big", "group": group, "instance": "i\(instance)"], Sample(timestamp: t, value: v))
                        t += 15_000
                    }
                }
                for (i, le) in ["0.1", "1", "+Inf"].enumerated() {
                    var value = 0.0
                    var t: Int64 = 0
                    while t < 7_200_000 {
                        value += Double(i + 1) * random() * 5
                        _ = b.append(["__name__": "b_bucket", "group": group, "le": le], Sample(timestamp: t, value: value))
                        t += 15_000
                    }
                }
            }
            // One sample: selected by every range, but no rate, increase or delta window has
            // two samples, so those answer nothing for it (not an empty series).
            _ = b.append(["__name__": "c_total", "group": "g1", "instance": "i9", "mode": "lone"], Sample(timestamp: 1_800_000, value: 5))
            for name in ["dup_a", "dup_b"] {
                var t: Int64 = name == "dup_a" ? 0 : 3_600_000
                while t < (name == "dup_a" ? 3_000_000 : 7_200_000) {
                    _ = b.append(["__name__": name, "x": "1"], Sample(timestamp: t, value: Double(t / 1000)))
                    t += 15_000
                }
            }
        }
        return head
    }

    /// Series at a time spread over 4 threads in batches of 5 series, 10 for 32 steps or
    /// fewer (so batches end inside selectors and aggregations), and step by step.
    static let pool = WorkerPool(helpers: 3, minimumSeries: 1, batch: 5, maximumBatch: 10)

    static func engines() -> (Engine, Engine) {
        var columnar = EngineOptions()
        columnar.workers = pool
        var stepwise = EngineOptions()
        stepwise.seriesAtATime = false
        return (Engine(options: columnar), Engine(options: stepwise))
    }

    /// The same, on one thread: the parallel path must not be the only one tested.
    @Test func singleThreadedAnswersTheSame() throws {
        let head = try Self.head()
        let (_, stepwise) = Self.engines()
        let single = Engine()
        for q in Self.queries {
            let a = Result { try single.rangeQuery(q, start: 1_234_567, end: 6_000_000, step: 37_000, querier: head.querier()) }
            let b = Result { try stepwise.rangeQuery(q, start: 1_234_567, end: 6_000_000, step: 37_000, querier: head.querier()) }
            if let difference = Self.difference(a, b) { Issue.record("\(q): \(difference)") }
        }
    }

    @Test func rangeQueriesAnswerTheSameBothWays() throws {
        let head = try Self.head()
        let (columnar, stepwise) = Self.engines()
        var compared = 0
        for (start, end, step) in [(Int64(600_000), Int64(7_200_000), Int64(15_000)), (1_234_567, 6_000_000, 37_000), (0, 7_200_000, 300_000)] {
            for q in Self.queries {
                let a = Result { try columnar.rangeQuery(q, start: start, end: end, step: step, querier: head.querier()) }
                let b = Result { try stepwise.rangeQuery(q, start: start, end: end, step: step, querier: head.querier()) }
                if let difference = Self.difference(a, b) { Issue.record("\(q) [\(start), \(end)] step \(step): \(difference)") }
                compared += 1
            }
        }
        #expect(compared == Self.queries.count * 3)
    }

    @Test func instantQueriesAnswerTheSameBothWays() throws {
        let head = try Self.head()
        let (columnar, stepwise) = Self.engines()
        for t in [Int64(0), 299_999, 3_100_000, 3_700_000, 7_200_000, 7_500_000] {
            for q in Self.queries {
                let a = Result { try columnar.instantQuery(q, at: t, querier: head.querier()) }
                let b = Result { try stepwise.instantQuery(q, at: t, querier: head.querier()) }
                if let difference = Self.difference(a, b) { Issue.record("\(q) at \(t): \(difference)") }
            }
        }
    }

    /// A refresh's few steps: each task reads up to 16 consecutive series of a batch
    /// (``Evaluator/seriesPerTask(steps:)``); in batches of 20, a task ends inside a batch and
    /// another at its end, and 24 `c_total` series take two batches.
    @Test func fewStepQueriesInTasksOfManySeriesAnswerTheSame() throws {
        let head = try Self.head()
        var options = EngineOptions()
        options.workers = WorkerPool(helpers: 3, minimumSeries: 1, batch: 20, maximumBatch: 20)
        let columnar = Engine(options: options)
        let (_, stepwise) = Self.engines()
        #expect(Evaluator.seriesPerTask(steps: 1) == 16 && Evaluator.seriesPerTask(steps: 3) == 16 && Evaluator.seriesPerTask(steps: 241) == 1)
        var points = 0
        for t in [Int64(299_999), 3_100_000, 7_200_000] {
            for q in Self.queries {
                let a = Result { try columnar.instantQuery(q, at: t, querier: head.querier()) }
                let b = Result { try stepwise.instantQuery(q, at: t, querier: head.querier()) }
                if let difference = Self.difference(a, b) { Issue.record("\(q) at \(t): \(difference)") }
                let c = Result { try columnar.rangeQuery(q, start: t - 30_000, end: t, step: 15_000, querier: head.querier()) }
                let d = Result { try stepwise.rangeQuery(q, start: t - 30_000, end: t, step: 15_000, querier: head.querier()) }
                if let difference = Self.difference(c, d) { Issue.record("\(q) 3 steps to \(t): \(difference)") }
                if case .success((.matrix(let m), _)) = c { points += m.reduce(0) { $0 + $1.samples.count } }
            }
        }
        #expect(points > 1000)
    }

    /// The queries mean something: most answer with data, some fail, on both sides alike.
    @Test func theQueriesExerciseDataAndErrors() throws {
        let head = try Self.head()
        let (columnar, _) = Self.engines()
        var points = 0
        var failures: [String] = []
        for q in Self.queries {
            do {
                let (value, _) = try columnar.rangeQuery(q, start: 600_000, end: 7_200_000, step: 15_000, querier: head.querier())
                if case .matrix(let m) = value { points += m.reduce(0) { $0 + $1.samples.count } }
            } catch {
                failures.append(q)
            }
        }
        #expect(points > 100_000)
        // An invalid smoothing factor; vector matching rules broken (dup_a and dup_b never
        // overlap in this range, so dropping their names does not collide here); a NaN k and
        // one that overflows int64.
        #expect(
            failures == [
                "holt_winters(g[10m], 1.5, 0.3)", "sum(rate(c_total[5m]) * on (instance) group_left g)", "c_total + ignoring (mode) g",
                "g + on (group) group_right c_total", "c_total / on (group, instance) group_left (mode) g",
                "g * on (group, instance) group_left (mode) c_total", "topk(NaN, g)", "topk(1e19, g)"
            ], "\(failures)")
    }

    /// Nil when both answered alike, else what differs.
    static func difference(_ a: Result<(QueryValue, Annotations), any Error>, _ b: Result<(QueryValue, Annotations), any Error>) -> String? {
        switch (a, b) {
        case (.failure(let x), .failure(let y)):
            return "\(x)" == "\(y)" ? nil : "errors differ: \(x) vs \(y)"
        case (.failure(let x), .success):
            return "series at a time failed: \(x)"
        case (.success, .failure(let y)):
            return "step by step failed: \(y)"
        case (.success(let (x, xa)), .success(let (y, ya))):
            // Warnings and infos; the work figures (samples read, peak) differ by design.
            if xa.warnings != ya.warnings || xa.infos != ya.infos { return "annotations differ: \(xa) vs \(ya)" }
            return difference(x, y)
        }
    }

    static func difference(_ x: QueryValue, _ y: QueryValue) -> String? {
        switch (x, y) {
        case (.matrix(let m), .matrix(let n)):
            guard m.count == n.count else { return "\(m.count) vs \(n.count) series" }
            for (s, r) in zip(m, n) {
                guard s.labels == r.labels else { return "labels \(s.labels) vs \(r.labels)" }
                guard s.samples.count == r.samples.count else { return "\(s.labels): \(s.samples.count) vs \(r.samples.count) points" }
                // Sample's == compares value bits: NaN equals only the same NaN.
                if let k = s.samples.indices.first(where: { s.samples[$0] != r.samples[$0] }) {
                    return "\(s.labels): \(s.samples[k]) vs \(r.samples[k])"
                }
            }
            return nil
        case (.vector(let t, let v), .vector(let u, let w)):
            guard t == u else { return "time \(t) vs \(u)" }
            let sortedV = v.sorted { $0.labels < $1.labels }, sortedW = w.sorted { $0.labels < $1.labels }
            guard sortedV.count == sortedW.count else { return "\(v.count) vs \(w.count) samples" }
            for (s, r) in zip(sortedV, sortedW) where s.labels != r.labels || s.value.bitPattern != r.value.bitPattern {
                return "\(s.labels)=\(s.value) vs \(r.labels)=\(r.value)"
            }
            return nil
        case (.scalar(let t, let v), .scalar(let u, let w)):
            return t == u && v.bitPattern == w.bitPattern ? nil : "\(v)@\(t) vs \(w)@\(u)"
        default:
            return "types \(x.resultType) vs \(y.resultType)"
        }
    }
}

/// The batch slots a query of few steps leaves behind are kept for the next one, with the
/// arrays computed in them, and none of its labels; those of many steps are not, and no more
/// than a few sets are kept.
@Suite struct KeptSlotsTests {
    typealias Slots = Evaluator.KeptSlots

    /// The address of the values of the series in `slots[i]`.
    static func storage(_ slots: [Evaluator.Computed], _ i: Int) -> UnsafeRawPointer? {
        slots[i].series.values.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
    }

    @Test func fewStepSlotsAreKeptWithTheirArraysAndWithoutLabels() throws {
        let kept = Slots()
        var slots = kept.take(100, steps: 1)
        #expect(slots.count == 100 && kept.count == 0)
        slots[7].series.reset(labels: Labels(sortedPairs: [("a", "b")]), steps: 1, dropName: false)
        let values = try #require(Self.storage(slots, 7))
        kept.give(&slots, steps: 1)
        #expect(slots.isEmpty && kept.count == 1)
        // A smaller batch takes the same set: its series' arrays are reused, its labels gone.
        let again = kept.take(50, steps: 1)
        #expect(again.count == 100 && kept.count == 0)
        #expect(Self.storage(again, 7) == values)
        #expect(again[7].series.labels == .empty)
        // A larger batch makes its own.
        var larger = kept.take(100, steps: 1)
        kept.give(&larger, steps: 1)
        #expect(kept.take(101, steps: 1).count == 101 && kept.count == 1)
    }

    @Test func manyStepSlotsAreNotKeptAndFewSetsAreKept() {
        let kept = Slots()
        var long = kept.take(10, steps: Slots.maxSteps + 1)
        kept.give(&long, steps: Slots.maxSteps + 1)
        #expect(kept.count == 0)
        for _ in 0..<(Slots.most + 2) {
            var slots = kept.take(10, steps: 1)
            var more = kept.take(10, steps: 1)
            kept.give(&slots, steps: 1)
            kept.give(&more, steps: 1)
        }
        #expect(kept.count == 2, "two sets in use at a time, two kept")
        var sets = (0..<(Slots.most + 2)).map { _ in kept.take(10, steps: 1) }
        for i in sets.indices { kept.give(&sets[i], steps: 1) }
        #expect(kept.count == Slots.most)
    }

    /// Small queries (a panel of 8 series) fill the kept sets first: a large query's set given
    /// back then takes the place of the smallest, and the next large query reuses it.
    @Test func aLargeSetReplacesTheSmallestKept() throws {
        let kept = Slots()
        var small = (0..<Slots.most).map { _ in kept.take(8, steps: 1) }
        for i in small.indices { kept.give(&small[i], steps: 1) }
        var large = kept.take(4096, steps: 1)
        #expect(large.count == 4096)
        large[100].series.reset(labels: .empty, steps: 1, dropName: false)
        let values = try #require(Self.storage(large, 100))
        kept.give(&large, steps: 1)
        #expect(kept.count == Slots.most)
        // A small query takes a small set, leaving the large one for a large query.
        var small8 = kept.take(8, steps: 1)
        #expect(small8.count == 8)
        let again = kept.take(4096, steps: 1)
        #expect(Self.storage(again, 100) == values, "the large set was kept")
        kept.give(&small8, steps: 1)
    }
}
