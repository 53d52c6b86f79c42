import TributaryModel

/// Prometheus text format 0.0.4: blanks are flexible, comments other than HELP and TYPE are
/// ignored, a trailing comma in a label set is allowed, timestamps are integer milliseconds.
extension ExpositionParser {
    mutating func textLine(_ r: Range<Int>, _ known: (UnsafeRawBufferPointer) -> Bool) throws(ExpositionError) -> ExpositionEntry? {
        let end = r.upperBound
        let i = skipBlanks(r.lowerBound, end)
        guard i < end else { return nil }
        if bytes[i] == UInt8(ascii: "#") { return try textComment(i + 1, end) }
        let (name, seriesEnd, value, timestamp) = try textSample(i, end, known)
        // Consecutive samples of one name (most of a body) skip the family rules: only a
        // histogram's `le` or a summary's `quantile` is checked again. Compared in place: the
        // rules take the whole parser, whose arrays it costs a retain each to pass.
        if let last = lastSampleName, last.count == name.count,
            bytes.withUnsafeBufferPointer({ Self.equal($0, last, name) })
        {
            if let label = lastSampleCheck { try textRules.check(label, self, name) }
        } else {
            lastSampleCheck = try textRules.sample(name: name, parser: self)
            lastSampleName = name
        }
        return .sample(ExpositionSample(series: name.lowerBound..<seriesEnd, name: name, value: value, timestamp: timestamp, hasExemplar: false))
    }

    /// `name{labels} value [timestamp]` from `start` (not blank) to `end`: the labels go to
    /// `labels`. Scanned on the body's pointer: this loop is most of an agent's parsing time.
    mutating func textSample(_ start: Int, _ end: Int, _ known: (UnsafeRawBufferPointer) -> Bool) throws(ExpositionError)
        -> (name: Range<Int>, seriesEnd: Int, value: Double, timestamp: Int64?)
    {
        // Taken out while it is filled, so appending does not copy it.
        var spans = labels
        labels = []
        defer { labels = spans }
        spans.removeAll(keepingCapacity: true)
        let here = here
        return try bytes.withUnsafeBufferPointer { b throws(ExpositionError) in
            var i = start
            let nameEnd = Self.metricNameEnd(b, i, end)
            guard nameEnd > i else { throw here.error(i, "expected a metric name") }
            var seriesEnd = nameEnd
            i = Self.skipBlanks(b, nameEnd, end)
            if i < end, b[i] == UInt8(ascii: "{"), let close = Self.labelSetEnd(b, i + 1, end),
                known(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[start..<close])))
            {
                seriesEnd = close
                i = Self.skipBlanks(b, close, end)
            } else if i < end, b[i] == UInt8(ascii: "{") {
                i = Self.skipBlanks(b, i + 1, end)
                while true {
                    guard i < end else { throw here.error(i, "label set is not closed") }
                    if b[i] == UInt8(ascii: "}") { i += 1; break }
                    let ln = Self.labelNameEnd(b, i, end)
                    guard ln > i else { throw here.error(i, "invalid label name") }
                    var j = Self.skipBlanks(b, ln, end)
                    guard j < end, b[j] == UInt8(ascii: "=") else { throw here.error(j, "expected \"=\" after label name \"\(Self.string(b, i..<ln))\"") }
                    j = Self.skipBlanks(b, j + 1, end)
                    guard j < end, b[j] == UInt8(ascii: "\"") else { throw here.error(j, "expected '\"' to start the value of label \"\(Self.string(b, i..<ln))\"") }
                    let (value, escaped, after) = try Self.quoted(b, j + 1, end, strictEscapes: true, here)
                    try Self.checkLabelName(b, i..<ln, against: spans, here)
                    spans.append(LabelSpan(name: i..<ln, value: value, escaped: escaped))
                    j = Self.skipBlanks(b, after, end)
                    guard j < end else { throw here.error(j, "label set is not closed") }
                    if b[j] == UInt8(ascii: ",") {
                        i = Self.skipBlanks(b, j + 1, end)
                    } else if b[j] == UInt8(ascii: "}") {
                        i = j + 1
                        break
                    } else {
                        throw here.error(j, "expected \",\" or \"}\" after a label value")
                    }
                }
                seriesEnd = i
                i = Self.skipBlanks(b, i, end)
            }
            let valueEnd = Self.tokenEnd(b, i, end)
            guard valueEnd > i, let value = ExpositionNumbers.float(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[i..<valueEnd])), strictWords: false) else {
                throw here.error(i, valueEnd > i ? "expected a float as value, got \"\(Self.string(b, i..<valueEnd))\"" : "missing value")
            }
            i = Self.skipBlanks(b, valueEnd, end)
            var timestamp: Int64?
            if i < end {
                let tsEnd = Self.tokenEnd(b, i, end)
                guard let t = ExpositionNumbers.integer(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[i..<tsEnd]))) else {
                    throw here.error(i, "expected an integer timestamp in milliseconds, got \"\(Self.string(b, i..<tsEnd))\"")
                }
                timestamp = t
                i = Self.skipBlanks(b, tsEnd, end)
                guard i == end else { throw here.error(i, "unexpected text after the timestamp") }
            }
            return (start..<nameEnd, seriesEnd, value, timestamp)
        }
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
        // Compared as bytes: a String per TYPE line was a few percent of a real page's parse.
        let word = i..<typeEnd
        guard let type = Self.textTypes.first(where: { equal(word, $0.word) })?.type else {
            throw error(i, "unknown metric type \"\(string(word))\"")
        }
        lastSampleName = nil
        try textRules.type(name: name, type, parser: self, at: i)
        return .type(name: name, type)
    }

    /// The types a text 0.0.4 TYPE line may name.
    static let textTypes: [(word: StaticString, type: MetricFamilyType)] = [
        ("counter", .counter), ("gauge", .gauge), ("histogram", .histogram), ("summary", .summary), ("untyped", .untyped)
    ]

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

    /// The index after the `}` closing a label set that starts at `i` (after its `{`), found
    /// without checking the labels: quotes and the escapes inside them are followed. Nil when
    /// the line ends first.
    @inline(__always) static func labelSetEnd(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int? {
        var j = i, quoted = false
        while j < end {
            let c = b[j]
            if quoted {
                if c == UInt8(ascii: "\\") {
                    j += 2
                    continue
                }
                if c == UInt8(ascii: "\"") { quoted = false }
            } else if c == UInt8(ascii: "\"") {
                quoted = true
            } else if c == UInt8(ascii: "}") {
                return j + 1
            }
            j += 1
        }
        return nil
    }

    func skipBlanks(_ i: Int, _ end: Int) -> Int {
        bytes.withUnsafeBufferPointer { Self.skipBlanks($0, i, end) }
    }

    func tokenEnd(_ i: Int, _ end: Int) -> Int {
        bytes.withUnsafeBufferPointer { Self.tokenEnd($0, i, end) }
    }

    @inline(__always) static func skipBlanks(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        var j = i
        while j < end, b[j] == UInt8(ascii: " ") || b[j] == UInt8(ascii: "\t") { j += 1 }
        return j
    }

    @inline(__always) static func tokenEnd(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        var j = i
        while j < end, b[j] != UInt8(ascii: " "), b[j] != UInt8(ascii: "\t") { j += 1 }
        return j
    }
}
