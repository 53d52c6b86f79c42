import Foundation
import Synchronization
import TributaryModel

/// A persisted block opened for reading: `meta.json` parsed, `index` and `chunks/` mapped,
/// `tombstones` read (the only part that changes: ``delete(_:start:end:)``).
public final class Block: Sendable {
    public let directory: String
    public let ulid: String
    public let minTime: Int64
    /// Exclusive, as in `meta.json`.
    public let maxTime: Int64
    let index: IndexReader
    let chunks: ChunkSegmentReader
    private let state: Mutex<(meta: BlockMeta, tombstones: Tombstones)>

    public init(directory: String) throws(BlockError) {
        self.directory = directory
        let meta = try BlockMeta.read(directory: directory)
        ulid = meta.ulid
        minTime = meta.minTime
        maxTime = meta.maxTime
        index = try IndexReader(path: directory + "/index")
        chunks = try ChunkSegmentReader(directory: directory + "/chunks")
        state = Mutex((meta, try Tombstones.read(directory: directory)))
    }

    public var meta: BlockMeta { state.withLock { $0.meta } }

    /// The deleted ranges of the block's series.
    public var tombstones: Tombstones { state.withLock { $0.tombstones } }

    /// Bytes on disk: chunks, index, tombstones and meta.json (what size retention counts).
    public var sizeBytes: Int {
        let files = ["index", "tombstones", "meta.json"].map { directory + "/" + $0 }
        let others = files.reduce(0) { total, path in
            total + ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
        }
        return chunks.size + others
    }

    /// Whether the block holds data in `[start, end]` (inclusive; its maxTime is exclusive).
    public func overlaps(start: Int64, end: Int64) -> Bool { minTime <= end && maxTime > start }

    public func querier() -> BlockQuerier { BlockQuerier(block: self, tombstones: tombstones) }

    /// Marks `[start, end]` deleted for the series `matchers` select, each range clamped to
    /// the series' chunks, as Prometheus's `Block.Delete`: `tombstones` and `meta.json`
    /// rewritten atomically. Returns the number of series that got a tombstone.
    @discardableResult
    public func delete(_ matchers: [Matcher], start: Int64, end: Int64) throws(BlockError) -> Int {
        guard start <= end, overlaps(start: start, end: end) else { return 0 }
        var added: [(UInt32, Tombstones.Interval)] = []
        let refs: [UInt32]
        do { refs = try index.select(matchers) } catch { throw BlockError("block \(ulid): \(error.description)") }
        for ref in refs {
            let chunks = try index.series(ref).chunks
            guard let first = chunks.first, let last = chunks.last else { continue }
            guard chunks.contains(where: { $0.maxTime >= start && $0.minTime <= end }) else { continue }
            added.append((ref, Tombstones.Interval(max(start, first.minTime), min(end, last.maxTime))))
        }
        guard !added.isEmpty else { return 0 }
        try state.withLock { state throws(BlockError) in
            var tombstones = state.tombstones
            for (ref, interval) in added { tombstones.add(ref, interval) }
            var meta = state.meta
            meta.stats.numTombstones = UInt64(tombstones.count)
            try tombstones.write(directory: directory)
            try BlockWriter.replaceFile(directory + "/meta.json", Array(meta.encoded()))
            state = (meta, tombstones)
        }
        return added.count
    }
}

extension IndexReader: PostingsIndex {
    package func allPostings() throws(QueryError) -> [UInt32] {
        do { return try allPostingsList() } catch { throw QueryError(error.description) }
    }

    package func postings(_ name: String, _ value: String) throws(QueryError) -> [UInt32] {
        do { return try postingsList(name, value) } catch { throw QueryError(error.description) }
    }

    package func postings(_ name: String, where predicate: (String) -> Bool) throws(QueryError) -> [UInt32] {
        var lists: [[UInt32]] = []
        do {
            for (value, offset) in postingsTable[name] ?? [] where predicate(value) { lists.append(try postings(at: offset)) }
        } catch {
            throw QueryError(error.description)
        }
        return Postings.merge(lists)
    }
}

