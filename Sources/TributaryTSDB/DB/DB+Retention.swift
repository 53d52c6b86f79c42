import Foundation
import Logging
import Synchronization
import TributaryModel
import TributaryWAL

extension DB {
    /// Deletes whole blocks past the retention time (measured from the newest block's end, as
    /// Prometheus does, not from the wall clock) or beyond the retention size (blocks and the
    /// head's WAL together, newest blocks kept first). The WAL itself is never cut by retention.
    /// Returns the blocks deleted.
    @discardableResult
    func applyRetention() -> [String] {
        let blocks = self.blocks
        guard !blocks.isEmpty else { return [] }
        var doomed = Set<String>()
        if options.retentionTime > 0, let newest = blocks.map(\.maxTime).max() {
            for b in blocks where newest - b.maxTime >= options.retentionTime { doomed.insert(b.ulid) }
        }
        if options.retentionSize > 0 {
            var total = head.wal.map { Self.directorySize($0.directory) } ?? 0
            var over = false
            for b in blocks.sorted(by: { $0.maxTime > $1.maxTime }) {
                total += b.sizeBytes
                if total > options.retentionSize { over = true }
                if over { doomed.insert(b.ulid) }
            }
        }
        guard !doomed.isEmpty else { return [] }
        state.withLock { $0.removeAll { doomed.contains($0.ulid) } }
        counts.retentionDeletions.add(doomed.count, ordering: .relaxed)
        // Answers cached from the deleted data are stale now.
        head.removalCount.add(1, ordering: .releasing)
        for b in blocks where doomed.contains(b.ulid) {
            Self.delete(b.directory)
            logger.info("block deleted by retention", metadata: ["block": "\(b.ulid)", "min_time": "\(b.minTime)", "max_time": "\(b.maxTime)"])
        }
        return Array(doomed)
    }

    /// Bytes of the regular files under `path`.
    static func directorySize(_ path: String) -> Int {
        guard let files = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total = 0
        while let name = files.nextObject() as? String {
            total += (try? FileManager.default.attributesOfItem(atPath: path + "/" + name)[.size] as? Int) ?? 0
        }
        return total
    }
}
