import Synchronization
import TributaryModel
import TributaryWire

/// The steps of one series of a cached answer, kept as the JSON the API writes for them: a
/// refreshed dashboard's answer is mostly these bytes copied, not numbers formatted again
/// (formatting was most of a large answer's time). For gzip answers, runs of steps are also
/// kept compressed (``CachedFragments``).
///
/// The steps are kept in two parts: the settled ones (`steps`), which the next refresh extends
/// in place, and the recent ones (`recent`, those after the newest sample,
/// ``settledThrough(newest:)``), which the next scrape may change and which are kept apart.
/// Why: a window's last step often lies after the newest sample (Grafana rounds the end up to
/// the step), and the next scrape changes it; held with the others, the refresh could not
/// extend the series in place (the old step is read by the answers before it) and copied all
/// of its steps: ~190 MB for a 6 h panel of 4,704 series at 30 s, in half of its refreshes.
struct CachedSeries: Sendable {
    let labels: Labels
    /// The settled steps, at `range` in `steps` (shared with the other cuts and refreshes of
    /// this series; see ``CachedSteps``).
    private(set) var steps: CachedSteps?
    private(set) var range: Range<Int> = 0..<0
    /// The recent steps, at `recentRange` in `recent`, all after the settled ones: a few, in
    /// storage of their own (with room for ``mostRecent`` more, which refreshes fill in place
    /// as they do the settled steps' storage).
    private(set) var recent: CachedSteps?
    private(set) var recentRange: Range<Int> = 0..<0
    var fragments: CachedFragments

    init(labels: Labels) {
        self.labels = labels
        fragments = CachedFragments()
    }

    /// The last step a refresh keeps with the settled ones, given the newest sample stored
    /// when it began (``Head/maxTime``): the steps after it are recent. A series' next sample
    /// comes after its newest, which is less than a scrape interval older than the newest of
    /// all unless its sender lags; only such a late sample changes a settled step (and the
    /// refresh copies).
    static func settledThrough(newest: Int64) -> Int64 {
        newest == .min ? .max : newest
    }

    /// Most recent steps a series keeps: 16. Steps after the newest sample are computed while
    /// no sample arrives (a receiver whose senders stopped) and kept recent would be copied
    /// by every refresh; the oldest beyond these settle anyway.
    static let mostRecent = 16

    /// Steps held.
    var count: Int { range.count + recentRange.count }

    /// Bytes of their JSON.
    var jsonCount: Int { (steps?.json(range).count ?? 0) + (recent?.json(recentRange).count ?? 0) }

    /// The steps in `[from, to]`, sharing this one's storage (and the fragments that lie
    /// wholly inside `[from, to]`: later steps may be computed again, and a run that starts
    /// before `from` is never sent again, as windows only move forward).
    func cut(from: Int64, to: Int64) -> CachedSeries {
        var out = CachedSeries(labels: labels)
        out.fragments = fragments.within(from, to)
        func kept(_ stored: CachedSteps?, _ range: Range<Int>) -> Range<Int>? {
            guard let stored else { return nil }
            let first = range.partitioningIndex { stored.time($0) >= from }
            let end = range[first...].partitioningIndex { stored.time($0) > to }
            return first < end ? first..<end : nil
        }
        if let settled = kept(steps, range) {
            out.steps = steps
            out.range = settled
        }
        if let latest = kept(recent, recentRange) {
            out.recent = recent
            out.recentRange = latest
        }
        return out
    }

