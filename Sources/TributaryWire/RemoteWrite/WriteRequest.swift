import TributaryModel

/// A remote-write request as owned values: what an encoder takes and what tests compare.
/// The hot decoding path fills a flat ``WriteBatch`` instead.
public struct WriteRequest: Sendable, Equatable {
    public var timeseries: [TimeSeries]
    public var metadata: [MetricMetadata]

    public init(timeseries: [TimeSeries] = [], metadata: [MetricMetadata] = []) {
        self.timeseries = timeseries
        self.metadata = metadata
    }

    /// Total float samples over all series.
    public var sampleCount: Int { timeseries.reduce(0) { $0 + $1.samples.count } }
}

/// One series of a request with its samples and exemplars.
public struct TimeSeries: Sendable, Equatable {
    public var labels: Labels
    public var samples: [Sample]
    public var exemplars: [Exemplar]
    /// Native histogram samples are counted, not carried: storage is float-only for now.
    public var histogramCount: Int

    public init(labels: Labels, samples: [Sample] = [], exemplars: [Exemplar] = [], histogramCount: Int = 0) {
        self.labels = labels
        self.samples = samples
        self.exemplars = exemplars
        self.histogramCount = histogramCount
    }
}
