import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
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
public final class RemoteWriteQueue: Service, Sendable {
    public let config: RemoteWriteConfig
    let storage: AgentStorage
    let positionFile: String
    let retention: Int64
    let metrics: AgentMetrics.Queue
    let logger: Logger
    /// The position whose records are all delivered (read by WAL truncation).
    public let committed: Mutex<WALPosition?> = Mutex(nil)

    public init(config: RemoteWriteConfig, storage: AgentStorage, dataDirectory: String, retention: Int64, metrics: AgentMetrics, logger: Logger) {
        self.config = config
        self.storage = storage
        let safe = String(config.name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        positionFile = dataDirectory + "/queues/" + safe + ".position"
        self.retention = retention
        self.metrics = metrics.queue(name: config.name, url: config.url)
        self.logger = logger
    }

    public func run() async throws {
        let client = try config.http.makeClient(decompress: false)
        do {
            try await cancelWhenGracefulShutdown { try await self.deliver(client) }
        } catch is CancellationError {
        } catch {
            logger.error("remote write queue stopped", metadata: ["queue": "\(config.name)", "error": "\(error)"])
        }
        try? await client.shutdown()
    }

    // MARK: reading

    /// Series labels as the WAL defines them, with write_relabel_configs applied (nil: dropped).
    struct SeriesTable {
        var raw: [UInt32: Labels] = [:]
        /// With the labels' hash, which picks the shard: a series that got a new id after a
        /// restart still goes to the same shard, so its samples stay in order.
        var relabelled: [UInt32: (labels: Labels, hash: UInt64)?] = [:]
    }

    func deliver(_ client: HTTPClient) async throws {
        var table = SeriesTable()
        AgentStorage.readCheckpoint(storage.directory) { id, labels in table.raw[id] = Labels(labels) }
        let first = (try storage.wal.segments().first) ?? 0
        let saved = loadPosition()
        // Series records before the saved position still name the series of later samples:
        // a first pass reads them, then delivery starts at the saved position itself.
        let start = saved ?? WALPosition(segment: first, offset: 0)
        if let saved {
            let scan = WALTailReader(directory: storage.directory, from: WALPosition(segment: first, offset: 0), logger: logger)
            while scan.position < saved {
                let n = try scan.read(maxBytes: 4 << 20) { kind, payload, after in
                    guard kind == .series, after <= saved else { return }
                    _ = RecordCodec.decodeSeries(payload) { id, labels in table.raw[id] = Labels(labels) }
                }
                if n == 0 { break }
            }
            logger.info("remote write queue resumes", metadata: ["queue": "\(config.name)", "position": "\(saved)", "series": "\(table.raw.count)"])
        }
        let reader = WALTailReader(directory: storage.directory, from: start, logger: logger)
        committed.withLock { $0 = reader.position }

        var shards = config.queue.minShards
        var batch: [(UInt32, Sample)] = []
        batch.reserveCapacity(config.queue.capacity)
        var batchStarted = ContinuousClock.now
        var end = reader.position
        let deadline = Duration.milliseconds(config.queue.batchSendDeadline)
        while !Task.isCancelled {
            let got = try reader.read(maxBytes: 1 << 20) { kind, payload, after in
                end = after
                switch kind {
                case .series:
                    _ = RecordCodec.decodeSeries(payload) { id, labels in
                        table.raw[id] = Labels(labels)
                        table.relabelled[id] = nil
                    }
                case .samples:
                    _ = RecordCodec.decodeSamples(payload) { id, sample in batch.append((id, sample)) }
                }
            }
            if batch.isEmpty {
                if got == 0 {
                    committed.withLock { $0 = end }
                    try await Task.sleep(for: .milliseconds(50))
                }
                batchStarted = ContinuousClock.now
                continue
            }
            let full = batch.count >= config.queue.capacity || batch.count >= config.queue.maxSamplesPerSend * shards
            if got > 0, !full { continue }
            if !full, ContinuousClock.now - batchStarted < deadline {
                try await Task.sleep(for: .milliseconds(50))
                continue
            }
            metrics.pending.set(Double(batch.count))
            let started = ContinuousClock.now
            try await send(batch, shards: shards, table: &table, client: client)
            savePosition(end)
            committed.withLock { $0 = end }
            metrics.pending.set(0.0)
            // More shards while a round takes longer than the deadline with a full batch waiting;
            // fewer when rounds are small.
            let took = ContinuousClock.now - started
            if full, took > deadline / 2 { shards = min(config.queue.maxShards, shards * 2) }
            else if batch.count < config.queue.maxSamplesPerSend * shards / 4 { shards = max(config.queue.minShards, shards / 2) }
            metrics.shards.set(Double(shards))
            batch.removeAll(keepingCapacity: true)
            batchStarted = ContinuousClock.now
        }
    }

    // MARK: sending

    func labels(_ id: UInt32, _ table: inout SeriesTable) -> (labels: Labels, hash: UInt64)? {
        if let cached = table.relabelled[id] { return cached }
        guard let raw = table.raw[id] else { return nil }
        var out: Labels? = raw
        if !config.writeRelabelConfigs.isEmpty {
            var dict: [String: String] = [:]
            for (n, v) in raw.pairs { dict[n] = v }
            out = Relabeler.process(dict, config.writeRelabelConfigs).map { Labels(sortedPairs: $0.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }) }
        }
        let entry = out.map { ($0, $0.stableHash) }
        table.relabelled[id] = .some(entry)
        return entry
    }

