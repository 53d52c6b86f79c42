/// Decides when a series' head chunk is full, as Prometheus's head does (`appendPreprocessor`):
/// a chunk ends at the block-range boundary; once it holds a quarter of the target (30 of 120
/// samples) its end is re-estimated so the rest of the range is split into chunks of about 120
/// samples; a chunk that reaches twice the target is cut regardless.
///
/// The state is one timestamp per series (`nextAt`, kept by the caller: a head series stores
/// it in its own fields); the block range is the head's.
public enum ChunkCutter {
    /// Samples a chunk should hold.
    public static let samplesPerChunk = 120

    /// Call before appending `t` to a chunk that holds `count` samples from `minTime` to
    /// `maxTime`, with `nextAt` the time at or after which the next sample starts a new chunk
    /// and `range` the block range (ms). Returns true when the sample must start a new chunk
    /// (and then re-arms `nextAt` for that chunk).
    @inline(__always)
    public static func mustCut(at t: Int64, count: Int, minTime: Int64, maxTime: Int64, range: Int64, nextAt: inout Int64) -> Bool {
        if count == 0 {
            nextAt = rangeEnd(t, range)
            return false
        }
        if count == samplesPerChunk / 4 {
            nextAt = estimateEnd(start: minTime, current: maxTime, max: nextAt)
        }
        if t >= nextAt || count >= samplesPerChunk * 2 {
            nextAt = rangeEnd(t, range)
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
