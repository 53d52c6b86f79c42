import Synchronization
import TributaryModel

/// The head's inverted index: label name → value → postings list of series IDs, plus the
/// matcher evaluation that turns selectors into postings, as Prometheus's `MemPostings` and
/// `PostingsForMatchers`.
///
/// Concurrency: one lock; writers are series creations (rare next to samples).
public final class MemPostings: Sendable {
    struct State: PostingsIndex {
        var index: [String: [String: [UInt32]]] = [:]
        /// Every series, for matchers that match the empty value.
        var all: [UInt32] = []

        func allPostings() -> [UInt32] { all }

        func postings(_ name: String, _ value: String) -> [UInt32] { index[name]?[value] ?? [] }

        func postings(_ name: String, where predicate: (String) -> Bool) -> [UInt32] {
            guard let values = index[name] else { return [] }
            var lists: [[UInt32]] = []
            for (value, list) in values where predicate(value) { lists.append(list) }
            return Postings.merge(lists)
        }
    }

    let state = Mutex(State())

    public init() {}

    /// Adds series `id` with `labels`.
    public func add(_ id: UInt32, _ labels: Labels) {
        let pairs = labels.pairs
        state.withLock { s in
            Postings.insert(id, into: &s.all)
            for (name, value) in pairs {
                Postings.insert(id, into: &s.index[name, default: [:]][value, default: []])
            }
        }
    }

    /// Removes series `id` (head garbage collection).
    public func remove(_ id: UInt32, _ labels: Labels) {
        let pairs = labels.pairs
        state.withLock { s in
            Postings.remove(id, from: &s.all)
            for (name, value) in pairs {
                Postings.remove(id, from: &s.index[name, default: [:]][value, default: []])
                if s.index[name]?[value]?.isEmpty == true { s.index[name]?[value] = nil }
                if s.index[name]?.isEmpty == true { s.index[name] = nil }
            }
        }
    }

    /// Series matching all matchers (see ``PostingsIndex/select(_:)``).
    /// - Throws: when every matcher matches the empty string (that would select everything).
    public func select(_ matchers: [Matcher]) throws(QueryError) -> [UInt32] {
        try state.withLock { s throws(QueryError) in try s.select(matchers) }
    }

    /// Label names in use, sorted.
    public func labelNames() -> [String] {
        state.withLock { Array($0.index.keys) }.sorted()
    }

    /// Values of `name` in use, sorted.
    public func labelValues(_ name: String) -> [String] {
        state.withLock { $0.index[name].map { Array($0.keys) } ?? [] }.sorted()
    }

    /// Calls `body` with the index under the lock (for statistics).
    func withIndex<R>(_ body: ([String: [String: [UInt32]]], [UInt32]) -> R) -> R {
        state.withLock { body($0.index, $0.all) }
    }
}