    /// This series' steps followed by `samples`. Those up to `settled` join the settled steps:
    /// written after them in place when this series ends where its storage does, else into new
    /// storage with room for an eighth more steps (at least 16). The rest are recent steps:
    /// written after this series' recent steps in place when they end where their storage
    /// does, else into new storage.
    func appending(_ samples: ArraySlice<Sample>, settledThrough settled: Int64 = .max) -> CachedSeries {
        var out = self
        guard !samples.isEmpty else { return out }
        // The recent steps and the samples, in time order, split at `settled`.
        var recentSplit = recent.map { r in recentRange.partitioningIndex { r.time($0) > settled } } ?? recentRange.upperBound
        var sampleSplit = samples.partitioningIndex { $0.timestamp > settled }
        // At most mostRecent stay recent: the oldest of the rest settle.
        let excess = (recentRange.upperBound - recentSplit) + (samples.endIndex - sampleSplit) - Self.mostRecent
        if excess > 0 {
            let fromRecent = min(excess, recentRange.upperBound - recentSplit)
            recentSplit += fromRecent
            sampleSplit += excess - fromRecent
        }
        let settling = recentRange.lowerBound..<recentSplit
        let stillRecent = recentSplit..<recentRange.upperBound
        let settlingSamples = samples[..<sampleSplit]
        let laterSamples = samples[sampleSplit...]
        if !settling.isEmpty || !settlingSamples.isEmpty {
            let moved = settling.isEmpty ? nil : recent
            if let steps, steps.append(copying: moved, settling, then: settlingSamples, at: range.upperBound) {
                out.range = range.lowerBound..<(range.upperBound + settling.count + settlingSamples.count)
            } else {
                var parts: [(steps: CachedSteps, range: Range<Int>)] = []
                if let steps, !range.isEmpty { parts.append((steps, range)) }
                if let moved { parts.append((moved, settling)) }
                let total = range.count + settling.count + settlingSamples.count
                out.steps = CachedSteps(copying: parts, then: settlingSamples, room: max(16, total / 8))
                out.range = 0..<total
            }
        }
        if stillRecent.isEmpty && laterSamples.isEmpty {
            out.recent = nil
            out.recentRange = 0..<0
        } else if laterSamples.isEmpty {
            // The recent steps left, where they are.
            out.recentRange = stillRecent
        } else if let recent, recent.append(then: laterSamples, at: recentRange.upperBound) {
            // Written after the recent steps in place (those settled now stay in the storage,
            // unread), as the settled steps are: a refresh made new storage for the last step
            // of every series of its panel (two allocations each, a fifth of the cache's
            // share of a refresh of 940 series).
            out.recentRange = stillRecent.lowerBound..<(recentRange.upperBound + laterSamples.count)
        } else {
            let kept = stillRecent.isEmpty ? nil : recent
            out.recent = CachedSteps(copying: kept.map { [($0, stillRecent)] } ?? [], then: laterSamples, room: Self.mostRecent)
            out.recentRange = 0..<(stillRecent.count + laterSamples.count)
        }
        return out
    }

    /// Writes this series as an element of a matrix answer over `[start, end]` at `step`: from
    /// compressed fragments where the answer is gzip-compressed as it goes and a run lies
    /// wholly inside the window (made now when `makeFragments`), else from the JSON. False
    /// when the client went away.
    func write(first: Bool, start: Int64, end: Int64, step: Int64, makeFragments: Bool, _ out: inout JSONWriter) -> Bool {
        // Written in runs where the answer is compressed as it goes and the series is long
        // enough to hold one; else as its JSON.
        let inRuns = out.fragments != nil && range.count >= 2 * CachedFragments.steps
        // Edge runs kept short (``CachedFragments/smallestEdge``) are sent compressed only where
        // the series holds compressed runs: elsewhere its steps share the stream.
        let sendsShort = inRuns && fragments.holdsCompressedRuns
        // A series sent in runs opens with its opening kept compressed, and the steps at its
        // edges are all that goes as plain bytes (stored, ``FragmentBuilder``).
        if sendsShort, out.cachedOpenings, !first, let opening = fragments.opening(labels) {
            guard out.fragment(opening) else { return false }
        } else {
            out.openSeries(labels, first: first)
        }
        // Runs lie among the settled steps: one that reaches a recent step is not placed, and
        // the recent steps go after the settled ones as JSON.
        let settledEnd = recent.flatMap { r in recentRange.isEmpty ? nil : min(end, r.time(recentRange.lowerBound) - 1) } ?? end
        if let stored = steps, !range.isEmpty {
            guard writeSettled(stored, start: start, end: settledEnd, step: step, makeFragments: makeFragments, inRuns: inRuns, sendsShort: sendsShort, &out)
            else { return false }
        }
        if let recent, !recentRange.isEmpty {
            let bytes = recent.json(recentRange)
            out.bytes.append(contentsOf: range.isEmpty ? bytes.dropFirst() : bytes[...])
        }
        return out.closeSeries()
    }

