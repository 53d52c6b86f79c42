import TributaryModel

/// Reads several storages as one (blocks and the head): series with the same labels are
/// merged, their samples in time order, a timestamp present in more than one (overlapping
/// blocks, a block and the head right after it was written) taken once, from the first.
public struct MergeQuerier: Querier {
    let queriers: [any Querier]
    let head: any Querier

    /// `queriers` in order of precedence; `head` answers `cardinality` (as Prometheus's
    /// `status/tsdb` describes the head).
    public init(_ queriers: [any Querier], head: any Querier) {
        self.queriers = queriers
        self.head = head
    }

    public func select(_ matchers: [Matcher], start: Int64, end: Int64) throws(QueryError) -> [QueriedSeries] {
        var out = try selectUnsorted(matchers, start: start, end: end)
        if queriers.count > 1 { out.sort { $0.labels < $1.labels } }
        return out
    }

    public func selectUnsorted(_ matchers: [Matcher], start: Int64, end: Int64) throws(QueryError) -> [QueriedSeries] {
        if queriers.count == 1 { return try queriers[0].selectUnsorted(matchers, start: start, end: end) }
        var order: [Labels] = []
        var parts: [Labels: [QueriedSeries]] = [:]
        for q in queriers {
            for s in try q.selectUnsorted(matchers, start: start, end: end) {
                if parts[s.labels] == nil { order.append(s.labels) }
                parts[s.labels, default: []].append(s)
            }
        }
        return order.compactMap { labels in
            guard let list = parts[labels] else { return nil }
            if list.count == 1 { return list[0] }
            return QueriedSeries(
                labels: labels,
                makeIterator: { ArraySampleIterator(samples: Self.merged(list)) },
                appendAll: { $0.append(contentsOf: Self.merged(list)) })
        }
    }

    /// The samples of `parts` in time order, each timestamp once (the first part's wins).
    static func merged(_ parts: [QueriedSeries]) -> [Sample] {
        mergeSamples(
            parts.map { p in
                var samples: [Sample] = []
                p.appendSamples(to: &samples)
                return samples
            })
    }

    public func labelNames(matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String] {
        var names = Set<String>()
        for q in queriers { names.formUnion(try q.labelNames(matching: matchers, start: start, end: end, limit: 0)) }
        let sorted = names.sorted()
        return limit > 0 ? Array(sorted.prefix(limit)) : sorted
    }

    public func labelValues(_ name: String, matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String] {
        var values = Set<String>()
        for q in queriers { values.formUnion(try q.labelValues(name, matching: matchers, start: start, end: end, limit: 0)) }
        let sorted = values.sorted()
        return limit > 0 ? Array(sorted.prefix(limit)) : sorted
    }

    public func cardinality(limit: Int) -> CardinalityStats { head.cardinality(limit: limit) }
}

/// Iterates samples already in an array.
struct ArraySampleIterator: SampleIterator {
    let samples: [Sample]
    var index = 0

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
