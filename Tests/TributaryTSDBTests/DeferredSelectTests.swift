import Testing
import TributaryModel

@testable import TributaryTSDB

/// Series selected deferred (each read when taken, on the taking thread) read what an eager
/// select reads, and a truncation of the head between the select and a take is reported as
/// retryable rather than answered with the data it moved into a block missing.
@Suite struct DeferredSelectTests {
    static let minute = DBTests.minute

    /// Every series of `selected`, taken in order, by labels.
    static func takeAll(_ selected: any SelectedSeries) throws -> [Labels: [Sample]] {
        var out: [Labels: [Sample]] = [:]
        for i in 0..<selected.count {
            guard let s = try selected.take(i) else { continue }
            var samples: [Sample] = []
            s.appendSamples(to: &samples)
            out[s.labels] = samples
        }
        return out
    }

    @Test func deferredReadsMatchEagerOnesInBlocksAndHead() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let store = try DBTests.open(dir.path)
        var expected: [Labels: [Sample]] = [:]
        try DBTests.write(store.head, series: DBTests.series(5), from: 0, to: 200, into: &expected)
        try store.db.persist(before: 2 * Self.minute)
        #expect(store.db.blocks.count == 1)
        let querier = store.db.querier()
        let up = [m("__name__", .equal, "up")]
        // The blocks' range, across the cut, and the head's alone.
        let ranges: [(Int64, Int64)] = [(0, 200_000), (0, 60_000), (100_000, 150_000), (150_000, 200_000), (190_000, 199_000)]
        for (start, end) in ranges {
            let selected = try querier.selectDeferred(up, start: start, end: end, on: nil)
            #expect((selected is DeferredHeadSeries) == (start >= 2 * Self.minute), "[\(start), \(end)]: deferred only without blocks in range")
            let eager = try querier.dump(up, start: start, end: end)
            let deferred = try Self.takeAll(selected)
            #expect(deferred.count == 5)
            #expect(deferred == eager, "[\(start), \(end)]")
        }
    }

    @Test func aTruncationBetweenSelectAndTakeAsksForARetry() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let store = try DBTests.open(dir.path)
        var expected: [Labels: [Sample]] = [:]
        try DBTests.write(store.head, series: DBTests.series(4), from: 0, to: 180, into: &expected)
        let up = [m("__name__", .equal, "up")]
        // No block yet: the whole range is read from the head, deferred.
        let selected = try store.db.querier().selectDeferred(up, start: 0, end: 180_000, on: nil)
        #expect(selected is DeferredHeadSeries)
        let first = try #require(try selected.take(0))
        var samples: [Sample] = []
        first.appendSamples(to: &samples)
        #expect(samples == expected[first.labels], "taken before the cut: every sample")
        // The first minute moves into a block and out of the head.
        try store.db.persist(before: Self.minute)
        #expect(store.db.blocks.count == 1)
        for i in 1..<selected.count {
            let error = #expect(throws: QueryError.self, "series \(i), read after the truncation") { _ = try selected.take(i) }
            #expect(error?.isRetryable == true)
        }
        // Selected again (eagerly, as the engine's second run does), nothing is missing.
        try DBTests.expectAll(store.db, expected, "after the cut")
    }

    @Test func theListTakesEachSeriesOnce() throws {
        let list = SelectedList([
            QueriedSeries(labels: ["__name__": "a"], makeIterator: { ArraySampleIterator(samples: [Sample(timestamp: 1, value: 1)]) }),
            QueriedSeries(labels: ["__name__": "b"], makeIterator: { ArraySampleIterator(samples: []) })
        ])
        #expect(list.count == 2)
        #expect(list.take(1)?.labels == ["__name__": "b"])
        #expect(list.take(1) == nil, "taken already")
        #expect(list.take(0)?.labels == ["__name__": "a"])
    }
}
