import TributaryModel

/// Where each series of a cached answer lies, by its labels: what pairs a refresh's newly
/// computed steps with the cached series they continue, one lookup per series. They were
/// sorted by labels and merged with the cached ones instead, and sorting was a fifth of the
/// CPU of a one-step evaluation of 940 series (comparing two label sets is two cache misses).
///
/// Made on an entry's first reuse and kept by the entries after it while their series are the
/// same ones in the same places (a dashboard's refreshes, until a series comes or goes).
final class SeriesPositions: Sendable {
    private let index: [Labels: Int]

    init(_ series: [CachedSeries]) {
        var index: [Labels: Int] = [:]
        index.reserveCapacity(series.count)
        for (i, s) in series.enumerated() { index[s.labels] = i }
        self.index = index
    }

    /// The place of the series labelled `labels`, if it is one of them.
    subscript(labels: Labels) -> Int? { index[labels] }
}