    /// The settled steps of ``write(first:start:end:step:makeFragments:_:)``, `end` the last
    /// time a run sent compressed may reach. False when the client went away.
    private func writeSettled(
        _ stored: CachedSteps, start: Int64, end: Int64, step: Int64, makeFragments: Bool, inRuns: Bool, sendsShort: Bool, _ out: inout JSONWriter
    ) -> Bool {
        if !inRuns {
            out.bytes.append(contentsOf: stored.json(range).dropFirst())
        } else {
            var i = range.lowerBound
            /// The steps from `i` in `run` (found by halving: a long run holds up to 256).
            func steps(in run: CachedFragments.Run) -> Range<Int> {
                i..<(i + 1..<range.upperBound).partitioningIndex { stored.time($0) > run.last }
            }
            /// Whether `run` can be sent whole from `i`: all its steps are in the window and
            /// they start at `i`, not at the series' first (whose comma is dropped).
            func placed(_ run: CachedFragments.Run) -> Bool {
                i > range.lowerBound && stored.time(i - 1) < run.first && run.first >= start && run.last <= end
            }
            /// The fragment of `run` (placed, its steps `within`): kept, or made now when
            /// `makeFragments`; nil when it compressed to too few bytes (a short edge run, unless
            /// this series is sent in runs) or is not made.
            func compressed(_ run: CachedFragments.Run, _ within: Range<Int>) -> DeflateFragment? {
                switch fragments[run] ?? (makeFragments ? fragments.make(run, stored.json(within)) : .plain) {
                case .compressed(let fragment): return fragment
                case .short(let fragment): return sendsShort ? fragment : nil
                case .plain: return nil
                }
            }
            /// Whether a short or long run not made yet begins among the joined runs and ends
            /// after them, in the window: the joined runs are not sent, so that the run is made
            /// and sent (and joined with the rest) as it would be without them; else a window
            /// moving forward would only ever add edge runs to them, and its series would hold
            /// those where it held short and long runs.
            func outgrown(_ joined: CachedFragments.Joined) -> Bool {
                func begins(_ steps: Int64) -> Bool {
                    let run = CachedFragments.run(of: joined.last + step, start: start, step: step, steps: steps)
                    return run.first >= joined.first && run.first <= joined.last && run.last <= end && fragments[run] == nil
                }
                return begins(CachedFragments.steps) || begins(CachedFragments.longSteps)
            }
            let joined = makeFragments ? fragments.joined.flatMap { outgrown($0) ? nil : $0 } : nil
            // The first row of runs the series sends (up to the next steps sent as JSON),
            // joined when it holds more than one (``CachedFragments/Joined``), where runs are
            // made (a refresh). Its first fragment is held apart: a row of one, most often the
            // joined runs themselves, allocates nothing.
            var rowHead: DeflateFragment? = nil
            var rowRest: [DeflateFragment] = []
            var rowFirst: Int64 = 0
            var rowLast: Int64 = 0
            var rowDone = !makeFragments
            /// Sends `fragment`, the steps from `first` to `last`, as the row's next.
            func send(_ fragment: DeflateFragment, _ first: Int64, _ last: Int64) -> Bool {
                if !rowDone {
                    if rowHead == nil {
                        rowHead = fragment
                        rowFirst = first
                    } else {
                        rowRest.append(fragment)
                    }
                    rowLast = last
                }
                return out.fragment(fragment)
            }
            /// Ends the row: joins it when it holds more than one fragment.
            func endRow() {
                guard !rowDone, let rowHead else { return }
                rowDone = true
                guard !rowRest.isEmpty, let fragment = DeflateFragment.joined([rowHead] + rowRest) else { return }
                fragments.keep(CachedFragments.Joined(first: rowFirst, last: rowLast, fragment: fragment))
            }
            while i < range.upperBound {
                let t = stored.time(i)
                // The joined runs where they are placed (at most once: the steps only go forward).
                if let joined, t == joined.first, i > range.lowerBound, joined.first >= start, joined.last <= end {
                    let upper = (i + 1..<range.upperBound).partitioningIndex { stored.time($0) > joined.last }
                    guard send(joined.fragment, joined.first, joined.last) else { return false }
                    fragments.noteJoinedSent()
                    i = upper
                    continue
                }
                // A long run from its first step where one is placed and kept compressed.
                let long = CachedFragments.run(of: t, start: start, step: step, steps: CachedFragments.longSteps)
                if placed(long) {
                    let within = steps(in: long)
                    if let fragment = compressed(long, within) {
                        guard send(fragment, long.first, long.last) else { return false }
                        i = within.upperBound
                        continue
                    }
                }
                // Else the short run of this step, or where it is not placed (at the window's
                // edges, or in a series' first steps) the edge run: a window moving a step at a
                // time leaves fewer steps to compress with each answer. Sent as JSON when not
                // placed or not kept compressed.
                var run = CachedFragments.run(of: t, start: start, step: step, steps: CachedFragments.steps)
                var isPlaced = placed(run)
                if !isPlaced {
                    run = CachedFragments.run(of: t, start: start, step: step, steps: CachedFragments.edgeSteps)
                    isPlaced = placed(run)
                }
                let within = steps(in: run)
                if isPlaced, let fragment = compressed(run, within) {
                    guard send(fragment, run.first, run.last) else { return false }
                } else {
                    endRow()
                    let bytes = stored.json(within)
                    out.bytes.append(contentsOf: i == range.lowerBound ? bytes.dropFirst() : bytes[...])
                }
                i = within.upperBound
            }
            endRow()
        }
        return true
    }
}

