import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TributaryModel
import TributaryTSDB

/// Writes the head's old data to blocks, compacts blocks and applies retention: at start, then
/// every `interval` seconds (a minute, as Prometheus checks) and as soon as a commit leaves the
/// head due for a block; each run on a thread of its own at query priority, so block writing
/// never occupies the threads that serve remote write.
/// A failed run is logged and counted, and the next run tries again.
public struct TSDBMaintenanceService: Service {
    let receiver: Receiver
    let logger: Logger

    public init(receiver: Receiver, logger: Logger) {
        self.receiver = receiver
        self.logger = logger
    }

    public func run() async throws {
        let interval = receiver.configuration.storageMaintenanceInterval
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await Self.maintain(receiver.db, logger: logger)
                let last = ContinuousClock.now
                while !Task.isCancelled, ContinuousClock.now - last < .milliseconds(Int(interval * 1000)),
                    !receiver.maintenanceWanted.exchange(false, ordering: .relaxed)
                {
                    try? await Task.sleep(for: .milliseconds(Int(min(interval, 0.25) * 1000)))
                }
            }
        }
    }

    /// One run of ``DB/maintain()`` on a thread of its own.
    static func maintain(_ db: DB, logger: Logger) async {
        await onLowPriorityThread(named: "tributary-tsdb") {
            do {
                try db.maintain()
            } catch {
                logger.error("block writing, compaction or retention failed; retrying at the next run", metadata: ["error": "\(error)"])
            }
            // Block writing and compaction allocate and free tens of megabytes at a time;
            // glibc keeps freed heap in its arenas unless asked to give it back.
            HeapTrim.now()
        }
    }
}