/// Reads one block. The chunks of the selected series are checked when selected, so a damaged
/// chunk fails the query with its file and offset rather than later, and decoded in place in
/// the mapping (``BlockSeriesSamples``).
public struct BlockQuerier: Querier {
    let block: Block
    /// Taken when the querier was made: a deletion meanwhile does not change what it reads.
    let tombstones: Tombstones

    public func select(_ matchers: [Matcher], start: Int64, end: Int64) throws(QueryError) -> [QueriedSeries] {
        // Series references follow label order, so postings come sorted.
        try selectUnsorted(matchers, start: start, end: end)
    }

    public func mayHoldSamples(start: Int64, end: Int64) -> Bool { block.overlaps(start: start, end: end) }

    public func selectUnsorted(_ matchers: [Matcher], start: Int64, end: Int64) throws(QueryError) -> [QueriedSeries] {
        guard mayHoldSamples(start: start, end: end) else { return [] }
        var out: [QueriedSeries] = []
        do {
            for ref in try block.index.select(matchers) {
                let series = try block.index.series(ref)
                var spans: [ChunkSpan] = []
                for c in series.chunks where c.maxTime >= start && c.minTime <= end { spans.append(try block.chunks.checkedSpan(c.ref)) }
                guard !spans.isEmpty else { continue }
                let samples = BlockSeriesSamples(reader: block.chunks, spans: spans, start: start, end: end)
                guard let deleted = tombstones.intervals(ref) else {
                    out.append(QueriedSeries(labels: series.labels, samples: samples))
                    continue
                }
                // Rare: the samples left, decoded (a snapshot's out-of-order list holds them).
                var decoded: [Sample] = []
                samples.appendAll(to: &decoded)
                let kept = deleted.filter(decoded)
                if kept.isEmpty { continue }
                out.append(QueriedSeries(labels: series.labels, samples: SeriesSnapshot(closed: [], ooo: kept, start: start, end: end)))
            }
        } catch let error as BlockError {
            throw QueryError("block \(block.ulid): \(error.description)")
        } catch {
            throw QueryError("block \(block.ulid): \(error)")
        }
        return out
    }

    public func labelNames(matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String] {
        guard block.overlaps(start: start, end: end) else { return [] }
        var names = Set<String>()
        if matchers.isEmpty {
            names = Set(block.index.postingsTable.keys)
        } else {
            for s in try select(matchers, start: start, end: end) { for (name, _) in s.labels.pairs { names.insert(name) } }
        }
        let sorted = names.sorted()
        return limit > 0 ? Array(sorted.prefix(limit)) : sorted
    }

    public func labelValues(_ name: String, matching matchers: [Matcher], start: Int64, end: Int64, limit: Int) throws(QueryError) -> [String] {
        guard block.overlaps(start: start, end: end) else { return [] }
        var values: [String]
        if matchers.isEmpty {
            values = (block.index.postingsTable[name] ?? []).map(\.value)  // sorted by bytes, as written
        } else {
            var set = Set<String>()
            for s in try select(matchers, start: start, end: end) { if let v = s.labels.value(of: name) { set.insert(v) } }
            values = set.sorted()
        }
        return limit > 0 ? Array(values.prefix(limit)) : values
    }

    public func cardinality(limit: Int) -> CardinalityStats {
        CardinalityStats(
            numSeries: Int(block.meta.stats.numSeries), numLabelPairs: block.index.postingsTable.values.reduce(0) { $0 + $1.count },
            chunkCount: Int(block.meta.stats.numChunks), minTime: block.minTime, maxTime: block.maxTime,
            seriesCountByMetricName: [], labelValueCountByLabelName: [], memoryInBytesByLabelName: [], seriesCountByLabelValuePair: [])
    }
}
