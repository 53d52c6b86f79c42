import Foundation
import TributaryModel

#if canImport(Glibc)
    import Glibc
#endif

extension DB {
    /// Prometheus's `admin/tsdb/snapshot`: every block hard-linked into `directory` (no copy;
    /// blocks never change), and unless `skipHead`, the head's data written there as one more
    /// block. The result is a data directory of its own, for backups or for promtool.
    public func snapshot(into directory: String, skipHead: Bool) throws(BlockError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw BlockError("\(directory): cannot create: \(error)")
        }
        // The head first, then the blocks listed after it: a block cut from the head meanwhile
        // is in that list (listed first, its samples were in neither, seen in
        // `BlocksOverHTTPTests`). What is in both is merged by queries and compaction.
        let series = skipHead ? [] : head.allSeries()
        for b in blocks {
            let target = directory + "/" + b.ulid
            try Self.link(b.directory, target)
        }
        guard !skipHead else { return }
        let minT = series.flatMap(\.chunks).map(\.minTime).min() ?? 0
        let maxT = series.flatMap(\.chunks).map(\.maxTime).max() ?? 0
        _ = try BlockWriter.write(series, minTime: minT, maxTime: maxT + 1, into: directory)
    }

    /// Hard-links the files of block directory `source` into a new directory `target`.
    static func link(_ source: String, _ target: String) throws(BlockError) {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: target + "/chunks", withIntermediateDirectories: true)
            for name in try fm.contentsOfDirectory(atPath: source + "/chunks") {
                try fm.linkItem(atPath: source + "/chunks/" + name, toPath: target + "/chunks/" + name)
            }
            for name in ["index", "meta.json", "tombstones"] where fm.fileExists(atPath: source + "/" + name) {
                try fm.linkItem(atPath: source + "/" + name, toPath: target + "/" + name)
            }
        } catch {
            throw BlockError("\(target): cannot link block files from \(source): \(error)")
        }
    }
}

extension Head {
    /// Every series' data now: its chunks (the open one too), out-of-order samples merged in.
    func allSeries() -> [BlockSeries] {
        let all = byID.withLock { $0.compactMap { $0 } }
        var out: [BlockSeries] = []
        for s in all {
            let read: (Labels, [ClosedChunk], [Sample])? = stripes[stripe(forHash: s.hash)].map.withLock { _ in
                guard !s.removed else { return nil }
                var chunks = s.closed
                if s.head.count > 0 { chunks.append(ClosedChunk(bytes: s.head.bytes, minTime: s.headMinTime, maxTime: s.head.maxTime)) }
                return (s.labels(symbols), chunks, s.ooo)
            }
            guard let (labels, chunks, ooo) = read else { continue }
            let data = ooo.isEmpty ? chunks : Self.merge(chunks, ooo)  // outside the stripe lock
            if !data.isEmpty { out.append(BlockSeries(labels: labels, chunks: data)) }
        }
        return out
    }
}
