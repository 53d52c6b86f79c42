import Foundation
import Synchronization
import TributaryHTTPServer
import TributaryModel
import TributaryRemoteWrite
import TributaryTSDB

/// The status endpoints beside Prometheus's API: `runtimeinfo`, `flags` and `config` in
/// Prometheus's shapes, and three of our own that the status page draws: `blocks` (each
/// persisted block), `groups` (samples stored per HA group and replica) and `queues` (the
/// forwarding queues).
extension Receiver {
    static let statusPaths: Set<String> = ["status/runtimeinfo", "status/flags", "status/config", "status/blocks", "status/groups", "status/queues"]

    /// The `data` of one status endpoint, as Foundation JSON values.
    func statusData(_ path: String) -> Any {
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        switch path {
        case "status/runtimeinfo":
            let storage = configuration.storage
            var retention: [String] = []
            if storage.retentionTime > 0 { retention.append(PrometheusDuration.format(storage.retentionTime)) }
            if storage.retentionSize > 0 { retention.append(ByteCountFormatter.string(fromByteCount: Int64(storage.retentionSize), countStyle: .binary)) }
            return runtime.withLock {
                $0.runtimeInfo(storageRetention: retention.isEmpty ? "unlimited" : retention.joined(separator: " or "), dataDirectory: configuration.dataDirectory)
            }
        case "status/flags":
            return runtime.withLock { $0.flags }
        case "status/config":
            return ["yaml": runtime.withLock { $0.configYAML }]
        case "status/blocks":
            return db.blocks.sorted { $0.minTime < $1.minTime }.map { block -> [String: Any] in
                let meta = block.meta
                return [
                    "ulid": block.ulid, "minTime": block.minTime, "maxTime": block.maxTime, "numSamples": meta.stats.numSamples,
                    "numSeries": meta.stats.numSeries, "numChunks": meta.stats.numChunks, "numTombstones": meta.stats.numTombstones ?? 0,
                    "level": meta.compaction.level, "bytes": block.sizeBytes
                ]
            }
        case "status/groups":
            return metrics.replicaFills.snapshot.map { ["group": $0.group, "replica": $0.replica, "samples": $0.samples, "lastStored": $0.lastStored] as [String: Any] }
        default:
            let highest = forwarder.storage.highestTimestamp.load(ordering: .relaxed)
            return forwarder.queues.map { $0.statusJSON(walHighest: highest) }
        }
    }

    /// One status endpoint's answer.
    func statusAnswer(_ path: String) -> HTTPAnswer {
        let body: [String: Any] = ["status": "success", "data": statusData(path)]
        guard let data = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]) else {
            return Self.errorAnswer(APIError(.internal, "cannot encode \(path)"))
        }
        return HTTPAnswer(status: 200, headers: [("Content-Type", "application/json")], body: [UInt8](data))
    }
}
