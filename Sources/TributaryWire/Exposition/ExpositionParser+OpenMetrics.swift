import TributaryModel

/// OpenMetrics 1.0 text: single spaces, no blank lines, only HELP/TYPE/UNIT/EOF comments,
/// timestamps in seconds, exemplars after ` # `.
extension ExpositionParser {
    mutating func openMetricsLine(_ r: Range<Int>) throws(ExpositionError) -> ExpositionEntry? {
        let end = r.upperBound
        var i = r.lowerBound
        guard i < end else { throw error(i, "blank line") }
        if bytes[i] == UInt8(ascii: "#") { return try openMetricsComment(r) }

        labels.removeAll(keepingCapacity: true)
        let nameEnd = metricNameEnd(i, end)
        guard nameEnd > i else { throw error(i, "expected a metric name") }
        let name = i..<nameEnd
        i = nameEnd
        if i < end, bytes[i] == UInt8(ascii: "{") { i = try openMetricsLabels(i + 1, end, into: true) }
        let seriesEnd = i
        guard i < end, bytes[i] == UInt8(ascii: " ") else { throw error(i, "expected a space and the value") }
        i += 1
        let valueEnd = spaceEnd(i, end)
        guard valueEnd > i, let value = float(i..<valueEnd, strictWords: true) else {
            throw error(i, valueEnd > i ? "expected a float as value, got \"\(string(i..<valueEnd))\"" : "missing value")
        }
        i = valueEnd
        var timestamp: Int64?
        var hasExemplar = false
        var exemplar: ScrapedExemplar?
        if i < end {
            guard bytes[i] == UInt8(ascii: " "), i + 1 < end else { throw error(i, "unexpected text after the value") }
            i += 1
            if bytes[i] != UInt8(ascii: "#") {
                let tsEnd = spaceEnd(i, end)
                timestamp = try openMetricsTimestamp(i..<tsEnd)
                i = tsEnd
                if i < end {
                    guard bytes[i] == UInt8(ascii: " "), i + 1 < end, bytes[i + 1] == UInt8(ascii: "#") else { throw error(i, "unexpected text after the timestamp") }
                    i += 1
                }
            }
            if i < end {
                exemplar = try openMetricsExemplar(i, end)
                hasExemplar = true
            }
        }
        let sample = ExpositionSample(series: name.lowerBound..<seriesEnd, name: name, value: value, timestamp: timestamp, hasExemplar: hasExemplar, exemplar: exemplar)
        try openMetricsRules.sample(sample, parser: self)
        return .sample(sample)
    }

    func spaceEnd(_ i: Int, _ end: Int) -> Int {
        var j = i
        while j < end, bytes[j] != UInt8(ascii: " ") { j += 1 }
        return j
    }

    func openMetricsTimestamp(_ r: Range<Int>) throws(ExpositionError) -> Int64 {
        guard !r.isEmpty, let seconds = float(r, strictWords: true), seconds.isFinite else {
            throw error(r.lowerBound, "expected a timestamp in seconds, got \"\(string(r))\"")
        }
        return ExpositionNumbers.milliseconds(fromSeconds: seconds)
    }

    /// `{name="value",…}` from after the brace; returns the index after `}`. Labels go to
    /// `labels` when `into` is set; else they are an exemplar's, checked, and collected in
    /// `exemplarLabels` when ``keepExemplars`` is set.
    mutating func openMetricsLabels(_ start: Int, _ end: Int, into: Bool) throws(ExpositionError) -> Int {
        var i = start
        var exemplarRunes = 0
        var names: [Range<Int>] = []
        if i < end, bytes[i] == UInt8(ascii: "}") { return i + 1 }
        while true {
            let ln = labelNameEnd(i, end)
            guard ln > i else { throw error(i, "invalid label name") }
            guard ln < end, bytes[ln] == UInt8(ascii: "=") else { throw error(ln, "expected \"=\" after label name \"\(string(i..<ln))\"") }
            guard ln + 1 < end, bytes[ln + 1] == UInt8(ascii: "\"") else { throw error(ln + 1, "expected '\"' to start the value of label \"\(string(i..<ln))\"") }
            let (value, escaped, after) = try quoted(ln + 2, end, strictEscapes: false)
            if into {
                try addLabel(LabelSpan(name: i..<ln, value: value, escaped: escaped), at: i)
            } else {
                for n in names where bytes[n] == bytes[i..<ln] { throw error(i, "duplicate exemplar label \"\(string(i..<ln))\"") }
                names.append(i..<ln)
                if keepExemplars {
                    exemplarLabels.append((string(i..<ln), String(decoding: labelValue(LabelSpan(name: i..<ln, value: value, escaped: escaped)), as: UTF8.self)))
                }
                exemplarRunes += ln - i + bytes.withUnsafeBytes { UTF8Check.runeCount(UnsafeRawBufferPointer(rebasing: $0[value])) }
            }
            guard after < end else { throw error(after, "label set is not closed") }
            if bytes[after] == UInt8(ascii: "}") {
                if !into, exemplarRunes > 128 { throw error(start, "exemplar labels have \(exemplarRunes) characters, more than 128") }
                return after + 1
            }
            guard bytes[after] == UInt8(ascii: ",") else { throw error(after, "expected \",\" or \"}\" after a label value") }
            i = after + 1
        }
    }

