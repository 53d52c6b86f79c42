import TributaryModel

/// A native histogram as remote write carries it (1.0's `prometheus.Histogram` and 2.0's
/// `io.prometheus.write.v2.Histogram` share field numbers), decoded only far enough to check
/// it: Tributary does not store native histograms yet, so the receiver refuses them, and says
/// why when one is malformed rather than merely unsupported.
struct NativeHistogram {
    struct Span {
        var offset: Int32
        var length: UInt32
    }

    /// True when the counts are floats (`count_float` set), as Prometheus tells the two kinds.
    var isFloat = false
    var count: UInt64 = 0
    var countFloat: Double = 0
    var zeroCount: UInt64 = 0
    var zeroCountFloat: Double = 0
    var sum: Double = 0
    var schema: Int32 = 0
    var timestamp: Int64 = 0
    var negativeSpans: [Span] = []
    var positiveSpans: [Span] = []
    var negativeDeltas: [Int64] = []
    var positiveDeltas: [Int64] = []
    var negativeCounts: [Double] = []
    var positiveCounts: [Double] = []
    var customValues: [Double] = []

    /// The schema of native histograms with custom buckets (converted classic histograms).
    static let customBucketsSchema: Int32 = -53

    /// What is wrong with the histogram, in Prometheus's terms, or nil when it is valid.
    var problem: String? {
        let custom = schema == Self.customBucketsSchema
        guard custom || (-4...8).contains(schema) else {
            return "schema \(schema) is not valid (exponential schemas are -4 to 8, custom buckets -53)"
        }
        let negativeBuckets = isFloat ? negativeCounts.count : negativeDeltas.count
        let positiveBuckets = isFloat ? positiveCounts.count : positiveDeltas.count
        if custom {
            if !negativeSpans.isEmpty || negativeBuckets > 0 { return "custom buckets: must not have negative buckets or spans" }
            if isFloat ? zeroCountFloat != 0 : zeroCount != 0 { return "custom buckets: zero count must be 0" }
            if let problem = Self.checkCustomBounds(customValues, positiveSpans) { return "custom buckets: \(problem)" }
        } else if !customValues.isEmpty {
            return "an exponential histogram (schema \(schema)) must not have custom_values"
        }
        if let problem = Self.checkSpans(negativeSpans, buckets: negativeBuckets) { return "negative side: \(problem)" }
        if let problem = Self.checkSpans(positiveSpans, buckets: positiveBuckets) { return "positive side: \(problem)" }
        if isFloat {
            // Prometheus does not compare a float histogram's count with its buckets (rounding).
            for (side, counts) in [("negative", negativeCounts), ("positive", positiveCounts)] {
                if let i = counts.firstIndex(where: { $0 < 0 }) {
                    return "\(side) side: bucket number \(i + 1) has observation count of \(FloatText.plain(counts[i]))"
                }
            }
            return nil
        }
        var observed = zeroCount
        for (side, deltas) in [("negative", negativeDeltas), ("positive", positiveDeltas)] {
            var current: Int64 = 0
            for (i, delta) in deltas.enumerated() {
                current = current &+ delta
                if current < 0 { return "\(side) side: bucket number \(i + 1) has observation count of \(current)" }
                observed = observed &+ UInt64(current)
            }
        }
        if sum.isNaN ? observed > count : observed != count {
            return "\(observed) observations found in buckets, but the count field is \(count)"
        }
        return nil
    }

    private static func checkSpans(_ spans: [Span], buckets: Int) -> String? {
        var needed = 0
        for (n, span) in spans.enumerated() {
            if n > 0, span.offset < 0 { return "span number \(n + 1) has negative offset \(span.offset)" }
            needed += Int(span.length)
        }
        return needed == buckets ? nil : "spans need \(needed) buckets, have \(buckets) buckets"
    }

    private static func checkCustomBounds(_ bounds: [Double], _ spans: [Span]) -> String? {
        for i in bounds.indices {
            if bounds[i].isNaN || (i > 0 && bounds[i] <= bounds[i - 1]) {
                return "custom_values must increase strictly (value \(i + 1) is \(FloatText.plain(bounds[i])))"
            }
        }
        if let last = bounds.last, last == .infinity { return "the last custom value must not be +Inf (it is implied)" }
        // Bucket indices run 0 ... bounds.count (the last bucket is +Inf).
        var next: Int64 = 0
        for (n, span) in spans.enumerated() {
            if n == 0, span.offset < 0 { return "span number 1 has negative offset \(span.offset)" }
            let start = next + Int64(span.offset)
            next = start + Int64(span.length)
            if span.length > 0, next - 1 > Int64(bounds.count) {
                return "span number \(n + 1) reaches bucket \(next - 1), past the last of \(bounds.count + 1)"
            }
        }
        return nil
    }
}
