import Foundation
import Logging
import Synchronization
import TributaryModel

/// The running scrape loops, by target. `apply` starts loops for new targets and stops those
/// of targets the configuration no longer has; a stopped target's series (and its synthetic
/// ones) get stale markers, as Prometheus writes them when a target goes away.
public final class ScrapePool: Sendable {
    struct Running {
        var loop: ScrapeLoop
        var task: Task<Void, Never>?
    }

    let running = Mutex<[String: Running]>([:])
    let order = Mutex<[String]>([])

    /// The loops in configuration order.
    public var loops: [ScrapeLoop] {
        let keys = order.withLock { $0 }
        return running.withLock { r in keys.compactMap { r[$0]?.loop } }
    }

    static func key(_ t: ScrapeTarget) -> String {
        t.job + "\u{0}" + t.url + "\u{0}" + t.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// Replaces the set of loops with `loops` (those whose target is unchanged keep running,
    /// with their series cache). With `start`, new loops begin scraping. Returns the number of
    /// targets added and removed.
    @discardableResult
    public func apply(_ loops: [ScrapeLoop], start: Bool) async -> (added: Int, removed: Int) {
        var removed: [Running] = []
        var added = 0
        running.withLock { r in
            let wanted = Dictionary(loops.map { (Self.key($0.target), $0) }, uniquingKeysWith: { a, _ in a })
            for (k, v) in r where wanted[k] == nil {
                removed.append(v)
                r[k] = nil
            }
            for (k, loop) in wanted where r[k] == nil {
                r[k] = Running(loop: loop, task: start ? Task { await loop.run() } : nil)
                added += 1
            }
        }
        order.withLock { $0 = loops.map { Self.key($0.target) } }
        for old in removed {
            old.task?.cancel()
            await old.task?.value
            old.loop.end(at: Int64(Date().timeIntervalSince1970 * 1000))
        }
        return (added, removed.count)
    }

    /// Starts every loop that is not running.
    func startAll() {
        running.withLock { r in
            for (k, v) in r where v.task == nil {
                let loop = v.loop
                r[k]?.task = Task { await loop.run() }
            }
        }
    }

    /// Stops every loop (shutdown: no stale markers, as Prometheus does not write them then).
    func stopAll() async {
        let tasks = running.withLock { r in r.values.compactMap(\.task) }
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
    }
}
