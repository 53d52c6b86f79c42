import Synchronization
import TributaryModel

/// The head's data before a block boundary, taken out for a block: per series, the chunks to
/// write and what to drop from memory once the block is durable.
struct HeadCut {
    struct Mark {
        let id: UInt32
        /// The first `closed` chunks of the series are in the block.
        let closed: Int
        /// Out-of-order samples in the block (they are re-encoded into its chunks).
        let ooo: Set<Int64>
    }

    let boundary: Int64
    var series: [BlockSeries] = []
    var marks: [Mark] = []
    var minTime: Int64 = .max
    var maxTime: Int64 = .min
}

extension Head {
    /// Collects every chunk that ends before `boundary`. The open chunk of a series that has
    /// had no sample since is closed first, so a later sample before the boundary (a
    /// backlog) starts a chunk of its own, for a later block. Out-of-order samples before the
    /// boundary are merged into the series' chunks.
    func cut(before boundary: Int64) -> HeadCut {
        var cut = HeadCut(boundary: boundary)
        var withOutOfOrder: [(index: Int, samples: [Sample])] = []
        let all = byID.withLock { $0.compactMap { $0 } }
        for s in all {
            stripes[stripe(forHash: s.hash)].map.withLock { _ in
                guard !s.removed else { return }
                if s.head.count > 0, s.head.maxTime < boundary { s.closeHeadChunk() }
                var n = 0
                while n < s.closed.count, s.closed[n].maxTime < boundary { n += 1 }
                let ooo = s.ooo.filter { $0.timestamp < boundary }
                guard n > 0 || !ooo.isEmpty else { return }
                cut.series.append(BlockSeries(labels: s.labels(symbols), chunks: Array(s.closed[0..<n])))
                cut.marks.append(HeadCut.Mark(id: s.id, closed: n, ooo: Set(ooo.map(\.timestamp))))
                if !ooo.isEmpty { withOutOfOrder.append((cut.series.count - 1, ooo)) }
            }
        }
        // Out of the stripe locks: decoding and cutting again is no work for a lock ingest waits on.
        for (i, ooo) in withOutOfOrder { cut.series[i].chunks = Self.merge(cut.series[i].chunks, ooo) }
        for c in cut.series.lazy.flatMap(\.chunks) {
            cut.minTime = min(cut.minTime, c.minTime)
            cut.maxTime = max(cut.maxTime, c.maxTime)
        }
        return cut
    }

    /// Drops from memory what `cut` took (once its block is durable and readable), then
    /// removes the series left with no data at all: under the commit lock, so no commit holds
    /// one of them. Returns the number of series removed.
    @discardableResult
    func truncate(_ cut: HeadCut) -> Int {
        // Before any drop: a deferred read that missed one sees this (through the stripe lock).
        truncations.add(1, ordering: .sequentiallyConsistent)
        var freed = 0
        for mark in cut.marks {
            guard let s = series(id: mark.id) else { continue }
            stripes[stripe(forHash: s.hash)].map.withLock { _ in
                let n = min(mark.closed, s.closed.count)
                for c in s.closed[0..<n] { freed += c.bytes.count + MemoryLayout<ClosedChunk>.stride }
                s.closed.removeFirst(n)
                if !mark.ooo.isEmpty {
                    let before = s.ooo.count
                    s.ooo.removeAll { mark.ooo.contains($0.timestamp) }
                    freed += (before - s.ooo.count) * MemoryLayout<Sample>.stride
                }
            }
        }
        var removed = 0
        commitState.withLock { _ in
            let all = byID.withLock { $0.compactMap { $0 } }
            var newMin = Int64.max
            for s in all {
                let empty: Bool = stripes[stripe(forHash: s.hash)].map.withLock { map in
                    if let first = s.closed.first { newMin = min(newMin, first.minTime) }
                    if s.head.count > 0 { newMin = min(newMin, s.headMinTime) }
                    if let first = s.ooo.first { newMin = min(newMin, first.timestamp) }
                    guard s.closed.isEmpty, s.head.count == 0, s.ooo.isEmpty else { return false }
                    map.remove(s.hash, s)
                    s.dropBox(&map.resumeBoxes)
                    s.removed = true
                    return true
                }
                guard empty else { continue }
                byID.withLock { $0[Int(s.id)] = nil }
                // Readers check `removed` under the stripe lock before they read the symbols;
                // commits cannot hold the series (commit lock).
                postings.remove(s.id, s.labels(symbols))
                s.withRefs { symbols.release($0) }
                freed += s.refsByteCount + Self.seriesOverhead
                removed += 1
            }
            seriesCount.subtract(removed, ordering: .relaxed)
            minTimeValue.store(newMin, ordering: .relaxed)
            if newMin == .max { maxTimeValue.store(.min, ordering: .relaxed) }
        }
        bytes.subtract(freed, ordering: .relaxed)
        return removed
    }

    /// Chunks plus out-of-order samples, decoded, merged (a chunk's sample wins a tie) and cut
    /// again into chunks of at most 120 samples.
    static func merge(_ chunks: [ClosedChunk], _ ooo: [Sample]) -> [ClosedChunk] {
        var lists: [[Sample]] = chunks.map { c in
            var samples: [Sample] = []
            XORChunk.decode(c.bytes, into: &samples)
            return samples
        }
        lists.append(ooo)
        return encode(mergeSamples(lists))
    }

    /// The samples of `chunks` (in time order, not overlapping), decoded.
    static func decode(_ chunks: [ClosedChunk]) -> [Sample] {
        var samples: [Sample] = []
        for c in chunks { XORChunk.decode(c.bytes, into: &samples) }
        return samples
    }

    /// `samples` (in time order) as XOR chunks of at most 120 samples; with `range`, no chunk
    /// spans a multiple of it (a block boundary).
    static func encode(_ samples: [Sample], range: Int64? = nil) -> [ClosedChunk] {
        var out: [ClosedChunk] = []
        var i = 0
        while i < samples.count {
            var chunk = XORChunk(capacity: 256)
            let first = samples[i].timestamp
            let rangeEnd = range.map { ChunkCutter.rangeEnd(first, $0) } ?? .max
            var last = first
            while i < samples.count, chunk.count < ChunkCutter.samplesPerChunk, samples[i].timestamp < rangeEnd {
                chunk.append(samples[i].timestamp, samples[i].value)
                last = samples[i].timestamp
                i += 1
            }
            out.append(ClosedChunk(bytes: chunk.compactBytes, minTime: first, maxTime: last))
        }
        return out
    }
}
