import TributaryModel

/// Prometheus text format 0.0.4: blanks are flexible, comments other than HELP and TYPE are
/// ignored, a trailing comma in a label set is allowed, timestamps are integer milliseconds.
extension ExpositionParser {
    mutating func textLine(_ r: Range<Int>) throws(ExpositionError) -> ExpositionEntry? {
        var i = skipBlanks(r.lowerBound, r.upperBound)
        let end = r.upperBound
        guard i < end else { return nil }
        if bytes[i] == UInt8(ascii: "#") { return try textComment(i + 1, end) }

        labels.removeAll(keepingCapacity: true)
        let nameEnd = metricNameEnd(i, end)
        guard nameEnd > i else { throw error(i, "expected a metric name") }
        let name = i..<nameEnd
        var seriesEnd = nameEnd
        i = skipBlanks(nameEnd, end)
        if i < end, bytes[i] == UInt8(ascii: "{") {
            i = skipBlanks(i + 1, end)
            while true {
                guard i < end else { throw error(i, "label set is not closed") }
                if bytes[i] == UInt8(ascii: "}") { i += 1; break }
                let ln = labelNameEnd(i, end)
                guard ln > i else { throw error(i, "invalid label name") }
                var j = skipBlanks(ln, end)
                guard j < end, bytes[j] == UInt8(ascii: "=") else { throw error(j, "expected \"=\" after label name \"\(string(i..<ln))\"") }
                j = skipBlanks(j + 1, end)
                guard j < end, bytes[j] == UInt8(ascii: "\"") else { throw error(j, "expected '\"' to start the value of label \"\(string(i..<ln))\"") }
                let (value, escaped, after) = try quoted(j + 1, end, strictEscapes: true)
                try addLabel(LabelSpan(name: i..<ln, value: value, escaped: escaped), at: i)
                j = skipBlanks(after, end)
                guard j < end else { throw error(j, "label set is not closed") }
                if bytes[j] == UInt8(ascii: ",") {
                    i = skipBlanks(j + 1, end)
                } else if bytes[j] == UInt8(ascii: "}") {
                    i = j + 1
                    break
                } else {
                    throw error(j, "expected \",\" or \"}\" after a label value")
                }
            }
            seriesEnd = i
            i = skipBlanks(i, end)
        }
        let valueEnd = tokenEnd(i, end)
        guard valueEnd > i, let value = float(i..<valueEnd, strictWords: false) else {
            throw error(i, valueEnd > i ? "expected a float as value, got \"\(string(i..<valueEnd))\"" : "missing value")
        }
        i = skipBlanks(valueEnd, end)
        var timestamp: Int64?
        if i < end {
            let tsEnd = tokenEnd(i, end)
            guard let t = integer(i..<tsEnd) else { throw error(i, "expected an integer timestamp in milliseconds, got \"\(string(i..<tsEnd))\"") }
            timestamp = t
            i = skipBlanks(tsEnd, end)
            guard i == end else { throw error(i, "unexpected text after the timestamp") }
        }
        // Consecutive samples of one name (most of a body) skip the family rules: only a
        // histogram's `le` or a summary's `quantile` is checked again. Compared in place: the
        // rules take the whole parser, whose arrays it costs a retain each to pass.
        if let last = lastSampleName, last.count == name.count,
           bytes.withUnsafeBytes({ FlatLabels.equal(UnsafeRawBufferPointer(rebasing: $0[last]), UnsafeRawBufferPointer(rebasing: $0[name])) }) {
            if let label = lastSampleCheck { try textRules.check(label, self, name) }
        } else {
            lastSampleCheck = try textRules.sample(name: name, parser: self)
            lastSampleName = name
        }
        return .sample(ExpositionSample(series: r.lowerBound + (name.lowerBound - r.lowerBound)..<seriesEnd, name: name, value: value, timestamp: timestamp, hasExemplar: false))
    }

    mutating func textComment(_ start: Int, _ end: Int) throws(ExpositionError) -> ExpositionEntry? {
        var i = skipBlanks(start, end)
        let keywordEnd = tokenEnd(i, end)
        let isHelp = equal(i..<keywordEnd, "HELP"), isType = equal(i..<keywordEnd, "TYPE")
        guard isHelp || isType else { return nil }
        i = skipBlanks(keywordEnd, end)
        // "# HELP" or "# HELP name" with nothing after is an ordinary comment.
        guard i < end else { return nil }
        let nameEnd = metricNameEnd(i, end)
        if nameEnd == i || (nameEnd < end && bytes[nameEnd] != UInt8(ascii: " ") && bytes[nameEnd] != UInt8(ascii: "\t")) {
            throw error(i, "invalid metric name \"\(string(i..<tokenEnd(i, end)))\" in \(isHelp ? "HELP" : "TYPE") line")
        }
        guard nameEnd < end else { return nil }
        let name = i..<nameEnd
        i = skipBlanks(nameEnd, end)
        if isHelp {
            try checkHelpEscapes(i, end)
            lastSampleName = nil
            try textRules.help(name: name, parser: self, at: i)
            return .help(name: name, text: i..<end)
        }
        var typeEnd = end
        while typeEnd > i, bytes[typeEnd - 1] == UInt8(ascii: " ") || bytes[typeEnd - 1] == UInt8(ascii: "\t") { typeEnd -= 1 }
        let typeName = string(i..<typeEnd)
        guard let type = MetricFamilyType(rawValue: typeName), [.counter, .gauge, .histogram, .summary, .untyped].contains(type) else {
            throw error(i, "unknown metric type \"\(typeName)\"")
        }
        lastSampleName = nil
        try textRules.type(name: name, type, parser: self, at: i)
        return .type(name: name, type)
    }

