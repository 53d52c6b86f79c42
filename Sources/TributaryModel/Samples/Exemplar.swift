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
