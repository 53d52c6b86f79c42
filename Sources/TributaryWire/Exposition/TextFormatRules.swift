import TributaryModel

/// What text 0.0.4 requires across lines: one HELP and one TYPE per family, TYPE before the
/// family's samples, and parseable `quantile` and `le` labels on summaries and histograms.
///
/// Families are found by their name's bytes in the body (``FamilyTable``). With a
/// `Dictionary` keyed by `ArraySlice<UInt8>`, `Hasher` took each name a byte at a time, and on
/// a real node_exporter page (280 families, most of them a sample or two) that was a quarter
/// of the agent's CPU (perf, bench-agent --pages node-exporter).
final class TextFormatRules {
    struct Family {
        var help = false
        var type: MetricFamilyType?
        var samples = false
    }

    private var table = FamilyTable()

    func help(name: Range<Int>, parser: ExpositionParser, at i: Int) throws(ExpositionError) {
        let f = parser.bytes.withUnsafeBufferPointer { table.index(of: name, in: $0) }
        guard !table.families[f].help else { throw parser.error(i, "second HELP line for metric \"\(parser.string(name))\"") }
        table.families[f].help = true
    }

    func type(name: Range<Int>, _ type: MetricFamilyType, parser: ExpositionParser, at i: Int) throws(ExpositionError) {
        let f = parser.bytes.withUnsafeBufferPointer { table.index(of: name, in: $0) }
        guard table.families[f].type == nil else { throw parser.error(i, "second TYPE line for metric \"\(parser.string(name))\"") }
        guard !table.families[f].samples else { throw parser.error(i, "TYPE line for metric \"\(parser.string(name))\" after its samples") }
        table.families[f].type = type
    }

    static let suffixes: [(suffix: StaticString, types: [MetricFamilyType], label: StaticString?)] = [
        ("_bucket", [.histogram], "le"), ("_sum", [.histogram, .summary], nil), ("_count", [.histogram, .summary], nil)
    ]

    /// Checks a sample against its family; returns the label whose value must be a number in
    /// each sample of this name (`le`, `quantile`), if any.
    func sample(name: Range<Int>, parser: ExpositionParser) throws(ExpositionError) -> StaticString? {
        let (family, label) = parser.bytes.withUnsafeBufferPointer { b -> (Int, StaticString?) in
            var found = table.find(name, in: b)
            var type = found.flatMap { table.families[$0].type }
            var label: StaticString?
            if type == nil {
                // `x_bucket`, `x_sum` or `x_count` of a histogram or summary `x` declared before.
                for (suffix, types, l) in Self.suffixes {
                    let n = suffix.utf8CodeUnitCount
                    guard name.count > n, ExpositionParser.equal(b, name.upperBound - n..<name.upperBound, suffix) else { continue }
                    let base = name.lowerBound..<name.upperBound - n
                    if let f = table.find(base, in: b), let t = table.families[f].type, types.contains(t) {
                        found = f
                        type = t
                        label = l
                    }
                    break
                }
            } else if type == .summary {
                label = "quantile"
            }
            return (found ?? table.index(of: name, in: b), label)
        }
        if let label { try check(label, parser, name) }
        table.families[family].samples = true
        return label
    }

    func check(_ label: StaticString, _ parser: ExpositionParser, _ name: Range<Int>) throws(ExpositionError) {
        guard let value = parser.label(label) else { return }
        let ok = value.withUnsafeBytes { ExpositionNumbers.float($0, strictWords: false) } != nil
        guard ok else { throw parser.error(name.lowerBound, "expected a float as value for the \(label) label, got \"\(String(decoding: value, as: UTF8.self))\"") }
    }
}

/// The families of one body by name: names are ranges of the body (valid while it is parsed),
/// hashed with ``StableHash`` and compared in place, in an open-addressing table of indexes.
struct FamilyTable {
    private(set) var names: [Range<Int>] = []
    var families: [TextFormatRules.Family] = []
    /// Indexes into `names`, -1 where empty; a power of two, at most half full.
    private var slots = [Int32](repeating: -1, count: 64)

    /// The family named `name`, if the body named it before.
    func find(_ name: Range<Int>, in body: UnsafeBufferPointer<UInt8>) -> Int? {
        probe(name, in: body).found
    }

    /// The family named `name`, added when new.
    mutating func index(of name: Range<Int>, in body: UnsafeBufferPointer<UInt8>) -> Int {
        let (slot, found) = probe(name, in: body)
        if let found { return found }
        let index = names.count
        names.append(name)
        families.append(TextFormatRules.Family())
        slots[slot] = Int32(truncatingIfNeeded: index)
        if names.count * 2 > slots.count { grow(body) }
        return index
    }

    /// Where `name` is, or the empty slot where it would go.
    private func probe(_ name: Range<Int>, in body: UnsafeBufferPointer<UInt8>) -> (slot: Int, found: Int?) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: Self.hash(name, body)) & mask
        while true {
            let i = Int(slots[slot])
            if i < 0 { return (slot, nil) }
            if ExpositionParser.equal(body, names[i], name) { return (slot, i) }
            slot = (slot + 1) & mask
        }
    }

    private mutating func grow(_ body: UnsafeBufferPointer<UInt8>) {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        let mask = slots.count - 1
        for (i, name) in names.enumerated() {
            var slot = Int(truncatingIfNeeded: Self.hash(name, body)) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(truncatingIfNeeded: i)
        }
    }

    private static func hash(_ name: Range<Int>, _ body: UnsafeBufferPointer<UInt8>) -> UInt64 {
        StableHash.hash(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: body[name])))
    }
}
