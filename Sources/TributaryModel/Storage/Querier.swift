/// Identifies a series inside one storage (the head assigns them).
public typealias SeriesRef = UInt64

/// Iterates the samples of one series in timestamp order.
public protocol SampleIterator {
    /// The next sample, or nil at the end.
    mutating func next() -> Sample?
    /// The first sample at or after `time` (never moves backwards), or nil.
    mutating func seek(_ time: Int64) -> Sample?
}

/// The samples of one queried series, read when the engine asks (a storage's snapshot of
/// the series, taken at select time).
///
/// An object rather than two closures: a closure's context is an allocation of its own, and a
/// one-step dashboard refresh selects every series of a panel, so each allocation per series
/// is paid thousands of times per refresh.
public protocol SeriesSamples: AnyObject {
    /// A new iterator over the samples in the queried time range.
    func makeIterator() -> any SampleIterator
    /// Appends every sample in the queried range to `out`, in order.
    func appendAll(to out: inout [Sample])
}

/// A series returned by a query: its labels and a way to read its samples in the queried range.
public struct QueriedSeries {
    public let labels: Labels
    let samples: any SeriesSamples

    public init(labels: Labels, samples: any SeriesSamples) {
        self.labels = labels
        self.samples = samples
    }

    /// - Parameters:
    ///   - makeIterator: a new iterator over the samples in the queried range.
    ///   - appendAll: optionally, a faster way to append all of them at once.
    public init(labels: Labels, makeIterator: @escaping () -> any SampleIterator, appendAll: ((inout [Sample]) -> Void)? = nil) {
        self.init(labels: labels, samples: ClosureSamples(makeIterator: makeIterator, appendAll: appendAll))
    }

    /// A new iterator over the samples in the queried time range.
    public func makeIterator() -> any SampleIterator { samples.makeIterator() }

    /// Appends every sample in the queried range to `out`, in order.
    public func appendSamples(to out: inout [Sample]) { samples.appendAll(to: &out) }
}

/// Samples read through closures (tests; the storages give objects of their own).
final class ClosureSamples: SeriesSamples {
    let makeIteratorBody: () -> any SampleIterator
    let appendAllBody: ((inout [Sample]) -> Void)?

    init(makeIterator: @escaping () -> any SampleIterator, appendAll: ((inout [Sample]) -> Void)?) {
        makeIteratorBody = makeIterator
        appendAllBody = appendAll
    }

    func makeIterator() -> any SampleIterator { makeIteratorBody() }

    func appendAll(to out: inout [Sample]) {
        if let appendAllBody {
            appendAllBody(&out)
            return
        }
        var it = makeIteratorBody()
        while let s = it.next() { out.append(s) }
    }
}

/// Read access to stored series, the only storage interface PromQL and the HTTP API see.
/// Times are milliseconds, ranges inclusive at both ends.
///
/// Concurrency: implementations are safe to call from any thread; results are snapshots.
public protocol Querier: Sendable {
    /// Series matching every matcher with at least one sample in `[start, end]`, sorted by
    /// labels. At least one matcher must not match the empty string (as in Prometheus).
    func select(_ matchers: [Matcher], start: Int64, end: Int64) throws(QueryError) -> [QueriedSeries]

    /// As ``select(_:start:end:)`` in any order (the engine sorts what it returns itself, and
    /// sorting thousands of label sets per selector is measurable on dashboard queries).
    func selectUnsorted(_ matchers: [Matcher], start: Int64, end: Int64) throws(QueryError) -> [QueriedSeries]

    /// As ``selectUnsorted(_:start:end:)``, reading independent parts (the blocks) on
    /// `runner`'s threads when it is given.
    func selectUnsorted(_ matchers: [Matcher], start: Int64, end: Int64, on runner: (any TaskRunner)?) throws(QueryError) -> [QueriedSeries]

    /// As ``selectUnsorted(_:start:end:on:)``, each series read only when it is taken
    /// (``SelectedSeries/take(_:)``), on the thread that takes it: the engine's helpers take
    /// and compute a series on the same thread, instead of one thread touching every series'
    /// memory to snapshot it and another touching it again, cold, to decode it.
    func selectDeferred(_ matchers: [Matcher], start: Int64, end: Int64, on runner: (any TaskRunner)?) throws(QueryError) -> any SelectedSeries

    /// Label names of the series matching `matchers` (all series when empty), sorted, at most
    /// `limit` (0 means no limit).
    func labelNames(matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String]

    /// Values of label `name` in the series matching `matchers`, sorted, at most `limit`.
    func labelValues(_ name: String, matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String]

    /// Cardinality figures for `/api/v1/status/tsdb`, each list cut to `limit` entries.
    func cardinality(limit: Int) -> CardinalityStats

    /// False only when this storage surely holds no sample in `[start, end]` (a block whose
    /// time range lies elsewhere); true when it may.
    func mayHoldSamples(start: Int64, end: Int64) -> Bool
}

extension Querier {
    public func selectUnsorted(_ matchers: [Matcher], start: Int64, end: Int64) throws(QueryError) -> [QueriedSeries] {
        try select(matchers, start: start, end: end)
    }

    public func selectUnsorted(_ matchers: [Matcher], start: Int64, end: Int64, on runner: (any TaskRunner)?) throws(QueryError) -> [QueriedSeries] {
        try selectUnsorted(matchers, start: start, end: end)
    }

    public func selectDeferred(_ matchers: [Matcher], start: Int64, end: Int64, on runner: (any TaskRunner)?) throws(QueryError) -> any SelectedSeries {
        SelectedList(try selectUnsorted(matchers, start: start, end: end, on: runner))
    }

