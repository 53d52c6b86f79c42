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
    /// Native histogram samples in valid series (counted, not decoded).
    public internal(set) var histogramCount = 0
    /// Exemplars dropped because their labels exceed ``Exemplar/maxLabelSetRunes``.
    public internal(set) var droppedExemplars = 0

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
        histogramCount = 0
        droppedExemplars = 0
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

    /// The samples of `series`.
    public func samples(of series: Series) -> ArraySlice<Sample> {
        samples[Int(series.samplesStart)..<Int(series.samplesEnd)]
    }

    /// Number of valid samples in the batch.
    public var sampleCount: Int { samples.count }

    /// Converts the batch into owned values (allocates per series; for tests and tools).
    public func makeWriteRequest() -> WriteRequest {
        let timeseries = series.map { s in
            TimeSeries(
                labels: labels(of: s),
                samples: Array(samples(of: s)),
                exemplars: exemplars[Int(s.exemplarsStart)..<Int(s.exemplarsEnd)].map { e in
                    let bytes = Array(labelBytes[Int(e.labelsStart)..<Int(e.labelsEnd)])
                    return Exemplar(labels: Labels(trustedBytes: bytes), value: e.value, timestamp: e.timestamp)
                },
                histogramCount: Int(s.histogramCount)
            )
        }
        return WriteRequest(timeseries: timeseries, metadata: metadata)
    }
}
