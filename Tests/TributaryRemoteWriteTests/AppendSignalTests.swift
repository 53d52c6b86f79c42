import NIOCore
import Synchronization
import Testing

@testable import TributaryRemoteWrite

/// Queues sleep on the append count: woken when enough samples are logged, after the timeout
/// otherwise, and at once when cancelled or when the count is already there.
@Suite struct AppendSignalTests {
    @Test func wakesAtTheThresholdTheTimeoutOrCancellation() async throws {
        let signal = AppendSignal()
        signal.add(5)
        let clock = ContinuousClock()
        // Already reached: no wait.
        let immediate = await clock.measure { await signal.wait(until: 5, timeout: .seconds(10)) }
        #expect(immediate < .seconds(1))
        // Reached by adds while waiting: woken by the second add, not before it (the count it
        // sees on waking) and not by the timeout.
        let woke = Atomic<Bool>(false)
        let waiting = Task {
            let took = await clock.measure { await signal.wait(until: 105, timeout: .seconds(10)) }
            woke.store(true, ordering: .sequentiallyConsistent)
            return (took, signal.appended.load(ordering: .sequentiallyConsistent))
        }
        try await Task.sleep(for: .milliseconds(100))
        signal.add(50)
        try await Task.sleep(for: .milliseconds(100))
        let early = woke.load(ordering: .sequentiallyConsistent)
        #expect(!early, "55 of 105: still waiting")
        signal.add(50)
        let (woken, count) = await waiting.value
        #expect(count == 105 && woken < .seconds(5), "\(woken), count \(count)")
        // Not reached: the timeout.
        let timedOut = await clock.measure { await signal.wait(until: 1_000, timeout: .milliseconds(200)) }
        #expect(timedOut >= .milliseconds(190) && timedOut < .seconds(5), "\(timedOut)")
        // Cancelled.
        let cancelled = Task { await clock.measure { await signal.wait(until: 1_000, timeout: .seconds(10)) } }
        try await Task.sleep(for: .milliseconds(100))
        cancelled.cancel()
        #expect(await cancelled.value < .seconds(5))
        #expect(signal.state.withLock { $0.waiters.isEmpty })
    }
}
