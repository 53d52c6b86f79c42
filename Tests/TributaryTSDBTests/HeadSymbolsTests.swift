import Testing
import TributaryModel

@testable import TributaryTSDB

/// The head keeps each label string once (``HeadSymbols``) and each series as references to
/// them, tail-allocated in the series (#17: memory per series).
@Suite struct HeadSymbolsTests {
    @Test func labelsRoundTripThroughSharedSymbols() {
        let symbols = HeadSymbols()
        let a: Labels = ["__name__": "node_cpu_seconds_total", "cpu": "0", "instance": "host-1:9100", "mode": "idle"]
        let b: Labels = ["__name__": "node_cpu_seconds_total", "cpu": "1", "instance": "host-1:9100", "mode": "idle"]
        let refsA = a.bytes.withUnsafeBytes { symbols.intern($0) }
        let afterA = symbols.bytes
        let refsB = b.bytes.withUnsafeBytes { symbols.intern($0) }
        // b adds only the symbol "1" (malloc's smallest block, 32 bytes, and its directory
        // entry): every other name and value is shared.
        #expect(symbols.bytes - afterA == 40, "one new symbol: \(symbols.bytes - afterA) bytes")
        #expect(refsA.count == 8 && refsB.count == 8, "one byte per reference while IDs are small")
        #expect(refsA.withUnsafeBytes { symbols.labels($0) } == a)
        #expect(refsB.withUnsafeBytes { symbols.labels($0) } == b)

        func equal(_ refs: [UInt8], _ labels: Labels) -> Bool {
            refs.withUnsafeBytes { r in labels.bytes.withUnsafeBytes { symbols.equal(r, $0) } }
        }
        #expect(equal(refsA, a) && equal(refsB, b))
        #expect(!equal(refsA, b), "another value")
        #expect(!equal(refsA, ["__name__": "node_cpu_seconds_total", "cpu": "0", "instance": "host-1:9100"]), "a label fewer")
        #expect(!equal(refsA, ["__name__": "node_cpu_seconds_total", "cpu": "0", "instance": "host-1:9100", "mode": "idle", "z": "1"]), "a label more")
        #expect(!equal(refsA, ["__name__": "node_cpu_seconds_total", "cpu": "0", "instance": "host-1:9100", "mode": "idl"]), "a prefix of a value")

        // Releasing a keeps b whole; releasing b too frees everything.
        refsA.withUnsafeBytes { symbols.release($0) }
        #expect(refsB.withUnsafeBytes { symbols.labels($0) } == b)
        #expect(symbols.bytes == afterA, "only a's own symbol was freed")
        refsB.withUnsafeBytes { symbols.release($0) }
        #expect(symbols.bytes == 0)
        // Freed IDs are reused: references stay short under churn.
        let c: Labels = ["job": "x"]
        let refsC = c.bytes.withUnsafeBytes { symbols.intern($0) }
        #expect(refsC.allSatisfy { $0 < 9 }, "IDs of freed symbols reused: \(refsC)")
        #expect(refsC.withUnsafeBytes { symbols.labels($0) } == c)
    }

    @Test func thousandsOfSymbolsGrowTheTableAndStayDistinct() {
        let symbols = HeadSymbols()
        let sets = (0..<20_000).map { i -> Labels in ["__name__": "m", "instance": "host-\(i)", "path": "/srv/\(i % 977)"] }
        let refs = sets.map { l in l.bytes.withUnsafeBytes { symbols.intern($0) } }
        for (l, r) in zip(sets, refs) where r.withUnsafeBytes({ symbols.labels($0) }) != l {
            Issue.record("\(l) read back as \(r.withUnsafeBytes { symbols.labels($0) })")
            return
        }
        for r in refs { r.withUnsafeBytes { symbols.release($0) } }
        #expect(symbols.bytes == 0)
    }

