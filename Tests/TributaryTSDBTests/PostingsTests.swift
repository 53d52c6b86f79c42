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
