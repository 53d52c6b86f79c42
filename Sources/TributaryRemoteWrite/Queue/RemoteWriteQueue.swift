import Foundation
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization
import TributaryModel
import TributaryWAL
import TributaryWire

/// One `remote_write` entry: reads the agent's WAL from its own position and delivers the
/// samples in order per series (a series always goes to the same shard, by its labels), in requests of up to
/// `max_samples_per_send`, retrying 5xx, network errors and (by default) 429 with exponential
/// backoff and `Retry-After`, dropping with a count on other 4xx. The position is saved after
/// each delivered round, so a restart resumes there; at most `capacity` samples are in memory.
/// Over remote write 1.0 it also sends the metric metadata `metadataSource` lists, every
/// `metadata_config.send_interval`, in requests of its own (as Prometheus's metadata watcher).
public final class RemoteWriteQueue: Service, Sendable {
    public let config: RemoteWriteConfig
    /// The metadata of the families being sent (the agent's targets', a receiver's stored).
    let metadataSource: (@Sendable () -> [MetricMetadata])?
    let storage: QueueStorage
    let positionFile: String
    let retention: Int64
    let metrics: QueueMetrics
    let logger: Logger
    /// Receivers that under-count what they wrote, logged once a second at most.
    let badWrites: RateLimitedLog
    /// Sample timestamps are compared with it (retention).
    let clock: WallClock
    /// The position whose records are all delivered (read by WAL truncation).
    public let committed: Mutex<WALPosition?> = Mutex(nil)
    /// What it has done, for the status pages.
    public let status = Mutex(QueueStatus())

