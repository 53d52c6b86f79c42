/// An exemplar attached to a sample: its own labels (often a trace id), value and timestamp.
public struct Exemplar: Sendable, Equatable {
    public var labels: Labels
    public var value: Double
    public var timestamp: Int64

    public init(labels: Labels, value: Double, timestamp: Int64) {
        self.labels = labels
        self.value = value
        self.timestamp = timestamp
    }

    public static func == (lhs: Exemplar, rhs: Exemplar) -> Bool {
        lhs.labels == rhs.labels && lhs.value.bitPattern == rhs.value.bitPattern && lhs.timestamp == rhs.timestamp
    }
}

extension Exemplar {
    /// Most code points an exemplar's label names and values may hold together (Prometheus's
    /// `ExemplarMaxLabelSetLength`); longer exemplars are dropped, their sample kept.
    public static let maxLabelSetRunes = 128

    /// True when labels of `runes` code points in `bytes` bytes are too long to keep. The byte
    /// bound (four per code point) keeps invalid UTF-8, whose code points are miscounted, small.
    @inlinable
    public static func labelsTooLong(runes: Int, bytes: Int) -> Bool {
        runes > maxLabelSetRunes || bytes > 4 * maxLabelSetRunes
    }
}
