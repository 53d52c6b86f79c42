import Foundation
import Testing
import TributaryModel

@testable import TributaryTSDB

/// HA deduplication against the contract of ARCHITECTURE.md, with sample timestamps as the
/// clock: two replicas scrape the same counter with their own phases and a little scrape jitter,
/// and deliver with jitter (so samples arrive out of order across replicas). The receiver is at
/// its defaults (a 15 s window); each series' interval is learned, so the contract holds at
/// every interval.
@Suite struct DedupTests {
    /// The configured window: only a stand-in until a series shows its interval.
    static let window: Int64 = 15_000
    static let labels: Labels = ["__name__": "node_cpu_seconds_total", "group": "lab-1", "instance": "a:9100", "job": "node", "mode": "user"]
    static let a: UInt64 = 0xA, b: UInt64 = 0xB

    /// The counter both replicas scrape: 0.5 per second.
    static func counter(at t: Int64) -> Double { Double(t) / 2000 }

    /// Samples of one replica: every `interval` from `phase` (± 1 % scrape jitter), for `[from, to)`.
    static func scrapes(_ replica: UInt64, interval: Int64 = 15_000, phase: Int64, from: Int64, to: Int64, seed: UInt64 = 1) -> [(UInt64, Sample)] {
        var rng = SplitMix(seed: seed &+ replica)
        return stride(from: from + phase, to: to, by: Int(interval)).map { base in
            let jitter = interval >= 100 ? Int64(rng.next() % UInt64(interval / 50)) - interval / 100 : 0
            let t = base + jitter
            return (replica, Sample(timestamp: t, value: counter(at: t)))
        }
    }

    /// Delivers batches in arrival order (each inner array is one request).
    @discardableResult
    static func deliver(_ head: Head, _ batches: [[(UInt64, Sample)]], labels: Labels = labels) throws -> [DedupOutcome] {
        var outcomes: [DedupOutcome] = []
        for batch in batches {
            _ = try head.commit { b in
                for (replica, sample) in batch {
                    outcomes.append(labels.withView { b.appendDeduplicated($0, sample, replica: replica, window: window) })
                }
            }
        }
        return outcomes
    }

    static func stored(_ head: Head, _ labels: Labels = labels) throws -> [Sample] {
        try head.querier().dump([try Matcher(.equal, "job", "node")])[labels] ?? []
    }

    /// Interleaves two replicas' samples with delivery jitter: each sample arrives at its
    /// timestamp plus a pseudo-random delay of up to `delay`, in arrival order, one per request.
    static func interleave(_ xs: [(UInt64, Sample)], _ ys: [(UInt64, Sample)], seed: UInt64, delay: Int64 = 4000) -> [[(UInt64, Sample)]] {
        var rng = SplitMix(seed: seed)
        let all = (xs + ys).map { ($0, $0.1.timestamp + Int64(rng.next() % UInt64(delay))) }
        return all.sorted { $0.1 < $1.1 }.map { [$0.0] }
    }

    /// The longest gap the contract allows: 1.55 intervals (half an interval, plus the 0.05 that
    /// keeps replicas from taking turns, after the stopped replica's last sample) plus scrape
    /// jitter of both replicas.
    static func maxGap(_ interval: Int64) -> Int64 { interval * 155 / 100 + interval / 50 }

