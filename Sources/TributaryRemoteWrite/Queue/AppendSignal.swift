import NIOCore
import NIOPosix
import Synchronization

/// Counts the samples logged to a WAL and wakes the queues waiting for enough of them, so an
/// idle or filling queue sleeps until there is a batch to send (or its deadline) instead of
/// polling the WAL many times a second.
final class AppendSignal: Sendable {
    struct Waiter {
        var id: UInt64
        var threshold: UInt64
        var continuation: CheckedContinuation<Void, Never>
    }

    struct State {
        var nextID: UInt64 = 0
        var waiters: [Waiter] = []
    }

    /// Samples logged since start.
    let appended = Atomic<UInt64>(0)
    let state = Mutex(State())
    let hasWaiters = Atomic<Bool>(false)

    /// Adds `count` logged samples; wakes the waiters whose threshold is reached.
    func add(_ count: Int) {
        // Sequentially consistent, like the waiter's flag-then-count: one side sees the other.
        let total = appended.add(UInt64(count), ordering: .sequentiallyConsistent).newValue
        guard hasWaiters.load(ordering: .sequentiallyConsistent) else { return }
        let ready: [Waiter] = state.withLock { s in
            let ready = s.waiters.filter { $0.threshold <= total }
            s.waiters.removeAll { $0.threshold <= total }
            hasWaiters.store(!s.waiters.isEmpty, ordering: .sequentiallyConsistent)
            return ready
        }
        for w in ready { w.continuation.resume() }
    }

    /// Returns once the count reaches `threshold`, after `timeout`, or on cancellation.
    func wait(until threshold: UInt64, timeout: TimeAmount) async {
        let id = state.withLock { s in
            s.nextID += 1; return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let registered: Bool = state.withLock { s in
                    // The flag goes up before the count is read, so an `add` that this read
                    // misses sees the flag and takes the lock to wake.
                    hasWaiters.store(true, ordering: .sequentiallyConsistent)
                    guard appended.load(ordering: .sequentiallyConsistent) < threshold, !Task.isCancelled else {
                        hasWaiters.store(!s.waiters.isEmpty, ordering: .sequentiallyConsistent)
                        return false
                    }
                    s.waiters.append(Waiter(id: id, threshold: threshold, continuation: continuation))
                    return true
                }
                guard registered else { continuation.resume(); return }
                MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: timeout) { self.wake(id) }
            }
        } onCancel: {
            wake(id)
        }
    }

    /// Wakes waiter `id` if it still waits.
    private func wake(_ id: UInt64) {
        let waiter: Waiter? = state.withLock { s in
            guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            let w = s.waiters.remove(at: i)
            hasWaiters.store(!s.waiters.isEmpty, ordering: .sequentiallyConsistent)
            return w
        }
        waiter?.continuation.resume()
    }
}
