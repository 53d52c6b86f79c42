import Synchronization
import TributaryModel

/// Reads the head: a snapshot per series, taken under that series' stripe lock.
public struct HeadQuerier: Querier {
    let head: Head

    public init(head: Head) { self.head = head }

    public func select(_ matchers: [Matcher], start: Int64, end: Int64) throws(QueryError) -> [QueriedSeries] {
        var out = try selectUnsorted(matchers, start: start, end: end)
        out.sort { $0.labels < $1.labels }
        return out
    }

    public func selectUnsorted(_ matchers: [Matcher], start: Int64, end: Int64) throws(QueryError) -> [QueriedSeries] {
        try selectUnsorted(matchers, start: start, end: end, on: nil)
    }

    /// The matching series' snapshots taken on `runner`'s threads, a slice of them per task:
    /// taken on the query thread alone (then a lock, the chunk list, the labels and two
    /// closures per series), a one-step query over 12k series kept that thread at 65 % of its
    /// CPU and the helper at 30 %.
    public func selectUnsorted(_ matchers: [Matcher], start: Int64, end: Int64, on runner: (any TaskRunner)?) throws(QueryError) -> [QueriedSeries] {
        let ids = try head.postings.select(matchers)
        let tasks = runner == nil ? 1 : min(16, 1 + ids.count / Self.seriesPerTask)
        var parts = [[QueriedSeries]](repeating: [], count: tasks)
        parts.withUnsafeMutableBufferPointer { parts in
            runTasks(on: tasks > 1 ? runner : nil, tasks: tasks) { _, k in
                parts[k] = snapshots(ids[ids.count * k / tasks..<ids.count * (k + 1) / tasks], start: start, end: end)
            }
        }
        return tasks == 1 ? parts[0] : Array(parts.joined())
    }

    /// The matching series, each snapshotted when taken (``DeferredHeadSeries``).
    public func selectDeferred(_ matchers: [Matcher], start: Int64, end: Int64, on runner: (any TaskRunner)?) throws(QueryError) -> any SelectedSeries {
        try DeferredHeadSeries(head: head, matchers: matchers, start: start, end: end)
    }

    /// Fewer series than this are not worth a hand-off to another thread.
    static let seriesPerTask = 512

    private func snapshots(_ ids: ArraySlice<UInt32>, start: Int64, end: Int64) -> [QueriedSeries] {
        var out: [QueriedSeries] = []
        out.reserveCapacity(ids.count)
        for s in head.series(ids: ids) {
            // Matchers on labels the index cannot see (none today) would be checked here.
            guard let s, let (labels, snapshot) = head.labelledSnapshot(s, start: start, end: end) else { continue }
            out.append(QueriedSeries(labels: labels, samples: snapshot))
        }
        return out
    }

    public func labelNames(matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String] {
        let names: [String]
        if matchers.isEmpty {
            names = head.postings.labelNames()
        } else {
            var set = Set<String>()
            for s in try select(matchers, start: start, end: end) {
                for (name, _) in s.labels.pairs { set.insert(name) }
            }
            names = set.sorted()
        }
        return limit > 0 ? Array(names.prefix(limit)) : names
    }

    public func labelValues(_ name: String, matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String] {
        let values: [String]
        if matchers.isEmpty {
            values = head.postings.labelValues(name)
        } else {
            var set = Set<String>()
            for s in try select(matchers, start: start, end: end) {
                if let v = s.labels.value(of: name) { set.insert(v) }
            }
            values = set.sorted()
        }
        return limit > 0 ? Array(values.prefix(limit)) : values
    }

