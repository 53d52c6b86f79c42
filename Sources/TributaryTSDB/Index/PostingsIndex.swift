import TributaryModel

/// What selecting series by matchers needs of an inverted index, the head's or a block's.
package protocol PostingsIndex {
    /// Every series.
    func allPostings() throws(QueryError) -> [UInt32]
    /// Series whose `name` is `value`.
    func postings(_ name: String, _ value: String) throws(QueryError) -> [UInt32]
    /// Series whose `name` has a (non-empty) value satisfying `predicate`.
    func postings(_ name: String, where predicate: (String) -> Bool) throws(QueryError) -> [UInt32]
}

extension PostingsIndex {
    /// Series matching all matchers, with Prometheus's semantics (`PostingsForMatchers`): a
    /// matcher that matches "" also selects series without the label.
    /// - Throws: when every matcher matches the empty string (that would select everything).
    package func select(_ matchers: [Matcher]) throws(QueryError) -> [UInt32] {
        if matchers.isEmpty { return try allPostings() }
        if matchers.allSatisfy(\.matchesEmpty) {
            throw QueryError("vector selector must contain at least one non-empty matcher")
        }
        var result: [UInt32]?
        var subtract: [[UInt32]] = []
        // Positive matchers first, most selective (equality) first.
        for m in matchers.sorted(by: { Self.rank($0) < Self.rank($1) }) {
            if m.matchesEmpty {
                // `l!="v"`, `l=~"v|"`, `l!~"re"`: all series except those with a non-matching value.
                subtract.append(try postings(m.name) { !m.matches($0) })
                continue
            }
            let list: [UInt32]
            if m.type == .equal {
                list = try postings(m.name, m.value)
            } else if let literals = m.literalAlternatives {
                var lists: [[UInt32]] = []
                for literal in literals { lists.append(try postings(m.name, literal)) }
                list = Postings.merge(lists)
            } else {
                list = try postings(m.name, where: m.matches)
            }
            result = result.map { Postings.intersect($0, list) } ?? list
            if result?.isEmpty == true { return [] }
        }
        var out: [UInt32]
        if let result { out = result } else { out = try allPostings() }
        for list in subtract { out = Postings.without(out, list) }
        return out
    }

    static func rank(_ m: Matcher) -> Int {
        switch m.type {
        case .equal: m.matchesEmpty ? 4 : 0
        case .regexMatch: m.literalAlternatives != nil ? 1 : (m.matchesEmpty ? 4 : 2)
        case .notEqual, .regexNoMatch: m.matchesEmpty ? 4 : 3
        }
    }
}
