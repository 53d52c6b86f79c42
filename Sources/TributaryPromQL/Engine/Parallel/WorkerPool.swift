import Foundation
import Synchronization
import TributaryModel

/// Helper threads that a query lends its per-series work to: ``run(tasks:_:)`` spreads task
/// numbers over the calling thread and the idle helpers and returns when all are done.
///
/// One query at a time uses the helpers; a query that finds them busy runs its tasks on its
/// own thread (no queueing, no deadlock). `threadSetup` runs first on each helper, e.g. to
/// lower its CPU priority to that of the query threads.
public final class WorkerPool: @unchecked Sendable {
    /// One `run` call: tasks handed out through an atomic counter.
    final class Job: @unchecked Sendable {
        let tasks: Int
        let body: (_ worker: Int, _ task: Int) -> Void
        let next = Atomic<Int>(0)

        init(tasks: Int, body: @escaping (Int, Int) -> Void) {
            self.tasks = tasks
            self.body = body
        }

        func work(as worker: Int) {
            while true {
                let task = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard task < tasks else { return }
                body(worker, task)
            }
        }
    }

    public let helpers: Int
    /// Fewest series worth spreading, and how many are read and computed together before
    /// being handed on in order (``batch(steps:)``).
    public let minimumSeries: Int
    public let batch: Int
    public let maximumBatch: Int
    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var job: Job?
    private var generation = 0
    private var active = 0

    /// Workers one job may use: the caller and the helpers.
    public var workers: Int { helpers + 1 }

    public init(
        helpers: Int, minimumSeries: Int = 64, batch: Int = 512, maximumBatch: Int = 4096, threadSetup: @escaping @Sendable () -> Void = {}
    ) {
        self.helpers = max(0, helpers)
        self.minimumSeries = max(1, minimumSeries)
        self.batch = max(1, batch)
        self.maximumBatch = max(self.batch, maximumBatch)
        for index in 0..<self.helpers {
            Thread { [self] in
                // Set from inside the thread (see nameCurrentThread), at most 15 bytes.
                nameCurrentThread("query-helper-\(index + 1)")
                threadSetup()
                loop(worker: index + 1)
            }.start()
        }
    }

    /// Series per batch when each has `steps` steps: ``batch`` for a range query's columns,
    /// more for fewer than 64 steps, up to ``maximumBatch``. A one-step refresh computes a
    /// series in about 2 µs, so batches of 512 over 12.7k series woke the helpers and waited
    /// for them 25 times.
    public func batch(steps: Int) -> Int {
        min(maximumBatch, batch * max(1, 64 / max(1, steps)))
    }

    private func loop(worker: Int) {
        var seen = 0
        condition.lock()
        while true {
            while job == nil || generation == seen { condition.wait() }
            seen = generation
            guard let current = job else { continue }
            active += 1
            condition.unlock()
            current.work(as: worker)
            condition.lock()
            active -= 1
            condition.broadcast()
        }
    }

    /// Runs `body(worker, task)` for every task in `0..<tasks`, each once, on up to
    /// ``workers`` threads (`worker` tells which, for per-thread scratch space), and returns
    /// when all have finished.
    public func run(tasks: Int, _ body: (_ worker: Int, _ task: Int) -> Void) {
        guard tasks > 1, helpers > 0 else {
            for t in 0..<tasks { body(0, t) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let job = Job(tasks: tasks, body: body)
            condition.lock()
            guard self.job == nil else {
                condition.unlock()
                job.work(as: 0)  // helpers busy with another query
                return
            }
            self.job = job
            generation += 1
            condition.broadcast()
            condition.unlock()
            job.work(as: 0)
            condition.lock()
            self.job = nil  // late helpers find nothing to join
            while active > 0 { condition.wait() }
            condition.unlock()
        }
    }
}

extension WorkerPool {
    /// `pool` when `count` tasks are enough to be worth spreading on it (its
    /// ``minimumSeries``), else nil: the calling thread does them alone, in order
    /// (``runTasks(on:tasks:_:)`` takes either).
    public static func spreading(_ count: Int, on pool: WorkerPool?) -> WorkerPool? {
        guard let pool, count >= pool.minimumSeries else { return nil }
        return pool
    }
}

/// Storage reads independent parts of a selection (the blocks) on a query's helpers.
extension WorkerPool: TaskRunner {}
