import Foundation
import Logging
import Synchronization
import TributaryModel

extension DB {
    /// Deletes `[start, end]` of the series `matchers` select, as Prometheus's
    /// `delete_series`: from the head's memory at once (logged to the WAL), and as tombstones
    /// in the blocks, hidden from every read until ``cleanTombstones()`` or a compaction
    /// rewrites them. Runs between maintenance runs, never during one (a head cut counts the
    /// chunks it took). Returns the number of series that lost samples in the head and blocks
    /// (a series counted once per place).
    @discardableResult
    public func delete(_ matchers: [Matcher], start: Int64, end: Int64) throws(BlockError) -> Int {
        try maintenance.withLock { _ throws(BlockError) in
            var hit = 0
            do throws(StorageError) {
                hit += try head.delete(matchers, start: start, end: end)
            } catch {
                throw BlockError("head: \(error.message)")
            }
            for b in blocks { hit += try b.delete(matchers, start: start, end: end) }
            head.removalCount.add(1, ordering: .releasing)  // cached answers may hold them
            logger.info("series deleted", metadata: ["matchers": "\(matchers)", "start": "\(start)", "end": "\(end)", "series": "\(hit)"])
            return hit
        }
    }

    /// Rewrites every block that has tombstones without the deleted samples (Prometheus's
    /// `clean_tombstones`): the new block keeps the old one's range, level and sources and names
    /// it as its parent, so a crash between writing it and deleting the old one is undone at the
    /// next open. A block left with no samples is deleted. Returns the number of blocks rewritten.
    @discardableResult
    public func cleanTombstones() throws(BlockError) -> Int {
        try maintenance.withLock { _ throws(BlockError) in
            var rewritten = 0
            for b in blocks where !b.tombstones.isEmpty {
                var compaction = b.meta.compaction
                compaction.parents = [BlockMeta.Parent(ulid: b.ulid, minTime: b.minTime, maxTime: b.maxTime)]
                try rewrite([b], compaction: compaction)
                rewritten += 1
            }
            return rewritten
        }
    }
}
