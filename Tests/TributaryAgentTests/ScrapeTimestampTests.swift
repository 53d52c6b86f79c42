import Testing

@testable import TributaryAgent

/// A scrape that starts up to 2 ms after its slot is stamped with the slot's time, as
/// Prometheus aligns scrape timestamps, so steady scrapes store a delta of delta of 0.
@Suite struct ScrapeTimestampTests {
    @Test func startsWithinTheToleranceTakeTheSlotsTime() {
        // Slots at 15 s intervals, 4,321 ms into each.
        let slot: Int64 = 1_700_000_010_000 - 1_700_000_010_000 % 15_000 + 4_321
        for late: Int64 in [0, 1, 2] {
            #expect(ScrapeLoop.alignedTimestamp(slot + late, interval: 15_000, offset: 4_321) == slot, "\(late) ms late")
        }
        // Later than the tolerance, or before the slot: the clock's time.
        for off: Int64 in [3, 40, -1, 7_500] {
            #expect(ScrapeLoop.alignedTimestamp(slot + off, interval: 15_000, offset: 4_321) == slot + off, "\(off) ms off")
        }
    }

    @Test func shortIntervalsAreNotAligned() {
        // 200 ms is not over 100 times the tolerance: 1 ms late stays 1 ms late.
        #expect(ScrapeLoop.alignedTimestamp(1_000_201, interval: 200, offset: 0) == 1_000_201)
        // 1 s is: 1 ms late is moved back.
        #expect(ScrapeLoop.alignedTimestamp(1_000_001, interval: 1_000, offset: 0) == 1_000_000)
    }

    /// The two agents of an HA pair scrape a target in different slots (their replica labels
    /// differ), and one agent's slot for a target stays put across restarts.
    @Test func replicasScrapeInDifferentSlots() {
        func offset(_ replica: String, interval: Int64 = 15_000) -> Int64 {
            ScrapeLoop.slotOffset(job: "node", url: "http://10.0.0.7:9100/metrics", externalLabels: ["replica": replica, "group": "lab-6"], interval: interval)
        }
        #expect(offset("a") == offset("a"))
        #expect(offset("a") != offset("b"))
        // A hundred replica names take nearly a hundred different slots of 15 s.
        let offsets = (0..<100).map { offset("r\($0)") }
        #expect(Set(offsets).count > 95, "\(offsets)")
        for interval: Int64 in [500, 2_000, 15_000] {
            #expect((0..<20).allSatisfy { offset("r\($0)", interval: interval) < interval })
        }
    }
}