/// Runs of a cached series' steps compressed once for gzip answers (``DeflateFragment``): a
/// refresh of a large answer was mostly compressing bytes it had sent before. A run is
/// ``steps``, ``longSteps`` or ``edgeSteps`` steps long, aligned on the step grid, so a window
/// moving forward keeps its runs; only the partial edge runs at either end are compressed with
/// each answer.
///
/// Also keeps the series' opening compressed (``opening(_:)``).
///
/// Shared by the copies, cuts and refreshes of one cached series until a cut drops runs
/// (``within(_:_:)``).
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

    /// Steps in an edge run: 8. Where a short run lies partly outside the window (its first
    /// and last ones, as the window moves), the steps inside it are sent as the edge runs that
    /// lie wholly in the window, kept compressed, and only the rest (under 8 steps at each
    /// end) is compressed with the answer: a 1 h refresh of 940 gauges compressed ~32 steps
    /// of each series every time (edge runs took 12-14 % off its CPU). Dropped once the short
    /// run around them is kept compressed.
    static let edgeSteps: Int64 = 8

    struct Run: Hashable {
        let first: Int64
        let last: Int64
        /// ``steps``, ``longSteps`` or ``edgeSteps``.
        let steps: Int64
    }

    /// The runs a series sent in a row, from the first it sent compressed to the next steps it
    /// sent as JSON, kept joined as one fragment (``DeflateFragment/joined(_:)``) and sent
    /// whole while its steps lie in the window. Why: a series of a 1 h panel is sent as ten or
    /// so pieces (its opening, edge runs, short runs), and each piece cost a lookup, a search of
    /// the steps, a CRC combine and a copy: the largest item of a refresh of 940 series. The
    /// pieces between the window's edges change only when an edge crosses a run's border
    /// (every eight steps at either end), so most refreshes send the series as its opening, the
    /// steps before and after the joined runs, and the joined runs.
    struct Joined: Sendable {
        let first: Int64
        let last: Int64
        let fragment: DeflateFragment
    }

    /// What a run is sent as.
    enum Kept: Sendable {
        case compressed(DeflateFragment)
        /// An edge run compressed to at least ``smallestEdge`` bytes but under ``smallest``:
        /// sent compressed when the series holds compressed runs (``holdsCompressedRuns``, as
        /// the series is written), else as JSON. Decided when sent, not when made: the first
        /// refresh of a dashboard makes the edge runs at its window's start before the short
        /// runs after them, and with the choice made then, those went as JSON, compressed again
        /// by every refresh until the window left them (12 % of the CPU of a same-window
        /// refresh of 940 gauges in a dashboard's first minutes, perf). Series not sent in runs
        /// keep theirs too (~100 bytes each, a few per series), unsent.
        case short(DeflateFragment)
        /// As JSON, compressed with the rest of the answer: the run compressed to fewer than
        /// ``smallest`` bytes, so its own Huffman tables (60–100 bytes) would be most of it,
        /// and one stream over the answer shares tables and repetition across series (an
        /// answer of near-constant series: 18 KB whole, 203 KB in runs).
        case plain
    }

    /// The smallest compressed run sent as a fragment: 128 bytes. A short run of a gauge of six
    /// digits (~480 bytes of JSON) compresses to ~165 with its tables; at 256 such runs were
    /// sent in the stream and compressed again by every refresh (a third of the CPU of a 6 h
    /// refresh of 1,176 of them). The price is bytes where series repeat each other: 2 % more
    /// for that refresh, 1.8 times for 50 series whose values differ in one digit. Near-constant
    /// series (~90 bytes a run) still go in the stream, which shares their repetition.
    static let smallest = 128

    /// The smallest compressed edge run sent as a fragment when the series is sent in runs
    /// (``holdsCompressedRuns``): 64 (``Kept/short``). An edge run of a gauge of many digits
    /// (~320 bytes of JSON) compresses to ~130 bytes, half of them under ``smallest``: those
    /// went in the answer with the steps around them and were compressed again by every
    /// refresh. Series whose runs are all plain keep ``smallest``, so that their steps still
    /// share one stream.
    static let smallestEdge = 64

    struct State {
        /// In order of their first step, longer first where two start together: a series holds
        /// a dozen or so, and a lookup is a binary search (hashing each run sent was 4 % of a
        /// moved refresh of 940 series; a dictionary also allocated in every cut that dropped runs).
        var runs: [(run: Run, kept: Kept)]
        /// A run longer than an edge run is kept compressed.
        var holdsCompressed: Bool
        /// The fragments last sent in a row, joined (``Joined``).
        var joined: Joined?

        /// Where `run` is in `runs` (`found`), or would be put.
        func place(of run: Run) -> (index: Int, found: Bool) {
            let i = runs.partitioningIndex { $0.run.first > run.first || ($0.run.first == run.first && $0.run.steps <= run.steps) }
            return (i, i < runs.count && runs[i].run == run)
        }
    }

    private let state: Mutex<State>
    private let keptOpening: Mutex<DeflateFragment?>

    /// `runs` in ``State/runs``' order.
    init(_ runs: [(run: Run, kept: Kept)] = [], opening: DeflateFragment? = nil, joined: Joined? = nil, joinedSends: Int = 0) {
        state = Mutex(State(runs: runs, holdsCompressed: runs.contains { Self.isCompressedRun($0.run, $0.kept) }, joined: joined))
        keptOpening = Mutex(opening)
        joinedSent = Atomic(joinedSends)
    }

    /// The runs last sent in a row, joined.
    var joined: Joined? { state.withLock { $0.joined } }

    /// Times the joined runs were sent, also from the sets this one was cut from (for tests).
    private let joinedSent: Atomic<Int>
    var joinedSends: Int { joinedSent.load(ordering: .relaxed) }
    func noteJoinedSent() { joinedSent.wrappingAdd(1, ordering: .relaxed) }

    /// Keeps `joined` in place of the runs joined before.
    func keep(_ joined: Joined) {
        state.withLock { $0.joined = joined }
    }

    /// Whether a run longer than an edge run is kept compressed.
    var holdsCompressedRuns: Bool { state.withLock { $0.holdsCompressed } }

    /// `run` is longer than an edge run and kept compressed: what makes a series one sent in
    /// runs, and what covers the shorter runs inside it.
    private static func isCompressedRun(_ run: Run, _ kept: Kept) -> Bool {
        guard run.steps != edgeSteps, case .compressed = kept else { return false }
        return true
    }

    /// Whether the opening is kept (for tests).
    var holdsOpening: Bool { keptOpening.withLock { $0 != nil } }

    /// The series' opening after another (`,{"metric":{…},"values":[`) compressed with the
    /// fixed code, made the first time it is asked: its labels are not formatted and
    /// compressed again by every refresh.
    func opening(_ labels: Labels) -> DeflateFragment? {
        if let made = keptOpening.withLock({ $0 }) { return made }
        var text = JSONWriter(capacity: 256)
        text.openSeries(labels, first: false)
        guard let made = DeflateFragment(text.bytes[...], fixedCode: true) else { return nil }
        keptOpening.withLock { $0 = made }
        return made
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

    /// Runs sent compressed (those kept short only where the series holds compressed runs),
    /// or all runs made with `plain`; of `steps` steps when given (for tests).
    func count(steps: Int64? = nil, plain: Bool = false) -> Int {
        state.withLock { state in
            state.runs.reduce(0) { n, run in
                guard steps == nil || steps == run.run.steps else { return n }
                switch run.kept {
                case .compressed: return n + 1
                case .short: return plain || state.holdsCompressed ? n + 1 : n
                case .plain: return plain ? n + 1 : n
                }
            }
        }
    }

    /// The bytes of the edge runs kept short, if the series holds compressed runs (or with
    /// `inRuns` false, if it does not; for tests).
    func shortEdgeRuns(inRuns: Bool) -> [[UInt8]] {
        state.withLock { state in
            guard state.holdsCompressed == inRuns else { return [] }
            return state.runs.compactMap { run in
                guard case .short(let fragment) = run.kept else { return nil }
                return fragment.bytes
            }
        }
    }

    subscript(run: Run) -> Kept? {
        state.withLock { state in
            let (i, found) = state.place(of: run)
            return found ? state.runs[i].kept : nil
        }
    }

    /// Compresses `bytes` (the JSON of `run`) and keeps what it is to be sent as.
    func make(_ run: Run, _ bytes: UnsafeBufferPointer<UInt8>) -> Kept {
        var kept = Kept.plain
        if let fragment = DeflateFragment(bytes) {
            if fragment.bytes.count >= Self.smallest {
                kept = .compressed(fragment)
            } else if run.steps == Self.edgeSteps, fragment.bytes.count >= Self.smallestEdge {
                kept = .short(fragment)
            }
        }
        state.withLock { state in
            let (i, found) = state.place(of: run)
            if found { state.runs[i].kept = kept } else { state.runs.insert((run, kept), at: i) }
            if Self.isCompressedRun(run, kept) { state.holdsCompressed = true }
        }
        return kept
    }

    /// The runs that lie wholly inside `[from, to]`, but not the shorter runs inside a longer
    /// one kept compressed: that one is sent while it is in the window, and once the window has
    /// left its start, a shorter run is compressed again if needed. (Runs before the window were
    /// kept too, once: a dashboard left open held every run it had sent.) This same set when
    /// it holds no other (most refreshes: a run leaves the window every 32 steps), else a set
    /// of its own.
    func within(_ from: Int64, _ to: Int64) -> CachedFragments {
        let kept = state.withLock { state -> (runs: [(run: Run, kept: Kept)], joined: Joined?)? in
            let runs = state.runs
            // Joined runs that reach past `to` hold steps computed again; those that start
            // before `from` are not sent again (a window moves forward) and are replaced by the
            // next runs sent in a row.
            let joined = state.joined.flatMap { $0.first >= from && $0.last <= to ? $0 : nil }
            func inside(_ run: Run) -> Bool { run.first >= from && run.last <= to }
            // The shorter runs within a run kept compressed inside the window are not sent. (A
            // series holds a dozen runs or so: searched for each, not listed first, which
            // allocated a list per series on every refresh.)
            func covered(_ run: Run) -> Bool {
                runs.contains { other in
                    other.run.steps > run.steps && other.run.first <= run.first && run.last <= other.run.last && inside(other.run)
                        && Self.isCompressedRun(other.run, other.kept)
                }
            }
            func keep(_ run: Run) -> Bool { inside(run) && !covered(run) }
            guard runs.contains(where: { !keep($0.run) }) || (state.joined != nil && joined == nil) else { return nil }
            return (runs.filter { keep($0.run) }, joined)
        }
        return kept.map { CachedFragments($0.runs, opening: keptOpening.withLock { $0 }, joined: $0.joined, joinedSends: joinedSends) } ?? self
    }
}
