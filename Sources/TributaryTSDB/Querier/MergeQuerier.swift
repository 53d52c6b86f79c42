import TributaryModel

/// Reads the blocks and the head as one: series with the same labels are merged, their
/// samples in time order, a timestamp present in more than one (overlapping blocks, a block
/// and the head right after it was written) taken once, from the first block that has it.
///
/// The head is read first and the blocks are listed after it, at each call: a block is made
/// visible before the head drops the chunks it holds (`DB.persist`), so whatever this read
/// missed in the head is in a block it lists. Listing the blocks when the querier was made
/// lost a cut's samples for queries running across it (seen in `BlocksOverHTTPTests`).
public struct MergeQuerier: Querier {
    let blocks: @Sendable () -> [any Querier]
    let head: any Querier

    /// `blocks` lists the block queriers in order of precedence; `head` is read before them
    /// and answers `cardinality` (as Prometheus's `status/tsdb` describes the head).
    public init(blocks: @escaping @Sendable () -> [any Querier], head: any Querier) {
        self.blocks = blocks
        self.head = head
    }

    public func select(_ matchers: [Matcher], start: Int64, end: Int64) throws(QueryError) -> [QueriedSeries] {
        let fromHead = try head.select(matchers, start: start, end: end)
        let queriers = blocks()
        if queriers.isEmpty { return fromHead }
        var out = try merge(queriers, matchers, start: start, end: end, head: fromHead)
        out.sort { $0.labels < $1.labels }
        return out
    }

    public func selectUnsorted(_ matchers: [Matcher], start: Int64, end: Int64) throws(QueryError) -> [QueriedSeries] {
        try selectUnsorted(matchers, start: start, end: end, on: nil)
    }

    /// The blocks are read on `runner`'s threads, one block per task: reading a block's
    /// series (index entries, chunk bytes and their checksums) was a fifth of a 6h query over
    /// 65k series, with the helper threads idle.
    public func selectUnsorted(_ matchers: [Matcher], start: Int64, end: Int64, on runner: (any TaskRunner)?) throws(QueryError) -> [QueriedSeries] {
        let fromHead = try head.selectUnsorted(matchers, start: start, end: end, on: runner)
        let queriers = blocks()
        if queriers.isEmpty { return fromHead }
        return try merge(queriers, matchers, start: start, end: end, head: fromHead, on: runner)
    }

    /// Deferred to the head when no block holds anything in the range (a refresh of the last
    /// minutes), else read now and merged. The blocks are listed again after the head's select:
    /// a truncation that the deferred reads do not see (``DeferredHeadSeries``) began before
    /// it, so its block is in that list.
    public func selectDeferred(_ matchers: [Matcher], start: Int64, end: Int64, on runner: (any TaskRunner)?) throws(QueryError) -> any SelectedSeries {
        func blocksInRange() -> Bool { blocks().contains { $0.mayHoldSamples(start: start, end: end) } }
        if !blocksInRange() {
            let fromHead = try head.selectDeferred(matchers, start: start, end: end, on: runner)
            if !blocksInRange() { return fromHead }
        }
        return SelectedList(try selectUnsorted(matchers, start: start, end: end, on: runner))
    }

    private func merge(
        _ queriers: [any Querier], _ matchers: [Matcher], start: Int64, end: Int64, head fromHead: [QueriedSeries], on runner: (any TaskRunner)? = nil
    ) throws(QueryError) -> [QueriedSeries] {
        var read = [Result<[QueriedSeries], QueryError>](repeating: .success([]), count: queriers.count)
        read.withUnsafeMutableBufferPointer { read in
            func select(_ worker: Int, _ k: Int) {
                do {
                    read[k] = .success(try queriers[k].selectUnsorted(matchers, start: start, end: end))
                } catch {
                    read[k] = .failure(error)
                }
            }
            runTasks(on: runner, tasks: queriers.count, select)
        }
        var lists: [[QueriedSeries]] = []
        for result in read {
            let list = try result.get()
            if !list.isEmpty { lists.append(list) }
        }
        if !fromHead.isEmpty { lists.append(fromHead) }
        // One source with data (a query over the last minutes: the head alone) needs no
        // matching of labels across sources.
        if lists.count <= 1 { return lists.first ?? [] }
        return Self.mergeByLabels(lists)
    }

    /// The series of `lists` (in precedence order), those with the same labels made one, in
    /// label order. A block's list comes in label order (its series references follow it) and
    /// is only checked; the last list that is not (the head's, in the order its series were
    /// created) is matched by hash (``SeriesByLabels``), and any other is sorted. Then one walk
    /// over the ordered lists, each set of labels looked up in the hashed list at its place in
    /// the precedence; what the hashed list alone holds (series new since the last block) is
    /// sorted and merged in at the end. (A dictionary keyed by labels over every series of every
    /// source was a tenth of a 6h query over 65k series on one thread; sorting the head's list
    /// about as much.)
    static func mergeByLabels(_ lists: [[QueriedSeries]]) -> [QueriedSeries] {
        var lists = lists
        var hashed: SeriesByLabels?
        var hashedAt = -1
        for k in lists.indices.reversed() where !inLabelOrder(lists[k]) {
            if hashed == nil {
                hashed = SeriesByLabels(lists[k])
                hashedAt = k
                lists[k] = []
            } else {
                lists[k].sort { $0.labels < $1.labels }
            }
        }
        let out = walk(lists, hashed: hashed, at: hashedAt)
        guard let rest = hashed?.rest, !rest.isEmpty else { return out }
        // The answer and the rest share no labels: the walk merges them in label order.
        return walk([out, rest.sorted { $0.labels < $1.labels }])
    }

