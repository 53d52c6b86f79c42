import Logging
import Synchronization
import TributaryModel
import TributaryWAL

/// The in-memory part of the TSDB: series in lock stripes, their chunks, the postings index,
/// and the write-ahead log every commit goes through.
///
/// Concurrency: thread-safe. Commits are serialised by one lock (the WAL is one file anyway);
/// readers take only the stripe locks of the series they read, and never wait for a commit's
/// I/O.
public final class Head: Sendable {
    public let options: HeadOptions
    let logger: Logger
    let wal: WAL?
    let stripes: [Stripe]
    let stripeMask: Int
    let byID = Lock<ContiguousArray<MemSeries?>>([nil])
    public let postings = MemPostings()
    let symbols = HeadSymbols()
    let commitState: Lock<CommitState>
    let bytes = Atomic<Int>(0)
    let seriesCount = Atomic<Int>(0)
    let minTimeValue = Atomic<Int64>(.max)
    let maxTimeValue = Atomic<Int64>(.min)
    /// Series whose HA replicas show different scrape intervals (mismatched agent configs).
    let intervalMismatches = Atomic<Int>(0)
    let removalCount = Atomic<UInt64>(0)
    /// Truncations (``truncate(_:)``) begun: raised before one drops anything, so a deferred
    /// read that finds it changed since its select may have missed data now in a block
    /// (``DeferredHeadSeries``).
    let truncations = Atomic<Int>(0)
    /// The oldest sample stored in each recent second, for results caches.
    public let recentWrites = RecentWrites()
    /// Exemplars, unless ``HeadOptions/maxExemplars`` turns them off.
    public let exemplars: ExemplarStorage?

    /// Opens a head; with a WAL, replays it first (see ``replayWAL()``).
    public init(options: HeadOptions = HeadOptions(), wal: WAL? = nil, logger: Logger = Logger(label: "tributary.head")) {
        var options = options
        var n = 1
        while n < max(options.stripes, 1) { n <<= 1 }
        options.stripes = n
        self.options = options
        self.logger = logger
        self.wal = wal
        stripes = (0..<n).map { _ in Stripe() }
        stripeMask = n - 1
        commitState = Lock(CommitState())
        exemplars = options.maxExemplars > 0 ? ExemplarStorage(capacity: options.maxExemplars) : nil
    }

    /// Series whose two HA replicas currently scrape at different intervals.
    public var seriesWithMismatchedIntervals: Int { intervalMismatches.load(ordering: .relaxed) }

    /// Number of series.
    public var numSeries: Int { seriesCount.load(ordering: .relaxed) }

    /// Approximate bytes the head holds (label symbols, series overhead, chunks).
    public var memoryBytes: Int { bytes.load(ordering: .relaxed) + symbols.bytes }

    /// True when ``memoryBytes`` exceeds ``HeadOptions/memoryBudget`` (never when it is 0).
    public var isOverMemoryBudget: Bool {
        options.memoryBudget > 0 && memoryBytes > options.memoryBudget
    }

    /// Oldest and newest sample timestamps (`.max`/`.min` while empty).
    public var minTime: Int64 { minTimeValue.load(ordering: .relaxed) }
    public var maxTime: Int64 { maxTimeValue.load(ordering: .relaxed) }

    /// Fixed bytes charged per series besides its label references and chunks: the object
    /// (its state, Swift's object header and malloc's: 176) and its index entries (~80);
    /// `Docs/memory.md`, checked by the memory benchmark.
    static let seriesOverhead = MemoryLayout<MemSeries.State>.size + 16 + 16 + 80

    @inline(__always)
    func stripe(forHash hash: UInt64) -> Int { Int(truncatingIfNeeded: hash) & stripeMask }

    /// The series with exactly these labels, if it exists.
    func lookup(_ labels: LabelsView, hash: UInt64) -> MemSeries? {
        findUnretained(labels, hash: hash)?.takeUnretainedValue()
    }

    /// As ``lookup(_:hash:)`` without retaining the series (it lives as long as the head).
    @inline(__always)
    func findUnretained(_ labels: LabelsView, hash: UInt64) -> Unmanaged<MemSeries>? {
        stripes[stripe(forHash: hash)].map.withLock { $0.find(hash, labels, symbols) }
    }

    /// Creates a series; the caller holds the commit lock and has checked it does not exist.
    func create(_ labels: Labels, hash: UInt64, id requested: UInt32? = nil) -> MemSeries {
        let refs = labels.bytes.withUnsafeBytes { symbols.intern($0) }
        let series: MemSeries = byID.withLock { all in
            let id = requested ?? UInt32(truncatingIfNeeded: all.count)
            let s = MemSeries.make(id: id, hash: hash, refs: refs)
            while all.count <= Int(id) { all.append(nil) }
            all[Int(id)] = s
            return s
        }
        stripes[stripe(forHash: hash)].map.withLock { $0.insert(hash, series) }
        postings.add(series.id, labels)
        seriesCount.add(1, ordering: .relaxed)
        bytes.add(refs.count + Self.seriesOverhead, ordering: .relaxed)
        return series
    }

    /// The labels of `s`, or nil once it is removed. Takes its stripe lock.
    func labels(of s: MemSeries) -> Labels? {
        stripes[stripe(forHash: s.hash)].map.withLock { _ in s.removed ? nil : s.labels(symbols) }
    }

    /// Chunks in memory, each series' open one included (`status/tsdb`'s `chunkCount`, as
    /// Prometheus counts them). Takes each series' stripe lock in turn.
    public var chunkCount: Int {
        let all = byID.withLock { $0.compactMap { $0 } }
        return all.reduce(0) { n, s in n + stripes[stripe(forHash: s.hash)].map.withLock { _ in s.chunkCount } }
    }

    func series(id: UInt32) -> MemSeries? {
        series(id: id, prefetchingFor: nil)
    }

    /// As ``series(id:)`` for many, under one lock.
    func series(ids: ArraySlice<UInt32>) -> [MemSeries?] {
        byID.withLock { all in ids.map { Int($0) < all.count ? all[Int($0)] : nil } }
    }

    /// Operations that removed stored samples (deletions, retention). Answers computed before
    /// one may hold what is gone; anything that caches answers compares this count (and asks
    /// ``recentWrites`` what was added).
    public var removals: UInt64 { removalCount.load(ordering: .acquiring) }

    func noteTime(_ t: Int64) {
        if t < minTimeValue.load(ordering: .relaxed) { _ = minTimeValue.min(t, ordering: .relaxed) }
        if t > maxTimeValue.load(ordering: .relaxed) { _ = maxTimeValue.max(t, ordering: .relaxed) }
    }
}

/// One lock stripe of the series map: series by label hash, chained on collisions.
final class Stripe: Sendable {
    let map = Lock(SeriesTable())
}
