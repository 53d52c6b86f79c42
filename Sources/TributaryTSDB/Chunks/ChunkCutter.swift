/// Decides when a series' head chunk is full, as Prometheus's head does (`appendPreprocessor`):
/// a chunk ends at the block-range boundary; once it holds a quarter of the target (30 of 120
/// samples) its end is re-estimated so the rest of the range is split into chunks of about 120
/// samples; a chunk that reaches twice the target is cut regardless.
public struct ChunkCutter: Sendable {
    /// Samples a chunk should hold.
    public static let samplesPerChunk = 120

    /// Width of a block range in milliseconds (2h by default).
    public let chunkRange: Int64
    /// Time at or after which the next sample starts a new chunk.
    public private(set) var nextAt: Int64 = .min

    public init(chunkRange: Int64 = 2 * 3600 * 1000) {
        self.chunkRange = chunkRange
    }

    /// Call before appending `t` to a chunk that holds `count` samples from `minTime` to
    /// `maxTime`. Returns true when the sample must start a new chunk (and then re-arms itself
    /// for that chunk).
    public mutating func mustCut(at t: Int64, count: Int, minTime: Int64, maxTime: Int64) -> Bool {
        if count == 0 {
            nextAt = Self.rangeEnd(t, chunkRange)
            return false
        }
        if count == Self.samplesPerChunk / 4 {
            nextAt = Self.estimateEnd(start: minTime, current: maxTime, max: nextAt)
        }
        if t >= nextAt || count >= Self.samplesPerChunk * 2 {
            nextAt = Self.rangeEnd(t, chunkRange)
            return true
        }
        return false
    }

    /// Prometheus's `rangeForTimestamp`: `t / width * width + width`, with Go's (and Swift's)
    /// division that truncates toward zero.
    static func rangeEnd(_ t: Int64, _ width: Int64) -> Int64 {
        t / width * width + width
    }

    /// Prometheus's `computeChunkEndTime`: spread the remaining range evenly over chunks sized
    /// like the current one would be when full.
    static func estimateEnd(start: Int64, current: Int64, max: Int64) -> Int64 {
        let n = Double(max - start) / (Double(current - start + 1) * 4)
        if n <= 1 { return max }
        return Int64(Double(start) + Double(max - start) / n.rounded(.down))
    }
}
