import Synchronization

/// The newest metadata of each metric family a receiver was sent: what `/api/v1/metadata`
/// answers and what forwarding passes upstream. Kept in memory (senders send it again every
/// minute).
public final class MetricMetadataTable: Sendable {
    private let byFamily = Mutex<[String: MetricMetadata]>([:])

    public init() {}

    public func set(_ entries: [MetricMetadata]) {
        guard !entries.isEmpty else { return }
        byFamily.withLock { table in
            for m in entries { table[m.metricFamilyName] = m }
        }
    }

    /// By family name.
    public var all: [String: MetricMetadata] { byFamily.withLock { $0 } }
}
