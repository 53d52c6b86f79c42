import Foundation
import Logging
import Synchronization
import TributaryModel

extension DB {
    /// Compacts blocks while the planner finds work: overlapping blocks first (late data, a
    /// block written again after a crash), then adjacent blocks that fill a larger range.
    func compact() throws(BlockError) {
        while let group = plan() {
            try compact(group)
        }
    }

    /// The next blocks to merge, as Prometheus's planner picks them: any chain of overlapping
    /// blocks; else, leaving the newest block out, the blocks of one aligned range of the next
    /// size (6h, 18h, …) when there are two or more and they fill the range or end before the
    /// newest block starts.
    func plan() -> [Block]? {
        let blocks = self.blocks  // by minTime
        var chain: [Block] = []
        var chainEnd = Int64.min
        for b in blocks {
            if !chain.isEmpty, b.minTime < chainEnd {
                chain.append(b)
                chainEnd = max(chainEnd, b.maxTime)
                continue
            }
            if chain.count > 1 { return chain }
            chain = [b]
            chainEnd = b.maxTime
        }
        if chain.count > 1 { return chain }

        guard let newest = blocks.last else { return nil }
        let candidates = blocks.dropLast()
        for range in options.ranges.dropFirst() {
            var groups: [Int64: [Block]] = [:]
            for b in candidates {
                let start = Self.floor(b.minTime, range)
                guard b.maxTime <= start + range else { continue }  // spans past its range
                groups[start, default: []].append(b)
            }
            for start in groups.keys.sorted() {
                guard let group = groups[start], group.count > 1 else { continue }
                let minT = group.map(\.minTime).min() ?? start, maxT = group.map(\.maxTime).max() ?? start
                if maxT - minT == range || maxT <= newest.minTime { return group }
            }
        }
        return nil
    }

    static func floor(_ t: Int64, _ width: Int64) -> Int64 {
        let q = t / width
        return (t % width != 0 && t < 0 ? q - 1 : q) * width
    }

    /// Writes one block holding everything of `group`, then deletes `group`. Series present in
    /// several are merged (a timestamp taken once); chunks that overlap are decoded, merged and
    /// cut again.
    func compact(_ group: [Block]) throws(BlockError) {
        var compaction = BlockMeta.Compaction()
        compaction.level = (group.map(\.meta.compaction.level).max() ?? 1) + 1
        compaction.sources = Array(Set(group.flatMap(\.meta.compaction.sources))).sorted()
        compaction.parents = group.map { BlockMeta.Parent(ulid: $0.ulid, minTime: $0.minTime, maxTime: $0.maxTime) }
        try rewrite(group, compaction: compaction)
        counts.compactions.add(1, ordering: .relaxed)
    }

    /// Writes one block holding everything of `group` but its tombstoned samples, with
    /// `compaction` in its meta, then deletes `group`.
    func rewrite(_ group: [Block], compaction: BlockMeta.Compaction) throws(BlockError) {
        let started = ContinuousClock.now
        var series: [Labels: [(block: Block, chunks: [ChunkMeta], deleted: [Tombstones.Interval]?)]] = [:]
        for b in group {
            let tombstones = b.tombstones
            for ref in try b.index.allPostingsList() {
                let s = try b.index.series(ref)
                series[s.labels, default: []].append((b, s.chunks, tombstones.intervals(ref)))
            }
        }
        let order = series.keys.sorted()
        var index = 0
        let meta = try BlockWriter.write(
            minTime: group.map(\.minTime).min() ?? 0, maxTime: group.map(\.maxTime).max() ?? 0, into: directory, compaction: compaction
        ) { () throws(BlockError) -> BlockSeries? in
            guard index < order.count else { return nil }
            let labels = order[index]
            index += 1
            var chunks: [ClosedChunk] = []
            for part in series[labels] ?? [] {
                var own: [ClosedChunk] = []
                for c in part.chunks {
                    own.append(ClosedChunk(bytes: try part.block.chunks.chunk(c.ref), minTime: c.minTime, maxTime: c.maxTime))
                }
                // Deleted samples are left out for good (the tombstones stay with the parent).
                if let deleted = part.deleted { own = Head.encode(deleted.filter(Head.decode(own)), range: options.blockDuration) }
                chunks += own
            }
            chunks.sort { $0.minTime < $1.minTime }
            let overlapping = zip(chunks, chunks.dropFirst()).contains { $1.minTime <= $0.maxTime }
            if overlapping { chunks = Head.merge(chunks, []) }
            return BlockSeries(labels: labels, chunks: chunks)
        }
        let doomed = Set(group.map(\.ulid))
        let merged = try meta.map { m throws(BlockError) in try Block(directory: directory + "/" + m.ulid) }
        state.withLock { blocks in
            blocks.removeAll { doomed.contains($0.ulid) }
            if let merged { blocks = Self.ordered(blocks + [merged]) }
        }
        for b in group { Self.delete(b.directory) }
        logger.info(
            group.count == 1 ? "block rewritten without its tombstones" : "blocks compacted",
            metadata: [
                "from": "\(group.map(\.ulid))", "into": "\(meta?.ulid ?? "nothing")", "level": "\(compaction.level)",
                "series": "\(meta?.stats.numSeries ?? 0)", "seconds": "\(started.secondsElapsed)"
            ])
    }
}
