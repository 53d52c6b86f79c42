import TributaryModel

/// The series of one list found by their labels through a table of the labels' stable
/// hashes: how the merge matches the head's series (listed in the order they were created)
/// with the blocks' (listed in label order) without sorting the head's.
///
/// Why: sorting the head's list by labels ran on the query's thread alone while the helper
/// threads waited, ~26 ms of a ~180 ms 6h query over 3,528 series of 100k (a label comparison
/// walks both sets label by label); hashing each series once and looking each block series up
/// costs ~0.1 µs a series.
///
/// A class: one table is read and marked by a whole walk over the other lists.
final class SeriesByLabels {
    let series: [QueriedSeries]
    /// The first index of each hash; `next` chains the indexes that share one, in order.
    private var first: [UInt64: Int32]
    private var next: [Int32]
    private var taken: [Bool]

    init(_ series: [QueriedSeries]) {
        self.series = series
        first = Dictionary(minimumCapacity: series.count)
        next = Array(repeating: -1, count: series.count)
        taken = Array(repeating: false, count: series.count)
        // From the last index down, so that each chain runs in list order.
        for i in series.indices.reversed() {
            if let later = first.updateValue(Int32(i), forKey: series[i].labels.stableHash) { next[i] = later }
        }
    }

    /// Appends the series with `labels` not taken yet to `parts`, in list order, and takes them.
    func take(_ labels: Labels, into parts: inout [QueriedSeries]) {
        var i = first[labels.stableHash] ?? -1
        while i >= 0 {
            let k = Int(i)
            if !taken[k], series[k].labels == labels {
                taken[k] = true
                parts.append(series[k])
            }
            i = next[k]
        }
    }

    /// The series not taken, in list order.
    var rest: [QueriedSeries] {
        var out: [QueriedSeries] = []
        for k in series.indices where !taken[k] { out.append(series[k]) }
        return out
    }
}
