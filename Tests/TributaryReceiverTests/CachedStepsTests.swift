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

    /// The JSON of its steps, settled and recent.
    static func held(_ s: CachedSeries) -> String {
        let settled = s.steps.map { String(decoding: $0.json(s.range), as: UTF8.self) } ?? ""
        return settled + (s.recent.map { String(decoding: $0.json(s.recentRange), as: UTF8.self) } ?? "")
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

    /// A window's last steps lie after the newest sample, and the next scrape changes them:
    /// they are kept apart from the settled steps, so the refresh still extends those in place.
    @Test func aRefreshThatChangesTheNewestStepsExtendsTheSettledOnesInPlace() throws {
        func t(_ i: Int) -> Int64 { Int64(i) * 15_000 }
        var values = [Int: Double]()
        func computed(_ steps: ClosedRange<Int>, _ value: (Int) -> Double) -> ArraySlice<Sample> {
            steps.map { i in
                values[i] = value(i)
                return Sample(timestamp: t(i), value: value(i))
            }[...]
        }
        func expected(_ steps: ClosedRange<Int>) -> String {
            Self.json(steps.compactMap { i in values[i].map { Sample(timestamp: t(i), value: $0) } }[...])
        }
        // Steps 0...239, the newest sample at step 237: the two steps after it are recent.
        var series = CachedSeries(labels: Labels(sortedPairs: [("__name__", "up")]))
            .appending(computed(0...239) { Double($0) }, settledThrough: CachedSeries.settledThrough(newest: t(237)))
        let settled = try #require(series.steps)
        #expect(series.range.count == 238 && series.recentRange.count == 2, "\(series.range) \(series.recentRange)")
        #expect(Self.held(series) == expected(0...239))
        for k in 1...20 {
            // A scrape at step 237 + k changes the steps from there; the window moves a step.
            let newest = 237 + k
            series = series.cut(from: t(k), to: t(newest - 1))
                .appending(computed(newest...(239 + k)) { -Double($0 * k) }, settledThrough: CachedSeries.settledThrough(newest: t(newest)))
            #expect(series.steps === settled, "refresh \(k) copied the settled steps")
            #expect(Self.held(series) == expected(k...(239 + k)), "refresh \(k)")
            #expect(series.count == 240 && series.recentRange.count == 2)
        }
        // No sample arrives while the window moves on: the steps after the newest stay recent
        // up to mostRecent, and the oldest of the rest settle.
        for k in 21...60 {
            series = series.cut(from: t(k), to: .max).appending(computed((239 + k)...(239 + k)) { Double($0) }, settledThrough: t(257))
            #expect(Self.held(series) == expected(k...(239 + k)), "refresh \(k)")
            #expect(series.recentRange.count == min(CachedSeries.mostRecent, 239 + k - 257))
        }
    }
}