    public func cardinality(limit: Int) -> CardinalityStats {
        // Counted before the postings lock is taken (it takes each series' stripe lock).
        let chunks = head.chunkCount
        return head.postings.withIndex { index, all in
            func top(_ entries: [CardinalityStats.Entry]) -> [CardinalityStats.Entry] {
                Array(entries.sorted { $0.value != $1.value ? $0.value > $1.value : $0.name < $1.name }.prefix(limit))
            }
            var pairs = 0
            var byPair: [CardinalityStats.Entry] = []
            var valuesByName: [CardinalityStats.Entry] = []
            var bytesByName: [CardinalityStats.Entry] = []
            for (name, values) in index {
                pairs += values.count
                valuesByName.append(.init(name: name, value: values.count))
                bytesByName.append(.init(name: name, value: values.keys.reduce(0) { $0 + $1.utf8.count }))
                for (value, list) in values { byPair.append(.init(name: "\(name)=\(value)", value: list.count)) }
            }
            let byMetric = (index["__name__"] ?? [:]).map { CardinalityStats.Entry(name: $0.key, value: $0.value.count) }
            return CardinalityStats(
                numSeries: all.count, numLabelPairs: pairs, chunkCount: chunks,
                minTime: head.minTime == .max ? 0 : head.minTime, maxTime: head.maxTime == .min ? 0 : head.maxTime,
                seriesCountByMetricName: top(byMetric), labelValueCountByLabelName: top(valuesByName),
                memoryInBytesByLabelName: top(bytesByName), seriesCountByLabelValuePair: top(byPair)
            )
        }
    }
}

/// Series of the head selected by their IDs, each snapshotted (labels and chunks, under its
/// stripe lock) when taken, on the taking thread.
///
/// A truncation between the select and a take may have moved the series' chunks (or the whole
/// series) into a block that the select did not list: a take that sees one begun since fails
/// with a retryable error, and the engine runs the query again reading eagerly
/// (``MergeQuerier`` lists the blocks after the head there). Truncations follow block cuts,
/// one per block range (2 h by default), and take well under a second.
final class DeferredHeadSeries: SelectedSeries, @unchecked Sendable {
    let head: Head
    let ids: [UInt32]
    let start: Int64
    let end: Int64
    /// ``Head/truncations`` when selected, read before the postings.
    let truncations: Int

    /// The series at each index that ``prepare(_:)`` took for the thread that reads it, as
    /// words: 0 not taken, ``Head/noSeries`` taken and absent, else the series (a reference
    /// held). Each word is written and read by the one thread that prepared and reads its index.
    private let taken: UnsafeMutableBufferPointer<UInt>

    init(head: Head, matchers: [Matcher], start: Int64, end: Int64) throws(QueryError) {
        self.head = head
        truncations = head.truncations.load(ordering: .sequentiallyConsistent)
        ids = try head.postings.select(matchers)
        self.start = start
        self.end = end
        taken = .allocate(capacity: ids.count)
        taken.initialize(repeating: 0)
    }

    deinit {
        // Series prepared and never read (a query that failed or stopped early).
        for word in taken where word > Head.noSeries {
            if let p = UnsafeRawPointer(bitPattern: word) { Unmanaged<MemSeries>.fromOpaque(p).release() }
        }
        taken.deallocate()
    }

    var count: Int { ids.count }

    func take(_ i: Int) throws(QueryError) -> QueriedSeries? {
        let read = series(i).flatMap { head.labelledSnapshot($0, start: start, end: end) }
        try checkNotTruncated()
        guard let (labels, snapshot) = read else { return nil }
        return QueriedSeries(labels: labels, samples: snapshot)
    }

    /// Takes the series at `range` for this thread under one lock of the head's series list
    /// (``Head/takeSeries(ids:into:)``), asking for their states, chunks and boxes as it goes.
    /// Taken a series per read, a one-step read of 12k series took that lock (one for the whole
    /// head) once per series on each of the query's threads: its cache line went back and forth
    /// between them.
    func prepare(_ range: Range<Int>) {
        let range = range.clamped(to: 0..<ids.count)
        guard !range.isEmpty, let words = taken.baseAddress else { return }
        ids.withUnsafeBufferPointer { ids in
            head.takeSeries(ids: UnsafeBufferPointer(rebasing: ids[range]), into: words + range.lowerBound)
        }
    }

    static let prefetchDistance = 3

    func read(_ i: Int, appendingTo out: inout [Sample]) throws(QueryError) -> Labels? {
        try read(i, newestOnly: false, appendingTo: &out)
    }

    func readNewest(_ i: Int, appendingTo out: inout [Sample]) throws(QueryError) -> Labels? {
        try read(i, newestOnly: true, appendingTo: &out)
    }