    /// Its metrics (Prometheus's remote-storage names) go to `registry`.
    public init(
        config: RemoteWriteConfig, storage: QueueStorage, dataDirectory: String, retention: Int64, registry: PrometheusCollectorRegistry, logger: Logger,
        clock: WallClock = .system, metadata: (@Sendable () -> [MetricMetadata])? = nil
    ) {
        self.config = config
        metadataSource = metadata
        self.storage = storage
        let safe = String(config.name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        positionFile = dataDirectory + "/queues/" + safe + ".position"
        self.retention = retention
        metrics = QueueMetrics(registry, name: config.name, url: config.url, minShards: config.queue.minShards, maxShards: config.queue.maxShards)
        self.logger = logger
        self.clock = clock
        badWrites = RateLimitedLog(logger: logger, perSecond: 1)
    }

    public func run() async throws {
        do {
            let client = try RemoteWriteClient(config)
            try await cancelWhenGracefulShutdown {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await self.deliver(client) }
                    if let source = self.metadataSource, self.config.metadata.send, self.config.version == .v1 {
                        group.addTask { try await self.sendMetadata(source, client: client) }
                    }
                    // Both run until cancelled; either one failing ends the other.
                    try await group.next()
                    group.cancelAll()
                }
            }
        } catch is CancellationError {
        } catch {
            logger.error("remote write queue stopped", metadata: ["queue": "\(config.name)", "error": "\(error)"])
        }
    }

    // MARK: reading

    /// What the queue knows of each series id, indexed by id (ids are dense): whether
    /// write_relabel_configs drop it, and the hash of the labels it is sent with, which picks
    /// its shard (a series that got a new id after a restart still goes to the same shard, so
    /// its samples stay in order). With write_relabel_configs the relabelled labels are kept
    /// here, packed; without, requests copy the storage's.
    struct SeriesTable {
        static let unknown: UInt64 = 0, dropped: UInt64 = 1
        /// Per id: `unknown`, `dropped`, or the shard hash with the top bit set.
        var states: [UInt64] = []
        var relabelled = SeriesByID()

        func state(_ id: UInt32) -> UInt64 {
            Int(id) < states.count ? states[Int(id)] : Self.unknown
        }

        mutating func set(_ id: UInt32, _ state: UInt64) {
            let i = Int(id)
            if i >= states.count { states.append(contentsOf: repeatElement(Self.unknown, count: max(i + 1 - states.count, states.count / 2))) }
            states[i] = state
        }
    }

    /// One encoded request.
    struct Request: Sendable {
        let body: [UInt8]
        let samples: Int
        var exemplars = 0
        /// Metric metadata entries (a metadata request carries nothing else).
        var metadata = 0
        let newest: Int64
    }

    func deliver(_ client: RemoteWriteClient) async throws {
        var table = SeriesTable()
        let encoder = WriteRequestEncoder()
        let first = (try storage.wal.segments().first) ?? 0
        let saved = loadPosition()
        if let saved { logger.info("remote write queue resumes", metadata: ["queue": "\(config.name)", "position": "\(saved)"]) }
        let reader = WALTailReader(directory: storage.directory, from: saved ?? WALPosition(segment: first, offset: 0), logger: logger)
        committed.withLock { $0 = reader.position }

        var batcher = QueueBatcher(config.queue)
        var batch: [(UInt32, Sample)] = []
        batch.reserveCapacity(config.queue.capacity)
        // Exemplars ride with the samples read in the same round (`send_exemplars: true`).
        var exemplars: [(UInt32, Exemplar)] = []
        let sendExemplars = config.sendExemplars
        var batchStarted = ContinuousClock.now
        var lastSave = ContinuousClock.now
        var end = reader.position
        var delivered = reader.position
        // Also when cancelled mid-round: only what was delivered counts.
        defer { savePosition(delivered) }
        while !Task.isCancelled {
            // What the WAL held before this read: the waits below count from here.
            let mark = storage.signal.appended.load(ordering: .sequentiallyConsistent)
            let got = try reader.read(maxBytes: 256 << 10) { kind, payload, after in
                end = after
                if kind == .samples {
                    _ = RecordCodec.decodeSamples(payload) { id, sample in batch.append((id, sample)) }
                } else if kind == .exemplars, sendExemplars {
                    _ = RecordCodec.decodeExemplars(payload) { id, e in exemplars.append((id, e)) }
                }
            }
            switch batcher.next(pending: batch.count, readSomething: got > 0, waited: ContinuousClock.now - batchStarted) {
            case .read:
                if batch.isEmpty { batchStarted = ContinuousClock.now }
                continue
            case .idle:
                delivered = end
                committed.withLock { $0 = end }
                // Wake on the next sample logged (or after a second, to look again).
                await storage.signal.wait(until: mark + 1, timeout: .seconds(1))
                try Task.checkCancellation()
                batchStarted = ContinuousClock.now
                continue
            case .wait(let samples, let timeout):
                // Sleep until a full round is logged or the round's deadline, not polling.
                await storage.signal.wait(until: mark + UInt64(samples), timeout: TimeAmount(timeout))
                try Task.checkCancellation()
                continue
            case .send:
                break
            }
            metrics.pending.set(Double(batch.count))
            metrics.shards.set(Double(batcher.shards))
            status.withLock { [count = batch.count, shards = batcher.shards] in
                $0.pending = count
                $0.shards = shards
            }
            let started = ContinuousClock.now
            try await send(batch, exemplars, shards: batcher.shards, table: &table, encoder: encoder, client: client)
            delivered = end
            committed.withLock { $0 = end }
            // The position file is written at most once a second: a crash resends at most that
            // much, which receivers take as exact repeats.
            if started - lastSave >= .seconds(1) {
                savePosition(end)
                lastSave = started
            }
            metrics.pending.set(0.0)
            status.withLock { $0.pending = 0 }
            batcher.delivered(samples: batch.count, took: ContinuousClock.now - started)
            metrics.shardsDesired.set(Double(batcher.shards))
            batch.removeAll(keepingCapacity: true)
            exemplars.removeAll(keepingCapacity: true)
            batchStarted = ContinuousClock.now
        }
    }

    // MARK: metadata

    /// Every `send_interval`: the distinct metadata entries, in requests of at most
    /// `max_samples_per_send` entries, each retried as samples are.
    func sendMetadata(_ source: @Sendable () -> [MetricMetadata], client: RemoteWriteClient) async throws {
        let encoder = WriteRequestEncoder()
        let perRequest = config.metadata.maxSamplesPerSend
        while true {
            try await Task.sleep(for: .milliseconds(config.metadata.sendInterval))
            let all = Self.distinct(source())
            for start in stride(from: 0, to: all.count, by: perRequest) {
                let part = Array(all[start..<min(start + perRequest, all.count)])
                try await post(Request(body: encoder.encode(WriteRequest(metadata: part)), samples: 0, metadata: part.count, newest: .min), client: client)
            }
        }
    }

    /// Each entry once (two targets expose the same families), in a stable order.
    static func distinct(_ entries: [MetricMetadata]) -> [MetricMetadata] {
        Set(entries).sorted {
            ($0.metricFamilyName, $0.type.rawValue, $0.help, $0.unit) < ($1.metricFamilyName, $1.type.rawValue, $1.help, $1.unit)
        }
    }

    // MARK: sending

    /// The shard state of `id` (see ``SeriesTable``) from its packed labels.
    func resolve(_ id: UInt32, _ packed: UnsafeRawBufferPointer?, _ table: inout SeriesTable, _ encoder: WriteRequestEncoder) -> UInt64 {
        guard let packed else {
            logger.warning("samples of an unknown series dropped", metadata: ["queue": "\(config.name)", "id": "\(id)"])
            return SeriesTable.dropped
        }
        guard !config.writeRelabelConfigs.isEmpty else { return StableHash.hash(packed) | 1 << 63 }
        var dict: [String: String] = [:]
        for (n, v) in (PackedLabels.labels(packed) ?? .empty).pairs { dict[n] = v }
        guard let kept = Relabeler.process(dict, config.writeRelabelConfigs), !kept.isEmpty else { return SeriesTable.dropped }
        let repacked = encoder.packLabels(Labels(sortedPairs: kept.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        guard repacked.withUnsafeBytes({ table.relabelled.set(id, $0) }) else { return SeriesTable.dropped }
        return repacked.withUnsafeBytes { StableHash.hash($0) } | 1 << 63
    }

    /// One round: the batch cut into requests per shard (a sample per series, as Prometheus
    /// sends them, so a series' samples keep their WAL order), shards in parallel.
    func send(
        _ batch: [(UInt32, Sample)], _ exemplars: [(UInt32, Exemplar)] = [], shards: Int, table: inout SeriesTable, encoder: WriteRequestEncoder, client: RemoteWriteClient
    ) async throws {
        let requests = encode(batch, exemplars, shards: shards, table: &table, encoder: encoder)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for shard in requests where !shard.isEmpty {
                group.addTask {
                    for request in shard { try await self.post(request, client: client) }
                }
            }
            try await group.waitForAll()
        }
    }

    /// The round's requests by shard. Under the storage's lock, so the packed labels each
    /// request copies cannot be removed meanwhile.
    func encode(_ batch: [(UInt32, Sample)], _ exemplars: [(UInt32, Exemplar)] = [], shards: Int, table: inout SeriesTable, encoder: WriteRequestEncoder) -> [[Request]] {
        let oldest = clock.now() - retention
        let perRequest = config.queue.maxSamplesPerSend
        var byShard = [[(UInt32, Sample)]](repeating: [], count: shards)
        var requests = [[Request]](repeating: [], count: shards)
        var dropped = 0
        let relabelled = !config.writeRelabelConfigs.isEmpty
        storage.withPackedLabels { lookup in
            // Each result is used before the next call, as `packed` gathers into `scratch`.
            func packed(_ id: UInt32) -> UnsafeRawBufferPointer? {
                relabelled ? table.relabelled.bytes(id, lookup.scratch) : lookup.bytes(id)
            }
            // The shard of a series whose data at `timestamp` is to be sent, or nil: dropped by
            // write relabelling, too old, or with labels gone from the storage (a series that
            // ended longer ago than the retention), which would fail the whole request.
            func shard(_ id: UInt32, at timestamp: Int64) -> Int? {
                var state = table.state(id)
                if state == SeriesTable.unknown {
                    state = resolve(id, lookup.bytes(id), &table, encoder)
                    table.set(id, state)
                }
                let present = relabelled ? table.relabelled.contains(id) : lookup.contains(id)
                guard timestamp >= oldest, state != SeriesTable.dropped, present else { return nil }
                return Int(state % UInt64(shards))
            }
            for (id, sample) in batch {
                guard let s = shard(id, at: sample.timestamp) else { dropped += 1; continue }
                byShard[s].append((id, sample))
            }
            // Exemplars after their shard's samples, in series entries of their own (as
            // Prometheus sends them), so a receiver has the series when they arrive.
            var exemplarsByShard = [[(UInt32, Exemplar)]](repeating: [], count: exemplars.isEmpty ? 0 : shards)
            for (id, e) in exemplars {
                if let s = shard(id, at: e.timestamp) { exemplarsByShard[s].append((id, e)) }
            }
            let none = UnsafeRawBufferPointer(start: nil, count: 0)
            for s in 0..<shards {
                for start in stride(from: 0, to: byShard[s].count, by: perRequest) {
                    let part = byShard[s][start..<min(start + perRequest, byShard[s].count)]
                    let body =
                        config.version == .v2
                        ? V2Message(WriteRequest(timeseries: part.map { TimeSeries(labels: PackedLabels.labels(packed($0.0) ?? none) ?? .empty, samples: [$0.1]) })).encode()
                        : encoder.encodeSingles(count: part.count) { i in (packed(part[part.startIndex + i].0) ?? none, part[part.startIndex + i].1) }
                    requests[s].append(Request(body: body, samples: part.count, newest: part.reduce(Int64.min) { max($0, $1.1.timestamp) }))
                }
                guard s < exemplarsByShard.count else { continue }
                for start in stride(from: 0, to: exemplarsByShard[s].count, by: perRequest) {
                    let part = exemplarsByShard[s][start..<min(start + perRequest, exemplarsByShard[s].count)]
                    let request = WriteRequest(timeseries: part.map { TimeSeries(labels: PackedLabels.labels(packed($0.0) ?? none) ?? .empty, samples: [], exemplars: [$0.1]) })
                    let body = config.version == .v2 ? V2Message(request).encode() : encoder.encode(request)
                    requests[s].append(Request(body: body, samples: 0, exemplars: part.count, newest: .min))
                }
            }
        }
        if dropped > 0 { metrics.samplesDropped.increment(by: Int64(dropped)) }
        return requests
    }

    /// Sends one request, retrying until it is delivered or refused for good.
    func post(_ request: Request, client: RemoteWriteClient) async throws {
        let count = request.samples, body = request.body, newest = request.newest, exemplars = request.exemplars, metadata = request.metadata
        var backoff = Duration.milliseconds(config.queue.minBackoff)
        var attempt = 0
        while true {
            try Task.checkCancellation()
            if attempt > 0 {
                metrics.samplesRetried.increment(by: Int64(count))
                if metadata > 0 { metrics.metadataRetried.increment(by: Int64(metadata)) }
                status.withLock { $0.samplesRetried += Int64(count) }
            }
            attempt += 1
            metrics.samplesSent.increment(by: Int64(count))
            if metadata > 0 { metrics.metadataSent.increment(by: Int64(metadata)) }
            if exemplars > 0 { metrics.exemplarsSent.increment(by: Int64(exemplars)) }
            let started = ContinuousClock.now
            var retryAfter: Duration?
            do {
                let response = try await client.post(body)
                metrics.batchDuration.record(ContinuousClock.now - started)
                let code = response.status
                if (200..<300).contains(code) {
                    // Prometheus counts metadata bytes apart from the data's.
                    (metadata > 0 ? metrics.metadataBytes : metrics.bytesSent).increment(by: Int64(body.count))
                    if newest != .min { metrics.highestSent.set(Double(newest) / 1000) }
                    status.withLock {
                        $0.samplesDelivered += Int64(count)
                        if newest != .min { $0.highestSent = max($0.highestSent, newest) }
                    }
                    if config.version == .v2 { checkWritten(response, samples: count, exemplars: exemplars) }
                    return
                }
                let retryable = code >= 500 || (code == 429 && config.queue.retryOnHTTP429)
                guard retryable else {
                    metrics.samplesFailed.increment(by: Int64(count))
                    failed("HTTP \(code): \(String(decoding: response.body.prefix(200), as: UTF8.self))", dropped: count)
                    if exemplars > 0 { metrics.exemplarsFailed.increment(by: Int64(exemplars)) }
                    if metadata > 0 { metrics.metadataFailed.increment(by: Int64(metadata)) }
                    logger.error(
                        "remote write refused; dropping the samples",
                        metadata: [
                            "queue": "\(config.name)", "status": "\(code)", "samples": "\(count)", "exemplars": "\(exemplars)", "metadata": "\(metadata)",
                            "error": "\(String(decoding: response.body.prefix(300), as: UTF8.self))"
                        ])
                    return
                }
                if let header = response.retryAfter, let seconds = Int(header), seconds >= 0 { retryAfter = .seconds(seconds) }
                logger.warning("remote write failed; retrying", metadata: ["queue": "\(config.name)", "status": "\(code)", "backoff": "\(backoff)"])
                failed("HTTP \(code), retrying: \(String(decoding: response.body.prefix(200), as: UTF8.self))")
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning("remote write failed; retrying", metadata: ["queue": "\(config.name)", "error": "\(error)", "backoff": "\(backoff)"])
                failed("\(error), retrying")
            }
            try await Task.sleep(for: max(backoff, retryAfter ?? .zero))
            backoff = min(backoff * 2, .milliseconds(config.queue.maxBackoff))
        }
    }

    /// Notes a failed send on the status (`dropped`: samples given up on).
    func failed(_ reason: String, dropped: Int = 0) {
        let now = clock.now()
        status.withLock {
            $0.lastError = reason.trimmingCharacters(in: .whitespacesAndNewlines)
            $0.lastErrorTime = now
            $0.samplesFailed += Int64(dropped)
        }
    }

    /// Remote write 2.0: a 2xx whose `-Written` headers count less than was sent did not
    /// deliver everything (the spec forbids it, a receiver may still do it); the shortfall is
    /// counted and logged instead of taken as success. No headers at all on a 2xx means a 1.0
    /// receiver that decoded an empty message (the spec says to treat that as 415).
    func checkWritten(_ response: HTTPResponseReader, samples: Int, exemplars: Int) {
        guard response.samplesWritten != nil || response.exemplarsWritten != nil || response.histogramsWritten != nil else {
            metrics.notWritten(samples: samples, exemplars: exemplars)
            badWrites.warning(
                "remote write 2.0 answered 2xx without X-Prometheus-Remote-Write-*-Written headers: the receiver does not speak 2.0 and wrote nothing; set protobuf_message: prometheus.WriteRequest",
                metadata: ["queue": "\(config.name)", "samples": "\(samples)", "exemplars": "\(exemplars)"])
            return
        }
        let shortSamples = max(0, samples - (response.samplesWritten ?? 0))
        let shortExemplars = max(0, exemplars - (response.exemplarsWritten ?? 0))
        guard shortSamples > 0 || shortExemplars > 0 else { return }
        metrics.notWritten(samples: shortSamples, exemplars: shortExemplars)
        badWrites.warning(
            "remote write 2.0 receiver wrote less than was sent",
            metadata: [
                "queue": "\(config.name)", "samples_sent": "\(samples)", "samples_written": "\(response.samplesWritten ?? 0)",
                "exemplars_sent": "\(exemplars)", "exemplars_written": "\(response.exemplarsWritten ?? 0)"
            ])
    }

    // MARK: position

    func loadPosition() -> WALPosition? {
        guard let text = try? String(contentsOfFile: positionFile, encoding: .utf8) else { return nil }
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2, let s = Int(parts[0]), let o = Int(parts[1]), s >= 0, o >= 0 else {
            logger.warning("unreadable queue position; starting from the oldest WAL segment", metadata: ["file": "\(positionFile)"])
            return nil
        }
        return WALPosition(segment: s, offset: o)
    }

    func savePosition(_ p: WALPosition) {
        let dir = (positionFile as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tmp = positionFile + ".tmp"
        do {
            try "\(p.segment) \(p.offset)\n".write(toFile: tmp, atomically: false, encoding: .utf8)
            guard rename(tmp, positionFile) == 0 else { throw WALError.io("cannot install", positionFile, errno: errno) }
        } catch {
            logger.error("cannot save the queue position", metadata: ["file": "\(positionFile)", "error": "\(error)"])
        }
    }
}
