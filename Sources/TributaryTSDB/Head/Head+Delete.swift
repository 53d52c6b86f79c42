import Synchronization
import TributaryModel
import TributaryWAL

extension Head {
    /// Deletes `[start, end]` from the series `matchers` select (the admin API's
    /// `delete_series`): a deletions record logged, then each series' chunks rewritten without
    /// the range. The head keeps no tombstones: what is gone is gone from memory, from the next
    /// checkpoint and from the blocks written later. Under the commit lock, so the WAL orders
    /// the deletion exactly between the commits before and after it, and replay repeats it.
    /// Returns the number of series that lost samples.
    @discardableResult
    public func delete(_ matchers: [Matcher], start: Int64, end: Int64) throws(StorageError) -> Int {
        guard start <= end else { return 0 }
        let outcome: Result<Int, StorageError> = commitState.withLock { _ in
            let ids: [UInt32]
            do throws(QueryError) { ids = try postings.select(matchers) } catch { return .failure(StorageError(error.message)) }
            let hit = series(ids: ids[...]).compactMap { $0 }.filter { s in
                stripes[stripe(forHash: s.hash)].map.withLock { _ in s.holdsSamples(from: start, to: end) }
            }
            guard !hit.isEmpty else { return .success(0) }
            if let wal {
                var record: [UInt8] = []
                RecordCodec.appendDeletions(ids: hit.map(\.id), minTime: start, maxTime: end, to: &record)
                do throws(WALError) {
                    try wal.log(record)
                } catch {
                    return .failure(StorageError("cannot write the WAL: \(error.message)"))
                }
            }
            for s in hit { applyDeletion(s, start: start, end: end) }
            // Cached query answers may hold the deleted samples.
            removalCount.add(1, ordering: .releasing)
            return .success(hit.count)
        }
        return try outcome.get()
    }

    /// Rewrites `s` without the samples in `[start, end]` (a live deletion or its WAL record).
    func applyDeletion(_ s: MemSeries, start: Int64, end: Int64) {
        let grown = stripes[stripe(forHash: s.hash)].map.withLock { table in
            // The chunks are written again: resume points into the old bytes would be wrong.
            s.dropBox(&table.resumeBoxes)
            return s.delete(from: start, to: end, range: options.chunkRange)
        }
        bytes.add(grown, ordering: .relaxed)
    }
}

extension MemSeries {
    /// Whether any sample lies in `[start, end]`. Caller holds the stripe lock.
    func holdsSamples(from start: Int64, to end: Int64) -> Bool {
        if ooo.contains(where: { $0.timestamp >= start && $0.timestamp <= end }) { return true }
        var samples: [Sample] = []
        for c in closed where c.maxTime >= start && c.minTime <= end {
            XORChunk.decode(c.bytes, from: start, to: end, into: &samples)
            if !samples.isEmpty { return true }
        }
        if head.count > 0, head.maxTime >= start, headMinTime <= end { XORChunk.decode(head.bytes, from: start, to: end, into: &samples) }
        return !samples.isEmpty
    }

    /// Drops the samples in `[start, end]`: everything decoded, filtered and encoded again as
    /// closed chunks that do not span a multiple of `range`; the next sample opens a new head
    /// chunk. `lastT` stays, so later samples are appended as before. Caller holds the stripe
    /// lock. Returns the change in bytes held.
    func delete(from start: Int64, to end: Int64, range: Int64) -> Int {
        var samples = Head.decode(closed)
        if head.count > 0 { XORChunk.decode(head.bytes, into: &samples) }
        if !ooo.isEmpty { samples = mergeSamples([samples, ooo]) }
        let kept = samples.filter { $0.timestamp < start || $0.timestamp > end }
        guard kept.count < samples.count else { return 0 }
        let before = footprint
        closed = Head.encode(kept, range: range)
        head.release()
        headMinTime = .max
        ooo = []
        return footprint - before
    }

    private var footprint: Int {
        closed.reduce(0) { $0 + $1.bytes.count + MemoryLayout<ClosedChunk>.stride } + head.bytes.count + ooo.count * MemoryLayout<Sample>.stride
    }
}
