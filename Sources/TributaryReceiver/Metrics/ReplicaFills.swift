import Prometheus
import Synchronization
import TributaryModel

/// Which replica of each HA pair the receiver takes samples from, by `group`: the samples
/// stored from series that carried a replica label, counted per (group, replica) as
/// `tributary_dedup_replica_samples_stored_total{group, ha_replica}` (not `replica`: the agents
/// that scrape the receiver add that label, and the receiver strips it). A request's series mostly
/// share their group and replica, so strings are made only when the pair changes from one
/// series to the next.
struct ReplicaFills {
    static let groupLabel: [UInt8] = Array("group".utf8)

    struct Key: Hashable {
        var group: UInt64
        var replica: UInt64
    }

    private var current: Key?
    private var currentNames = ("", "")
    private var currentCount = 0
    private(set) var counts: [(group: String, replica: String, samples: Int)] = []

    /// Counts `stored` samples of a series with `labels` (the replica label still in them)
    /// whose replica labels hash to `replica`.
    mutating func add(_ stored: Int, labels: LabelsView, replica: UInt64, replicaLabelNames: [[UInt8]]) {
        guard stored > 0 else { return }
        let groupBytes = Self.groupLabel.withUnsafeBytes { labels.value(of: $0) }
        let key = Key(group: groupBytes.map { StableHash.hash($0) } ?? 0, replica: replica)
        if key != current {
            flush()
            current = key
            var replicaName = ""
            labels.forEach { name, value in
                if replicaName.isEmpty, Receiver.isReplicaLabel(name, replicaLabelNames) { replicaName = String(decoding: value, as: UTF8.self) }
            }
            currentNames = (groupBytes.map { String(decoding: $0, as: UTF8.self) } ?? "", replicaName)
        }
        currentCount += stored
    }

    mutating func flush() {
        if currentCount > 0 { counts.append((currentNames.0, currentNames.1, currentCount)) }
        currentCount = 0
        current = nil
    }
}

/// The counters of ``ReplicaFills``, made as pairs appear (at most `limit` pairs; the rest are
/// counted under `group="", ha_replica="(other)"` so a sender with churning labels cannot grow
/// the registry), with each pair's total and when it last had samples stored (the status page).
final class ReplicaFillCounters: Sendable {
    struct Pair {
        let counter: Counter
        let group: String
        let replica: String
        var samples: Int64 = 0
        /// Wall clock (ms) of the last request that stored samples of the pair.
        var lastStored: Int64 = 0
    }

    let registry: PrometheusCollectorRegistry
    let pairs = Mutex<[String: Pair]>([:])
    static let limit = 1_000

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func record(_ fills: ReplicaFills, now: Int64) {
        guard !fills.counts.isEmpty else { return }
        pairs.withLock { map in
            for (group, replica, samples) in fills.counts {
                var key = group + "\u{0}" + replica
                var labels = [("group", group), ("ha_replica", replica)]
                if map[key] == nil, map.count >= Self.limit {
                    key = "\u{0}(other)"
                    labels = [("group", ""), ("ha_replica", "(other)")]
                }
                var pair =
                    map[key]
                    ?? Pair(
                        counter: registry.makeCounter(
                            descriptor: .init(
                                metricName: "tributary_dedup_replica_samples_stored_total", unitName: "",
                                helpText: "Samples stored from each replica of an HA pair, by the series' group label: which replica fills each group."),
                            labels: labels),
                        group: labels[0].1, replica: labels[1].1)
                pair.counter.increment(by: Int64(samples))
                pair.samples += Int64(samples)
                pair.lastStored = now
                map[key] = pair
            }
        }
    }

    /// Every pair, by group then replica.
    var snapshot: [Pair] {
        pairs.withLock { Array($0.values) }.sorted { ($0.group, $0.replica) < ($1.group, $1.replica) }
    }
}
