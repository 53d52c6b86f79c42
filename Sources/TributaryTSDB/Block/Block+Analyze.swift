import Foundation

/// Cardinality and density of one block, as `promtool tsdb analyze` prints them.
public struct BlockAnalysis: Sendable {
    public struct Entry: Sendable {
        public var name: String
        public var count: Int
    }

    public var series = 0
    public var labelNames = 0
    public var labelPairs = 0
    public var postingsEntries = 0
    /// Bytes of chunk segments per sample.
    public var bytesPerSample = 0.0
    public var valuesPerLabelName: [Entry] = []
    public var seriesPerMetricName: [Entry] = []
    public var seriesPerLabelPair: [Entry] = []
}

extension Block {
    /// The block's cardinality from its index (postings lengths), each list cut to `limit`.
    public func analyze(limit: Int = 10) throws(BlockError) -> BlockAnalysis {
        var a = BlockAnalysis()
        a.series = Int(meta.stats.numSeries)
        a.labelNames = index.postingsTable.count
        var pairs: [BlockAnalysis.Entry] = []
        var metrics: [BlockAnalysis.Entry] = []
        for (name, values) in index.postingsTable {
            a.valuesPerLabelName.append(.init(name: name, count: values.count))
            for (value, offset) in values {
                let n = try index.postings(at: offset).count
                a.postingsEntries += n
                pairs.append(.init(name: "\(name)=\(value)", count: n))
                if name == "__name__" { metrics.append(.init(name: value, count: n)) }
            }
        }
        a.labelPairs = pairs.count
        func top(_ list: [BlockAnalysis.Entry]) -> [BlockAnalysis.Entry] {
            Array(list.sorted { $0.count != $1.count ? $0.count > $1.count : $0.name < $1.name }.prefix(limit))
        }
        a.valuesPerLabelName = top(a.valuesPerLabelName)
        a.seriesPerMetricName = top(metrics)
        a.seriesPerLabelPair = top(pairs)
        let samples = max(Double(meta.stats.numSamples), 1)
        a.bytesPerSample = Double(chunks.size - chunks.segments.count * ChunkSegments.headerSize) / samples
        return a
    }

    /// The blocks in a data directory, oldest first, opened read-only (nothing is cleaned up:
    /// for tools looking at a directory another process may own).
    public static func openAll(in directory: String) throws(BlockError) -> [Block] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw BlockError("\(directory): cannot list: \(error)")
        }
        var blocks: [Block] = []
        for name in names.sorted() where ULID(name) != nil {
            blocks.append(try Block(directory: directory + "/" + name))
        }
        return blocks.sorted { ($0.minTime, $0.ulid) < ($1.minTime, $1.ulid) }
    }
}
