import Foundation

/// A block's `meta.json`, as Prometheus writes it (times in milliseconds, `maxTime` exclusive).
public struct BlockMeta: Codable, Sendable, Equatable {
    public struct Stats: Codable, Sendable, Equatable {
        public var numSamples: UInt64 = 0
        public var numSeries: UInt64 = 0
        public var numChunks: UInt64 = 0
        public var numTombstones: UInt64? = nil
        public var numFloatSamples: UInt64? = nil
        public var numHistogramSamples: UInt64? = nil
        public init() {}
    }

    public struct Parent: Codable, Sendable, Equatable {
        public var ulid: String
        public var minTime: Int64
        public var maxTime: Int64
    }

    public struct Compaction: Codable, Sendable, Equatable {
        public var level: Int = 1
        public var sources: [String] = []
        public var parents: [Parent]? = nil
        public var deletable: Bool? = nil
        public var failed: Bool? = nil
        public var hints: [String]? = nil
        public init() {}
    }

    public var ulid: String
    public var minTime: Int64
    public var maxTime: Int64
    public var stats = Stats()
    public var compaction = Compaction()
    public var version = 1

    public init(ulid: ULID, minTime: Int64, maxTime: Int64) {
        self.ulid = ulid.description
        self.minTime = minTime
        self.maxTime = maxTime
        compaction.sources = [ulid.description]
    }

    /// Reads `meta.json` in `directory`.
    public static func read(directory: String) throws(BlockError) -> BlockMeta {
        let path = directory + "/meta.json"
        guard let data = FileManager.default.contents(atPath: path) else { throw BlockError("\(path): cannot read") }
        let meta: BlockMeta
        do {
            meta = try JSONDecoder().decode(BlockMeta.self, from: data)
        } catch {
            throw BlockError("\(path): not a block's meta.json: \(error)")
        }
        guard meta.version == 1 else { throw BlockError("\(path): meta.json version \(meta.version), only 1 is known") }
        guard meta.minTime <= meta.maxTime else { throw BlockError("\(path): minTime \(meta.minTime) after maxTime \(meta.maxTime)") }
        return meta
    }

    func encoded() throws(BlockError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { return try encoder.encode(self) } catch { throw BlockError("cannot encode meta.json: \(error)") }
    }
}