    /// Series `i`: the one ``prepare(_:)`` took (given up here), else from the head.
    private func series(_ i: Int) -> MemSeries? {
        let word = taken[i]
        guard word != 0 else {
            let ahead = i + Self.prefetchDistance
            return head.series(id: ids[i], prefetchingFor: ahead < ids.count ? ids[ahead] : nil)
        }
        taken[i] = 0
        guard word > Head.noSeries, let p = UnsafeRawPointer(bitPattern: word) else { return nil }
        return Unmanaged<MemSeries>.fromOpaque(p).takeRetainedValue()
    }

    private func read(_ i: Int, newestOnly: Bool, appendingTo out: inout [Sample]) throws(QueryError) -> Labels? {
        guard let s = series(i) else {
            try checkNotTruncated()
            return nil
        }
        let first = out.count
        let read = head.read(s, start: start, end: end, newestOnly: newestOnly, into: &out)
        do {
            try checkNotTruncated()
        } catch {
            out.removeSubrange(first...)
            throw error
        }
        switch read {
        case .none: return nil
        case .appended(let labels): return labels
        case .snapshot(let labels, let snapshot):
            snapshot.appendAll(to: &out)
            return labels
        }
    }

    /// After the stripe lock: a truncation that dropped anything from the series read raised
    /// the count before it took that lock.
    private func checkNotTruncated() throws(QueryError) {
        guard head.truncations.load(ordering: .sequentiallyConsistent) == truncations else {
            throw QueryError("the head was truncated into a block while the query read it", isRetryable: true)
        }
    }
}

/// One series' chunks and out-of-order samples as they were when it was selected, read in
/// `[start, end]`.
///
/// Taken under the series' stripe lock with one allocation (this object): the closed chunks'
/// array and the out-of-order list are copied whole (a reference each; an append meanwhile
/// copies the series' own array, not this one), the chunks outside the range are skipped when
/// read, and the open chunk is read from its resume point before `start` (``ResumePoints``).
final class SeriesSnapshot: SeriesSamples, @unchecked Sendable {
    /// Chunks in time order; those at `inRange` have samples in `[start, end]`.
    let closed: [ClosedChunk]
    let inRange: Range<Int>
    /// The open chunk's bytes, empty when it has no sample in the range, and where to start
    /// decoding them.
    let open: [UInt8]
    let openResume: ResumePoint?
    /// Where to start decoding the last closed chunk (`closed.last`) when it is in the range.
    let lastClosedResume: ResumePoint?
    /// Out-of-order samples, sorted, those outside the range included.
    let ooo: [Sample]
    let start: Int64
    let end: Int64

    init(
        closed: [ClosedChunk], inRange: Range<Int>? = nil, lastClosedResume: ResumePoint? = nil, open: [UInt8] = [], openResume: ResumePoint? = nil,
        ooo: [Sample] = [], start: Int64, end: Int64
    ) {
        self.closed = closed
        self.inRange = inRange ?? closed.indices
        self.lastClosedResume = lastClosedResume
        self.open = open
        self.openResume = openResume
        self.ooo = ooo
        self.start = start
        self.end = end
    }

    /// The chunks with samples in the range, in order.
    var chunks: [[UInt8]] {
        var out = closed[inRange].map(\.bytes)
        if !open.isEmpty { out.append(open) }
        return out
    }

    /// The out-of-order samples in the range.
    var oooInRange: ArraySlice<Sample> {
        guard !ooo.isEmpty else { return [] }
        let from = ooo.partitioningIndex(where: { $0.timestamp >= start })
        let to = ooo.partitioningIndex(where: { $0.timestamp > end })
        return ooo[from..<max(from, to)]
    }

    func makeIterator() -> any SampleIterator { SeriesSnapshotIterator(self) }

