import Foundation
import TributaryModel

/// Runs `body` on a new thread named `name`, at query priority (nice 10, as
/// ``QueryExecutor/lowerPriority()`` sets), and returns when it is done. For a service's
/// occasional long work (block writing, a heap trim): no thread of Swift's concurrency pool
/// waits on it, and ingest keeps the cores first.
func onLowPriorityThread(named name: String, _ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
        Thread {
            // Named from inside: a name set before start() is not applied on Linux.
            nameCurrentThread(name)
            QueryExecutor.lowerPriority()
            body()
            done.resume()
        }.start()
    }
}
