import TributaryModel

/// A full chunk kept in memory until blocks are written.
struct ClosedChunk: Sendable {
    let bytes: [UInt8]
    let minTime: Int64
    let maxTime: Int64
}

/// One series in the head: labels, closed chunks, the chunk being appended to and the
/// out-of-order samples.
///
/// Locking: `closed`, `head`, `headMinTime`, `cutter` and `ooo` change under the series'
/// stripe lock (readers take it to snapshot); `lastT`/`lastV` change only in a commit, under
/// the commit lock and the stripe lock, so a commit reads them with the commit lock alone;
/// `pending*` belong to the commit in progress.
final class MemSeries: @unchecked Sendable {
    let id: UInt32
    // HA deduplication flags, here to fill the padding after `id` (commit lock): the replicas
    // show different intervals; the series follows the replica in slot B (else slot A).
    var intervalsDisagree = false
    var followsReplicaB = false
    let labels: Labels
    let hash: UInt64

    var closed: [ClosedChunk] = []
    var head = XORChunk(capacity: 0)
    var headMinTime: Int64 = .max
    var cutter: ChunkCutter
    /// Out-of-order samples accepted within the window, sorted by timestamp.
    var ooo: [Sample] = []

    var lastT: Int64 = .min
    var lastV: Double = 0

    /// HA deduplication: the last two replicas seen for this series and when (commit lock).
    var replicaA: UInt64 = 0
    var replicaAT: Int64 = .min
    var replicaB: UInt64 = 0
    var replicaBT: Int64 = .min
    /// The replicas' last spacings (ms), to notice replicas scraping at different intervals.
    var replicaASpacing: Int32 = 0
    var replicaBSpacing: Int32 = 0
    /// The series' scrape interval, the width of its dedup window (commit lock).
    var dedupInterval = DedupInterval()

    var pendingLastT: Int64 = .min
    var pendingLastV: Double = 0
    var pendingCommit: UInt64 = 0

    init(id: UInt32, labels: Labels, hash: UInt64, chunkRange: Int64) {
        self.id = id
        self.labels = labels
        self.hash = hash
        self.cutter = ChunkCutter(chunkRange: chunkRange)
    }

    /// Appends an in-order sample (t > lastT); returns the bytes the chunks grew by.
    /// Caller holds the stripe lock.
    func appendInOrder(_ t: Int64, _ v: Double) -> Int {
        var grown = 0
        if cutter.mustCut(at: t, count: head.count, minTime: headMinTime, maxTime: head.maxTime) {
            closed.append(ClosedChunk(bytes: head.bytes, minTime: headMinTime, maxTime: head.maxTime))
            head = XORChunk(capacity: 64)
            headMinTime = .max
            _ = cutter.mustCut(at: t, count: 0, minTime: t, maxTime: t)
            grown += 2 + MemoryLayout<ClosedChunk>.stride
        }
        if head.count == 0 {
            headMinTime = t
            if head.bytes.capacity < 64 { head = XORChunk(capacity: 64) }
        }
        let before = head.bytes.count
        head.append(t, v)
        grown += head.bytes.count - before
        lastT = t
        lastV = v
        return grown
    }

    /// Inserts an out-of-order sample in timestamp order. Caller holds the stripe lock.
    func insertOutOfOrder(_ s: Sample) -> Int {
        var low = 0, high = ooo.count
        while low < high {
            let mid = (low + high) / 2
            if ooo[mid].timestamp < s.timestamp { low = mid + 1 } else { high = mid }
        }
        ooo.insert(s, at: low)
        return MemoryLayout<Sample>.stride
    }

    /// The stored value at exactly `t`, if any. Caller holds the stripe lock.
    func storedValue(at t: Int64) -> Double? {
        for c in closed where c.minTime <= t && t <= c.maxTime {
            var it = XORIterator(bytes: c.bytes)
            if let s = it.seek(t), s.timestamp == t { return s.value }
        }
        if head.count > 0, headMinTime <= t, t <= head.maxTime {
            var it = head.makeIterator()
            if let s = it.seek(t), s.timestamp == t { return s.value }
        }
        if let s = ooo.first(where: { $0.timestamp == t }) { return s.value }
        return nil
    }

    /// Number of chunks (closed and head).
    var chunkCount: Int { closed.count + (head.count > 0 ? 1 : 0) }
}
