import Testing
import TributaryModel

@testable import TributaryTSDB

/// One series read from several blocks and the head: its samples in time order, each
/// timestamp once, the earlier part's sample winning a tie.
@Suite struct MergeQuerierTests {
    func part(_ points: [(Int64, Double)], bulk: Bool) -> QueriedSeries {
        let samples = points.map { Sample(timestamp: $0.0, value: $0.1) }
        return QueriedSeries(
            labels: Labels(sortedPairs: [(name: "__name__", value: "up")]), makeIterator: { ArraySampleIterator(samples: samples) },
            appendAll: bulk ? { $0.append(contentsOf: samples) } : nil)
    }

    func merged(_ parts: [QueriedSeries]) -> [String] {
        var out = [Sample(timestamp: -1, value: -1)]  // appended after what the buffer held
        MergeQuerier.appendMerged(parts, to: &out)
        #expect(out.first?.timestamp == -1, "what the buffer held is kept")
        return out.dropFirst().map { "\($0.timestamp)=\($0.value)" }
    }

    @Test func partsThatFollowOneAnotherAreJoined() {
        let parts = [part([(1, 1), (2, 2)], bulk: true), part([(3, 3)], bulk: false), part([(4, 4), (5, 5)], bulk: true)]
        #expect(merged(parts) == ["1=1.0", "2=2.0", "3=3.0", "4=4.0", "5=5.0"])
    }

    @Test func overlappingPartsAreMergedAndTheEarlierPartWinsATie() {
        // A block and the head right after it was written hold the same timestamps.
        let parts = [part([(1, 1), (3, 3), (5, 5)], bulk: true), part([(3, 30), (4, 40), (6, 60)], bulk: true)]
        #expect(merged(parts) == ["1=1.0", "3=3.0", "4=40.0", "5=5.0", "6=60.0"])
    }

    @Test func partsOutOfTimeOrderAreMerged() {
        let parts = [part([(10, 10), (11, 11)], bulk: true), part([(1, 1), (2, 2)], bulk: true)]
        #expect(merged(parts) == ["1=1.0", "2=2.0", "10=10.0", "11=11.0"])
    }

    @Test func aTimestampTwiceAtAJoinIsKeptOnce() {
        let parts = [part([(1, 1), (2, 2)], bulk: true), part([(2, 20), (3, 3)], bulk: true)]
        #expect(merged(parts) == ["1=1.0", "2=2.0", "3=3.0"])
    }

    /// A source holding fixed series; any matcher selects all of them.
    struct Fixed: Querier {
        let series: [(instance: String, points: [(Int64, Double)])]

        func select(_ matchers: [Matcher], start: Int64, end: Int64) throws(QueryError) -> [QueriedSeries] {
            series.map { s in
                let samples = s.points.map { Sample(timestamp: $0.0, value: $0.1) }
                return QueriedSeries(
                    labels: Labels(sortedPairs: [(name: "__name__", value: "up"), (name: "instance", value: s.instance)]),
                    makeIterator: { ArraySampleIterator(samples: samples) })
            }
        }
        func labelNames(matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String] { [] }
        func labelValues(_ name: String, matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String] { [] }
        func cardinality(limit: Int) -> CardinalityStats { CardinalityStats() }
    }

    /// Each selected series as `instance: t=v ...`, in label order.
    func read(blocks: [Fixed], head: Fixed, on runner: (any TaskRunner)? = nil) throws -> [String] {
        let querier = MergeQuerier(blocks: { blocks }, head: head)
        var all = try querier.selectUnsorted([try Matcher(.equal, "__name__", "up")], start: 0, end: 100, on: runner)
        all.sort { $0.labels < $1.labels }
        return all.map { s in
            var samples: [Sample] = []
            s.appendSamples(to: &samples)
            return "\(s.labels.value(of: "instance") ?? "?"): " + samples.map { "\($0.timestamp)=\($0.value)" }.joined(separator: " ")
        }
    }

    @Test func aBlockAloneIsTheAnswer() throws {
        // The head and a second block have nothing: the one source's series are returned.
        let block = Fixed(series: [("b", [(3, 3)]), ("a", [(1, 1), (2, 2)])])
        #expect(try read(blocks: [block, Fixed(series: [])], head: Fixed(series: [])) == ["a: 1=1.0 2=2.0", "b: 3=3.0"])
    }

    @Test func theHeadAloneIsTheAnswer() throws {
        let head = Fixed(series: [("a", [(5, 5)])])
        #expect(try read(blocks: [Fixed(series: [])], head: head) == ["a: 5=5.0"])
    }

