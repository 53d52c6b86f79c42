import TributaryModel

/// A decoded remote-write request in flat arrays, refilled by ``WriteRequestDecoder`` for every
/// request so that decoding allocates nothing once the arrays have grown.
///
/// Series refer to ranges of ``labelBytes`` (in the flat encoding of ``Labels``),
/// ``samples`` and ``exemplars``. Only valid series are in ``series``; refused ones are counted
/// in ``rejectedSeries`` and the first is described by ``firstError``.
public struct WriteBatch {
    /// One valid series of the request.
    public struct Series: Sendable {
        /// Where its labels sit in ``WriteBatch/labelBytes``.
        public var labelsStart: Int32
        public var labelsEnd: Int32
        public var samplesStart: Int32
        public var samplesEnd: Int32
        public var exemplarsStart: Int32
        public var exemplarsEnd: Int32
        /// Native histogram samples the series carried (not stored).
        public var histogramCount: Int32
        /// Its position in the request as sent, for error messages.
        public var requestIndex: Int32
    }

    /// An exemplar whose labels sit in ``WriteBatch/labelBytes``.
    public struct DecodedExemplar: Sendable {
        public var labelsStart: Int32
        public var labelsEnd: Int32
        public var value: Double
        public var timestamp: Int64
    }

    /// Labels of all series and exemplars, in the flat encoding; index it only through the
    /// ranges of ``series`` and ``exemplars`` (it may extend past the last range).
    public internal(set) var labelBytes: [UInt8] = []
    public internal(set) var series: [Series] = []
    public internal(set) var samples: [Sample] = []
    public internal(set) var exemplars: [DecodedExemplar] = []
    public internal(set) var metadata: [MetricMetadata] = []
    /// Series refused by validation; their samples are not in ``samples``.
    public internal(set) var rejectedSeries = 0
    /// Samples carried by refused series.
    public internal(set) var rejectedSamples = 0
    /// The first refused series, with its index, labels and the rule it broke.
    public internal(set) var firstError: WireError?
    /// Histogram samples carried by refused series.
    public internal(set) var rejectedHistograms = 0
    /// Native histogram samples in valid series (checked, not stored: the receiver refuses them).
    public internal(set) var histogramCount = 0
    /// Of those, the ones that are malformed (``NativeHistogramProblem``).
    public internal(set) var malformedHistograms = 0
    /// The first malformed histogram of a valid series.
    public internal(set) var firstMalformedHistogram: NativeHistogramProblem?
    /// Exemplars of valid series refused because their labels exceed
    /// ``Exemplar/maxLabelSetRunes``.
    public internal(set) var droppedExemplars = 0
    /// The request index of the series of the first such exemplar.
    public internal(set) var firstDroppedExemplarSeries: Int?

    public init() {}

    /// Forgets the previous request; `labelBytes` keeps its size, the direct decoder reuses it.
    mutating func reset() {
        series.removeAll(keepingCapacity: true)
        samples.removeAll(keepingCapacity: true)
        exemplars.removeAll(keepingCapacity: true)
        if !metadata.isEmpty { metadata.removeAll(keepingCapacity: true) }
        rejectedSeries = 0
        rejectedSamples = 0
        firstError = nil
        rejectedHistograms = 0
        histogramCount = 0
        malformedHistograms = 0
        firstMalformedHistogram = nil
        droppedExemplars = 0
        firstDroppedExemplarSeries = nil
    }

    /// Calls `body` with a borrowed view of the labels of `series`.
    @inlinable
    public func withLabels<R>(of series: Series, _ body: (LabelsView) throws -> R) rethrows -> R {
        try labelBytes.withUnsafeBytes { all in
            try body(LabelsView(UnsafeRawBufferPointer(rebasing: all[Int(series.labelsStart)..<Int(series.labelsEnd)])))
        }
    }

    /// The labels of `series` as an owned value (allocates).
    public func labels(of series: Series) -> Labels {
        withLabels(of: series) { Labels($0) }
    }

    /// `{a="b", …}` of the valid series sent at `requestIndex`, for error messages ("{}" when
    /// that series was refused).
    public func describeSeries(requestIndex: Int) -> String {
        series.first { Int($0.requestIndex) == requestIndex }.map { labels(of: $0).description } ?? "{}"
    }

    /// The samples of `series`.
    public func samples(of series: Series) -> ArraySlice<Sample> {
        samples[Int(series.samplesStart)..<Int(series.samplesEnd)]
    }

    /// The exemplars of `series` as owned values (allocates one labels buffer each).
    public func exemplars(of series: Series) -> [Exemplar] {
        exemplars[Int(series.exemplarsStart)..<Int(series.exemplarsEnd)].map { e in
            Exemplar(labels: Labels(trustedBytes: Array(labelBytes[Int(e.labelsStart)..<Int(e.labelsEnd)])), value: e.value, timestamp: e.timestamp)
        }
    }

    /// Number of valid samples in the batch.
    public var sampleCount: Int { samples.count }

    /// Converts the batch into owned values (allocates per series; for tests and tools).
    public func makeWriteRequest() -> WriteRequest {
        let timeseries = series.map { s in
            TimeSeries(
                labels: labels(of: s),
                samples: Array(samples(of: s)),
                exemplars: exemplars(of: s),
                histogramCount: Int(s.histogramCount)
            )
        }
        return WriteRequest(timeseries: timeseries, metadata: metadata)
    }
}

/// Where a malformed native histogram sits in a request and what is wrong with it.
public struct NativeHistogramProblem: Sendable, Equatable {
    /// The series' index in the request as sent.
    public var seriesIndex: Int
    /// The histogram's index within its series.
    public var histogramIndex: Int
    public var timestamp: Int64
    public var problem: String
}