    /// All samples in `[start, end]`, in order, through the bulk chunk decoder.
    func appendAll(to out: inout [Sample]) {
        let first = out.count
        closed.withUnsafeBufferPointer { closed in
            open.withUnsafeBufferPointer { open in
                Self.decode(closed, inRange, lastClosedResume: lastClosedResume, open: open, openResume: openResume, start: start, end: end, into: &out)
            }
        }
        let ooo = oooInRange
        guard !ooo.isEmpty else { return }
        // Out-of-order samples are rare: merge them in, chunk samples winning on ties.
        let merged = mergeSamples([Array(out[first...]), Array(ooo)])
        out.removeSubrange(first...)
        out.append(contentsOf: merged)
    }
}

extension Head {
    /// A querier over everything in the head.
    public func querier() -> HeadQuerier { HeadQuerier(head: self) }

    /// The data of `s` in `[start, end]`, or nil when it has none there (or was removed).
    func snapshot(_ s: MemSeries, start: Int64, end: Int64) -> SeriesSnapshot? {
        stripes[stripe(forHash: s.hash)].map.withLock { table in Self.snapshot(s, start: start, end: end, &table.resumeBoxes) }
    }

    /// As ``snapshot(_:start:end:)`` with the series' labels, read under the same lock.
    func labelledSnapshot(_ s: MemSeries, start: Int64, end: Int64) -> (Labels, SeriesSnapshot)? {
        stripes[stripe(forHash: s.hash)].map.withLock { table in
            guard let at = Self.locate(s, start: start, end: end) else { return nil }
            return labelledSnapshot(s, at, start: start, end: end, &table.resumeBoxes)
        }
    }

    /// The snapshot of what `at` located, with the series' labels (from its box when kept
    /// there, ``labels(_:)``). Caller holds the stripe lock.
    private func labelledSnapshot(_ s: MemSeries, _ at: Located, start: Int64, end: Int64, _ resumeBoxes: inout Int) -> (Labels, SeriesSnapshot) {
        let snapshot = Self.snapshot(s, at, start: start, end: end, &resumeBoxes)
        return (labels(s), snapshot)
    }

    /// Where `s`'s data in `[start, end]` lies, or nil when it has none there (or was removed).
    /// Caller holds the stripe lock.
    private static func locate(_ s: MemSeries, start: Int64, end: Int64) -> Located? {
        let p = s.state
        guard !p.pointee.removed else { return nil }
        // Fields read in place, through the state's pointer: no array is copied.
        let open = p.pointee.head.count > 0
        let openInRange = open && p.pointee.head.maxTime >= start && p.pointee.headMinTime <= end
        // In-order samples only move forward, so every closed chunk ends before the open
        // chunk's first sample: a range from there on (a refresh's last minutes) has no closed
        // chunk in it, and their array is not touched (a cache miss per series read).
        let closedBefore = open && start >= p.pointee.headMinTime
        // Closed chunks are in time order: those in range are one run of them.
        var (first, last, count) = (0, 0, 0)
        if !closedBefore {
            (first, last, count) = p.pointee.closed.withUnsafeBufferPointer { closed in
                var first = closed.count
                while first > 0, closed[first - 1].maxTime >= start { first -= 1 }
                var last = first
                while last < closed.count, closed[last].minTime <= end { last += 1 }
                return (first, last, closed.count)
            }
        }
        let oooInRange = p.pointee.ooo.contains { $0.timestamp >= start && $0.timestamp <= end }
        guard openInRange || first < last || oooInRange else { return nil }
        return Located(closed: first..<last, lastClosed: first < last && last == count, open: openInRange, ooo: oooInRange)
    }

    /// The newest sample of `s` when the open chunk holds it (so no deletion dropped it), it
    /// lies in `[start, end]` and no out-of-order sample is as new; else nil. (A commit takes
    /// only samples older than the newest in-order one out of order, so that last check holds
    /// today; it keeps this function right on its own.) Caller holds the stripe lock.
    private static func newest(_ s: MemSeries, start: Int64, end: Int64) -> Sample? {
        let p = s.state
        guard !p.pointee.removed, p.pointee.head.count > 0 else { return nil }
        let t = s.lastT
        guard t >= start, t <= end else { return nil }
        if let ooo = p.pointee.ooo.last, ooo.timestamp >= t { return nil }
        return Sample(timestamp: t, value: s.lastV)
    }

