import Testing
import TributaryModel

@testable import TributaryTSDB

@Suite struct PostingsTests {
    @Test(arguments: 0..<20)
    func operationsAgreeWithSets(seed: Int) {
        var rng = SplitMix(seed: UInt64(seed))
        func list() -> [UInt32] {
            let n = Int(rng.next() % 300)
            let span = UInt64(1 + rng.next() % 2000)
            return Array(Set((0..<n).map { _ in UInt32(rng.next() % span) })).sorted()
        }
        let a = list(), b = list(), c = list()
        #expect(Postings.intersect(a, b) == Set(a).intersection(b).sorted())
        #expect(Postings.merge([a, b, c]) == Set(a).union(b).union(c).sorted())
        // Many lists, as a regex over many label values gives: odd counts, empty lists.
        let many = (0..<Int(rng.next() % 40)).map { _ in rng.next() % 5 == 0 ? [] : list() }
        #expect(Postings.merge(many) == Set(many.joined()).sorted())
        #expect(Postings.merge([a]) == a)
        #expect(Postings.merge([]) == [])
        #expect(Postings.without(a, b) == Set(a).subtracting(b).sorted())
        var inserted: [UInt32] = []
        for x in (a + b).shuffled(using: &rng) { Postings.insert(x, into: &inserted) }
        #expect(inserted == Set(a + b).sorted())
    }

    /// Many lists, as a regex over many values gives, merged through a bitmap when their IDs
    /// lie close together and in pairs when not: the same union either way, to the span's ends.
    @Test(arguments: 0..<12)
    func manyListsMergeByBitmapOrInPairs(seed: Int) throws {
        var rng = SplitMix(seed: UInt64(seed))
        let base: UInt32 = seed % 3 == 0 ? UInt32.max - 5000 : UInt32(rng.next() % 100_000)
        let span = UInt32(seed % 2 == 0 ? 4000 : 5000)
        let lists: [[UInt32]] =
            (0..<(5 + Int(rng.next() % 300))).map { _ in
                Array(Set((0..<Int(rng.next() % 90)).map { _ in base + UInt32(rng.next() % UInt64(span)) })).sorted()
            } + [[base], [base + span]]
        let union = Set(lists.joined()).sorted()
        #expect(Postings.merge(lists) == union)
        let bitmap = try #require(Postings.mergeByBitmap(lists), "dense lists take the bitmap, empty ones among them")
        #expect(bitmap == union)
        #expect(Postings.mergeByBitmap([[], []]) == [], "no IDs: an empty union, not a span from UInt32.max down")
        // Far apart: two bits per ID would not cover the span, so the pairs merge them.
        let sparse: [[UInt32]] = [[0, 7], [3, 1_000_000], [5], [UInt32.max]]
        #expect(Postings.mergeByBitmap(sparse) == nil)
        #expect(Postings.merge(sparse) == [0, 3, 5, 7, 1_000_000, UInt32.max])
    }

    @Test func selectorsFollowPrometheusSemantics() throws {
        let p = MemPostings()
        let series: [Labels] = [
            ["__name__": "up", "job": "node", "group": "lab-1"],
            ["__name__": "up", "job": "node", "group": "lab-2"],
            ["__name__": "up", "job": "node", "group": "lab-3"],
            ["__name__": "up", "job": "api"]
        ]
        for (i, l) in series.enumerated() { p.add(UInt32(i), l) }
        #expect(try p.select([m("job", .equal, "node"), m("group", .regexMatch, "lab-1|lab-2")]) == [0, 1])
        #expect(try p.select([m("__name__", .equal, "up"), m("group", .notEqual, "lab-1")]) == [1, 2, 3], "!= keeps series without the label")
        #expect(try p.select([m("__name__", .equal, "up"), m("group", .equal, "")]) == [3], "=\"\" selects series without the label")
        #expect(try p.select([m("__name__", .equal, "up"), m("group", .regexMatch, "lab-.*")]) == [0, 1, 2])
        #expect(try p.select([m("__name__", .equal, "up"), m("group", .regexNoMatch, "lab-[12]")]) == [2, 3])
        #expect(try p.select([m("job", .equal, "missing")]) == [])
        #expect(throws: QueryError.self) { try p.select([m("job", .regexMatch, ".*")]) }
        #expect(p.labelNames() == ["__name__", "group", "job"])
        #expect(p.labelValues("group") == ["lab-1", "lab-2", "lab-3"])
        p.remove(1, series[1])
        #expect(p.labelValues("group") == ["lab-1", "lab-3"])
    }
}
