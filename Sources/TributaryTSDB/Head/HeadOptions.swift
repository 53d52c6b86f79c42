/// Settings of the in-memory head.
public struct HeadOptions: Sendable, Equatable {
    /// Block range in milliseconds; chunks never span a boundary (2h).
    public var chunkRange: Int64 = 2 * 3600 * 1000
    /// How far behind the newest sample an out-of-order sample may be and still be stored, in
    /// milliseconds; 0 refuses every out-of-order sample (Prometheus's default).
    public var outOfOrderWindow: Int64 = 0
    /// Approximate head memory the appenders may use, in bytes; 0 means unlimited. Above it,
    /// ``Head/isOverMemoryBudget`` turns true so the receiver can answer 429.
    public var memoryBudget: Int = 0
    /// Most exemplars kept in memory (`storage.exemplars.max_exemplars`, Prometheus's
    /// default); 0 or less turns exemplar storage off, and the receiver refuses exemplars.
    public var maxExemplars: Int = 100_000
    /// Lock stripes for the series map (a power of two).
    public var stripes: Int = 1024

    public init() {}
}
