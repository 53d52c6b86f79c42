import Testing
import TributaryModel

@testable import TributaryReceiver

/// A cached series' steps are appended in place by the first refresh that extends them and
/// copied by any other, so no refresh ever changes steps another series or answer reads.
@Suite struct CachedStepsTests {
    static func samples(_ from: Int, _ count: Int) -> ArraySlice<Sample> {
        (from..<(from + count)).map { Sample(timestamp: Int64($0) * 15_000, value: Double($0) * 1.5) }[...]
    }

    /// The JSON a series holds, as the API writes its steps.
    static func json(_ samples: ArraySlice<Sample>) -> String {
        var out: [UInt8] = []
        for s in samples {
            out.append(UInt8(ascii: ","))
            JSONWriter.appendPoint(s.timestamp, s.value, to: &out)
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func held(_ s: CachedSeries) -> String {
        guard let steps = s.steps else { return "" }
        return String(decoding: steps.json(s.range), as: UTF8.self)
    }

    @Test func refreshesAppendInPlaceUntilTheRoomIsUsed() throws {
        var series = CachedSeries(labels: Labels(sortedPairs: [("__name__", "up")])).appending(Self.samples(0, 240))
        let first = try #require(series.steps)
        #expect(Self.held(series) == Self.json(Self.samples(0, 240)))
        // A dashboard refreshing: its window moves a step, one step is added.
        var copies = 0
        for k in 1...100 {
            let before = series.steps
            series = series.cut(from: Int64(k) * 15_000, to: .max).appending(Self.samples(239 + k, 1))
            if series.steps !== before { copies += 1 }
            #expect(Self.held(series) == Self.json(Self.samples(k, 240)), "refresh \(k)")
            #expect((series.range.lowerBound..<series.range.upperBound).count == 240)
        }
        // Room for max(16, 240 / 8) = 30 more steps at a time: 100 refreshes copy 3 times.
        #expect(copies == 3, "\(copies) copies")
        #expect(series.steps !== first)
    }

    @Test func twoRefreshesOfTheSameStepsDoNotWriteOverEachOther() {
        let base = CachedSeries(labels: Labels(sortedPairs: [("__name__", "up")])).appending(Self.samples(0, 100))
        let a = base.appending(Self.samples(100, 5))
        // Another refresh from the same steps, computing different values for the same times
        // (a late write changed them): it copies, and neither sees the other's steps.
        let late = (100..<105).map { Sample(timestamp: Int64($0) * 15_000, value: -1) }[...]
        let b = base.appending(late)
        #expect(a.steps === base.steps, "the first appends in place")
        #expect(b.steps !== base.steps, "the second copies")
        #expect(Self.held(a) == Self.json(Self.samples(0, 105)))
        #expect(Self.held(b) == Self.json(Self.samples(0, 100) + late))
        #expect(Self.held(base) == Self.json(Self.samples(0, 100)))
        // A cut that ends before the storage's end copies too (the steps after it are read by
        // others).
        let shorter = a.cut(from: 0, to: 99 * 15_000).appending(late)
        #expect(shorter.steps !== a.steps)
        #expect(Self.held(shorter) == Self.json(Self.samples(0, 100) + late))
        #expect(Self.held(a) == Self.json(Self.samples(0, 105)))
    }
}
