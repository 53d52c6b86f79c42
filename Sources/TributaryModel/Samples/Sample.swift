/// One float sample: a millisecond timestamp and a value.
public struct Sample: Sendable, Equatable {
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64
    public var value: Double

    @inlinable
    public init(timestamp: Int64, value: Double) {
        self.timestamp = timestamp
        self.value = value
    }

    /// Equality by bit pattern of the value, so NaNs (and stale markers) compare as stored.
    @inlinable
    public static func == (lhs: Sample, rhs: Sample) -> Bool {
        lhs.timestamp == rhs.timestamp && lhs.value.bitPattern == rhs.value.bitPattern
    }

    /// True when the value is the staleness marker.
    @inlinable
    public var isStale: Bool { StaleMarker.isStale(value) }
}

/// Prometheus's staleness marker: a NaN with the bit pattern `0x7ff0000000000002`, sent when a
/// series ends. It must be compared by bits; an ordinary NaN is not a stale marker.
public enum StaleMarker {
    public static let bitPattern: UInt64 = 0x7FF0_0000_0000_0002
    public static let value = Double(bitPattern: bitPattern)

    @inlinable
    public static func isStale(_ value: Double) -> Bool {
        value.bitPattern == bitPattern
    }
}
