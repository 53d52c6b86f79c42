import Testing
import TributaryModel

@testable import TributaryTSDB

/// HA deduplication against the contract of ARCHITECTURE.md, with sample timestamps as the
/// clock: two replicas scrape the same counter with different phases and deliver with jitter.
@Suite struct DedupTests {
    static let window: Int64 = 15_000
    static let labels: Labels = ["__name__": "node_cpu_seconds_total", "group": "lab-1", "instance": "a:9100", "job": "node", "mode": "user"]
    static let a: UInt64 = 0xA, b: UInt64 = 0xB

    /// The counter both replicas scrape: 0.5 per second.
    static func counter(at t: Int64) -> Double { Double(t) / 2000 }

    /// Samples of one replica: every 15 s from `phase`, for `[from, to)`.
    static func scrapes(_ replica: UInt64, phase: Int64, from: Int64, to: Int64) -> [(UInt64, Sample)] {
        stride(from: from + phase, to: to, by: 15_000).map { (replica, Sample(timestamp: $0, value: counter(at: $0))) }
    }

    /// Delivers batches in arrival order (each inner array is one request).
    @discardableResult
    static func deliver(_ head: Head, _ batches: [[(UInt64, Sample)]]) throws -> [DedupOutcome] {
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

    static func stored(_ head: Head) throws -> [Sample] {
        try head.querier().dump([try Matcher(.equal, "job", "node")])[labels] ?? []
    }

    /// Interleaves two replicas' samples with delivery jitter: each sample arrives at its
    /// timestamp plus a pseudo-random delay of up to 4 s, in arrival order, one per request.
    static func interleave(_ xs: [(UInt64, Sample)], _ ys: [(UInt64, Sample)], seed: UInt64) -> [[(UInt64, Sample)]] {
        var rng = SplitMix(seed: seed)
        let all = (xs + ys).map { ($0, $0.1.timestamp + Int64(rng.next() % 4000)) }
        return all.sorted { $0.1 < $1.1 }.map { [$0.0] }
    }

    func checkContract(_ samples: [Sample], from: Int64, to: Int64, maxGap: Int64, sourceLocation: SourceLocation = #_sourceLocation) {
        // At most one sample per window.
        let windows = samples.map { $0.timestamp / Self.window }
        #expect(Set(windows).count == windows.count, "two samples in one window", sourceLocation: sourceLocation)
        // No gap over the limit.
        for (x, y) in zip(samples, samples.dropFirst()) {
            #expect(y.timestamp - x.timestamp <= maxGap, "gap \(x.timestamp)→\(y.timestamp)", sourceLocation: sourceLocation)
        }
        // Counter monotonic: no false reset.
        for (x, y) in zip(samples, samples.dropFirst()) where !y.isStale && !x.isStale {
            #expect(y.value >= x.value, "false counter reset at \(y.timestamp)", sourceLocation: sourceLocation)
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
        checkContract(samples, from: 0, to: hour, maxGap: 2 * Self.window)
        // Storage grows like one replica (≤ 1.05×).
        #expect(Double(samples.count) <= 1.05 * Double(xs.count))
        #expect(samples.count >= xs.count - 1)
    }

    @Test func oneReplicaStopsAndTheOtherFillsTheNextWindow() throws {
        let head = Head()
        let stop: Int64 = 1_800_000
        let xs = Self.scrapes(Self.a, phase: 1_000, from: 0, to: stop)  // A dies at 30 min
        let ys = Self.scrapes(Self.b, phase: 8_500, from: 0, to: 3_600_000)  // B keeps going
        try Self.deliver(head, Self.interleave(xs, ys, seed: 7))
        let samples = try Self.stored(head)
        // The window after A's last sample is filled by B: no gap over one window plus delivery.
        checkContract(samples, from: 0, to: 3_600_000, maxGap: Self.window + 8_500)
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
        checkContract(samples, from: 0, to: 1_300_000, maxGap: 2 * Self.window)
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
        #expect(outcomes.allSatisfy { $0 == .duplicateWindow })
        let samples = try Self.stored(head)
        checkContract(samples, from: 0, to: 900_000, maxGap: Self.window)
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
        // The receiver restarts; the WAL brings back the newest timestamp of every series.
        let head = Head(wal: try TributaryWALOpen(dir.path))
        try head.replayWAL()
        try Self.deliver(head, Array(batches[half...]))
        let samples = try Self.stored(head)
        checkContract(samples, from: 0, to: 1_200_000, maxGap: 2 * Self.window)
        #expect(Double(samples.count) <= 1.05 * Double(xs.count))
    }
}