    /// Which parts of a series hold data in a range (``locate(_:start:end:)``).
    private struct Located {
        /// The closed chunks in the range, and whether the last of them is the series' last.
        let closed: Range<Int>
        let lastClosed: Bool
        /// The open chunk, and the out-of-order samples, have data in the range.
        let open: Bool
        let ooo: Bool
    }

    /// Caller holds the stripe lock.
    private static func snapshot(_ s: MemSeries, start: Int64, end: Int64, _ resumeBoxes: inout Int) -> SeriesSnapshot? {
        guard let at = locate(s, start: start, end: end) else { return nil }
        return snapshot(s, at, start: start, end: end, &resumeBoxes)
    }

    /// The snapshot of what `at` located; `resumeBoxes` as for ``MemSeries/resumePoint(before:_:)``.
    private static func snapshot(_ s: MemSeries, _ at: Located, start: Int64, end: Int64, _ resumeBoxes: inout Int) -> SeriesSnapshot {
        SeriesSnapshot(
            closed: at.closed.isEmpty ? [] : s.closed, inRange: at.closed.isEmpty ? 0..<0 : at.closed,
            lastClosedResume: at.lastClosed ? s.closedResumePoint(before: start, &resumeBoxes) : nil, open: at.open ? s.head.bytes : [],
            openResume: at.open ? s.resumePoint(before: start, &resumeBoxes) : nil, ooo: at.ooo ? s.ooo : [], start: start, end: end)
    }

    /// Chunks a read decodes under the stripe lock (``read(_:start:end:into:)``) at most.
    static let chunksDecodedUnderLock = 2

    /// What ``read(_:start:end:into:)`` found.
    enum Read {
        /// No sample in the range (or the series was removed).
        case none
        /// The samples were appended.
        case appended(Labels)
        /// Too much to decode under the lock: a snapshot to decode after it.
        case snapshot(Labels, SeriesSnapshot)
    }

    /// The labels of `s` with its samples in `[start, end]` appended to `out`, decoded under
    /// the stripe lock when they lie in at most ``chunksDecodedUnderLock`` chunks and none is
    /// out of order (a refresh's last minutes), else a snapshot to decode outside it.
    ///
    /// A one-step refresh over 13k series spent a third of its time taking snapshots: an
    /// object per series and a reference taken and dropped on each chunk array, each an atomic
    /// operation on memory no other step had touched yet. Decoded in place, the chunks are only
    /// read. The lock is held about as long as an append batch holds it (a few dozen samples
    /// decoded); a longer read (a cold range over hours of chunks) keeps to the snapshot, so
    /// that ingest into the stripe never waits on it.
    ///
    /// With `newestOnly`, when the series' newest sample lies in the range and none out of
    /// order comes at or after it, that sample alone, from the series' state: nothing decoded
    /// (an instant selector's step at the newest scrape, a refresh of a gauge panel).
    func read(_ s: MemSeries, start: Int64, end: Int64, newestOnly: Bool = false, into out: inout [Sample]) -> Read {
        stripes[stripe(forHash: s.hash)].map.withLock { table -> Read in
            if newestOnly, let newest = Self.newest(s, start: start, end: end) {
                out.append(newest)
                s.markBoxUsed(&table.resumeBoxes)
                return .appended(labels(s))
            }
            guard let at = Self.locate(s, start: start, end: end) else { return .none }
            guard !at.ooo, at.closed.count + (at.open ? 1 : 0) <= Self.chunksDecodedUnderLock else {
                let (labels, snapshot) = labelledSnapshot(s, at, start: start, end: end, &table.resumeBoxes)
                return .snapshot(labels, snapshot)
            }
            let lastClosedResume = at.lastClosed ? s.closedResumePoint(before: start, &table.resumeBoxes) : nil
            let openResume = at.open ? s.resumePoint(before: start, &table.resumeBoxes) : nil
            // The series' own arrays, read through its state's pointer (no copy).
            let state = s.state
            func decode(_ closed: UnsafeBufferPointer<ClosedChunk>) {
                state.pointee.head.stream.bytes.withUnsafeBufferPointer { open in
                    SeriesSnapshot.decode(
                        closed, at.closed, lastClosedResume: lastClosedResume, open: at.open ? open : UnsafeBufferPointer(start: nil, count: 0),
                        openResume: openResume, start: start, end: end, into: &out)
                }
            }
            // The closed chunks' array only when one is read (as in locate).
            if at.closed.isEmpty { decode(UnsafeBufferPointer(start: nil, count: 0)) } else { state.pointee.closed.withUnsafeBufferPointer(decode) }
            return .appended(labels(s))
        }
    }

