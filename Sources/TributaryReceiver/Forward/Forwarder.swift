import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import TributaryRemoteWrite
import TributaryModel
import TributaryWAL

/// Forwarding upstream (`remote_write` in receiver.yml): what the receiver stores, after HA
/// deduplication and without the replica label, is logged to a queue WAL under
/// `<data-dir>/forward` and delivered by the agent's remote-write queues, with the same
/// guarantees (saved positions, retries, retention). A site receiver so chains to a central
/// one, or to Thanos Receive, Mimir or VictoriaMetrics.
public final class Forwarder: Sendable {
    let storage: QueueStorage
    public let queues: [RemoteWriteQueue]
    let retention: Int64
    let logger: Logger
    /// Forward ids by labels (ids are the queue WAL's; the map is rebuilt lazily after a restart).
    let ids = Mutex<[Labels: UInt32]>([:])

    /// Queue metrics go to the receiver's registry.
    init(configuration: ReceiverConfiguration, registry: PrometheusCollectorRegistry, logger: Logger) throws {
        let directory = configuration.dataDirectory + "/forward"
        let storage = try QueueStorage(directory: directory, logger: logger)
        self.storage = storage
        queues = configuration.remoteWrites.map {
            RemoteWriteQueue(config: $0, storage: storage, dataDirectory: directory, retention: configuration.forwardRetention, registry: registry, logger: logger)
        }
        retention = configuration.forwardRetention
        self.logger = logger
    }

    /// Logs stored samples for forwarding: `series` pairs labels with the samples stored for them.
    func forward(_ series: [(Labels, [Sample])]) throws(WALError) {
        var newSeries: [(UInt32, Labels)] = []
        var idList: [UInt32] = []
        var samples: [Sample] = []
        ids.withLock { map in
            for (labels, stored) in series {
                let id: UInt32
                if let known = map[labels] {
                    id = known
                } else {
                    id = storage.allocate(1)
                    map[labels] = id
                    newSeries.append((id, labels))
                }
                for s in stored {
                    idList.append(id)
                    samples.append(s)
                }
            }
        }
        guard !samples.isEmpty else { return }
        try storage.append(series: newSeries, ids: idList, samples: samples)
    }

    /// The queues and their WAL upkeep.
    var services: [any Service] {
        queues.map { $0 as any Service } + [WALUpkeepService(storage: storage, queues: queues, retention: retention, logger: logger)]
    }
}
