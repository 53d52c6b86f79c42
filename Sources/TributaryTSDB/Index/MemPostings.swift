import Synchronization
import TributaryModel

/// The head's inverted index: label name → value → postings list of series IDs, plus the
/// matcher evaluation that turns selectors into postings, as Prometheus's `MemPostings` and
/// `PostingsForMatchers`.
///
/// Concurrency: one lock; writers are series creations (rare next to samples).
public final class MemPostings: Sendable {
    struct State {
        var index: [String: [String: [UInt32]]] = [:]
        /// Every series, for matchers that match the empty value.
        var all: [UInt32] = []
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

    /// Series matching all matchers (Prometheus's semantics: a matcher that matches "" also
    /// selects series without the label).
    /// - Throws: when every matcher matches the empty string (that would select everything).
    public func select(_ matchers: [Matcher]) throws(QueryError) -> [UInt32] {
        if matchers.isEmpty { return state.withLock { $0.all } }
        if matchers.allSatisfy(\.matchesEmpty) {
            throw QueryError("vector selector must contain at least one non-empty matcher")
        }
        return state.withLock { s in
            var result: [UInt32]?
            var subtract: [[UInt32]] = []
            // Positive matchers first, most selective (equality) first.
            let ordered = matchers.sorted { rank($0) < rank($1) }
            for m in ordered {
                let list: [UInt32]
                if m.matchesEmpty {
                    // `l!="v"`, `l=~"v|"`, `l!~"re"`: all series except those with a non-matching value.
                    let inverse = Self.postings(s, name: m.name) { !m.matches($0) }
                    subtract.append(inverse)
                    continue
                }
                list = Self.postings(s, matcher: m)
                result = result.map { Postings.intersect($0, list) } ?? list
                if result?.isEmpty == true { return [] }
            }
            var out = result ?? s.all
            for list in subtract { out = Postings.without(out, list) }
            return out
        }
    }

    private func rank(_ m: Matcher) -> Int {
        switch m.type {
        case .equal: m.matchesEmpty ? 4 : 0
        case .regexMatch: m.literalAlternatives != nil ? 1 : (m.matchesEmpty ? 4 : 2)
        case .notEqual, .regexNoMatch: m.matchesEmpty ? 4 : 3
        }
    }

    /// Postings of series whose value of `m.name` matches `m` (non-empty values only).
    static func postings(_ s: State, matcher m: Matcher) -> [UInt32] {
        guard let values = s.index[m.name] else { return [] }
        if m.type == .equal { return values[m.value] ?? [] }
        if let literals = m.literalAlternatives {
            return Postings.merge(literals.compactMap { values[$0] })
        }
        return postings(s, name: m.name, where: m.matches)
    }

    static func postings(_ s: State, name: String, where predicate: (String) -> Bool) -> [UInt32] {
        guard let values = s.index[name] else { return [] }
        var lists: [[UInt32]] = []
        for (value, list) in values where predicate(value) { lists.append(list) }
        return Postings.merge(lists)
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