    /// The labels of `s`, kept in its resume box when it has one (``ResumeBox/labels``).
    /// Caller holds the stripe lock.
    private func labels(_ s: MemSeries) -> Labels {
        let box = s.state.pointee.box
        if let labels = box?.labels { return labels }
        let labels = s.labels(symbols)
        box?.labels = labels
        return labels
    }
}

extension SeriesSnapshot {
    /// Appends the samples in `[start, end]` of the closed chunks at `inRange` (the last of
    /// `closed` from `lastClosedResume`) and of the open chunk's bytes `open` (empty when not
    /// read; from `openResume`), in order. The chunks are read where they lie: a snapshot's
    /// copies, or a series' own arrays under its stripe lock (``Head/read(_:start:end:into:)``),
    /// where passing each chunk's array to the decoder copied it (a reference taken and dropped).
    static func decode(
        _ closed: UnsafeBufferPointer<ClosedChunk>, _ inRange: Range<Int>, lastClosedResume: ResumePoint?, open: UnsafeBufferPointer<UInt8>,
        openResume: ResumePoint?, start: Int64, end: Int64, into out: inout [Sample]
    ) {
        if let chunks = closed.baseAddress {
            for i in inRange {
                _ = (chunks + i).pointee.bytes.withUnsafeBufferPointer {
                    XORChunk.decode($0, from: start, to: end, resumingAt: i == closed.count - 1 ? lastClosedResume : nil, into: &out)
                }
            }
        }
        if !open.isEmpty { XORChunk.decode(open, from: start, to: end, resumingAt: openResume, into: &out) }
    }
}

/// Iterates a snapshot: the chunks in order, merged with the out-of-order samples, limited to
/// `[start, end]`.
struct SeriesSnapshotIterator: SampleIterator {
    let chunks: [[UInt8]]
    let ooo: ArraySlice<Sample>
    let start: Int64
    let end: Int64
    var chunkIndex = 0
    var current: XORIterator?
    var pendingChunkSample: Sample?
    var oooIndex: Int
    var last: Sample?

    init(_ snapshot: SeriesSnapshot) {
        chunks = snapshot.chunks
        ooo = snapshot.oooInRange
        oooIndex = ooo.startIndex
        start = snapshot.start
        end = snapshot.end
    }

    mutating func next() -> Sample? {
        if pendingChunkSample == nil { pendingChunkSample = nextFromChunks() }
        let fromOOO = oooIndex < ooo.endIndex ? ooo[oooIndex] : nil
        let pick: Sample?
        switch (pendingChunkSample, fromOOO) {
        case (nil, nil): pick = nil
        case (let c?, nil): pick = c; pendingChunkSample = nil
        case (nil, let o?): pick = o; oooIndex += 1
        case (let c?, let o?):
            if o.timestamp < c.timestamp {
                pick = o
                oooIndex += 1
            } else {
                pick = c
                pendingChunkSample = nil
                if o.timestamp == c.timestamp { oooIndex += 1 }
            }
        }
        guard let sample = pick, sample.timestamp <= end else {
            last = nil
            return nil
        }
        last = sample
        return sample
    }

    mutating func seek(_ time: Int64) -> Sample? {
        if let last, last.timestamp >= time { return last }
        while let s = next() {
            if s.timestamp >= time { return s }
        }
        return nil
    }

    private mutating func nextFromChunks() -> Sample? {
        while true {
            if current == nil {
                guard chunkIndex < chunks.count else { return nil }
                current = XORIterator(bytes: chunks[chunkIndex])
                chunkIndex += 1
                if let s = current?.seek(start) { return s }
                current = nil
                continue
            }
            if let s = current?.next() { return s }
            current = nil
        }
    }
}
