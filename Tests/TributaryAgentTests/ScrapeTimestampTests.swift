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
}