    func send(_ batch: [(UInt32, Sample)], shards: Int, table: inout SeriesTable, client: HTTPClient) async throws {
        let oldest = Int64(Date().timeIntervalSince1970 * 1000) - retention
        var perShard = [[TimeSeries]](repeating: [], count: shards)
        var slot = [[UInt32: Int]](repeating: [:], count: shards)
        var counts = [Int](repeating: 0, count: shards)
        // Requests of one shard keep their order; shards run in parallel.
        var byShard = [[[TimeSeries]]](repeating: [], count: shards)
        var dropped = 0
        for (id, sample) in batch {
            guard sample.timestamp >= oldest, let (l, hash) = labels(id, &table) else { dropped += 1; continue }
            let s = Int(hash % UInt64(shards))
            if let i = slot[s][id] {
                perShard[s][i].samples.append(sample)
            } else {
                slot[s][id] = perShard[s].count
                perShard[s].append(TimeSeries(labels: l, samples: [sample]))
            }
            counts[s] += 1
            if counts[s] >= config.queue.maxSamplesPerSend {
                byShard[s].append(perShard[s])
                perShard[s] = []; slot[s] = [:]; counts[s] = 0
            }
        }
        if dropped > 0 { metrics.samplesDropped.increment(by: Int64(dropped)) }
        for s in 0..<shards where !perShard[s].isEmpty { byShard[s].append(perShard[s]) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for shard in byShard where !shard.isEmpty {
                group.addTask {
                    for series in shard { try await self.post(series, client: client) }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Sends one request, retrying until it is delivered or refused for good.
    func post(_ series: [TimeSeries], client: HTTPClient) async throws {
        let request = WriteRequest(timeseries: series)
        let count = request.sampleCount
        let body = config.version == .v2 ? V2Message(request).encode() : WriteRequestEncoder().encode(request)
        var backoff = Duration.milliseconds(config.queue.minBackoff)
        var attempt = 0
        while true {
            try Task.checkCancellation()
            if attempt > 0 { metrics.samplesRetried.increment(by: Int64(count)) }
            attempt += 1
            metrics.samplesSent.increment(by: Int64(count))
            let started = ContinuousClock.now
            var retryAfter: Duration?
            do {
                var r = HTTPClientRequest(url: config.url)
                r.method = .POST
                r.headers.add(name: "Content-Type", value: config.version == .v2 ? "application/x-protobuf;proto=io.prometheus.write.v2.Request" : "application/x-protobuf")
                r.headers.add(name: "Content-Encoding", value: "snappy")
                r.headers.add(name: "User-Agent", value: "Tributary/0.1")
                r.headers.add(name: "X-Prometheus-Remote-Write-Version", value: config.version == .v2 ? "2.0.0" : "0.1.0")
                if let auth = config.http.authorizationHeader { r.headers.add(name: "Authorization", value: auth) }
                for (k, v) in config.headers { r.headers.add(name: k, value: v) }
                r.body = .bytes(ByteBuffer(bytes: body))
                let response = try await client.execute(r, timeout: .milliseconds(config.remoteTimeout))
                let text = String(buffer: (try? await response.body.collect(upTo: 64 << 10)) ?? ByteBuffer())
                metrics.batchDuration.record(ContinuousClock.now - started)
                let code = Int(response.status.code)
                if (200..<300).contains(code) {
                    metrics.bytesSent.increment(by: Int64(body.count))
                    if let newest = series.lazy.compactMap({ $0.samples.last?.timestamp }).max() { metrics.highestSent.set(Double(newest) / 1000) }
                    return
                }
                let retryable = code >= 500 || (code == 429 && config.queue.retryOnHTTP429)
                guard retryable else {
                    metrics.samplesFailed.increment(by: Int64(count))
                    logger.error("remote write refused; dropping the samples", metadata: [
                        "queue": "\(config.name)", "status": "\(code)", "samples": "\(count)", "error": "\(text.prefix(300))",
                    ])
                    return
                }
                if let header = response.headers.first(name: "Retry-After"), let seconds = Int(header) { retryAfter = .seconds(seconds) }
                logger.warning("remote write failed; retrying", metadata: ["queue": "\(config.name)", "status": "\(code)", "backoff": "\(backoff)"])
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning("remote write failed; retrying", metadata: ["queue": "\(config.name)", "error": "\(error)", "backoff": "\(backoff)"])
            }
            try await Task.sleep(for: max(backoff, retryAfter ?? .zero))
            backoff = min(backoff * 2, .milliseconds(config.queue.maxBackoff))
        }
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