    private static func inLabelOrder(_ list: [QueriedSeries]) -> Bool {
        list.indices.dropFirst().allSatisfy { !(list[$0].labels < list[$0 - 1].labels) }
    }

    /// One walk over `lists`, each in label order: the series with the same labels made one,
    /// in label order, with those of `hashed` taken in as the list at `hashedAt` (empty in
    /// `lists`).
    private static func walk(_ lists: [[QueriedSeries]], hashed: SeriesByLabels? = nil, at hashedAt: Int = -1) -> [QueriedSeries] {
        var next = [Int](repeating: 0, count: lists.count)
        var out: [QueriedSeries] = []
        out.reserveCapacity(max(lists.map(\.count).max() ?? 0, hashed?.series.count ?? 0))
        var parts: [QueriedSeries] = []
        while true {
            // The smallest labels at the lists' fronts.
            var smallest = -1
            for k in lists.indices where next[k] < lists[k].count {
                if smallest < 0 || lists[k][next[k]].labels < lists[smallest][next[smallest]].labels { smallest = k }
            }
            guard smallest >= 0 else { break }
            let labels = lists[smallest][next[smallest]].labels
            parts.removeAll(keepingCapacity: true)
            for k in lists.indices {
                if k == hashedAt { hashed?.take(labels, into: &parts) }
                while next[k] < lists[k].count, lists[k][next[k]].labels == labels {
                    parts.append(lists[k][next[k]])
                    next[k] += 1
                }
            }
            if parts.count == 1 {
                out.append(parts[0])
                continue
            }
            out.append(QueriedSeries(labels: labels, samples: MergedSamples(parts: parts)))
        }
        return out
    }

    /// Appends the samples of `parts` in time order, each timestamp once (the first part's
    /// wins). Parts are the blocks in time order and then the head, so they usually follow
    /// one another without overlap: decoded one after the other, they are already the answer,
    /// and only when a check finds them out of order are they merged.
    static func appendMerged(_ parts: [QueriedSeries], to out: inout [Sample]) {
        let first = out.count
        var ends: [Int] = []
        ends.reserveCapacity(parts.count)
        for p in parts {
            p.appendSamples(to: &out)
            ends.append(out.count)
        }
        let inOrder = out.withUnsafeBufferPointer { all in
            var k = first + 1
            while k < all.count, all[k - 1].timestamp < all[k].timestamp { k += 1 }
            return k >= all.count
        }
        if inOrder { return }
        var lists: [[Sample]] = []
        var start = first
        for end in ends {
            lists.append(Array(out[start..<end]))
            start = end
        }
        out.removeSubrange(first...)
        out.append(contentsOf: mergeSamples(lists))
    }

    public func labelNames(matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String] {
        var names = Set(try head.labelNames(matching: matchers, start: start, end: end, limit: 0))
        for q in blocks() { names.formUnion(try q.labelNames(matching: matchers, start: start, end: end, limit: 0)) }
        let sorted = names.sorted()
        return limit > 0 ? Array(sorted.prefix(limit)) : sorted
    }

    public func labelValues(_ name: String, matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String] {
        var values = Set(try head.labelValues(name, matching: matchers, start: start, end: end, limit: 0))
        for q in blocks() { values.formUnion(try q.labelValues(name, matching: matchers, start: start, end: end, limit: 0)) }
        let sorted = values.sorted()
        return limit > 0 ? Array(sorted.prefix(limit)) : sorted
    }

    public func cardinality(limit: Int) -> CardinalityStats { head.cardinality(limit: limit) }
}

/// One series' parts from several sources, read as one (``MergeQuerier/appendMerged(_:to:)``).
final class MergedSamples: SeriesSamples {
    let parts: [QueriedSeries]

    init(parts: [QueriedSeries]) { self.parts = parts }

    func makeIterator() -> any SampleIterator { ArraySampleIterator(allOf: self) }

    func appendAll(to out: inout [Sample]) { MergeQuerier.appendMerged(parts, to: &out) }
}

/// Iterates samples already in an array.
struct ArraySampleIterator: SampleIterator {
    let samples: [Sample]
    var index = 0

    init(samples: [Sample]) { self.samples = samples }

    /// Over every sample of `series`, decoded at once: the iterator of sources that read
    /// their samples in bulk (``SeriesSamples/appendAll(to:)``).
    init(allOf series: some SeriesSamples) {
        var samples: [Sample] = []
        series.appendAll(to: &samples)
        self.samples = samples
    }

    mutating func next() -> Sample? {
        guard index < samples.count else { return nil }
        defer { index += 1 }
        return samples[index]
    }

    mutating func seek(_ time: Int64) -> Sample? {
        if index > 0, samples[index - 1].timestamp >= time { return samples[index - 1] }
        while index < samples.count, samples[index].timestamp < time { index += 1 }
        return next()
    }
}
