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

    /// A deferred read of a few chunks decodes them in place under the stripe lock; one of more
    /// chunks, or with out-of-order samples in its range, keeps to a snapshot decoded after the
    /// lock. Every window at and across chunk edges reads what an eager select reads, both ways,
    /// and a refresh of the last minutes (from resume points, across cuts) reads in place.
    @Test func readsInPlaceMatchSnapshots() throws {
        var options = HeadOptions()
        options.outOfOrderWindow = 86_400_000
        let head = Head(options: options)
        let inOrder: Labels = ["__name__": "up", "instance": "a"]
        let late: Labels = ["__name__": "up", "instance": "b"]
        let times = (0..<700).map { Int64($0) * 15_000 }
        _ = try head.commit { batch in
            for (i, t) in times.enumerated() {
                _ = batch.append(inOrder, Sample(timestamp: t, value: Double(i % 23) * 1.5))
                if i % 50 != 7 { _ = batch.append(late, Sample(timestamp: t, value: Double(i))) }
            }
        }
        // Every 50th sample of `late` arrives out of order.
        _ = try head.commit { batch in
            for (i, t) in times.enumerated() where i % 50 == 7 { _ = batch.append(late, Sample(timestamp: t, value: Double(i))) }
        }
        let a = try #require(head.lookup(inOrder.withView { $0 }, hash: inOrder.stableHash))
        #expect(a.closed.count >= 4)
        let edges = a.closed.flatMap { [$0.minTime, $0.maxTime] } + [a.headMinTime, a.head.maxTime]
        var windows: [(Int64, Int64)] = [(.min, .max), (-1, -1), (0, 0), (times[699] + 1, .max)]
        for e in edges { windows += [(e - 1, e), (e, e), (e - 300_000, e), (e, e + 300_000), (e - 3_600_000, e), (e + 1, e + 14_999)] }
        var paths: [String: Int] = [:]
        for (start, end) in windows {
            let where_ = "window \(start)...\(end)"
            let eager = try head.querier().dump([m("__name__", .equal, "up")], start: start, end: end)
            let selected = try head.querier().selectDeferred([m("__name__", .equal, "up")], start: start, end: end, on: nil)
            var read: [Labels: [Sample]] = [:]
            for i in 0..<selected.count {
                var samples: [Sample] = [Sample(timestamp: -7, value: -7)]
                guard let labels = try selected.read(i, appendingTo: &samples) else {
                    #expect(samples.count == 1, "\(where_): nothing appended for a series without samples")
                    continue
                }
                #expect(samples.first == Sample(timestamp: -7, value: -7), "\(where_): appended after what was there")
                read[labels] = Array(samples.dropFirst())
            }
            #expect(read == eager, "\(where_)")
            for s in [a, try #require(head.lookup(late.withView { $0 }, hash: late.stableHash))] {
                var ignored: [Sample] = []
                switch head.read(s, start: start, end: end, into: &ignored) {
                case .none: paths["none", default: 0] += 1
                case .appended: paths["in place", default: 0] += 1
                case .snapshot: paths["snapshot", default: 0] += 1
                }
            }
        }
        #expect(paths["in place", default: 0] > 20 && paths["snapshot", default: 0] > 20 && paths["none", default: 0] > 0, "both paths taken: \(paths)")
        // A dashboard's refreshes: each a sample later, five minutes back, in place.
        var written = times.enumerated().map { Sample(timestamp: $0.element, value: Double($0.offset % 23) * 1.5) }
        for n in 700..<1000 {
            let sample = Sample(timestamp: Int64(n) * 15_000, value: Double(n % 13) * 0.25)
            _ = try head.commit { _ = $0.append(inOrder, sample) }
            written.append(sample)
            let start = sample.timestamp - 300_000
            var got: [Sample] = []
            guard case .appended(let labels) = head.read(a, start: start, end: sample.timestamp, into: &got) else {
                Issue.record("refresh \(n): not read in place")
                continue
            }
            #expect(labels == inOrder)
            #expect(got == written.filter { $0.timestamp >= start }, "refresh \(n)")
        }
        // The refreshes kept the series' labels in its resume box, and read them from there.
        let box = try #require(head.stripes[head.stripe(forHash: a.hash)].map.withLock { _ in a.state.pointee.box })
        #expect(box.labels == inOrder)
        box.labels = ["__name__": "kept"]
        var again: [Sample] = []
        guard case .appended(let kept) = head.read(a, start: written[written.count - 1].timestamp, end: .max, into: &again) else {
            Issue.record("not read in place")
            return
        }
        #expect(kept == ["__name__": "kept"], "read from the box, not built again")
    }

    /// A read of the newest sample alone (an instant selector's one step) gives what the last
    /// of a whole read is, for every window: when the series' newest sample is a stale marker,
    /// when the window ends at an out-of-order sample or before the open chunk's last samples,
    /// and after a deletion took the newest samples (the series still remembers the deleted
    /// sample as its newest). Where the newest sample is in the window and nothing is as new,
    /// it comes alone from the series' state, and the series keeps its labels in its box.
    @Test func readNewestIsTheLastSampleOfAWholeRead() throws {
        var options = HeadOptions()
        options.outOfOrderWindow = 86_400_000
        let head = Head(options: options)
        func series(_ name: String) -> Labels { ["__name__": "up", "instance": name] }
        let (plain, stale, late, deleted) = (series("plain"), series("stale"), series("late"), series("deleted"))
        let times = (0..<300).map { Int64($0) * 15_000 }
        _ = try head.commit { batch in
            for (i, t) in times.enumerated() {
                _ = batch.append(plain, Sample(timestamp: t, value: Double(i)))
                _ = batch.append(stale, Sample(timestamp: t, value: i == 299 ? StaleMarker.value : Double(i)))
                _ = batch.append(deleted, Sample(timestamp: t, value: -Double(i)))
                if i % 40 != 9 { _ = batch.append(late, Sample(timestamp: t, value: Double(i) + 0.5)) }
            }
        }
        // Every 40th sample of `late` arrives out of order (the last at times[289]).
        _ = try head.commit { batch in
            for (i, t) in times.enumerated() where i % 40 == 9 { _ = batch.append(late, Sample(timestamp: t, value: Double(i) + 0.5)) }
        }
        #expect(try head.delete([m("instance", .equal, "deleted")], start: times[280], end: .max) == 1)
        let all = [m("__name__", .equal, "up")]
        var windows: [(Int64, Int64)] = [(.min, .max), (-1, -1), (times[299] + 1, .max)]
        for t in [times[0], times[9], times[279], times[280], times[289], times[298], times[299]] {
            windows += [(t - 300_000, t), (t - 300_000, t - 1), (t, t), (t - 1, t + 1), (t + 1, t + 14_999)]
        }
        var alone = 0
        for (start, end) in windows {
            let where_ = "window \(start)...\(end)"
            let whole = try head.querier().dump(all, start: start, end: end)
            let selected = try head.querier().selectDeferred(all, start: start, end: end, on: nil)
            var newest: [Labels: Sample] = [:]
            for i in 0..<selected.count {
                var samples = [Sample(timestamp: -7, value: -7)]
                guard let labels = try selected.readNewest(i, appendingTo: &samples) else {
                    #expect(samples.count == 1, "\(where_): nothing appended for a series without samples")
                    continue
                }
                #expect(samples.first == Sample(timestamp: -7, value: -7), "\(where_): appended after what was there")
                if samples.count == 2, (whole[labels]?.count ?? 0) > 1 { alone += 1 }
                // (A series may be listed with no sample in the window, as by a whole read.)
                newest[labels] = samples.count > 1 ? samples.last : nil
            }
            #expect(newest == whole.compactMapValues(\.last), "\(where_)")
        }
        // Alone: `plain`, `stale` and `late` in the two windows with more than their newest
        // sample (the whole range, the last five minutes); `deleted` has no open chunk.
        #expect(alone == 6, "the newest sample came alone \(alone) times")
        // A series only ever read alone gets a box for its labels, and they are read from there.
        let fresh = Head()
        _ = try fresh.commit { batch in for (i, t) in times.enumerated() { _ = batch.append(plain, Sample(timestamp: t, value: Double(i))) } }
        let p = try #require(fresh.lookup(plain.withView { $0 }, hash: plain.stableHash))
        var one: [Sample] = []
        _ = fresh.read(p, start: times[299] - 300_000, end: .max, newestOnly: true, into: &one)
        #expect(one == [Sample(timestamp: times[299], value: 299)])
        let box = try #require(fresh.stripes[fresh.stripe(forHash: p.hash)].map.withLock { _ in p.state.pointee.box })
        #expect(box.labels == plain)
        box.labels = ["__name__": "kept"]
        guard case .appended(let kept) = fresh.read(p, start: times[299] - 300_000, end: .max, newestOnly: true, into: &one) else {
            Issue.record("not read alone")
            return
        }
        #expect(kept == ["__name__": "kept"], "read from the box, not built again")
    }

    /// The read-ahead hints (``Head/takeSeries(ids:into:)``, ``Head/series(id:prefetchingFor:)``)
    /// find the words they read where the series keeps them, and are safe on any ID: past the
    /// end, and of a series removed from the head.
    @Test func prefetchHintsReadTheRightWordsAndAnyID() throws {
        let head = Head()
        let labels: Labels = ["__name__": "up", "instance": "a"]
        let gone: Labels = ["__name__": "up", "instance": "gone"]
        _ = try head.commit { batch in
            for i in 0..<300 { _ = batch.append(labels, Sample(timestamp: Int64(i) * 15_000, value: Double(i))) }
            _ = batch.append(gone, Sample(timestamp: 0, value: 1))
        }
        let s = try #require(head.lookup(labels.withView { $0 }, hash: labels.stableHash))
        let removed = try #require(head.lookup(gone.withView { $0 }, hash: gone.stableHash))
        // A read from the open chunk's resume point makes the series' box.
        var samples: [Sample] = []
        _ = head.read(s, start: 299 * 15_000 - 300_000, end: .max, into: &samples)
        #expect(samples.count == 21)
        let state = UnsafeRawPointer(Unmanaged.passUnretained(s).toOpaque()) + Head.stateOffset
        #expect(state == UnsafeRawPointer(s.state), "the state's place in the object")
        head.stripes[head.stripe(forHash: s.hash)].map.withLock { _ in
            let bytes = unsafeBitCast(s.state.pointee.head.stream.bytes, to: UInt.self)
            let box = unsafeBitCast(s.state.pointee.box, to: UInt.self)
            #expect(box != 0, "the read made a box")
            #expect(state.load(fromByteOffset: Head.openBytesOffset, as: UInt.self) == bytes, "the open chunk's storage")
            #expect(state.load(fromByteOffset: Head.boxOffset, as: UInt.self) == box, "the resume box")
        }
        // The emptied series leaves the head (its slot is nil); IDs past the end have none.
        #expect(head.truncate(head.cut(before: 1)) == 1, "the series with nothing after the cut is removed")
        #expect(head.series(id: removed.id) == nil)
        let ids: [UInt32] = [s.id, removed.id, 7, 1 << 30]
        var words = [UInt](repeating: 0, count: ids.count)
        ids.withUnsafeBufferPointer { ids in words.withUnsafeMutableBufferPointer { head.takeSeries(ids: ids, into: $0.baseAddress!) } }
        #expect(words[0] == UInt(bitPattern: Unmanaged.passUnretained(s).toOpaque()), "the series, taken")
        #expect(words[1...] == [Head.noSeries, Head.noSeries, Head.noSeries], "none for a removed series or an ID past the end")
        Unmanaged<MemSeries>.fromOpaque(UnsafeRawPointer(bitPattern: words[0])!).release()
        for id in ids {
            for ahead in ids + [nil] {
                #expect(head.series(id: id, prefetchingFor: ahead) === head.series(id: id), "\(id) with \(String(describing: ahead)) ahead")
            }
        }
    }

    /// Series taken ahead for a thread (``DeferredHeadSeries/prepare(_:)``, ranges running past
    /// the end) read (or are taken as snapshots) as those taken one at a time, in any order, a
    /// removed one as none; a selection dropped with series taken and not read gives their
    /// references back.
    @Test func seriesTakenAheadReadAsOnesTakenAlone() throws {
        let head = Head()
        var expected: [Labels: [Sample]] = [:]
        try DBTests.write(head, series: DBTests.series(40), from: 0, to: 50, into: &expected)
        let up = [m("__name__", .equal, "up")]
        func readAll(_ selected: any SelectedSeries, order: [Int]) throws -> [Labels: [Sample]] {
            var out: [Labels: [Sample]] = [:]
            for i in order {
                var samples: [Sample] = []
                guard let labels = try selected.read(i, appendingTo: &samples) else { continue }
                out[labels] = samples
            }
            return out
        }
        let alone = try head.querier().selectDeferred(up, start: 20_000, end: .max, on: nil)
        #expect(try readAll(alone, order: Array(0..<alone.count)) == expected.mapValues { $0.filter { $0.timestamp >= 20_000 } })
        let ahead = try head.querier().selectDeferred(up, start: 20_000, end: .max, on: nil)
        ahead.prepare(0..<16)
        ahead.prepare(16..<(ahead.count + 5))
        #expect(try readAll(ahead, order: (0..<ahead.count).reversed()) == expected.mapValues { $0.filter { $0.timestamp >= 20_000 } })
        let snapshots = try head.querier().selectDeferred(up, start: 20_000, end: .max, on: nil)
        snapshots.prepare(0..<snapshots.count)
        #expect(try Self.takeAll(snapshots) == expected.mapValues { $0.filter { $0.timestamp >= 20_000 } }, "taken ahead, then as snapshots")
        // A series gone from the head (its slot emptied, as a truncation leaves it) after it was
        // selected: none, taken ahead or not.
        let gone = DBTests.series(40)[3]
        let s = try #require(head.lookup(gone.withView { $0 }, hash: gone.stableHash))
        let before = _getRetainCount(s)
        do {
            let selected = try head.querier().selectDeferred(up, start: 0, end: .max, on: nil)
            selected.prepare(0..<selected.count)
            #expect(_getRetainCount(s) == before + 1, "taken ahead")
        }
        #expect(_getRetainCount(s) == before, "given back with the selection")
        let selected = try head.querier().selectDeferred(up, start: 0, end: .max, on: nil)
        let unprepared = try head.querier().selectDeferred(up, start: 0, end: .max, on: nil)
        head.byID.withLock { $0[Int(s.id)] = nil }
        selected.prepare(0..<selected.count)
        let read = try readAll(selected, order: Array(0..<selected.count))
        #expect(read.count == 39 && read[gone] == nil, "the emptied slot read as none")
        #expect(try readAll(unprepared, order: Array(0..<unprepared.count)) == read)
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
