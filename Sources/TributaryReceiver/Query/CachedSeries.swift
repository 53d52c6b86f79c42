import Synchronization
import TributaryModel
import TributaryWire

/// The steps of one series of a cached answer, kept as the JSON the API writes for them: a
/// refreshed dashboard's answer is mostly these bytes copied, not numbers formatted again
/// (formatting was most of a large answer's time). For gzip answers, runs of steps are also
/// kept compressed (``CachedFragments``).
struct CachedSeries: Sendable {
    let labels: Labels
    /// Each step's `,[seconds,"value"]` (the comma first: a series' first step drops it).
    var json: ArraySlice<UInt8>
    /// Where each step starts in `json` (indices of `json`'s base array).
    var offsets: ArraySlice<UInt32>
    var timestamps: ArraySlice<Int64>
    var fragments: CachedFragments

    init(labels: Labels) {
        self.labels = labels
        json = []
        offsets = []
        timestamps = []
        fragments = CachedFragments()
    }

    /// The steps in `[from, to]`, sharing this one's storage (and the fragments that lie
    /// wholly inside `[from, to]`: later steps may be computed again, and a run that starts
    /// before `from` is never sent again, as windows only move forward).
    func cut(from: Int64, to: Int64) -> CachedSeries {
        var out = CachedSeries(labels: labels)
        out.fragments = fragments.within(from, to)
        let first = timestamps.partitioningIndex { $0 >= from }
        let end = timestamps[first...].partitioningIndex { $0 > to }
        guard first < end else { return out }
        let jsonStart = Int(offsets[first])
        let jsonEnd = end < timestamps.endIndex ? Int(offsets[end]) : json.endIndex
        out.json = json[jsonStart..<jsonEnd]
        out.offsets = offsets[first..<end]
        out.timestamps = timestamps[first..<end]
        return out
    }

    /// This series' steps followed by `samples`, in storage of its own.
    func appending(_ samples: ArraySlice<Sample>) -> CachedSeries {
        var json: [UInt8] = []
        json.reserveCapacity(self.json.count + samples.count * 32)
        var offsets: [UInt32] = []
        offsets.reserveCapacity(timestamps.count + samples.count)
        let base = self.offsets.first ?? 0
        for o in self.offsets { offsets.append(o - base) }
        json.append(contentsOf: self.json)
        var timestamps = Array(self.timestamps)
        for s in samples {
            offsets.append(UInt32(json.count))
            json.append(UInt8(ascii: ","))
            JSONWriter.appendPoint(s.timestamp, s.value, to: &json)
            timestamps.append(s.timestamp)
        }
        var out = CachedSeries(labels: labels)
        out.json = json[...]
        out.offsets = offsets[...]
        out.timestamps = timestamps[...]
        out.fragments = fragments
        return out
    }

    /// Writes this series as an element of a matrix answer over `[start, end]` at `step`: from
    /// compressed fragments where the answer is gzip-compressed as it goes and a run lies
    /// wholly inside the window (made now when `makeFragments`), else from the JSON. False
    /// when the client went away.
    func write(first: Bool, start: Int64, end: Int64, step: Int64, makeFragments: Bool, _ out: inout JSONWriter) -> Bool {
        out.openSeries(labels, first: first)
        if out.fragments == nil || timestamps.count < 2 * CachedFragments.steps {
            out.bytes.append(contentsOf: json.dropFirst())
        } else {
            var i = timestamps.startIndex
            /// The steps from `i` in `run`, and their JSON.
            func steps(in run: CachedFragments.Run) -> (end: Int, bytes: ArraySlice<UInt8>) {
                var j = i + 1
                while j < timestamps.endIndex, timestamps[j] <= run.last { j += 1 }
                return (j, json[Int(offsets[i])..<(j < timestamps.endIndex ? Int(offsets[j]) : json.endIndex)])
            }
            /// A run is sent compressed when all its steps are in the window, it is not the
            /// series' first (whose comma is dropped) and it compressed to enough bytes.
            func compressed(_ run: CachedFragments.Run, _ bytes: ArraySlice<UInt8>) -> DeflateFragment? {
                guard i > timestamps.startIndex, run.first >= start, run.last <= end,
                    case .compressed(let fragment) = fragments[run] ?? (makeFragments ? fragments.make(run, bytes) : .plain)
                else { return nil }
                return fragment
            }
            while i < timestamps.endIndex {
                // A long run from its first step, else the short run of this step.
                let long = CachedFragments.run(of: timestamps[i], start: start, step: step, steps: CachedFragments.longSteps)
                if i > timestamps.startIndex, timestamps[i - 1] < long.first {
                    let (j, bytes) = steps(in: long)
                    if let fragment = compressed(long, bytes) {
                        guard out.fragment(fragment) else { return false }
                        i = j
                        continue
                    }
                }
                let run = CachedFragments.run(of: timestamps[i], start: start, step: step, steps: CachedFragments.steps)
                let (j, bytes) = steps(in: run)
                if let fragment = compressed(run, bytes) {
                    guard out.fragment(fragment) else { return false }
                } else {
                    out.bytes.append(contentsOf: i == timestamps.startIndex ? bytes.dropFirst() : bytes)
                }
                i = j
            }
        }
        return out.closeSeries()
    }
}

