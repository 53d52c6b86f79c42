import Foundation
import Logging
import Synchronization
import TributaryModel
import TributaryRemoteWrite

/// The running scrape loops, by target. `apply` starts loops for new targets and stops those
/// of targets the configuration no longer has; a stopped target's series (and its synthetic
/// ones) get stale markers, as Prometheus writes them when a target goes away.
public final class ScrapePool: Sendable {
    struct Running {
        var loop: ScrapeLoop
        var task: Task<Void, Never>?
    }

    /// The loops by target key, and the keys in configuration order, changed together.
    struct State {
        var running: [String: Running] = [:]
        var order: [String] = []
    }

    let state = Mutex(State())

    /// The loops in configuration order.
    public var loops: [ScrapeLoop] {
        state.withLock { s in s.order.compactMap { s.running[$0]?.loop } }
    }

    static func key(_ t: ScrapeTarget) -> String {
        t.job + "\u{0}" + t.url + "\u{0}" + t.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// Replaces the set of loops with `loops` (the same loop object for a target keeps running,
    /// with its series cache; another one replaces it); with `start`, new loops begin scraping. Returns how many were
    /// added and the ones removed, still to be stopped.
    func replace(_ loops: [ScrapeLoop], start: Bool) -> (added: Int, removed: [Running]) {
        state.withLock { s in
            let wanted = Dictionary(loops.map { (Self.key($0.target), $0) }, uniquingKeysWith: { a, _ in a })
            var removed: [Running] = []
            var added = 0
            // Gone, or replaced by a new loop for the same target (its job's settings changed).
            for (k, v) in s.running where wanted[k].map({ $0 !== v.loop }) ?? true {
                removed.append(v)
                s.running[k] = nil
            }
            for (k, loop) in wanted where s.running[k] == nil {
                s.running[k] = Running(loop: loop, task: start ? Task { await loop.run() } : nil)
                added += 1
            }
            s.order = loops.map { Self.key($0.target) }
            return (added, removed)
        }
    }

    /// ``replace(_:start:)``, then stops the removed loops and writes their stale markers.
    /// Returns the number of targets added and removed.
    @discardableResult
    public func apply(_ loops: [ScrapeLoop], start: Bool, clock: WallClock = .system) async -> (added: Int, removed: Int) {
        let (added, removed) = replace(loops, start: start)
        await stop(removed, clock: clock)
        return (added, removed.count)
    }

    /// Stops loops ``replace(_:start:)`` removed and writes their stale markers.
    func stop(_ removed: [Running], clock: WallClock) async {
        for old in removed {
            old.task?.cancel()
            await old.task?.value
            old.loop.end(at: clock.now())
        }
    }

    /// Starts every loop that is not running.
    func startAll() {
        state.withLock { s in
            for (k, v) in s.running where v.task == nil {
                let loop = v.loop
                s.running[k]?.task = Task { await loop.run() }
            }
        }
    }

    /// Stops every loop (shutdown: no stale markers, as Prometheus does not write them then).
    func stopAll() async {
        let tasks = state.withLock { s in s.running.values.compactMap(\.task) }
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
    }
}
