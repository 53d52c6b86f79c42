import Synchronization
import TributaryModel

/// The steps of cached series as the API writes them (`,[seconds,"value"]` each, the comma
/// first) with their timestamps: append-only storage that cached series, and the answers being
/// written from them, read ranges of.
///
/// A refresh adds its new steps after a series' last one in place when that step is where the
/// storage ends and no other refresh claimed the end first (``append(_:at:)``); else it copies
/// the series' steps into new storage with room to grow (``init(copying:_:then:room:)``), leaving
/// behind the steps the window has passed. A refresh so costs its new steps, not a copy of the
/// whole answer (which had been a tenth of a large panel's refresh).
///
/// Safe to share: a step is written once, by the refresh that claimed it, before any series
/// that covers it is published (through the results cache's lock, or on the same thread), and
/// readers read only the steps of the series they hold.
final class CachedSteps: @unchecked Sendable {
    private let stepCapacity: Int
    private let byteCapacity: Int
    private let bytes: UnsafeMutablePointer<UInt8>
    /// Where each step's JSON ends in `bytes`.
    private let ends: UnsafeMutablePointer<UInt32>
    private let times: UnsafeMutablePointer<Int64>
    /// Steps claimed by refreshes: those below it are written or being written.
    private let claimed = Atomic<Int>(0)

    /// Empty storage for `steps` steps of `bytes` bytes in all. (A cached answer has fewer than
    /// 11,000 steps, so a series' JSON stays far below what 32-bit ends can address.)
    init(steps: Int, bytes: Int) {
        stepCapacity = max(1, steps)
        byteCapacity = max(1, bytes)
        self.bytes = .allocate(capacity: byteCapacity)
        ends = .allocate(capacity: stepCapacity)
        times = .allocate(capacity: stepCapacity)
    }

    /// New storage holding `range`'s steps of `other` (none when nil) followed by `samples`,
    /// with room for about `room` more steps as long as these on average.
    convenience init(copying other: CachedSteps?, _ range: Range<Int>, then samples: ArraySlice<Sample>, room: Int) {
        var text: [UInt8] = []
        text.reserveCapacity(samples.count * 24)
        var textEnds: [UInt32] = []
        textEnds.reserveCapacity(samples.count)
        for s in samples {
            text.append(UInt8(ascii: ","))
            JSONWriter.appendPoint(s.timestamp, s.value, to: &text)
            textEnds.append(UInt32(text.count))
        }
        let kept = other.map { range.isEmpty ? 0 : $0.end(range.upperBound - 1) - $0.start(range.lowerBound) } ?? 0
        let steps = range.count + samples.count
        let perStep = (kept + text.count) / max(1, steps) + 8
        self.init(steps: steps + room, bytes: kept + text.count + room * perStep + JSONWriter.maxPointLength + 1)
        var k = 0
        if let other, !range.isEmpty {
            let first = other.start(range.lowerBound)
            bytes.update(from: other.bytes + first, count: kept)
            times.update(from: other.times + range.lowerBound, count: range.count)
            for i in range {
                ends[k] = other.ends[i] - UInt32(first)
                k += 1
            }
        }
        text.withUnsafeBufferPointer { text in
            if let base = text.baseAddress { (bytes + kept).update(from: base, count: text.count) }
        }
        for (j, s) in samples.enumerated() {
            ends[k] = UInt32(kept) + textEnds[j]
            times[k] = s.timestamp
            k += 1
        }
        claimed.store(k, ordering: .relaxed)
    }

    deinit {
        bytes.deallocate()
        ends.deallocate()
        times.deallocate()
    }

    func time(_ i: Int) -> Int64 { times[i] }

    /// Where step `i`'s JSON starts and ends.
    func start(_ i: Int) -> Int { i == 0 ? 0 : Int(ends[i - 1]) }
    func end(_ i: Int) -> Int { Int(ends[i]) }

    /// The JSON of the steps in `range` (valid while this storage is).
    func json(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        guard !range.isEmpty else { return UnsafeBufferPointer(start: bytes, count: 0) }
        let first = start(range.lowerBound)
        return UnsafeBufferPointer(start: bytes + first, count: end(range.upperBound - 1) - first)
    }

    /// Writes `samples` as the steps from `at`, when `at` is where the storage ends (no other
    /// refresh has written there first) and they fit. False when not; steps claimed and not
    /// written then stay unread, as no series covers them.
    func append(_ samples: ArraySlice<Sample>, at: Int) -> Bool {
        let n = samples.count
        guard n > 0 else { return true }
        guard at + n <= stepCapacity, claimed.compareExchange(expected: at, desired: at + n, ordering: .acquiringAndReleasing).exchanged else {
            return false
        }
        var position = start(at)
        for (k, sample) in zip(at..., samples) {
            guard position + 1 + JSONWriter.maxPointLength <= byteCapacity else { return false }
            bytes[position] = UInt8(ascii: ",")
            position += 1 + JSONWriter.writePoint(sample.timestamp, sample.value, to: bytes + position + 1)
            ends[k] = UInt32(position)
            times[k] = sample.timestamp
        }
        return true
    }
}
