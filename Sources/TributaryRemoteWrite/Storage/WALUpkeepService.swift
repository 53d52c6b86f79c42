import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TributaryModel
import TributaryWAL

/// Flushes a queue WAL every few seconds and, every minute, removes the segments every queue
/// has delivered (or that are older than the retention), after checkpointing their series.
/// The agent runs one for its WAL; a forwarding receiver runs one for its forward WAL.
public struct WALUpkeepService: Service {
    let storage: QueueStorage
    /// The queues reading the WAL now (a reload may change them).
    let queues: @Sendable () -> [RemoteWriteQueue]
    let retention: Int64
    let logger: Logger
    /// Retention and segment ages are measured against it.
    let clock: WallClock
    /// Called every tick (the agent updates its active-series gauge there).
    let tick: @Sendable () -> Void
    /// Called once a minute with the time, just before the truncation check (the forwarder
    /// expires its idle series there, so the truncation drops them).
    let everyMinute: @Sendable (Int64) -> Void

    public init(
        storage: QueueStorage, queues: @escaping @Sendable () -> [RemoteWriteQueue], retention: Int64, logger: Logger, clock: WallClock = .system,
        tick: @escaping @Sendable () -> Void = {}, everyMinute: @escaping @Sendable (Int64) -> Void = { _ in }
    ) {
        self.storage = storage
        self.queues = queues
        self.retention = retention
        self.logger = logger
        self.clock = clock
        self.tick = tick
        self.everyMinute = everyMinute
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var ticks = 0
            var lastTruncation = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(2))
                try? storage.wal.sync()
                tick()
                ticks += 1
                guard ticks % 30 == 0 else { continue }
                everyMinute(clock.now())
                if upkeep(sinceLast: ContinuousClock.now - lastTruncation) { lastTruncation = .now }
            }
        }
        try? storage.wal.sync()
    }

    /// Segments removable before a truncation is worth its checkpoint (which writes every
    /// series: at 100k series it cost about a tenth of the agent's CPU when done every minute).
    static let segmentsPerTruncation = 4
    /// ... unless this long has passed since the last one.
    static let truncationPeriod = Duration.seconds(600)

    /// Truncates when enough segments are delivered (or the period passed, or retention
    /// forces it); true when it did.
    @discardableResult
    func upkeep(sinceLast: Duration = .seconds(600)) -> Bool {
        do {
            let now = clock.now()
            let segments = try storage.wal.segments()
            guard let last = segments.last else { return false }
            // What every queue has delivered (everything when there are no queues); a queue that
            // has not started yet holds everything back.
            var before = queues().reduce(last) { m, q in min(m, q.committed.withLock { $0?.segment } ?? 0) }
            // Segments older than the retention go even if a queue is stuck on them.
            var expired = false
            for s in segments where s < last {
                let path = storage.wal.path(of: s)
                if let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
                    Int64(modified.timeIntervalSince1970 * 1000) < now - retention
                {
                    before = max(before, s + 1)
                    expired = true
                }
            }
            let removable = segments.filter { $0 < before }.count
            guard removable > 0 else { return false }
            guard removable >= Self.segmentsPerTruncation || sinceLast >= Self.truncationPeriod || expired else { return false }
            try storage.truncate(before: WALPosition(segment: before, offset: 0), now: now, retention: retention)
            return true
        } catch {
            logger.error("queue WAL upkeep failed", metadata: ["error": "\(error)"])
            return false
        }
    }
}
