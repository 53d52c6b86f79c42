import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import TributaryModel
import TributaryRemoteWrite
import TributaryWAL

/// Forwarding upstream (`remote_write` in receiver.yml): what the receiver stores, after HA
/// deduplication and without the replica label, is logged to a queue WAL under
/// `<data-dir>/forward` and delivered by the agent's remote-write queues, with the same
/// guarantees (saved positions, retries, retention). A site receiver so chains to a central
/// one, or to Thanos Receive, Mimir or VictoriaMetrics.
public final class Forwarder: Sendable {
    let storage: QueueStorage
    /// The forwarding queues (a reload may change the set: ``replace(_:)``).
    let queueSet: RemoteWriteQueueSet
    public var queues: [RemoteWriteQueue] { queueSet.queues }
    /// Names this receiver and those upstream on every forwarded write.
    let path: ForwardingPath
    let retention: Int64
    /// receiver.yml's `external_labels`: added to every forwarded series that lacks the name
    /// (a reload may change them: ``setExternalLabels(_:)``).
    let externalLabels: Mutex<[String: String]>
    let logger: Logger
    /// When a series was last forwarded, and when idle ones expire.
    let clock: WallClock
    /// A forwarded series: its queue WAL id, and when it was last forwarded (wall clock, ms).
    struct Entry {
        var id: UInt32
        var lastForwarded: Int64
    }

    /// Forward ids by labels (ids are the queue WAL's; the map is rebuilt lazily after a
    /// restart). Series not forwarded for longer than the retention leave it (``expireIdle(now:)``).
    let ids = Mutex<[Labels: Entry]>([:])

    /// Queue metrics go to the receiver's registry.
    /// `metadata` lists what the queues send as metric metadata.
    init(
        configuration: ReceiverConfiguration, path: ForwardingPath, registry: PrometheusCollectorRegistry, logger: Logger, clock: WallClock = .system,
        metadata: (@Sendable () -> [MetricMetadata])? = nil
    ) throws {
        let directory = configuration.dataDirectory + "/forward"
        let storage = try QueueStorage(directory: directory, logger: logger)
        self.storage = storage
        self.path = path
        queueSet = RemoteWriteQueueSet(
            configs: Self.queueConfigs(configuration.remoteWrites, path: path), storage: storage, dataDirectory: directory, retention: configuration.forwardRetention,
            registry: registry, logger: logger, clock: clock, metadata: metadata)
        retention = configuration.forwardRetention
        externalLabels = Mutex(configuration.externalLabels)
        self.logger = logger
        self.clock = clock
    }

    /// Logs stored samples and exemplars for forwarding: `series` pairs labels with what was
    /// stored for them (queues with `send_exemplars: true` send the exemplars).
    func forward(_ series: [(Labels, [Sample], [Exemplar])]) throws(WALError) {
        var newSeries: [(UInt32, Labels)] = []
        var idList: [UInt32] = []
        var samples: [Sample] = []
        var exemplarIDs: [UInt32] = []
        var exemplars: [Exemplar] = []
        let now = clock.now()
        let external = externalLabels.withLock { $0 }
        ids.withLock { map in
            for (labels, stored, storedExemplars) in series {
                let id: UInt32
                if let index = map.index(forKey: labels) {
                    map.values[index].lastForwarded = now
                    id = map.values[index].id
                } else {
                    id = storage.allocate(1)
                    map[labels] = Entry(id: id, lastForwarded: now)
                    newSeries.append((id, Self.adding(external, to: labels)))
                }
                for s in stored {
                    idList.append(id)
                    samples.append(s)
                }
                for e in storedExemplars {
                    exemplarIDs.append(id)
                    exemplars.append(e)
                }
            }
        }
        guard !samples.isEmpty || !exemplars.isEmpty else { return }
        try storage.append(series: newSeries, ids: idList, samples: samples, exemplarIDs: exemplarIDs, exemplars: exemplars)
    }

    /// Applies new external labels (a reload): every series is forwarded under new ids with
    /// them from its next sample on; the old ids leave with the forward retention.
    func setExternalLabels(_ labels: [String: String]) {
        ids.withLock { map in
            externalLabels.withLock { current in
                guard current != labels else { return }
                current = labels
                map.removeAll()
            }
        }
    }

    /// The `remote_write` entries as the queues send them: every forwarded write names this
    /// receiver and those upstream of it (loops).
    static func queueConfigs(_ entries: [RemoteWriteConfig], path: ForwardingPath) -> [RemoteWriteConfig] {
        entries.map {
            var config = $0
            config.dynamicHeaders = DynamicHeaders(name: ForwardingPath.header) { [(ForwardingPath.header, path.headerValue())] }
            return config
        }
    }

    /// Applies a reloaded `remote_write` list (changed entries stop and start, unchanged ones
    /// keep sending).
    func replace(_ entries: [RemoteWriteConfig]) async {
        let (started, stopped) = await queueSet.replace(Self.queueConfigs(entries, path: path))
        logger.info("remote_write reloaded", metadata: ["started": "\(started)", "stopped": "\(stopped)"])
    }

    /// `labels` with the external labels it does not have (its own values win, as in Prometheus).
    static func adding(_ external: [String: String], to labels: Labels) -> Labels {
        guard !external.isEmpty else { return labels }
        var b = LabelsBuilder(labels)
        for (name, value) in external where labels.value(of: name) == nil { b.set(name, value) }
        return b.labels()
    }

    /// Forgets the series not forwarded for longer than the retention: they leave the labels
    /// → id map now, and the queue WAL's labels table and checkpoint at its next truncation
    /// (``QueueStorage/expire(_:endedAt:)``), so neither grows with series churn. A series
    /// that comes back gets a new id. Returns how many were expired.
    @discardableResult
    func expireIdle(now: Int64) -> Int {
        let cutoff = now - retention
        let expired: [(UInt32, Int64)] = ids.withLock { map in
            let idle = map.filter { $0.value.lastForwarded < cutoff }
            for labels in idle.keys { map[labels] = nil }
            return idle.values.map { ($0.id, $0.lastForwarded) }
        }
        // One call: every time here is before the cutoff, which is all the truncation asks.
        if let newest = expired.map(\.1).max() { storage.expire(expired.map(\.0), endedAt: newest) }
        if !expired.isEmpty { logger.debug("forwarded series expired", metadata: ["series": "\(expired.count)"]) }
        return expired.count
    }

    /// Whether anything is forwarded: `remote_write` has entries (a reload may change it).
    var isActive: Bool { !queueSet.queues.isEmpty }

    /// Series the forwarder knows.
    var seriesCount: Int { ids.withLock { $0.count } }

    /// The queues and their WAL upkeep, which also expires idle series once a minute.
    var services: [any Service] {
        [
            queueSet,
            WALUpkeepService(
                storage: storage, queues: { [queueSet] in queueSet.queues }, retention: retention, logger: logger, clock: clock,
                everyMinute: { [self] now in expireIdle(now: now) })
        ]
    }
}