    @Test func aBlockAndTheHeadAreMergedSeriesBySeries() throws {
        // `a` is in both: one series, the block's samples then the head's, the shared
        // timestamp once. Taking either source alone would lose `b` or `c`, or list `a` twice.
        // Neither source lists its series in label order here (a block normally does: the
        // merge checks, and sorts what is not).
        let block = Fixed(series: [("b", [(1, 10)]), ("a", [(1, 1), (2, 2)])])
        let head = Fixed(series: [("c", [(4, 40)]), ("a", [(2, 20), (3, 3)])])
        #expect(try read(blocks: [block], head: head) == ["a: 1=1.0 2=2.0 3=3.0", "b: 1=10.0", "c: 4=40.0"])
        // Two blocks and the head: a series in all three is one, the earlier block winning a tie.
        let later = Fixed(series: [("a", [(2, 200), (5, 5)]), ("d", [(6, 6)])])
        #expect(try read(blocks: [block, later], head: head) == ["a: 1=1.0 2=2.0 3=3.0 5=5.0", "b: 1=10.0", "c: 4=40.0", "d: 6=6.0"])
        // The blocks read as tasks, last block first: each result stays its block's.
        #expect(
            try read(blocks: [block, later], head: head, on: Backwards()) == ["a: 1=1.0 2=2.0 3=3.0 5=5.0", "b: 1=10.0", "c: 4=40.0", "d: 6=6.0"])
    }

    /// The blocks list their series in label order, the head in the order they were created:
    /// the head's are matched by their labels' hashes, not sorted. Every series once, in label
    /// order, its parts in precedence order; those only in the head (new since the blocks)
    /// merged in among the others.
    @Test func theHeadsSeriesAreMatchedWithTheBlocksInAnyOrder() {
        func series(_ i: Int, _ t: Int64) -> QueriedSeries {
            let labels = Labels(sortedPairs: [(name: "__name__", value: "up"), (name: "instance", value: "h\(100 + i)")])
            let samples = [Sample(timestamp: t, value: Double(i))]
            return QueriedSeries(labels: labels, makeIterator: { ArraySampleIterator(samples: samples) })
        }
        let first = (0..<60).filter { $0 % 2 == 0 && $0 < 40 }.map { series($0, 1) }
        let second = (0..<60).filter { $0 % 3 == 0 && $0 < 45 }.map { series($0, 2) }
        let head = (0..<60).map { ($0 * 17) % 60 }.map { series($0, 3) }  // every instance, out of order
        let merged = MergeQuerier.mergeByLabels([first, second, head])
        #expect(merged.map { $0.labels.value(of: "instance") ?? "?" } == (0..<60).map { "h\(100 + $0)" }, "each once, in label order")
        for (i, s) in merged.enumerated() {
            var samples: [Sample] = []
            s.appendSamples(to: &samples)
            let expected = (i % 2 == 0 && i < 40 ? [Int64(1)] : []) + (i % 3 == 0 && i < 45 ? [2] : []) + [3]
            #expect(samples.map(\.timestamp) == expected, "instance \(i): its parts in precedence order")
        }
        // The head's list first in precedence (and a block out of order, sorted): the same series.
        let reordered = MergeQuerier.mergeByLabels([head, second.reversed(), first])
        #expect(reordered.map(\.labels) == merged.map(\.labels))
        var samples: [Sample] = []
        reordered[0].appendSamples(to: &samples)
        #expect(samples.map(\.timestamp) == [1, 2, 3], "joined in time order whatever the precedence")
    }

    /// Series with the same labels in the hashed list (one hash, a chain of two): both taken,
    /// in list order, and only once.
    @Test func aHashSharedBySeriesTakesEachOnce() {
        let a = Labels(sortedPairs: [(name: "__name__", value: "a")])
        let b = Labels(sortedPairs: [(name: "__name__", value: "b")])
        func series(_ labels: Labels, _ value: Double) -> QueriedSeries {
            QueriedSeries(labels: labels, makeIterator: { ArraySampleIterator(samples: [Sample(timestamp: 0, value: value)]) })
        }
        let index = SeriesByLabels([series(a, 1), series(b, 2), series(a, 3)])
        var parts: [QueriedSeries] = []
        index.take(a, into: &parts)
        #expect(
            parts.map { s -> Double? in
                var samples: [Sample] = []
                s.appendSamples(to: &samples)
                return samples.first?.value
            } == [1, 3])
        index.take(a, into: &parts)
        #expect(parts.count == 2, "taken once")
        #expect(index.rest.map(\.labels) == [b])
    }

    /// The head's snapshots taken in slices as tasks (last slice first): every matching series
    /// once, with its samples, as read in one go.
    @Test func theHeadIsReadInSlicesOnARunner() throws {
        let head = Head()
        let count = 5 * HeadQuerier.seriesPerTask + 7
        _ = try head.commit { batch in
            for i in 0..<count {
                let labels = Labels(sortedPairs: [(name: "__name__", value: "up"), (name: "instance", value: "host-\(i)"), (name: "odd", value: "\(i % 2)")])
                for t in 0..<3 { _ = batch.append(labels, Sample(timestamp: Int64(t) * 10, value: Double(i * 10 + t))) }
            }
        }
        func dump(_ matchers: [Matcher], on runner: (any TaskRunner)?) throws -> [String] {
            try head.querier().selectUnsorted(matchers, start: 10, end: 100, on: runner).map { s in
                var samples: [Sample] = []
                s.appendSamples(to: &samples)
                return "\(s.labels.value(of: "instance") ?? "?"): " + samples.map { "\($0.timestamp)=\($0.value)" }.joined(separator: " ")
            }.sorted()
        }
        let all = [try Matcher(.equal, "__name__", "up")]
        let sliced = try dump(all, on: Backwards())
        #expect(sliced.count == count)
        #expect(Set(sliced).count == count, "no series twice")
        #expect(sliced == (try dump(all, on: nil)))
        #expect(sliced.contains("host-\(count - 1): 10=\(Double((count - 1) * 10 + 1)) 20=\(Double((count - 1) * 10 + 2))"))
        let odd = [try Matcher(.equal, "odd", "1")]
        #expect(try dump(odd, on: Backwards()).count == count / 2)
    }

    /// Runs tasks on the calling thread, the last first.
    final class Backwards: TaskRunner {
        func run(tasks: Int, _ body: (_ worker: Int, _ task: Int) -> Void) {
            for t in (0..<tasks).reversed() { body(0, t) }
        }
    }
}
