import Testing
import TributaryModel

@testable import TributaryAgent

/// The scrape cache's flat table: lookups after growth, duplicates in one scrape, stale ids,
/// forgetting and removal (which compact the key arena).
@Suite struct ScrapeCacheTests {
    static func key(_ i: Int) -> [UInt8] { Array("node_cpu_seconds_total{cpu=\"\(i / 8)\",mode=\"m\(i % 8)\"}".utf8) }

    static func lookup(_ cache: inout ScrapeCache, _ i: Int, _ iteration: Int) -> (id: UInt32, dropped: Bool, duplicate: Bool)? {
        let k = key(i)
        return k.withUnsafeBytes { cache.lookup($0, iteration: iteration) }
    }

    static func insert(_ cache: inout ScrapeCache, _ i: Int, _ iteration: Int, dropped: Bool = false) {
        let k = key(i)
        k.withUnsafeBytes { cache.insert(key: $0, id: dropped ? 0 : UInt32(i + 1), dropped: dropped, iteration: iteration) }
    }

    @Test func findsEverySeriesAfterGrowthAndForgetsTheUnseen() {
        var cache = ScrapeCache()
        for i in 0..<5000 {
            #expect(Self.lookup(&cache, i, 1) == nil)
            Self.insert(&cache, i, 1, dropped: i % 100 == 0)
        }
        #expect(cache.count == 5000)
        // Iteration 2 sees the even series, one of them twice.
        for i in stride(from: 0, to: 5000, by: 2) {
            let hit = Self.lookup(&cache, i, 2)
            #expect(hit?.id == (i % 100 == 0 ? 0 : UInt32(i + 1)) && hit?.dropped == (i % 100 == 0) && hit?.duplicate == false, "series \(i)")
        }
        #expect(Self.lookup(&cache, 2, 2)?.duplicate == true)
        let ended = cache.sweep(iteration: 2, forgetAfter: 10)
        let odd: [Int] = (0..<5000).filter { $0 % 2 == 1 && $0 % 100 != 0 }
        let even: [Int] = (0..<5000).filter { $0 % 2 == 0 && $0 % 100 != 0 }
        let oddIDs = Set(odd.map { UInt32($0 + 1) }), evenIDs = Set(even.map { UInt32($0 + 1) })
        #expect(Set(ended) == oddIDs)
        #expect(Set(cache.live(since: 2)) == evenIDs)
        // Ten iterations later the odd ones are forgotten; the even ones still resolve.
        for i in stride(from: 0, to: 5000, by: 2) { _ = Self.lookup(&cache, i, 12) }
        #expect(cache.sweep(iteration: 12, forgetAfter: 10).isEmpty)
        #expect(cache.count == 2500)
        #expect(Self.lookup(&cache, 1, 13) == nil)
        #expect(Self.lookup(&cache, 4998, 13)?.id == 4999)
        // A failed scrape's new series are removed again.
        Self.insert(&cache, 7, 13)
        cache.remove(ids: [8], insertedIn: 13)
        #expect(Self.lookup(&cache, 7, 14) == nil)
        #expect(Self.lookup(&cache, 4996, 14)?.id == 4997)
    }

    /// Lookups in the order of insertion take the cursor; any other order, a repeat in one
    /// scrape and a new series in the middle still resolve through the table.
    @Test func inOrderOutOfOrderAndRepeatedLookups() {
        var cache = ScrapeCache()
        for i in 0..<300 { Self.insert(&cache, i, 1) }
        for i in 0..<300 { #expect(Self.lookup(&cache, i, 2)?.id == UInt32(i + 1), "in order, series \(i)") }
        for i in (0..<300).reversed() { #expect(Self.lookup(&cache, i, 3)?.id == UInt32(i + 1), "reversed, series \(i)") }
        #expect(Self.lookup(&cache, 10, 4)?.duplicate == false)
        #expect(Self.lookup(&cache, 10, 4)?.duplicate == true, "the same series twice in a scrape")
        #expect(Self.lookup(&cache, 11, 4)?.duplicate == false)
        #expect(Self.lookup(&cache, 1000, 4) == nil)
        Self.insert(&cache, 1000, 4)
        #expect(Self.lookup(&cache, 12, 4)?.id == 13, "after an insert in the middle")
        #expect(Self.lookup(&cache, 1000, 5)?.id == 1001)
    }
}
