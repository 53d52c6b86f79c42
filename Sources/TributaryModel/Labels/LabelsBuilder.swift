/// Collects labels in any order and produces sorted ``Labels``; setting a name twice keeps the
/// last value, an empty value removes the label (Prometheus's `labels.Builder` semantics).
public struct LabelsBuilder {
    private var entries: [(name: String, value: String)] = []

    public init() {}

    /// Starts from an existing set.
    public init(_ labels: Labels) {
        entries = labels.pairs
    }

    public mutating func set(_ name: String, _ value: String) {
        if let i = entries.firstIndex(where: { $0.name == name }) {
            entries[i].value = value
        } else {
            entries.append((name, value))
        }
    }

    public mutating func delete(_ name: String) {
        entries.removeAll { $0.name == name }
    }

    /// The sorted label set, without empty values.
    public func labels() -> Labels {
        let sorted = entries.filter { !$0.value.isEmpty }.sorted { a, b in
            a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
        return Labels(sortedPairs: sorted)
    }
}