    /// `# {labels} value [timestamp]` at `i` (the `#`); decoded when ``keepExemplars`` is set.
    mutating func openMetricsExemplar(_ start: Int, _ end: Int) throws(ExpositionError) -> ScrapedExemplar? {
        var i = start
        guard i + 2 < end, bytes[i] == UInt8(ascii: "#"), bytes[i + 1] == UInt8(ascii: " "), bytes[i + 2] == UInt8(ascii: "{") else {
            throw error(i, "expected an exemplar \"# {labels} value\"")
        }
        exemplarLabels.removeAll(keepingCapacity: true)
        i = try openMetricsLabels(i + 3, end, into: false)
        guard i < end, bytes[i] == UInt8(ascii: " ") else { throw error(i, "expected a space and the exemplar value") }
        i += 1
        let valueEnd = spaceEnd(i, end)
        guard valueEnd > i, let value = float(i..<valueEnd, strictWords: true) else { throw error(i, "expected a float as exemplar value") }
        i = valueEnd
        var timestamp: Int64?
        if i < end {
            guard bytes[i] == UInt8(ascii: " "), i + 1 < end else { throw error(i, "unexpected text after the exemplar value") }
            let tsEnd = spaceEnd(i + 1, end)
            timestamp = try openMetricsTimestamp(i + 1..<tsEnd)
            guard tsEnd == end else { throw error(tsEnd, "unexpected text after the exemplar timestamp") }
        }
        guard keepExemplars else { return nil }
        exemplarLabels.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        return ScrapedExemplar(labels: Labels(sortedPairs: exemplarLabels), value: value, timestamp: timestamp)
    }

    mutating func openMetricsComment(_ r: Range<Int>) throws(ExpositionError) -> ExpositionEntry? {
        let end = r.upperBound
        if equal(r, "# EOF") { sawEOF = true; return nil }
        let keyword = r.lowerBound..<min(r.lowerBound + 7, end)
        let isHelp = equal(keyword, "# HELP "), isType = equal(keyword, "# TYPE "), isUnit = equal(keyword, "# UNIT ")
        guard isHelp || isType || isUnit else { throw error(r.lowerBound, "unknown comment: OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF") }
        let i = keyword.upperBound
        let nameEnd = metricNameEnd(i, end)
        guard nameEnd > i else { throw error(i, "expected a metric name") }
        guard nameEnd < end, bytes[nameEnd] == UInt8(ascii: " ") else { throw error(nameEnd, "expected a space after the metric name") }
        let name = i..<nameEnd, rest = nameEnd + 1..<end
        if isHelp {
            try openMetricsRules.metadata(.help, name: name, parser: self)
            return .help(name: name, text: rest)
        }
        if isType {
            let typeName = string(rest)
            guard let type = MetricFamilyType(rawValue: typeName), type != .untyped else { throw error(rest.lowerBound, "unknown metric type \"\(typeName)\"") }
            try openMetricsRules.metadata(.type(type), name: name, parser: self)
            return .type(name: name, type)
        }
        if !rest.isEmpty {
            let suffix = [UInt8(ascii: "_")] + bytes[rest]
            guard name.count > suffix.count, bytes[name].suffix(suffix.count).elementsEqual(suffix) else {
                throw error(rest.lowerBound, "metric name \"\(string(name))\" must end with \"_\(string(rest))\", its unit")
            }
        }
        try openMetricsRules.metadata(.unit(empty: rest.isEmpty), name: name, parser: self)
        return .unit(name: name, unit: rest)
    }
}