/// Runs of a cached series' steps compressed once for gzip answers (``DeflateFragment``): a
/// refresh of a large answer was mostly compressing bytes it had sent before. A run is
/// ``steps`` or ``longSteps`` steps long, aligned on the step grid, so a window moving forward
/// keeps its runs; only the partial runs at either end are compressed with each answer.
///
/// Shared by the copies of one cached series; each cut or refresh takes its own set.
final class CachedFragments: Sendable {
    /// Steps in a run: 32 (8 minutes at 15 s; ~1.2 KB of JSON). Longer runs compress a little
    /// better but leave more at the window's ends to compress each time.
    static let steps: Int64 = 32

    /// Steps in a long run, sent where one lies wholly in the window: 256 (about 2 h at 30 s).
    /// Series that compress well (counters, gauges with few digits: ~4 bytes a step) make short
    /// runs under ``smallest``, sent inside the stream and so compressed again by every refresh
    /// (a 6 h panel of 1,200 such series: half of its refresh's time); long ones are worth
    /// keeping. Not shorter: the stream ends a block before each fragment that follows plain
    /// bytes (~10 µs with its Huffman tables), about what compressing 2-3 KB of JSON costs, so
    /// 128-step runs of ~18-byte steps made a 1 h refresh of 235 such series slower (10 ms
    /// against 7).
    static let longSteps: Int64 = 256

    struct Run: Hashable {
        let first: Int64
        let last: Int64
        /// ``steps`` or ``longSteps``.
        let steps: Int64
    }

    /// What a run is sent as.
    enum Kept: Sendable {
        case compressed(DeflateFragment)
        /// As JSON, compressed with the rest of the answer: the run compressed to fewer than
        /// ``smallest`` bytes, so its own Huffman tables (60–100 bytes) would be much of it,
        /// and one stream over the answer shares tables and repetition across series (an
        /// answer of near-constant series: 18 KB whole, 203 KB in runs).
        case plain
    }

    /// The smallest compressed run sent as a fragment.
    static let smallest = 256

    private let runs: Mutex<[Run: Kept]>

    init(_ runs: [Run: Kept] = [:]) {
        self.runs = Mutex(runs)
    }

    /// The run of `steps` steps holding the step at `t`, on the grid of steps
    /// `start + k·step`; runs start at multiples of their span from that grid's phase,
    /// whatever the window's start.
    static func run(of t: Int64, start: Int64, step: Int64, steps: Int64) -> Run {
        let span = steps * step
        let phase = ((start % step) + step) % step
        let offset = t - phase
        let first = (offset >= 0 ? offset / span : (offset - span + 1) / span) * span + phase
        return Run(first: first, last: first + span - step, steps: steps)
    }

    /// Runs kept compressed, of `steps` steps when given (for tests).
    func count(steps: Int64? = nil) -> Int {
        runs.withLock { runs in
            runs.reduce(0) { n, run in
                guard case .compressed = run.value, steps == nil || steps == run.key.steps else { return n }
                return n + 1
            }
        }
    }

    subscript(run: Run) -> Kept? {
        runs.withLock { $0[run] }
    }

    /// Compresses `bytes` (the JSON of `run`) and keeps what it is to be sent as.
    func make(_ run: Run, _ bytes: ArraySlice<UInt8>) -> Kept {
        var kept = Kept.plain
        if let fragment = DeflateFragment(bytes), fragment.bytes.count >= Self.smallest { kept = .compressed(fragment) }
        runs.withLock { $0[run] = kept }
        return kept
    }

    /// A set of its own with the runs that lie wholly inside `[from, to]`, but not the short
    /// runs inside a long one kept compressed: that one is sent while it is in the window, and
    /// once the window has left its start, a short run is compressed again if needed. (Runs
    /// before the window were kept too, once: a dashboard left open held every run it had sent.)
    func within(_ from: Int64, _ to: Int64) -> CachedFragments {
        CachedFragments(
            runs.withLock { runs in
                func inside(_ run: Run) -> Bool { run.first >= from && run.last <= to }
                let longs = runs.compactMap { run, kept -> Run? in
                    guard run.steps == Self.longSteps, inside(run), case .compressed = kept else { return nil }
                    return run
                }
                return runs.filter { run, _ in
                    inside(run) && (run.steps == Self.longSteps || !longs.contains { $0.first <= run.first && run.last <= $0.last })
                }
            })
    }
}
