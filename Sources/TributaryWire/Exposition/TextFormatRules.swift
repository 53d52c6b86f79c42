import TributaryModel

/// What text 0.0.4 requires across lines: one HELP and one TYPE per family, TYPE before the
/// family's samples, and parseable `quantile` and `le` labels on summaries and histograms.
///
/// Families are found by their name's bytes in the body (``ByteRangeTable``): a real
/// node_exporter page has about 280 families, most of a sample or two, so every HELP line,
/// TYPE line and change of sample name is a lookup.
final class TextFormatRules {
    struct Family {
        var help = false
        var type: MetricFamilyType?
        var samples = false
    }

    private var table = ByteRangeTable<Family>()

    func help(name: Range<Int>, parser: ExpositionParser, at i: Int) throws(ExpositionError) {
        let f = parser.bytes.withUnsafeBufferPointer { table.index(of: name, in: $0, adding: Family()) }
        guard !table.values[f].help else { throw parser.error(i, "second HELP line for metric \"\(parser.string(name))\"") }
        table.values[f].help = true
    }

    func type(name: Range<Int>, _ type: MetricFamilyType, parser: ExpositionParser, at i: Int) throws(ExpositionError) {
        let f = parser.bytes.withUnsafeBufferPointer { table.index(of: name, in: $0, adding: Family()) }
        guard table.values[f].type == nil else { throw parser.error(i, "second TYPE line for metric \"\(parser.string(name))\"") }
        guard !table.values[f].samples else { throw parser.error(i, "TYPE line for metric \"\(parser.string(name))\" after its samples") }
        table.values[f].type = type
    }

    static let suffixes: [(suffix: StaticString, types: [MetricFamilyType], label: StaticString?)] = [
        ("_bucket", [.histogram], "le"), ("_sum", [.histogram, .summary], nil), ("_count", [.histogram, .summary], nil)
    ]

    /// Checks a sample against its family; returns the label whose value must be a number in
    /// each sample of this name (`le`, `quantile`), if any.
    func sample(name: Range<Int>, parser: ExpositionParser) throws(ExpositionError) -> StaticString? {
        let (family, label) = parser.bytes.withUnsafeBufferPointer { b -> (Int, StaticString?) in
            var found = table.find(name, in: b)
            var type = found.flatMap { table.values[$0].type }
            var label: StaticString?
            if type == nil {
                // `x_bucket`, `x_sum` or `x_count` of a histogram or summary `x` declared before.
                for (suffix, types, l) in Self.suffixes {
                    let n = suffix.utf8CodeUnitCount
                    guard name.count > n, ExpositionParser.equal(b, name.upperBound - n..<name.upperBound, suffix) else { continue }
                    let base = name.lowerBound..<name.upperBound - n
                    if let f = table.find(base, in: b), let t = table.values[f].type, types.contains(t) {
                        found = f
                        type = t
                        label = l
                    }
                    break
                }
            } else if type == .summary {
                label = "quantile"
            }
            return (found ?? table.index(of: name, in: b, adding: Family()), label)
        }
        if let label { try check(label, parser, name) }
        table.values[family].samples = true
        return label
    }

    func check(_ label: StaticString, _ parser: ExpositionParser, _ name: Range<Int>) throws(ExpositionError) {
        guard let value = parser.label(label) else { return }
        let ok = value.withUnsafeBytes { ExpositionNumbers.float($0, strictWords: false) } != nil
        guard ok else { throw parser.error(name.lowerBound, "expected a float as value for the \(label) label, got \"\(String(decoding: value, as: UTF8.self))\"") }
    }
}
