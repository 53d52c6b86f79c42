import Foundation
import Synchronization
import Testing
import TributaryPromQL

/// The helper threads run every task of a job exactly once, also when several queries use the
/// pool at once (the later ones run on their own threads) and when a job is smaller than the
/// pool.
@Suite struct WorkerPoolTests {
    final class Record: Sendable {
        let runs = Mutex([Int](repeating: 0, count: 8 * 1000))
        let workers = Mutex(Set<Int>())
    }

    @Test func everyTaskRunsOnceUnderConcurrentCallers() async {
        let pool = WorkerPool(helpers: 3)
        let record = Record()
        await withTaskGroup(of: Void.self) { group in
            for caller in 0..<8 {
                group.addTask {
                    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                        Thread {
                            pool.run(tasks: 1000) { worker, task in
                                record.runs.withLock { $0[caller * 1000 + task] += 1 }
                                record.workers.withLock { _ = $0.insert(worker) }
                            }
                            done.resume()
                        }.start()
                    }
                }
            }
        }
        #expect(record.runs.withLock { $0.allSatisfy { $0 == 1 } }, "each task once")
        #expect(record.workers.withLock { $0.isSubset(of: Set(0..<pool.workers)) })
        var single = 0
        pool.run(tasks: 1) { _, _ in single += 1 }
        #expect(single == 1)
    }

    /// Range queries' columns go in batches of `batch` series; series of a few steps in more,
    /// up to `maximumBatch`.
    @Test func batchesGrowForFewSteps() {
        let pool = WorkerPool(helpers: 0, batch: 512, maximumBatch: 4096)
        #expect(pool.batch(steps: 241) == 512)
        #expect(pool.batch(steps: 64) == 512)
        #expect(pool.batch(steps: 32) == 1024)
        #expect(pool.batch(steps: 16) == 2048)
        #expect(pool.batch(steps: 1) == 4096)
        #expect(pool.batch(steps: 0) == 4096)
        #expect(WorkerPool(helpers: 0, batch: 512, maximumBatch: 100).batch(steps: 1) == 512)
    }
}
