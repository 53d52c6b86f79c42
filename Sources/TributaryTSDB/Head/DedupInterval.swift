/// The scrape interval one series shows, learned from the spacing of consecutive samples of the
/// same replica (HA deduplication keeps one sample per interval; `Docs/dedup.md`).
///
/// A spacing within 0.8–1.25× of the learned interval confirms it (jitter). A shorter one
/// must repeat once (two in a row from the same replica, within 20 % of each other) before it
/// is adopted: a job reconfigured from 15 s to 5 s is followed after two scrapes. A longer one
/// must repeat three times, so a missed scrape (one spacing of 2×) changes nothing. The other
/// replica showing the same spacing does not count again: a stall both share (one host
/// paused) gives each a long and then a short spacing at once, which is one event, not an
/// interval. 12 bytes per series.
struct DedupInterval: Sendable, Equatable {
    /// Milliseconds; 0 until the first spacing is seen.
    private(set) var milliseconds: Int32 = 0
    private var candidate: Int32 = 0
    private var streak: UInt8 = 0
    /// The replica slot (0 or 1) whose spacings make the streak.
    private var candidateSlot: UInt8 = 0

    /// Spacings above an hour are gaps, not intervals.
    static let longest: Int64 = 3_600_000

    /// Takes one spacing between consecutive samples of the replica in `slot` (0 or 1; 0 for
    /// a single stream, as replay reads what was stored).
    mutating func observe(_ spacing: Int64, slot: UInt8) {
        guard spacing > 0, spacing <= Self.longest else { return }
        let d = Int32(spacing)
        guard milliseconds > 0 else {
            milliseconds = d
            return
        }
        let shorter = Int64(d) * 5 < Int64(milliseconds) * 4
        let longer = Int64(d) * 4 > Int64(milliseconds) * 5
        guard shorter || longer else {
            streak = 0
            return
        }
        if streak > 0, abs(Int64(d) - Int64(candidate)) * 5 <= Int64(candidate) {
            guard slot == candidateSlot else { return }
            streak &+= 1
        } else {
            candidate = d
            candidateSlot = slot
            streak = 1
        }
        if streak >= (shorter ? 2 : 3) {
            milliseconds = d
            streak = 0
        }
    }

    /// The learned interval, or `fallback` (the configured window) before one is known.
    @inline(__always)
    func window(fallback: Int64) -> Int64 { milliseconds > 0 ? Int64(milliseconds) : fallback }

    /// True when two spacings point at different intervals (more than 25 % apart).
    static func disagree(_ x: Int32, _ y: Int32) -> Bool {
        x > 0 && y > 0 && (Int64(x) * 4 > Int64(y) * 5 || Int64(y) * 4 > Int64(x) * 5)
    }
}
