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
}