    /// Limits may allow series with tens of thousands of labels: their references (over 64 KiB
    /// here) are kept with a count of their own, found again and read back whole.
    @Test func aSeriesWithVeryManyLabelsIsKeptWhole() throws {
        let head = Head()
        let pairs = [("__name__", "wide")] + (0..<15_000).map { ("l\($0)", "v\($0)") }
        let wide = Labels(sortedPairs: pairs.sorted { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }.map { (name: $0.0, value: $0.1) })
        _ = try head.commit { batch in _ = batch.append(wide, Sample(timestamp: 1, value: 1)) }
        _ = try head.commit { batch in _ = batch.append(wide, Sample(timestamp: 2, value: 2)) }
        let series = try #require(wide.withView { head.lookup($0, hash: $0.stableHash) })
        #expect(series.refsByteCount > Int(UInt16.max), "\(series.refsByteCount) bytes of references")
        #expect(head.numSeries == 1, "the second append found the series")
        let dump = try head.querier().dump([m("__name__", .equal, "wide")])
        #expect(dump.keys.first == wide)
        #expect(dump[wide]?.map(\.value) == [1, 2])
    }

    /// A query that found a series before the head removed it reads nothing from it, rather
    /// than symbols that may have been freed; the same labels can come back as a new series.
    @Test func aRemovedSeriesIsNotReadAndItsLabelsComeBack() throws {
        let head = Head()
        let gone: Labels = ["__name__": "up", "instance": "gone", "job": "node"]
        let stays: Labels = ["__name__": "up", "instance": "stays", "job": "node"]
        _ = try head.commit { batch in
            _ = batch.append(gone, Sample(timestamp: 1000, value: 1))
            _ = batch.append(stays, Sample(timestamp: 1000, value: 1))
        }
        _ = try head.commit { batch in _ = batch.append(stays, Sample(timestamp: 100_000, value: 2)) }
        let held = try #require(gone.withView { head.lookup($0, hash: $0.stableHash) })
        let symbolsBefore = head.symbols.bytes

        let cut = head.cut(before: 50_000)
        #expect(head.truncate(cut) == 1, "the series with nothing after the cut is removed")
        #expect(head.labels(of: held) == nil)
        #expect(head.symbols.bytes < symbolsBefore, "the symbol \"gone\" was freed")
        #expect(try head.querier().dump([m("__name__", .equal, "up")]).keys.sorted() == [stays])

        _ = try head.commit { batch in _ = batch.append(gone, Sample(timestamp: 200_000, value: 3)) }
        let dump = try head.querier().dump([m("__name__", .equal, "up")])
        #expect(dump[gone]?.map(\.value) == [3])
        #expect(dump[stays]?.map(\.value) == [1, 2], "its open chunk spans the cut and stays whole")
        #expect(head.symbols.bytes == symbolsBefore)
    }

    /// Each commit finds a series' newest pending sample through a slot in its own list; a
    /// slot left over from the previous commit must not lend another series' newest sample.
    @Test func pendingSamplesFollowTheirSeriesAcrossCommits() throws {
        let head = Head()
        let a: Labels = ["__name__": "a"]
        let b: Labels = ["__name__": "b"]
        var errors: [AppendError?] = []
        _ = try head.commit { batch in
            errors.append(batch.append(a, Sample(timestamp: 1, value: 1)))
            errors.append(batch.append(b, Sample(timestamp: 1, value: 1)))
            errors.append(batch.append(a, Sample(timestamp: 2, value: 2)))
            errors.append(batch.append(a, Sample(timestamp: 2, value: 2)))
            errors.append(batch.append(a, Sample(timestamp: 2, value: 9)))
            errors.append(batch.append(b, Sample(timestamp: 0, value: 0)))
        }
        #expect(errors == [nil, nil, nil, nil, .duplicateTimestamp(timestamp: 2), .outOfOrder(timestamp: 0, newest: 1)])
        errors = []
        // b now takes slot 0, which a held in the commit before.
        _ = try head.commit { batch in
            errors.append(batch.append(b, Sample(timestamp: 100, value: 3)))
            errors.append(batch.append(a, Sample(timestamp: 50, value: 3)))
            errors.append(batch.append(a, Sample(timestamp: 2, value: 2)))
        }
        #expect(errors == [nil, nil, nil], "a is compared with its own newest sample, not b's")
        let dump = try head.querier().dump([m("__name__", .regexMatch, "a|b")])
        #expect(dump[a]?.map(\.timestamp) == [1, 2, 50])
        #expect(dump[b]?.map(\.timestamp) == [1, 100])
    }
}