    public func mayHoldSamples(start: Int64, end: Int64) -> Bool { true }
}

/// The series a query selected, read when taken (``Querier/selectDeferred(_:start:end:on:)``).
public protocol SelectedSeries: AnyObject {
    /// How many were selected (some may turn out to have no sample in the range).
    var count: Int { get }
    /// Series `i`, read now on the calling thread, or nil when it has no sample in the range.
    /// Each index is taken at most once; different indexes may be taken on different threads
    /// at once. What the caller drops is freed on its thread.
    func take(_ i: Int) throws(QueryError) -> QueriedSeries?
    /// As ``take(_:)``, with the samples appended to `out` (in order) instead of kept to be
    /// read later: the labels, or nil (and nothing appended) when the series has no sample in
    /// the range. A storage may read them under its own lock and keep nothing per series.
    func read(_ i: Int, appendingTo out: inout [Sample]) throws(QueryError) -> Labels?
    /// As ``read(_:appendingTo:)`` for a caller that uses only the newest sample in the range
    /// (an instant selector at one time): a storage may append that sample alone, or all of
    /// them.
    func readNewest(_ i: Int, appendingTo out: inout [Sample]) throws(QueryError) -> Labels?
    /// A hint that the series at `range` are read next, on this thread: a storage may start
    /// loading what it will touch, so that their cache misses overlap instead of following one
    /// another, and take the series ahead (then given up by their reads, or when the selection
    /// goes). No sample is read and nothing is checked: errors come with the reads.
    func prepare(_ range: Range<Int>)
}

extension SelectedSeries {
    public func prepare(_ range: Range<Int>) {}

    public func read(_ i: Int, appendingTo out: inout [Sample]) throws(QueryError) -> Labels? {
        guard let s = try take(i) else { return nil }
        s.appendSamples(to: &out)
        return s.labels
    }

    public func readNewest(_ i: Int, appendingTo out: inout [Sample]) throws(QueryError) -> Labels? {
        try read(i, appendingTo: &out)
    }
}

/// Series already read, handed out one by one.
public final class SelectedList: SelectedSeries, @unchecked Sendable {
    private let base: UnsafeMutablePointer<QueriedSeries?>
    public let count: Int

    public init(_ series: [QueriedSeries]) {
        count = series.count
        base = .allocate(capacity: max(1, series.count))
        for (i, s) in series.enumerated() { (base + i).initialize(to: s) }
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    /// Moved out, so that the taker's thread frees the series' snapshot when done with it.
    public func take(_ i: Int) -> QueriedSeries? {
        precondition(i >= 0 && i < count, "series index out of range")
        let s = (base + i).move()
        (base + i).initialize(to: nil)
        return s
    }
}

/// Threads that independent tasks can be spread on (a query's helper threads).
public protocol TaskRunner: AnyObject {
    /// Runs `body(worker, task)` for every task in `0..<tasks`, each once, and returns when
    /// all have finished.
    func run(tasks: Int, _ body: (_ worker: Int, _ task: Int) -> Void)
}

/// Runs `body(worker, task)` for every task in `0..<tasks`: on `runner`'s threads, or in
/// order on the calling thread (as worker 0) when there is none.
public func runTasks(on runner: (any TaskRunner)?, tasks: Int, _ body: (_ worker: Int, _ task: Int) -> Void) {
    if let runner {
        runner.run(tasks: tasks, body)
    } else {
        for t in 0..<tasks { body(0, t) }
    }
}

/// Why a query against storage failed.
public struct QueryError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// Data moved while the query read series it had selected deferred (the head cut into a
    /// block): the same query run again, selecting eagerly, reads it where it now is.
    public var isRetryable = false
    public init(_ message: String, isRetryable: Bool = false) {
        self.message = message
        self.isRetryable = isRetryable
    }
    public var description: String { message }
}

/// The figures Prometheus shows in `/api/v1/status/tsdb`.
public struct CardinalityStats: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var value: Int
        public init(name: String, value: Int) {
            self.name = name
            self.value = value
        }
    }

    public var numSeries: Int
    public var numLabelPairs: Int
    public var chunkCount: Int
    public var minTime: Int64
    public var maxTime: Int64
    /// Series per metric name, most first.
    public var seriesCountByMetricName: [Entry]
    /// Distinct values per label name, most first.
    public var labelValueCountByLabelName: [Entry]
    /// Bytes of all values per label name, most first.
    public var memoryInBytesByLabelName: [Entry]
    /// Series per `name=value` pair, most first.
    public var seriesCountByLabelValuePair: [Entry]

    public init(
        numSeries: Int = 0, numLabelPairs: Int = 0, chunkCount: Int = 0, minTime: Int64 = 0, maxTime: Int64 = 0,
        seriesCountByMetricName: [Entry] = [], labelValueCountByLabelName: [Entry] = [],
        memoryInBytesByLabelName: [Entry] = [], seriesCountByLabelValuePair: [Entry] = []
    ) {
        self.numSeries = numSeries
        self.numLabelPairs = numLabelPairs
        self.chunkCount = chunkCount
        self.minTime = minTime
        self.maxTime = maxTime
        self.seriesCountByMetricName = seriesCountByMetricName
        self.labelValueCountByLabelName = labelValueCountByLabelName
        self.memoryInBytesByLabelName = memoryInBytesByLabelName
        self.seriesCountByLabelValuePair = seriesCountByLabelValuePair
    }
}
