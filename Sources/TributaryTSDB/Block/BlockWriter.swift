import Foundation
import TributaryModel

#if canImport(Glibc)
    import Glibc
#endif

/// One series' chunks for a block being written.
struct BlockSeries {
    var labels: Labels
    var chunks: [ClosedChunk]
}

/// Writes a block as Prometheus does: everything into `<ulid>.tmp-for-creation/`, each file
/// fsynced, then renamed to `<ulid>/` and the parent directory fsynced. A crash before the
/// rename leaves a temporary directory that ``BlockDirectory`` removes at start; after it, a
/// complete block.
enum BlockWriter {
    static let temporarySuffix = ".tmp-for-creation"

    /// Writes `series` (sorted here) as a block covering `[minTime, maxTime)` under `parent`;
    /// returns its meta, or nil when there is nothing to write.
    static func write(
        _ series: [BlockSeries], minTime: Int64, maxTime: Int64, into parent: String,
        compaction: BlockMeta.Compaction? = nil
    ) throws(BlockError) -> BlockMeta? {
        var sorted = series.filter { !$0.chunks.isEmpty }.sorted { $0.labels < $1.labels }.makeIterator()
        return try write(minTime: minTime, maxTime: maxTime, into: parent, compaction: compaction) { () throws(BlockError) in sorted.next() }
    }

    /// Writes the series `next` hands out, one at a time in label order (so a compaction never
    /// holds more than one series' chunks), as a block covering `[minTime, maxTime)`.
    static func write(
        minTime: Int64, maxTime: Int64, into parent: String, compaction: BlockMeta.Compaction? = nil,
        ulid: ULID = ULID(milliseconds: UInt64(Date().timeIntervalSince1970 * 1000)),
        next: () throws(BlockError) -> BlockSeries?
    ) throws(BlockError) -> BlockMeta? {
        let temporary = parent + "/" + ulid.description + temporarySuffix
        let final = parent + "/" + ulid.description
        try? FileManager.default.removeItem(atPath: temporary)
        do {
            try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        } catch {
            throw BlockError("\(temporary): cannot create: \(error)")
        }
        var meta = BlockMeta(ulid: ulid, minTime: minTime, maxTime: maxTime)
        if let compaction { meta.compaction = compaction }

        let chunkWriter = try ChunkSegmentWriter(directory: temporary + "/chunks")
        var entries: [(labels: Labels, chunks: [ChunkMeta])] = []
        do {
            while let s = try next() {
                guard !s.chunks.isEmpty else { continue }
                var metas: [ChunkMeta] = []
                for c in s.chunks.sorted(by: { $0.minTime < $1.minTime }) {
                    let ref = try chunkWriter.append(xor: c.bytes)
                    metas.append(ChunkMeta(ref: ref, minTime: c.minTime, maxTime: c.maxTime))
                    meta.stats.numChunks += 1
                    meta.stats.numSamples += UInt64(c.bytes.count >= 2 ? Int(c.bytes[0]) << 8 | Int(c.bytes[1]) : 0)
                }
                entries.append((s.labels, metas))
            }
            try chunkWriter.close()
            guard !entries.isEmpty else {
                try? FileManager.default.removeItem(atPath: temporary)
                return nil
            }
            meta.stats.numSeries = UInt64(entries.count)
            try writeFile(temporary + "/index", IndexWriter.encode(entries))
            try writeFile(temporary + "/" + Tombstones.fileName, Tombstones().encoded())
            try writeFile(temporary + "/meta.json", Array(meta.encoded()))
            try syncDirectory(temporary + "/chunks")
            try syncDirectory(temporary)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        guard rename(temporary, final) == 0 else { throw BlockError("\(final): cannot rename into place: \(String(cString: strerror(errno)))") }
        try syncDirectory(parent)
        return meta
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) throws(BlockError) {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw BlockError("\(path): cannot create")
        }
        do {
            try handle.write(contentsOf: bytes)
            try handle.synchronize()
            try handle.close()
        } catch {
            throw BlockError("\(path): cannot write: \(error)")
        }
    }

    /// Replaces `path` atomically: a temporary file written and fsynced, renamed over it, the
    /// directory fsynced.
    static func replaceFile(_ path: String, _ bytes: [UInt8]) throws(BlockError) {
        try writeFile(path + ".tmp", bytes)
        guard rename(path + ".tmp", path) == 0 else { throw BlockError("\(path): cannot rename into place: \(String(cString: strerror(errno)))") }
        try syncDirectory((path as NSString).deletingLastPathComponent)
    }

    static func syncDirectory(_ path: String) throws(BlockError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw BlockError("\(path): cannot open to sync: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw BlockError("\(path): cannot sync: \(String(cString: strerror(errno)))") }
    }
}
