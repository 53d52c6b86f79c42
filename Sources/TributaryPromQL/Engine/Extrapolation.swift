import TributaryModel

/// The end of Prometheus's `extrapolatedRate` (rate, increase and delta): a window's increase
/// extrapolated to its edges, per second for rate. One per series; the column evaluator calls
/// it for the windows of consecutive steps, the sample-at-a-time path for one window.
///
/// With fewer divisions than the formula as written: a rate over a range query's steps took
/// about 40 cycles a step (28 % of a cold
/// `sum by (group) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))` at 20k series), mostly
/// seven floating-point divisions. Six of them depend only on where the window's first and last
/// samples lie against its edges and how many it holds, and regular scrapes give every step's
/// window the same shape: those are computed when the shape changes and reused otherwise. The
/// seventh, a counter's time to reach zero before its first sample, can only shorten the
/// extrapolation when the counter's value is small against its increase; it is computed only
/// when a bound without division cannot rule that out. The operations that remain are the
/// formula's on the same numbers, so the result is the same to the bit (`ExtrapolationTests`
/// holds the formula as written).
struct Extrapolation {
    let rangeSeconds: Double
    let isCounter: Bool
    let isRate: Bool

    /// The shape the values below were computed for: milliseconds from the window's start to
    /// its first sample, from its last sample to its end, between the two, and the sample count.
    private var shape: (toStart: Int64, toEnd: Int64, sampled: Int64, count: Int) = (-1, -1, -1, 0)
    private var durationToStart = 0.0
    private var durationToEnd = 0.0
    private var sampledInterval = 0.0
    private var factor = 0.0

    init(rangeSeconds: Double, isCounter: Bool, isRate: Bool) {
        self.rangeSeconds = rangeSeconds
        self.isCounter = isCounter
        self.isRate = isRate
    }

    /// The increase `result` (last minus first, plus the value before each counter reset) of
    /// the window `[rangeStart, rangeEnd]` holding `count` samples from `first` to `last`
    /// (at least two), extrapolated to its edges, per second for rate.
    @inline(__always)
    mutating func callAsFunction(_ result: Double, first: Sample, last: Sample, count: Int, rangeStart: Int64, rangeEnd: Int64) -> Double {
        let now = (first.timestamp &- rangeStart, rangeEnd &- last.timestamp, last.timestamp &- first.timestamp, count)
        if now != shape {
            shape = now
            sampledInterval = Double(now.2) / 1000
            let averageBetween = sampledInterval / Double(count - 1)
            let threshold = averageBetween * 1.1
            durationToStart = Double(now.0) / 1000
            if durationToStart >= threshold { durationToStart = averageBetween / 2 }
            durationToEnd = Double(now.1) / 1000
            if durationToEnd >= threshold { durationToEnd = averageBetween / 2 }
            factor = factor(toStart: durationToStart)
        }
        // The time to zero is `sampledInterval * (first.value / result)`: at least twice
        // `durationToStart` when `first.value * sampledInterval >= 2 * durationToStart * result`,
        // so not the shorter one then. Rounding moves either side by far less than a factor
        // of two while the bound is a normal number (subnormals round coarsely); a start
        // duration of 0 cannot be shortened at all.
        if isCounter, result > 0, first.value >= 0 {
            let bound = 2 * durationToStart * result
            let ruledOut = (bound.isNormal || durationToStart == 0) && first.value * sampledInterval >= bound
            if !ruledOut {
                let durationToZero = sampledInterval * (first.value / result)
                if durationToZero < durationToStart { return result * factor(toStart: durationToZero) }
            }
        }
        return result * factor
    }

    /// The factor from the increase over the sampled interval to that over the extrapolated one.
    @inline(__always)
    private func factor(toStart: Double) -> Double {
        var extrapolateTo = sampledInterval
        extrapolateTo += toStart
        extrapolateTo += durationToEnd
        var factor = extrapolateTo / sampledInterval
        if isRate { factor /= rangeSeconds }
        return factor
    }
}