    /// Stored samples at least half an interval apart (less 2 % for scrape jitter; from the
    /// third interval on, once each replica has shown it), no gap over `maxGap`, a counter that
    /// never goes down.
    func checkContract(_ samples: [Sample], interval: Int64 = window, maxGap: Int64, sourceLocation: SourceLocation = #_sourceLocation) {
        for (x, y) in zip(samples, samples.dropFirst()) {
            #expect(x.timestamp < 2 * interval || y.timestamp - x.timestamp >= interval / 2 - interval / 50, "two samples within half an interval: \(x.timestamp)→\(y.timestamp)", sourceLocation: sourceLocation)
            #expect(y.timestamp - x.timestamp <= maxGap, "gap \(x.timestamp)→\(y.timestamp) over \(maxGap)", sourceLocation: sourceLocation)
            if !y.isStale && !x.isStale {
                #expect(y.value >= x.value, "false counter reset at \(y.timestamp)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: 0..<5)
    func twoReplicasStoreLikeOne(seed: Int) throws {
        let head = Head()
        let hour: Int64 = 3_600_000
        let xs = Self.scrapes(Self.a, phase: 1_000, from: 0, to: hour)
        let ys = Self.scrapes(Self.b, phase: 8_500, from: 0, to: hour)
        try Self.deliver(head, Self.interleave(xs, ys, seed: UInt64(seed)))
        let samples = try Self.stored(head)
        checkContract(samples, maxGap: 2 * Self.window)
        #expect(Double(samples.count) <= 1.05 * Double(xs.count))
        #expect(Double(samples.count) >= 0.95 * Double(xs.count))
    }

    /// The table, now at the receiver's defaults: HA pairs at 1 s, 5 s, 15 s and 60 s,
    /// random phases, scrape and delivery jitter (delivery up to 40 % of an interval, so replicas
    /// arrive out of order), replica A dying halfway and a restart three quarters in. Each series
    /// is stored at 0.95–1.05× one replica, with no gap over 1.5 intervals plus scrape jitter.
    @Test(arguments: [1_000, 5_000, 15_000, 60_000] as [Int64], 0..<3)
    func everyIntervalStoresLikeOneReplica(interval: Int64, seed: Int) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var rng = SplitMix(seed: UInt64(seed) &* 31 &+ UInt64(interval))
        let span = 240 * interval
        let phaseA = Int64(rng.next() % UInt64(interval)), phaseB = Int64(rng.next() % UInt64(interval))
        let xs = Self.scrapes(Self.a, interval: interval, phase: phaseA, from: 0, to: span / 2, seed: UInt64(seed))
        let ys = Self.scrapes(Self.b, interval: interval, phase: phaseB, from: 0, to: span, seed: UInt64(seed))
        let batches = Self.interleave(xs, ys, seed: UInt64(seed), delay: max(1, interval * 2 / 5))
        let restart = batches.count * 3 / 4
        do {
            let head = Head(wal: try TributaryWALOpen(dir.path))
            try Self.deliver(head, Array(batches[..<restart]))
        }
        let head = Head(wal: try TributaryWALOpen(dir.path))
        try head.replayWAL()
        try Self.deliver(head, Array(batches[restart...]))
        let samples = try Self.stored(head)
        let oneReplica = Double(ys.count)
        #expect(Double(samples.count) >= 0.95 * oneReplica && Double(samples.count) <= 1.05 * oneReplica, "\(samples.count) stored for \(ys.count) scrapes of one replica")
        checkContract(samples, interval: interval, maxGap: Self.maxGap(interval))
        #expect(samples.last.map { $0.timestamp > span - 2 * interval } == true)
    }

    /// A job reconfigured from 15 s to 5 s is followed after two scrapes, and back to 60 s
    /// after three; in between nothing is thinned by more than one window.
    @Test func aChangedIntervalIsFollowed() throws {
        let head = Head()
        var xs = Self.scrapes(Self.a, interval: 15_000, phase: 1_000, from: 0, to: 600_000)
        var ys = Self.scrapes(Self.b, interval: 15_000, phase: 9_000, from: 0, to: 600_000)
        xs += Self.scrapes(Self.a, interval: 5_000, phase: 1_000, from: 600_000, to: 1_200_000)
        ys += Self.scrapes(Self.b, interval: 5_000, phase: 3_000, from: 600_000, to: 1_200_000)
        xs += Self.scrapes(Self.a, interval: 60_000, phase: 1_000, from: 1_200_000, to: 3_600_000)
        ys += Self.scrapes(Self.b, interval: 60_000, phase: 31_000, from: 1_200_000, to: 3_600_000)
        try Self.deliver(head, Self.interleave(xs, ys, seed: 5, delay: 1_000))
        let samples = try Self.stored(head)
        func count(_ from: Int64, _ to: Int64) -> Int { samples.filter { $0.timestamp >= from && $0.timestamp < to }.count }
        // 5 s phase: 120 scrapes per replica; two may be thinned while the change is learned.
        #expect((117...121).contains(count(600_000, 1_200_000)), "\(count(600_000, 1_200_000))")
        // 60 s phase: 40 per replica; the other replica's may be kept while it is learned.
        #expect((39...43).contains(count(1_200_000, 3_600_000)), "\(count(1_200_000, 3_600_000))")
        // No gap over the contract's bound of the interval in force (the old one while the new
        // one is learned: thinning of at most one window).
        for (x, y) in zip(samples, samples.dropFirst()) {
            let interval: Int64 = x.timestamp < 620_000 ? 15_000 : x.timestamp < 1_200_000 ? 5_000 : 60_000
            #expect(y.timestamp - x.timestamp <= Self.maxGap(interval), "gap \(x.timestamp)→\(y.timestamp)")
        }
    }

    /// Replicas of one series scraping at different intervals are counted.
    @Test func mismatchedReplicaIntervalsAreCounted() throws {
        let head = Head()
        let xs = Self.scrapes(Self.a, interval: 15_000, phase: 1_000, from: 0, to: 300_000)
        let ys = Self.scrapes(Self.b, interval: 30_000, phase: 9_000, from: 0, to: 300_000)
        try Self.deliver(head, Self.interleave(xs, ys, seed: 1, delay: 500))
        #expect(head.seriesWithMismatchedIntervals == 1)
        try Self.deliver(head, Self.interleave(Self.scrapes(Self.a, interval: 30_000, phase: 1_000, from: 300_000, to: 400_000), [], seed: 1, delay: 500))
        #expect(head.seriesWithMismatchedIntervals == 0, "agreeing again")
    }

    @Test func oneReplicaStopsAndTheOtherFillsTheNextInterval() throws {
        let head = Head()
        let stop: Int64 = 1_800_000
        let xs = Self.scrapes(Self.a, phase: 1_000, from: 0, to: stop)  // A dies at 30 min
        let ys = Self.scrapes(Self.b, phase: 8_500, from: 0, to: 3_600_000)  // B keeps going
        try Self.deliver(head, Self.interleave(xs, ys, seed: 7))
        let samples = try Self.stored(head)
        // B's next sample at least half an interval after A's last is stored.
        checkContract(samples, maxGap: Self.maxGap(Self.window))
        #expect(samples.last.map { $0.timestamp > 3_500_000 } == true)
    }

    @Test func staleMarkerFromOneReplicaDoesNotEndTheSeries() throws {
        let head = Head()
        let xs = Self.scrapes(Self.a, phase: 1_000, from: 0, to: 600_000)
        let ys = Self.scrapes(Self.b, phase: 8_500, from: 0, to: 600_000)
        var batches = Self.interleave(xs, ys, seed: 3)
        // A loses the target and sends a stale marker at its next scrape; B still scrapes it.
        batches.append([(Self.a, Sample(timestamp: 601_000, value: StaleMarker.value))])
        batches += Self.scrapes(Self.b, phase: 8_500, from: 600_000, to: 1_300_000).map { [$0] }
        let outcomes = try Self.deliver(head, batches)
        #expect(outcomes.contains(.staleSuppressed))
        let samples = try Self.stored(head)
        #expect(!samples.contains { $0.isStale })
        checkContract(samples, maxGap: 2 * Self.window)
        // When both replicas lose the target, the series does end.
        let end = try Self.deliver(
            head,
            [
                [(Self.b, Sample(timestamp: 1_400_000, value: StaleMarker.value))],
                [(Self.a, Sample(timestamp: 1_401_000, value: StaleMarker.value))]
            ])
        #expect(end.contains(.appended))
        #expect(try Self.stored(head).last?.isStale == true)
    }

    @Test func lateBatchFromAStoppedReplicaIsDropped() throws {
        let head = Head()
        let ys = Self.scrapes(Self.b, phase: 8_500, from: 0, to: 900_000)
        try Self.deliver(head, ys.map { [$0] })
        // A was cut off for 5 minutes and delivers its backlog after B's data is stored.
        let late = Self.scrapes(Self.a, phase: 1_000, from: 300_000, to: 600_000)
        let outcomes = try Self.deliver(head, [late])
        #expect(outcomes.allSatisfy { $0 == .late })
        let samples = try Self.stored(head)
        checkContract(samples, maxGap: Self.window * 11 / 10)
        #expect(samples.count == ys.count)
    }

    @Test func restartKeepsTheContract() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let xs = Self.scrapes(Self.a, phase: 1_000, from: 0, to: 1_200_000)
        let ys = Self.scrapes(Self.b, phase: 8_500, from: 0, to: 1_200_000)
        let batches = Self.interleave(xs, ys, seed: 11)
        let half = batches.count / 2
        do {
            let head = Head(wal: try TributaryWALOpen(dir.path))
            try Self.deliver(head, Array(batches[..<half]))
        }
        // The receiver restarts; the WAL brings back each series' newest timestamp and, from
        // the spacing of what it stored, its interval.
        let head = Head(wal: try TributaryWALOpen(dir.path))
        try head.replayWAL()
        try Self.deliver(head, Array(batches[half...]))
        let samples = try Self.stored(head)
        checkContract(samples, maxGap: 2 * Self.window)
        #expect(Double(samples.count) <= 1.05 * Double(xs.count))
    }

    /// A stall both replicas share (their host paused, or both stopped together; their phases
    /// close, as two agents scraping one target are): each catches up with one scrape on waking
    /// and then keeps its phase, so both show a long and then the same short spacing at once.
    /// That is one event seen twice, not a new interval: nothing is learned from it, and no two
    /// stored samples fall within half an interval.
    @Test func aStallBothReplicasShareTeachesNoInterval() throws {
        let head = Head()
        let interval: Int64 = 2_000
        func replica(_ r: UInt64, phase: Int64) -> [(UInt64, Sample)] {
            let wake = 25_100 + phase  // the catch-up scrape, 900 ms before the next in phase
            return Self.scrapes(r, interval: interval, phase: phase, from: 0, to: 18_000 + phase + 1)
                + [(r, Sample(timestamp: wake, value: Self.counter(at: wake)))]
                + Self.scrapes(r, interval: interval, phase: phase, from: 26_000, to: 60_000)
        }
        try Self.deliver(head, Self.interleave(replica(Self.a, phase: 0), replica(Self.b, phase: 40), seed: 5, delay: 400))
        let samples = try Self.stored(head)
        checkContract(samples, interval: interval, maxGap: 7_500)
        #expect(samples.count >= 24, "one per interval but the stall: \(samples.count)")
    }

    /// The interval learner: jitter and a missed scrape change nothing; a shorter interval is
    /// taken after two spacings of one replica, a longer one after three.
    @Test func intervalLearning() {
        var i = DedupInterval()
        #expect(i.window(fallback: 15_000) == 15_000)
        i.observe(5_000, slot: 0)
        #expect(i.milliseconds == 5_000)
        for d: Int64 in [5_040, 4_960, 10_000, 5_000, 15_000, 5_000] { i.observe(d, slot: 0) }
        #expect(i.milliseconds == 5_000, "jitter and missed scrapes")
        i.observe(1_000, slot: 0)
        #expect(i.milliseconds == 5_000)
        i.observe(1_000, slot: 1)
        #expect(i.milliseconds == 5_000, "the other replica's same spacing is not a second one")
        i.observe(1_010, slot: 0)
        #expect(i.milliseconds == 1_010, "shorter after two")
        i.observe(60_000, slot: 1)
        i.observe(60_000, slot: 1)
        #expect(i.milliseconds == 1_010)
        i.observe(60_000, slot: 1)
        #expect(i.milliseconds == 60_000, "longer after three")
        i.observe(0, slot: 0)
        i.observe(-5, slot: 0)
        i.observe(7_200_000, slot: 0)
        #expect(i.milliseconds == 60_000, "nonsense ignored")
    }
}
