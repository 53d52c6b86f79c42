import Testing
import TributaryModel

@testable import TributaryPromQL

/// ``Extrapolation`` (divisions reused from step to step) gives what ``Evaluator/extrapolate``
/// gives, to the bit, for windows of every shape: regular, jittered and missed scrapes, counters near
/// zero (the time-to-zero bound), subnormal, huge, infinite and NaN values.
@Suite struct ExtrapolationTests {
    static let values: [Double] = [
        0, 1, 2.5, 1e-3, 7, 100, 1e6, 1e15, 1e300, 1e-300, 5e-324, 3e-310, -4, -1e-300, .infinity, -.infinity, .nan, .greatestFiniteMagnitude
    ]

    @Test func sameBitsAsExtrapolate() {
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
                let want = Evaluator.extrapolate(
                    result, first: first, last: last, count: inside.count, rangeStart: end - step - range, rangeEnd: end - step,
                    rangeSeconds: Double(range) / 1000, isCounter: isCounter, isRate: isRate)
                let got = extrapolation(result, first: first, last: last, count: inside.count, rangeStart: end - step - range, rangeEnd: end - step)
                checked += 1
                let unshortened = Evaluator.extrapolate(
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
