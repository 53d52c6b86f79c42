import Synchronization
import TributaryModel

/// The steps of cached series as the API writes them (`,[seconds,"value"]` each, the comma
/// first) with their timestamps: append-only storage that cached series, and the answers being
/// written from them, read ranges of.
///
/// A refresh adds its new steps after a series' last one in place when that step is where the
/// storage ends and no other refresh claimed the end first (``append(copying:_:then:at:)``); else it copies
/// the series' steps into new storage with room to grow (``init(copying:then:room:)``), leaving
/// behind the steps the window has passed. A refresh so costs its new steps, not a copy of the
/// whole answer (which had been a tenth of a large panel's refresh).
///
/// Safe to share: a step is written once, by the refresh that claimed it, before any series
/// that covers it is published (through the results cache's lock, or on the same thread), and
/// readers read only the steps of the series they hold.
final class CachedSteps: @unchecked Sendable {
    private let stepCapacity: Int
    private let byteCapacity: Int
    /// One allocation holds the three columns (a refresh makes storage for the latest steps of
    /// every series of a panel, ``CachedSeries``): the times, where each step's JSON ends, and
    /// the JSON.
    private let block: UnsafeMutableRawPointer
    private let times: UnsafeMutablePointer<Int64>
    /// Where each step's JSON ends in `bytes`.
    private let ends: UnsafeMutablePointer<UInt32>
    private let bytes: UnsafeMutablePointer<UInt8>
    /// Steps claimed by refreshes: those below it are written or being written.
    private let claimed = Atomic<Int>(0)

    /// Empty storage for `steps` steps of `bytes` bytes in all. (A cached answer has fewer than
    /// 11,000 steps, so a series' JSON stays far below what 32-bit ends can address.)
    init(steps: Int, bytes: Int) {
        stepCapacity = max(1, steps)
        byteCapacity = max(1, bytes)
        block = .allocate(byteCount: stepCapacity * 12 + byteCapacity, alignment: MemoryLayout<Int64>.alignment)
        times = block.bindMemory(to: Int64.self, capacity: stepCapacity)
        ends = (block + stepCapacity * 8).bindMemory(to: UInt32.self, capacity: stepCapacity)
        self.bytes = (block + stepCapacity * 12).bindMemory(to: UInt8.self, capacity: byteCapacity)
    }

    /// New storage holding the steps of `parts` (each a storage and a range of its steps, in
    /// time order) followed by `samples`, with room for about `room` more steps as long as
    /// these on average.
    convenience init(copying parts: [(steps: CachedSteps, range: Range<Int>)], then samples: ArraySlice<Sample>, room: Int) {
        var text: [UInt8] = []
        text.reserveCapacity(samples.count * 24)
        var textEnds: [UInt32] = []
        textEnds.reserveCapacity(samples.count)
        for s in samples {
            text.append(UInt8(ascii: ","))
            JSONWriter.appendPoint(s.timestamp, s.value, to: &text)
            textEnds.append(UInt32(text.count))
        }
        let kept = parts.reduce(0) { $0 + $1.steps.json($1.range).count }
        let steps = parts.reduce(0) { $0 + $1.range.count } + samples.count
        let perStep = (kept + text.count) / max(1, steps) + 8
        self.init(steps: steps + room, bytes: kept + text.count + room * perStep + JSONWriter.maxPointLength + 1)
        var k = 0
        var position = 0
        for part in parts {
            k = copySteps(part.range, of: part.steps, to: k, at: position)
            position = start(k)
        }
        text.withUnsafeBufferPointer { text in
            if let base = text.baseAddress { (bytes + position).update(from: base, count: text.count) }
        }
        for (j, s) in samples.enumerated() {
            ends[k] = UInt32(position) + textEnds[j]
            times[k] = s.timestamp
            k += 1
        }
        claimed.store(k, ordering: .relaxed)
    }

    deinit {
        block.deallocate()
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

    /// Copies `range`'s steps of `other` as the steps from `k`, their JSON at byte `position`
    /// (where step `k` starts); returns the step after them. The caller made the room.
    private func copySteps(_ range: Range<Int>, of other: CachedSteps, to k: Int, at position: Int) -> Int {
        guard !range.isEmpty else { return k }
        let json = other.json(range)
        if let base = json.baseAddress { (bytes + position).update(from: base, count: json.count) }
        (times + k).update(from: other.times + range.lowerBound, count: range.count)
        let shift = Int64(position) - Int64(other.start(range.lowerBound))
        for (j, i) in range.enumerated() { ends[k + j] = UInt32(Int64(other.ends[i]) + shift) }
        return k + range.count
    }

    /// Writes `range`'s steps of `other` (none when nil), then `samples`, as the steps from
    /// `at`, when `at` is where the storage ends (no other refresh has written there first) and
    /// they fit. False when not; steps claimed and not written then stay unread, as no series
    /// covers them.
    func append(copying other: CachedSteps? = nil, _ range: Range<Int> = 0..<0, then samples: ArraySlice<Sample>, at: Int) -> Bool {
        let copied = other == nil ? 0 : range.count
        let n = copied + samples.count
        guard n > 0 else { return true }
        let copiedBytes = other.map { $0.json(range).count } ?? 0
        guard at + n <= stepCapacity, start(at) + copiedBytes <= byteCapacity,
            claimed.compareExchange(expected: at, desired: at + n, ordering: .acquiringAndReleasing).exchanged
        else {
            return false
        }
        var k = at
        if let other { k = copySteps(range, of: other, to: at, at: start(at)) }
        var position = start(k)
        for sample in samples {
            guard position + 1 + JSONWriter.maxPointLength <= byteCapacity else { return false }
            bytes[position] = UInt8(ascii: ",")
            position += 1 + JSONWriter.writePoint(sample.timestamp, sample.value, to: bytes + position + 1)
            ends[k] = UInt32(position)
            times[k] = sample.timestamp
            k += 1
        }
        return true
    }
}
