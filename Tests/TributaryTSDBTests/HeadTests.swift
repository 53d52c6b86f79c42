import Testing
import TributaryModel

@testable import TributaryTSDB

@Suite struct HeadTests {
    let up: Labels = ["__name__": "up", "job": "node", "instance": "a"]

    func commit(_ head: Head, _ items: [(Labels, Int64, Double)]) throws -> (CommitResult, [AppendError?]) {
        var errors: [AppendError?] = []
        let result = try head.commit { batch in
            for (l, t, v) in items { errors.append(batch.append(l, Sample(timestamp: t, value: v))) }
        }
        return (result, errors)
    }

    @Test func appendsAndReadsBack() throws {
        let head = Head()
        let (result, errors) = try commit(head, (0..<300).map { (up, Int64($0) * 15_000, Double($0)) })
        #expect(errors.allSatisfy { $0 == nil })
        #expect(result.samplesStored == 300)
        #expect(result.seriesCreated == 1)
        let got = try head.querier().dump([m("__name__", .equal, "up")])
        #expect(got[up]?.count == 300)
        #expect(got[up]?.last == Sample(timestamp: 299 * 15_000, value: 299))
        #expect(head.numSeries == 1)
        #expect(head.minTime == 0 && head.maxTime == 299 * 15_000)
    }

    @Test func exactRepeatIsNoOpAndConflictIsRefused() throws {
        let head = Head()
        _ = try commit(head, [(up, 1000, 1), (up, 2000, 2)])
        let (result, errors) = try commit(head, [(up, 2000, 2), (up, 1000, 1), (up, 2000, 3), (up, 1000, 5), (up, 3000, 3), (up, 3000, 3)])
        #expect(errors[0] == nil && errors[1] == nil, "exact repeats, also of an older sample, are no-ops")
        #expect(errors[2] == .duplicateTimestamp(timestamp: 2000))
        #expect(errors[3] == .duplicateTimestamp(timestamp: 1000))
        #expect(errors[4] == nil && errors[5] == nil)
        #expect(result.duplicatesIgnored == 3)
        #expect(result.samplesStored == 1)
        #expect(try head.querier().dump([m("job", .equal, "node")])[up]?.map(\.value) == [1, 2, 3])
    }

    @Test func outOfOrderRefusedWithoutWindow() throws {
        let head = Head()
        _ = try commit(head, [(up, 10_000, 1)])
        let (_, errors) = try commit(head, [(up, 5_000, 2)])
        #expect(errors == [.outOfOrder(timestamp: 5_000, newest: 10_000)])
    }

    @Test func outOfOrderWindowStoresInOrder() throws {
        var options = HeadOptions()
        options.outOfOrderWindow = 60_000
        let head = Head(options: options)
        _ = try commit(head, [(up, 100_000, 10), (up, 130_000, 13)])
        let (result, errors) = try commit(head, [(up, 115_000, 11.5), (up, 50_000, 5), (up, 45_000, 4.5), (up, 120_000, 12)])
        #expect(errors[0] == nil)
        #expect(errors[1] == .tooOld(timestamp: 50_000, oldestAllowed: 70_000))
        #expect(errors[2] == .tooOld(timestamp: 45_000, oldestAllowed: 70_000))
        #expect(errors[3] == nil)
        #expect(result.samplesStored == 2)
        let samples = try head.querier().dump([m("__name__", .equal, "up")])[up]
        #expect(samples?.map(\.timestamp) == [100_000, 115_000, 120_000, 130_000])
        // Seek lands on out-of-order samples too.
        var it = try head.querier().select([m("__name__", .equal, "up")], start: 0, end: .max)[0].makeIterator()
        #expect(it.seek(116_000)?.timestamp == 120_000)
    }

    @Test func timeRangeLimitsSamplesAndSeries() throws {
        let head = Head()
        let other: Labels = ["__name__": "up", "job": "node", "instance": "b"]
        _ = try commit(head, (0..<100).map { (up, Int64($0) * 1000, 1) } + [(other, 500_000, 1)])
        let q = head.querier()
        let inRange = try q.dump([m("__name__", .equal, "up")], start: 10_000, end: 19_999)
        #expect(inRange.count == 1)
        #expect(inRange[up]?.map(\.timestamp) == (10..<20).map { Int64($0) * 1000 })
        #expect(try q.select([m("__name__", .equal, "up")], start: 0, end: .max).map(\.labels) == [up, other])
    }

    @Test func chunksAreCutAt120Samples() throws {
        let head = Head()
        _ = try commit(head, (0..<1000).map { (up, Int64($0) * 15_000, Double($0)) })
        let s = try #require(head.lookup(up.withView { $0 }, hash: up.stableHash))
        #expect(s.closed.count >= 7)
        #expect(s.closed.allSatisfy { XORIterator(bytes: $0.bytes).countSamples() <= 240 })
        #expect(try head.querier().dump([m("__name__", .equal, "up")])[up]?.count == 1000)
    }

    @Test func memoryIsAccountedAndBudgetReported() throws {
        var options = HeadOptions()
        options.memoryBudget = 50_000
        let head = Head(options: options)
        #expect(!head.isOverMemoryBudget)
        let series = (0..<200).map { i -> Labels in ["__name__": "m", "i": "\(i)"] }
        _ = try commit(head, series.map { ($0, 1000, 1) })
        #expect(head.memoryBytes > 200 * Head.seriesOverhead)
        #expect(head.isOverMemoryBudget)
    }
}

extension XORIterator {
    func countSamples() -> Int {
        var copy = self
        var n = 0
        while copy.next() != nil { n += 1 }
        return n
    }
}

@Suite struct AppendByRefTests {
    @Test func refsFromAppendWorkLaterAndUnknownRefsAreRefused() throws {
        let head = Head()
        let labels: Labels = ["__name__": "r", "job": "x"]
        var ref: SeriesRef = 0
        _ = try head.commit { batch in
            labels.withView { ref = batch.appendReturningRef($0, Sample(timestamp: 1, value: 1)).0 }
        }
        var errors: [AppendError?] = []
        _ = try head.commit { batch in
            errors.append(batch.append(ref: ref, Sample(timestamp: 2, value: 2)))
            errors.append(batch.append(ref: ref, Sample(timestamp: 2, value: 3)))
            errors.append(batch.append(ref: 999, Sample(timestamp: 2, value: 3)))
            #expect(batch.isValid(ref) && !batch.isValid(999))
        }
        #expect(errors == [nil, .duplicateTimestamp(timestamp: 2), .unknownSeries(ref: 999)])
        #expect(try head.querier().dump([m("__name__", .equal, "r")])[labels]?.map(\.value) == [1, 2])
    }
}
