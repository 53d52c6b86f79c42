import Foundation
import Logging
import Synchronization
import TributaryModel
import TributaryWAL
import TributaryWire

/// The write-ahead log remote-write queues read (the agent's: every scraped sample goes here
/// first; the receiver's forward WAL: what it stores), each queue from its own position. Series get ids (series records) before their
/// samples refer to them (samples records). Segments every queue has passed are removed, after
/// their series are copied into `wal/checkpoint`, which readers load first after a restart.
public final class QueueStorage: Sendable {
    struct State {
        var nextID: UInt32 = 1
        /// Labels of every series a retained segment or a live scrape may refer to, packed as
        /// remote-write requests carry them.
        var series = SeriesByID()
        /// Expired series (``expire(_:endedAt:)``), by when they ended, for pruning.
        var expiring: [UInt32: Int64] = [:]
    }

    public let wal: WAL
    public let directory: String
    let state = Mutex(State())
    let logger: Logger
    /// Samples logged so far; queues wait on it for their next batch.
    let signal = AppendSignal()
    /// The newest sample timestamp logged (ms; `.min` before the first): with what a queue
    /// delivered, how far behind it is (`prometheus_remote_storage_highest_timestamp_in_seconds`).
    public let highestTimestamp = Atomic<Int64>(.min)

    /// Segments are small (16 MiB by default) so delivered data can be removed soon.
    public init(directory: String, segmentSize: Int = 16 << 20, logger: Logger) throws(WALError) {
        self.directory = directory + "/wal"
        self.logger = logger
        wal = try WAL(directory: self.directory, options: .init(segmentSize: segmentSize, fsync: .batch), logger: logger)
        var s = State()
        var refused = 0
        let packer = WriteRequestEncoder()
        let keep = { (id: UInt32, labels: LabelsView) in
            let packed = packer.packLabels(Labels(labels))
            if !packed.withUnsafeBytes({ s.series.set(id, $0) }) { refused += 1 }
        }
        try Checkpoint.read(self.directory, logger: logger) { kind, payload in
            if kind == .series { _ = RecordCodec.decodeSeries(payload, keep) }
        }
        // Replay repairs a torn tail and tells which ids are taken.
        let stats = try wal.replay { kind, payload in
            guard kind == .series else { return }
            _ = RecordCodec.decodeSeries(payload, keep)
        }
        if refused > 0 {
            logger.error("queue WAL: series with ids far beyond the others were left out (damaged records?)", metadata: ["dir": "\(self.directory)", "series": "\(refused)"])
        }
        s.nextID = (s.series.maxID ?? 0) + 1
        state.withLock { $0 = s }
        logger.info("queue WAL opened", metadata: ["dir": "\(self.directory)", "segments": "\(stats.segments)", "series": "\(s.series.count)"])
    }

    /// Allocates ids for new series; log them with ``append(series:ids:samples:)``.
    public func allocate(_ count: Int) -> UInt32 {
        state.withLock { s in
            let first = s.nextID
            s.nextID &+= UInt32(count)
            return first
        }
    }

    /// Logs new series, samples and exemplars in one write.
    public func append(series: [(UInt32, Labels)], ids: [UInt32], samples: [Sample], exemplarIDs: [UInt32] = [], exemplars: [Exemplar] = []) throws(WALError) {
        var buffer: [UInt8] = []
        if !series.isEmpty {
            RecordCodec.appendSeries(ids: series.map(\.0), labels: series.map(\.1), to: &buffer)
            let packer = WriteRequestEncoder()
            let packed = series.map { packer.packLabels($0.1) }
            state.withLock { s in
                for ((id, _), bytes) in zip(series, packed) {
                    if !bytes.withUnsafeBytes({ s.series.set(id, $0) }) {
                        logger.error("series too long to keep; its samples will not be sent", metadata: ["id": "\(id)", "bytes": "\(bytes.count)"])
                    }
                }
            }
        }
        if !samples.isEmpty { RecordCodec.appendSamples(ids: ids, samples: samples, to: &buffer) }
        if !exemplars.isEmpty { RecordCodec.appendExemplars(ids: exemplarIDs, exemplars: exemplars, to: &buffer) }
        try wal.log(buffer)
        signal.add(samples.count)
        var newest = Int64.min
        for sample in samples where sample.timestamp > newest { newest = sample.timestamp }
        if newest != .min { highestTimestamp.max(newest, ordering: .relaxed) }
    }

    /// The labels of series `id` (every series a retained record may name is known: the WAL
    /// and the checkpoint are read at start, new series are added before they are logged).
    public func labels(_ id: UInt32) -> Labels? {
        let scratch = ScratchBuffer()
        return state.withLock { s in s.series.bytes(id, scratch).flatMap { PackedLabels.labels($0) } }
    }

    /// Series' packed labels (``PackedLabels``), looked up under the storage's lock.
    struct PackedLabelsLookup {
        let series: SeriesByID
        let scratch: ScratchBuffer

        func contains(_ id: UInt32) -> Bool { series.contains(id) }

        /// The packed labels of `id`: valid until the next call, and only inside
        /// ``QueueStorage/withPackedLabels(_:)``.
        func bytes(_ id: UInt32) -> UnsafeRawBufferPointer? { series.bytes(id, scratch) }
    }

    /// Calls `body` with a lookup of series' packed labels, under the lock that guards them.
    func withPackedLabels<R: Sendable>(_ body: (PackedLabelsLookup) throws -> R) rethrows -> R {
        let scratch = ScratchBuffer()
        return try state.withLock { s in try body(PackedLabelsLookup(series: s.series, scratch: scratch)) }
    }

    /// Expires series: `time` is when each last had a sample (the agent: when their stale
    /// markers were logged; the forwarder: when it last forwarded them). Once that is older
    /// than the retention, the next truncation drops them from the labels table and the
    /// checkpoint, so neither grows with series churn. A sample for an id that comes later
    /// brings its series back only through a new series record (a new id).
    public func expire(_ ids: [UInt32], endedAt time: Int64) {
        state.withLock { s in for id in ids { s.expiring[id] = time } }
    }

    /// Removes the segments before `position.segment` (every queue has read them) after writing
    /// a checkpoint of the series later records may still refer to.
    public func truncate(before position: WALPosition, now: Int64, retention: Int64) throws(WALError) {
        let segments = try wal.segments()
        guard let first = segments.first, first < position.segment else { return }
        let idLimit = state.withLock { s in
            for (id, time) in s.expiring where time < now - retention {
                s.series.remove(id)
                s.expiring[id] = nil
            }
            s.series.compactIfWasteful()
            return s.series.idLimit
        }
        // Written 10,000 ids at a time, so a checkpoint of many series never sits in memory
        // whole (it did, twice, and was the agent's peak RSS).
        let writer = try CheckpointWriter(walDirectory: directory)
        for chunk in stride(from: 0, to: idLimit, by: 10_000) {
            var ids: [UInt32] = [], labels: [Labels] = []
            state.withLock { s in
                s.series.forEach(in: chunk..<chunk + 10_000) { id, packed in
                    guard let l = PackedLabels.labels(packed) else { return }
                    ids.append(id)
                    labels.append(l)
                }
            }
            try writer.appendSeries(ids: ids, labels: labels)
        }
        try writer.commit()
        try wal.truncate(before: position.segment)
        logger.debug("queue WAL truncated", metadata: ["before": "\(position.segment)", "checkpoint_series": "\(writer.series)"])
    }
}
