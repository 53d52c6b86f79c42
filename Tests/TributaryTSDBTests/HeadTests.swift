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

    /// A snapshot keeps the chunks in range by position and the out-of-order samples whole:
    /// every window, at and across chunk edges, must read exactly its samples, in bulk and
    /// through the iterator. (A window between two samples of one chunk selects the series
    /// with no samples, as Prometheus's head does: chunks are matched by their time range.)
    @Test func everyWindowReadsExactlyItsSamples() throws {
        var options = HeadOptions()
        options.outOfOrderWindow = 86_400_000
        let head = Head(options: options)
        let times = (0..<1500).map { Int64($0) * 15_000 }
        // Every 7th sample comes late: out of order, kept beside the chunks.
        _ = try commit(head, times.enumerated().filter { $0.offset % 7 != 3 }.map { (up, $0.element, Double($0.offset)) })
        _ = try commit(head, times.enumerated().filter { $0.offset % 7 == 3 }.map { (up, $0.element, Double($0.offset)) })
        let s = try #require(head.lookup(up.withView { $0 }, hash: up.stableHash))
        #expect(s.closed.count >= 7 && !s.ooo.isEmpty)
        let edges = s.closed.flatMap { [$0.minTime, $0.maxTime] } + [s.headMinTime, s.head.maxTime]
        var windows: [(Int64, Int64)] = [(.min, .max), (-1, -1), (7_000, 8_000), (22_485_000, 22_485_000), (22_485_001, 30_000_000)]
        for e in edges { windows += [(e - 1, e), (e, e), (e, e + 1), (e - 300_000, e), (e, e + 300_000), (e + 1, e + 14_999)] }
        for (start, end) in windows {
            let expected = times.enumerated().filter { $0.element >= start && $0.element <= end }.map { Sample(timestamp: $0.element, value: Double($0.offset)) }
            let selected = try head.querier().select([m("__name__", .equal, "up")], start: start, end: end)
            let outside = end < 0 || start > times[times.count - 1]
            if !expected.isEmpty || outside { #expect(selected.count == (outside ? 0 : 1), "window \(start)...\(end)") }
            guard let series = selected.first else { continue }
            var bulk: [Sample] = []
            series.appendSamples(to: &bulk)
            #expect(bulk == expected, "window \(start)...\(end), bulk")
            var iterated: [Sample] = []
            var it = series.makeIterator()
            while let x = it.next() { iterated.append(x) }
            #expect(iterated == expected, "window \(start)...\(end), iterator")
        }
    }

    /// A dashboard's pattern: a sample written, the last five minutes read, again and again,
    /// across chunk cuts. Reads start at the open chunk's resume points once a read has made
    /// them; a series no read touches for a whole chunk keeps none, and nor does a removed one.
    @Test func refreshedReadsOfTheOpenChunkStartAtResumePoints() throws {
        let head = Head()
        var written: [Sample] = []
        var resumed = 0
        var resumedInClosed = 0
        let s = try #require(try commit(head, [(up, 0, 0)]).0.seriesCreated == 1 ? head.lookup(up.withView { $0 }, hash: up.stableHash) : nil)
        func box() -> ResumeBox? { head.stripes[head.stripe(forHash: s.hash)].map.withLock { _ in s.state.pointee.box } }
        // The stripe's count of boxes, which bounds them (``ResumeBox/perStripe``).
        func boxesCounted() -> Int { head.stripes[head.stripe(forHash: s.hash)].map.withLock { $0.resumeBoxes } }
        written.append(Sample(timestamp: 0, value: 0))
        for n in 1..<600 {
            let sample = Sample(timestamp: Int64(n) * 15_000, value: Double(n % 50) * 1.25)
            _ = try commit(head, [(up, sample.timestamp, sample.value)])
            written.append(sample)
            let start = sample.timestamp - 300_000
            let series = try #require(try head.querier().select([m("__name__", .equal, "up")], start: start, end: sample.timestamp).first)
            var got: [Sample] = []
            series.appendSamples(to: &got)
            #expect(got == written.filter { $0.timestamp >= start }, "after \(n + 1) samples")
            if let box = box(), box.chunkStart == s.headMinTime, box.points.best(before: start) != nil { resumed += 1 }
            // Just after a cut the window reaches back into the chunk closed last.
            if let box = box(), let last = s.closed.last, start > last.minTime, start <= last.maxTime, box.closedChunkStart == last.minTime,
                box.closedPoints.best(before: start) != nil
            {
                resumedInClosed += 1
            }
        }
        #expect(resumed > 300, "most reads started at a resume point: \(resumed) of 600")
        // Four cuts in 600 samples (chunks of about 120), each followed by about 20 reads whose
        // 5-minute window starts in the chunk just closed (80 here; none without its points).
        #expect(resumedInClosed > 60, "reads just after a cut started at the closed chunk's points: \(resumedInClosed)")
        #expect(box() != nil && boxesCounted() == 1)
        _ = try commit(head, (600..<900).map { (up, Int64($0) * 15_000, 1) })
        #expect(box() == nil, "no read for more than a chunk: the points are dropped")
        #expect(boxesCounted() == 0)
        // Read again, then removed by garbage collection: the box goes with the series.
        _ = try head.querier().select([m("__name__", .equal, "up")], start: 899 * 15_000 - 60_000, end: .max)
        #expect(box() != nil && boxesCounted() == 1)
        head.truncate(head.cut(before: .max))
        #expect(head.numSeries == 0)
        #expect(box() == nil && boxesCounted() == 0)
    }

    /// A deletion writes the open chunk's samples again: resume points of the old bytes must
    /// not be used on the new ones.
    @Test func readsAfterADeletionInTheOpenChunkIgnoreItsOldResumePoints() throws {
        let head = Head()
        var written = (0..<100).map { Sample(timestamp: Int64($0) * 15_000, value: Double($0) * 0.5) }
        _ = try commit(head, written.map { (up, $0.timestamp, $0.value) })
        func read(from start: Int64) throws -> [Sample] {
            var got: [Sample] = []
            try head.querier().select([m("__name__", .equal, "up")], start: start, end: .max).first?.appendSamples(to: &got)
            return got
        }
        #expect(try read(from: 90 * 15_000) == Array(written[90...]))
        _ = try head.delete([m("__name__", .equal, "up")], start: 85 * 15_000, end: 87 * 15_000)
        written.removeAll { $0.timestamp >= 85 * 15_000 && $0.timestamp <= 87 * 15_000 }
        for n in 100..<140 {
            let sample = Sample(timestamp: Int64(n) * 15_000, value: Double(n))
            _ = try commit(head, [(up, sample.timestamp, sample.value)])
            written.append(sample)
            for start in [sample.timestamp - 15_000, sample.timestamp - 300_000] {
                #expect(try read(from: start) == written.filter { $0.timestamp >= start }, "after \(n + 1) samples, from \(start)")
            }
        }
    }

    /// A deletion in the chunk closed last writes it again with the same first sample: the
    /// points kept for its old bytes must not be used on the new ones.
    @Test func readsAfterADeletionInTheClosedChunkIgnoreItsOldResumePoints() throws {
        let head = Head()
        var written = (0..<130).map { Sample(timestamp: Int64($0) * 15_000, value: Double($0 % 7) * 1.5 + Double($0) / 3) }
        _ = try commit(head, written.map { (up, $0.timestamp, $0.value) })
        let s = try #require(head.lookup(up.withView { $0 }, hash: up.stableHash))
        func read(from start: Int64) throws -> [Sample] {
            var got: [Sample] = []
            try head.querier().select([m("__name__", .equal, "up")], start: start, end: .max).first?.appendSamples(to: &got)
            return got
        }
        func box() -> ResumeBox? { head.stripes[head.stripe(forHash: s.hash)].map.withLock { _ in s.state.pointee.box } }
        let start: Int64 = 110 * 15_000
        #expect(s.closed.count == 1 && s.closed[0].minTime == 0)
        #expect(try read(from: start) == Array(written[110...]))
        #expect(box()?.closedChunkStart == 0 && box()?.closedPoints.best(before: start) != nil, "the first read noted the closed chunk's points")
        // The open chunk's samples go: one closed chunk from 0 is left, read (and noted) again.
        _ = try head.delete([m("__name__", .equal, "up")], start: 120 * 15_000, end: 129 * 15_000)
        written.removeAll { $0.timestamp >= 120 * 15_000 }
        #expect(try read(from: start) == Array(written[110...]))
        #expect(box()?.closedChunkStart == 0)
        // Now three samples early in that chunk: it is written again from the same first sample.
        _ = try head.delete([m("__name__", .equal, "up")], start: 20 * 15_000, end: 22 * 15_000)
        written.removeAll { $0.timestamp >= 20 * 15_000 && $0.timestamp <= 22 * 15_000 }
        #expect(s.closed.count == 1 && s.closed[0].minTime == 0)
        for from: Int64 in [start, 100 * 15_000, 115 * 15_000, 119 * 15_000] {
            #expect(try read(from: from) == written.filter { $0.timestamp >= from }, "from \(from)")
        }
    }

    /// One wide query reads every series once: a stripe keeps at most
    /// ``ResumeBox/perStripe`` boxes, and the series beyond them still read exactly.
    @Test func aWideReadMakesNoMoreBoxesThanAStripeKeeps() throws {
        var options = HeadOptions()
        options.stripes = 1
        let head = Head(options: options)
        let count = ResumeBox.perStripe + 44
        let series = (0..<count).map { i -> Labels in ["__name__": "m", "i": "\(i)"] }
        for n in 0..<40 { _ = try commit(head, series.map { ($0, Int64(n) * 15_000, Double(n)) }) }
        let read = try head.querier().select([m("__name__", .equal, "m")], start: 35 * 15_000, end: .max)
        #expect(read.count == count)
        for s in read {
            var got: [Sample] = []
            s.appendSamples(to: &got)
            #expect(got == (35..<40).map { Sample(timestamp: Int64($0) * 15_000, value: Double($0)) })
        }
        // The stripe's count, and the series that hold a box.
        let held = (0...UInt32(count + 1)).compactMap { head.series(id: $0) }.filter { s in head.stripes[0].map.withLock { _ in s.state.pointee.box != nil } }
        #expect(held.count == ResumeBox.perStripe)
        #expect(head.stripes[0].map.withLock { $0.resumeBoxes } == ResumeBox.perStripe)
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
