import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import TributaryModel

/// The remote-write queues of one queue WAL, as one service whose set a reload may change:
/// a queue whose entry is unchanged keeps running; a changed or removed one stops (its
/// position saved as on shutdown) and a new or changed one starts from its saved position.
public final class RemoteWriteQueueSet: Service, Sendable {
    struct Running {
        let queue: RemoteWriteQueue
        let task: Task<Void, Never>
    }

    let storage: QueueStorage
    let dataDirectory: String
    let retention: Int64
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    let clock: WallClock
    /// What each queue sends as metric metadata (``RemoteWriteQueue``).
    let metadata: (@Sendable () -> [MetricMetadata])?
    private let queueList: Mutex<[RemoteWriteQueue]>
    private let running = Mutex<[Running]?>(nil)
    /// Serialises ``replace(_:)`` and the start in ``run()``.
    private let changes = Mutex<Void>(())

    public init(
        configs: [RemoteWriteConfig], storage: QueueStorage, dataDirectory: String, retention: Int64, registry: PrometheusCollectorRegistry, logger: Logger,
        clock: WallClock = .system, metadata: (@Sendable () -> [MetricMetadata])? = nil
    ) {
        self.storage = storage
        self.metadata = metadata
        self.dataDirectory = dataDirectory
        self.retention = retention
        self.registry = registry
        self.logger = logger
        self.clock = clock
        queueList = Mutex([])
        queueList.withLock { [self] in $0 = configs.map(makeQueue) }
    }

    /// A queue for `config` over this set's storage, metrics and clock.
    private func makeQueue(_ config: RemoteWriteConfig) -> RemoteWriteQueue {
        RemoteWriteQueue(
            config: config, storage: storage, dataDirectory: dataDirectory, retention: retention, registry: registry, logger: logger, clock: clock, metadata: metadata)
    }

    /// The queues now, in configuration order.
    public var queues: [RemoteWriteQueue] { queueList.withLock { $0 } }

    /// Runs every queue until graceful shutdown, then stops them and waits for them.
    public func run() async throws {
        changes.withLock { _ in
            let started = queueList.withLock { $0 }.map { q in Running(queue: q, task: Task { try? await q.run() }) }
            running.withLock { $0 = started }
        }
        try? await gracefulShutdown()
        // Queues started by a reload run in tasks made outside this service, which do not see
        // the graceful shutdown: stop them all as the queues stop on it (cancelled).
        let all = running.withLock { $0 ?? [] }
        for r in all { r.task.cancel() }
        for r in all { await r.task.value }
    }

    /// Applies a reloaded `remote_write` list. Returns the names of the queues started and
    /// stopped.
    @discardableResult
    public func replace(_ configs: [RemoteWriteConfig]) async -> (started: [String], stopped: [String]) {
        let (stopping, starting): ([Running], [RemoteWriteQueue]) = changes.withLock { _ in
            let old = queueList.withLock { $0 }
            var next: [RemoteWriteQueue] = []
            var fresh: [RemoteWriteQueue] = []
            for config in configs {
                if let same = old.first(where: { $0.config == config }) {
                    next.append(same)
                } else {
                    let q = makeQueue(config)
                    next.append(q)
                    fresh.append(q)
                }
            }
            queueList.withLock { $0 = next }
            let kept = Set(next.map { ObjectIdentifier($0) })
            // Before run() started them, the new list is all there is to do.
            guard let current = running.withLock({ $0 }) else { return ([], []) }
            let stopping = current.filter { !kept.contains(ObjectIdentifier($0.queue)) }
            let started = fresh.map { q in Running(queue: q, task: Task { try? await q.run() }) }
            running.withLock { $0 = current.filter { kept.contains(ObjectIdentifier($0.queue)) } + started }
            return (stopping, fresh)
        }
        for r in stopping {
            r.task.cancel()
            await r.task.value
        }
        return (starting.map(\.config.name), stopping.map(\.queue.config.name))
    }
}
