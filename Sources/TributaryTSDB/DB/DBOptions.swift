/// Settings of the persisted part of the TSDB (receiver.yml `storage:`).
public struct DBOptions: Sendable, Equatable {
    /// The shortest block range (Prometheus's `--storage.tsdb.min-block-duration`, 2h): the
    /// head is written to a block once it spans 1.5 times this.
    public var blockDuration: Int64 = 2 * 3600 * 1000
    /// Blocks whose end is this far behind the newest block's end are deleted (0 = never;
    /// `storage.retention_time`, Prometheus's `--storage.tsdb.retention.time`, 15d).
    public var retentionTime: Int64 = 15 * 24 * 3600 * 1000
    /// Blocks are deleted, oldest first, while blocks and WAL together exceed this many bytes
    /// (0 = no limit; `storage.retention_size`).
    public var retentionSize: Int = 0

    public init() {}

    /// Compaction ranges: the block duration times 3, 9, 27 … (2h, 6h, 18h, 54h …), up to a
    /// tenth of the retention time and at most 31 days, as Prometheus's `ExponentialBlockRanges`.
    public var ranges: [Int64] {
        var limit: Int64 = 31 * 24 * 3600 * 1000
        if retentionTime > 0 { limit = min(limit, retentionTime / 10) }
        var out = [blockDuration]
        while out.count < 10, let last = out.last, last * 3 <= limit { out.append(last * 3) }
        return out
    }
}
