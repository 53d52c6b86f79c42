import Testing
import TributaryModel

@testable import TributaryPromQL

/// ``Extrapolation`` (divisions reused from step to step) gives what Prometheus's
/// `extrapolatedRate` formula as written gives (``reference``), to the bit, for windows of every shape: regular, jittered and missed scrapes, counters near
/// zero (the time-to-zero bound), subnormal, huge, infinite and NaN values.
@Suite struct ExtrapolationTests {
    static let values: [Double] = [
        0, 1, 2.5, 1e-3, 7, 100, 1e6, 1e15, 1e300, 1e-300, 5e-324, 3e-310, -4, -1e-300, .infinity, -.infinity, .nan, .greatestFiniteMagnitude
    ]

    /// The end of `extrapolatedRate` as Prometheus writes it, every division in place.
    static func reference(
        _ result: Double, first: Sample, last: Sample, count: Int, rangeStart: Int64, rangeEnd: Int64, rangeSeconds: Double,
        isCounter: Bool, isRate: Bool
    ) -> Double {
        var durationToStart = Double(first.timestamp - rangeStart) / 1000
        var durationToEnd = Double(rangeEnd - last.timestamp) / 1000
        let sampledInterval = Double(last.timestamp - first.timestamp) / 1000
        let averageBetween = sampledInterval / Double(count - 1)
        let threshold = averageBetween * 1.1
        var extrapolateTo = sampledInterval
        if durationToStart >= threshold { durationToStart = averageBetween / 2 }
        if isCounter, result > 0, first.value >= 0 {
            let durationToZero = sampledInterval * (first.value / result)
            if durationToZero < durationToStart { durationToStart = durationToZero }
        }
        extrapolateTo += durationToStart
        if durationToEnd >= threshold { durationToEnd = averageBetween / 2 }
        extrapolateTo += durationToEnd
        var factor = extrapolateTo / sampledInterval
        if isRate { factor /= rangeSeconds }
        return result * factor
    }

    /// A counter at 0 whose increase is the smallest subnormal, two samples 1 ms apart, the
    /// first 1 ms into the window, the last on its end: the bound `2 * durationToStart * result`
    /// underflows to 0, which would rule the time to zero (0 s, shorter than 1 ms) out, doubling
    /// the increase. It must be computed.
    @Test func aSubnormalIncreaseStillReachesZero() {
        var extrapolation = Extrapolation(rangeSeconds: 0.002, isCounter: true, isRate: false)
        let first = Sample(timestamp: 1_001, value: 0), last = Sample(timestamp: 1_002, value: 5e-324)
        let want = Self.reference(5e-324, first: first, last: last, count: 2, rangeStart: 1_000, rangeEnd: 1_002, rangeSeconds: 0.002, isCounter: true, isRate: false)
        let got = extrapolation(5e-324, first: first, last: last, count: 2, rangeStart: 1_000, rangeEnd: 1_002)
        #expect(want == 5e-324, "the time to zero shortens the extrapolation to nothing")
        #expect(got.bitPattern == want.bitPattern, "\(got) against \(want)")
    }

    @Test func sameBitsAsTheFormula() {
        var random = SystemRandomNumberGenerator()
        var checked = 0, shortened = 0
        for _ in 0..<600 {
            let range = Int64([60_000, 300_000, 600_000].randomElement(using: &random) ?? 300_000)
            let scrape = Int64([1_000, 15_000, 30_000].randomElement(using: &random) ?? 15_000)
            let jitter = Int64([0, 0, 7, 900].randomElement(using: &random) ?? 0)
            let isCounter = Bool.random(using: &random)
            let isRate = Bool.random(using: &random)
            var extrapolation = Extrapolation(rangeSeconds: Double(range) / 1000, isCounter: isCounter, isRate: isRate)
            // One series' windows at consecutive steps, as the column evaluator calls it.
            var times: [Int64] = []
            var t = Int64.random(in: 0..<scrape, using: &random)
            // Some scrapes missing: windows with the same edges but fewer samples.
            let missing = Double([0, 0.1].randomElement(using: &random) ?? 0)
            while t < 6 * range {
                if Double.random(in: 0..<1, using: &random) >= missing { times.append(t + (jitter > 0 ? Int64.random(in: 0...jitter, using: &random) : 0)) }
                t += scrape
            }
            let step = Int64([scrape, 2 * scrape, 5_000].randomElement(using: &random) ?? scrape)
            var end = range
            while end < 6 * range {
                let inside = Array(times[times.partitioningIndex { $0 > end - range }..<times.partitioningIndex { $0 > end }])
                end += step
                guard inside.count >= 2 else { continue }
                let firstValue = Bool.random(using: &random) ? Self.values.randomElement(using: &random) ?? 0 : Double.random(in: 0...1e4, using: &random)
                let result = Bool.random(using: &random) ? Self.values.randomElement(using: &random) ?? 0 : Double.random(in: -1...1e6, using: &random)
                let first = Sample(timestamp: inside[0], value: firstValue)
                let last = Sample(timestamp: inside[inside.count - 1], value: firstValue + result)
                let want = Self.reference(
                    result, first: first, last: last, count: inside.count, rangeStart: end - step - range, rangeEnd: end - step,
                    rangeSeconds: Double(range) / 1000, isCounter: isCounter, isRate: isRate)
                let got = extrapolation(result, first: first, last: last, count: inside.count, rangeStart: end - step - range, rangeEnd: end - step)
                checked += 1
                let unshortened = Self.reference(
                    result, first: first, last: last, count: inside.count, rangeStart: end - step - range, rangeEnd: end - step,
                    rangeSeconds: Double(range) / 1000, isCounter: false, isRate: isRate)
                if isCounter, want.bitPattern != unshortened.bitPattern, !want.isNaN { shortened += 1 }
                guard got.bitPattern == want.bitPattern || (got.isNaN && want.isNaN) else {
                    Issue.record("result \(result), first \(first), last \(last), count \(inside.count), counter \(isCounter), rate \(isRate): \(got) against \(want)")
                    return
                }
            }
        }
        #expect(checked > 10_000, "\(checked) windows")
        #expect(shortened > 100, "windows whose counter reaches zero before the first sample: \(shortened)")
    }
}
