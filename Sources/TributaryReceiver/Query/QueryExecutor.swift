import Foundation
import Synchronization
import TributaryModel

#if canImport(Glibc)
    import Glibc
#endif

/// Runs API queries on threads of their own, so that dashboards never hold the threads that
/// serve remote write: at most `maxConcurrency` at once (Prometheus's `query.max-concurrency`),
/// the rest queued in arrival order, and a query that waited longer than `queueTimeout` is
/// answered 503 `timeout` without running. The threads run at a lower CPU priority (nice 10)
/// than the rest of the process, so on a busy machine ingest gets the cores first.
final class QueryExecutor: @unchecked Sendable {
    struct Job {
        let enqueued: ContinuousClock.Instant
        /// Runs the query, given the seconds it waited for a thread.
        let run: (Double) -> Void
        let expire: () -> Void
    }

    let maxConcurrency: Int
    let queueTimeout: Duration
    private let condition = NSCondition()
    private var queue: [Job] = []
    private var head = 0
    private var threads = 0
    private var idle = 0

    init(maxConcurrency: Int, queueTimeout: Duration) {
        self.maxConcurrency = max(1, maxConcurrency)
        self.queueTimeout = queueTimeout
    }

    /// Queries running now.
    var running: Int {
        condition.lock()
        defer { condition.unlock() }
        return threads - idle
    }

    /// Runs `body` on a query thread, with the seconds the query waited for it, and returns its
    /// answer; `expired` is the answer when the query waited in the queue past the timeout.
    func run(_ body: @escaping @Sendable (_ waited: Double) -> HTTPAnswer, expired: @escaping @Sendable () -> HTTPAnswer) async -> HTTPAnswer {
        await run(responding: { waited, respond in respond(body(waited)) }, expired: expired)
    }

    /// As ``run(_:expired:)``, for a body that answers before it is done: it calls `respond`
    /// (once; later calls are ignored) and may go on writing a streamed body on the query thread.
    func run(
        responding body: @escaping @Sendable (_ waited: Double, _ respond: @escaping @Sendable (HTTPAnswer) -> Void) -> Void,
        expired: @escaping @Sendable () -> HTTPAnswer
    ) async -> HTTPAnswer {
        await withCheckedContinuation { (continuation: CheckedContinuation<HTTPAnswer, Never>) in
            let once = Mutex<CheckedContinuation<HTTPAnswer, Never>?>(continuation)
            let respond: @Sendable (HTTPAnswer) -> Void = { answer in
                once.withLock { c in
                    c?.resume(returning: answer)
                    c = nil
                }
            }
            let job = Job(enqueued: .now, run: { body($0, respond) }, expire: { respond(expired()) })
            condition.lock()
            queue.append(job)
            let wake = idle > 0
            let start = !wake && threads < maxConcurrency
            if start { threads += 1 }
            condition.unlock()
            // Signalled after the lock is let go: a thread woken while it is held wakes only
            // to sleep again on the lock, and the unlock wakes it a second time (two thread
            // switches for one query, seen with `perf sched`).
            if wake {
                condition.signal()
            } else if start {
                Thread { [self] in work() }.start()
            }
        }
    }

    /// Lowers the calling thread's CPU priority to that of query threads (nice 10). On Linux
    /// the nice value belongs to the thread: `who` 0 is this thread alone.
    static func lowerPriority() {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
    }

    private func work() {
        // Named from inside: a name set before start() is not applied on Linux.
        nameCurrentThread("tributary-query")
        Self.lowerPriority()
        while true {
            condition.lock()
            while head == queue.count {
                idle += 1
                condition.wait()
                idle -= 1
            }
            let job = queue[head]
            head += 1
            if head > 64, head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            condition.unlock()
            if ContinuousClock.now - job.enqueued > queueTimeout {
                job.expire()
            } else {
                job.run(job.enqueued.secondsElapsed)
            }
        }
    }
}
