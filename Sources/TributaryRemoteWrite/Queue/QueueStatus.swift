import Foundation
import Synchronization

/// What a remote-write queue has done, for the pages and `/api/v1/status/queues`: the same
/// figures as its `prometheus_remote_storage_*` metrics, readable in one place, plus the last
/// error in words.
public struct QueueStatus: Sendable {
    /// Samples delivered (answered 2xx).
    public var samplesDelivered: Int64 = 0
    /// Samples sent again after a retryable failure.
    public var samplesRetried: Int64 = 0
    /// Samples dropped after a refusal that is not retried.
    public var samplesFailed: Int64 = 0
    /// Samples read from the WAL and not yet delivered.
    public var pending = 0
    public var shards = 0
    /// The newest sample timestamp delivered (ms), 0 before the first delivery.
    public var highestSent: Int64 = 0
    /// The last failure, in words, and when (wall clock, ms); empty before the first.
    public var lastError = ""
    public var lastErrorTime: Int64 = 0

    public init() {}
}

extension RemoteWriteQueue {
    /// The queue as `/api/v1/status/queues` lists it; `walHighest` is the newest sample
    /// timestamp in the WAL it reads (ms), from which it is `behindSeconds`.
    public func statusJSON(walHighest: Int64) -> [String: Any] {
        let s = status.withLock { $0 }
        let behind = walHighest > s.highestSent ? Double(walHighest - s.highestSent) / 1000 : 0
        return [
            "name": config.name, "url": config.url, "samplesDelivered": s.samplesDelivered, "samplesRetried": s.samplesRetried,
            "samplesFailed": s.samplesFailed, "pending": s.pending, "shards": s.shards, "minShards": config.queue.minShards,
            "maxShards": config.queue.maxShards, "highestSent": s.highestSent, "behindSeconds": behind, "lastError": s.lastError,
            "lastErrorTime": s.lastErrorTime
        ]
    }

    /// `statusJSON` of each queue as a Prometheus API answer.
    public static func statusAnswer(_ queues: [RemoteWriteQueue], walHighest: Int64) -> [UInt8] {
        let body: [String: Any] = ["status": "success", "data": queues.map { $0.statusJSON(walHighest: walHighest) }]
        guard let data = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]) else { return Array(#"{"status":"error","errorType":"internal","error":"cannot encode"}"#.utf8) }
        return [UInt8](data)
    }
}