    func checkHelpEscapes(_ start: Int, _ end: Int) throws(ExpositionError) {
        var i = start
        while i < end {
            if bytes[i] == UInt8(ascii: "\\") {
                guard i + 1 < end, bytes[i + 1] == UInt8(ascii: "\\") || bytes[i + 1] == UInt8(ascii: "n") else {
                    throw error(i, "invalid escape sequence in HELP text")
                }
                i += 2
            } else {
                i += 1
            }
        }
    }

    @inline(__always) func skipBlanks(_ i: Int, _ end: Int) -> Int {
        var j = i
        while j < end, bytes[j] == UInt8(ascii: " ") || bytes[j] == UInt8(ascii: "\t") { j += 1 }
        return j
    }

    @inline(__always) func tokenEnd(_ i: Int, _ end: Int) -> Int {
        var j = i
        while j < end, bytes[j] != UInt8(ascii: " "), bytes[j] != UInt8(ascii: "\t") { j += 1 }
        return j
    }
}

/// What text 0.0.4 requires across lines: one HELP and one TYPE per family, TYPE before the
/// family's samples, and parseable `quantile` and `le` labels on summaries and histograms.
final class TextFormatRules {
    struct Family {
        var help = false
        var type: MetricFamilyType?
        var samples = false
    }

    var families: [ArraySlice<UInt8>: Family] = [:]

    func help(name: Range<Int>, parser: ExpositionParser, at i: Int) throws(ExpositionError) {
        let key = parser.bytes[name]
        guard families[key]?.help != true else { throw parser.error(i, "second HELP line for metric \"\(parser.string(name))\"") }
        families[key, default: Family()].help = true
    }

    func type(name: Range<Int>, _ type: MetricFamilyType, parser: ExpositionParser, at i: Int) throws(ExpositionError) {
        let key = parser.bytes[name]
        let family = families[key] ?? Family()
        guard family.type == nil else { throw parser.error(i, "second TYPE line for metric \"\(parser.string(name))\"") }
        guard !family.samples else { throw parser.error(i, "TYPE line for metric \"\(parser.string(name))\" after its samples") }
        families[key, default: Family()].type = type
    }

    /// The last sample name seen and what it resolved to: consecutive samples of a family
    /// (the usual case) skip the dictionary.

    static let suffixes: [(suffix: [UInt8], types: [MetricFamilyType], label: StaticString?)] = [
        (Array("_bucket".utf8), [.histogram], "le"), (Array("_sum".utf8), [.histogram, .summary], nil), (Array("_count".utf8), [.histogram, .summary], nil),
    ]

    /// Checks a sample against its family; returns the label whose value must be a number in
    /// each sample of this name (`le`, `quantile`), if any.
    func sample(name: Range<Int>, parser: ExpositionParser) throws(ExpositionError) -> StaticString? {
        let bytes = parser.bytes
        var key = bytes[name]
        var type = families[key]?.type
        var label: StaticString?
        if type == nil {
            for (suffix, types, l) in Self.suffixes {
                guard key.count > suffix.count, key.suffix(suffix.count).elementsEqual(suffix) else { continue }
                let base = key.dropLast(suffix.count)
                if let t = families[base]?.type, types.contains(t) {
                    key = base
                    type = t
                    label = l
                }
                break
            }
        } else if type == .summary {
            label = "quantile"
        }
        if let label { try check(label, parser, name) }
        if families[key]?.samples != true { families[key, default: Family()].samples = true }
        return label
    }

    func check(_ label: StaticString, _ parser: ExpositionParser, _ name: Range<Int>) throws(ExpositionError) {
        guard let value = parser.label(label) else { return }
        let ok = value.withUnsafeBytes { ExpositionNumbers.float($0, strictWords: false) } != nil
        guard ok else { throw parser.error(name.lowerBound, "expected a float as value for the \(label) label, got \"\(String(decoding: value, as: UTF8.self))\"") }
    }
}
