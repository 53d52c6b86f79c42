import Glibc
import TributaryModel

/// One label of the current sample: byte ranges into the body. `escaped` says the value holds
/// backslash escapes, to be undone with ``ExpositionParser/labelValue(_:)``.
public struct LabelSpan: Sendable, Equatable {
    public var name: Range<Int>
    public var value: Range<Int>
    public var escaped: Bool
}

/// A line of the body, for error coordinates.
struct LinePosition {
    let line: Int
    /// The offset of the line's first byte.
    let start: Int

    func error(_ at: Int, _ message: String) -> ExpositionError {
        ExpositionError(line: max(line, 1), column: at - start + 1, message: message)
    }
}

/// A sample line. `series` is the raw `name{labels}` bytes, the key a scrape cache looks
/// series up by without building labels; `labels` of the parser hold the parsed spans.
public struct ExpositionSample: Sendable, Equatable {
    public var series: Range<Int>
    public var name: Range<Int>
    public var value: Double
    /// Milliseconds (OpenMetrics seconds are converted).
    public var timestamp: Int64?
    public var hasExemplar: Bool
    /// The exemplar, decoded when the parser's ``ExpositionParser/keepExemplars`` is set.
    public var exemplar: ScrapedExemplar? = nil
}

/// An OpenMetrics exemplar (` # {trace_id="…"} 0.5 1700000000.123`) as scraped; without a
/// timestamp of its own it takes the sample's.
public struct ScrapedExemplar: Sendable, Equatable {
    public var labels: Labels
    public var value: Double
    /// Milliseconds, if the exposition gave one.
    public var timestamp: Int64?
}

public enum ExpositionEntry: Sendable, Equatable {
    case sample(ExpositionSample)
    case help(name: Range<Int>, text: Range<Int>)
    case type(name: Range<Int>, MetricFamilyType)
    case unit(name: Range<Int>, unit: Range<Int>)
}

/// A byte-level parser of Prometheus text 0.0.4 and OpenMetrics 1.0 text. It yields one entry
/// per sample or metadata line and checks, as it goes, what each format requires of the whole
/// exposition (metadata before samples, no repeats, and for OpenMetrics: contiguous families,
/// histogram and summary shapes, counter values, exemplar placement, `# EOF`).
/// Errors carry the line and column.
public struct ExpositionParser {
    public let bytes: [UInt8]
    public let format: ExpositionFormat
    /// The labels of the last sample returned.
    public internal(set) var labels: [LabelSpan] = []
    /// Decode exemplars into ``ExpositionSample/exemplar`` (otherwise they are only checked).
    public var keepExemplars = false
    /// The labels of the exemplar being parsed, collected when ``keepExemplars`` is set.
    var exemplarLabels: [(name: String, value: String)] = []
    var position = 0
    var line = 0
    var lineStart = 0
    var sawEOF = false
    /// The name of the last text sample and the label its family checks (see `textLine`).
    var lastSampleName: Range<Int>?
    var lastSampleCheck: StaticString?
    let textRules = TextFormatRules()
    let openMetricsRules = OpenMetricsRules()

    public init(_ bytes: [UInt8], format: ExpositionFormat) {
        self.bytes = bytes
        self.format = format
        labels.reserveCapacity(16)
    }

    public func string(_ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    /// The value of a label with its escapes undone.
    public func labelValue(_ span: LabelSpan) -> ArraySlice<UInt8> {
        guard span.escaped else { return bytes[span.value] }
        return ArraySlice(Self.unescape(bytes[span.value]))
    }

    public static func unescape(_ raw: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = raw.startIndex
        while i < raw.endIndex {
            let c = raw[i]
            if c == UInt8(ascii: "\\"), i + 1 < raw.endIndex {
                let n = raw[i + 1]
                switch n {
                case UInt8(ascii: "n"): out.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "\\"), UInt8(ascii: "\""): out.append(n)
                default: out.append(c); out.append(n)
                }
                i += 2
            } else {
                out.append(c)
                i += 1
            }
        }
        return out
    }

    /// The next entry, or nil at the end of the body.
    public mutating func next() throws(ExpositionError) -> ExpositionEntry? {
        try next(known: { _ in false })
    }

    /// ``next()``, asking `known` first about each text 0.0.4 sample with labels: given the
    /// sample's series bytes as written (`name{labels}`), it answers whether those exact bytes
    /// were parsed and accepted before (a scrape cache holds them). Their labels are then not
    /// parsed again and ``labels`` stays empty: the same bytes pass the same checks. No other
    /// check is skipped (the value, the timestamp, the family rules).
    public mutating func next(known: (UnsafeRawBufferPointer) -> Bool) throws(ExpositionError) -> ExpositionEntry? {
        while true {
            guard position < bytes.count else {
                if format == .openMetrics, !sawEOF { throw error(position, "missing \"# EOF\" at the end") }
                if format == .openMetrics { try openMetricsRules.finish(self) }
                return nil
            }
            if sawEOF { throw error(position, "text after \"# EOF\"") }
            line += 1
            lineStart = position
            let from = position
            let end = bytes.withUnsafeBytes { b -> Int in
                guard let base = b.baseAddress, let nl = memchr(base + from, 10, b.count - from) else { return b.count }
                return base.distance(to: UnsafeRawPointer(nl))
            }
            let terminated = end < bytes.count
            let entry: ExpositionEntry?
            switch format {
            case .prometheusText:
                if !terminated, !isBlank(position..<end) { throw error(end, "unexpected end of input: the last line must end with a newline") }
                entry = try textLine(position..<end, known)
            case .openMetrics:
                entry = try openMetricsLine(position..<end)
                if sawEOF {
                    position = end + (terminated ? 1 : 0)
                    if position < bytes.count { throw error(position, "text after \"# EOF\"") }
                    try openMetricsRules.finish(self)
                    return nil
                }
            }
            position = end + (terminated ? 1 : 0)
            if let entry { return entry }
        }
    }

    // MARK: shared pieces

    func error(_ at: Int, _ message: String) -> ExpositionError {
        here.error(at, message)
    }

    /// The line being parsed, for errors thrown where the parser itself is not at hand.
    var here: LinePosition { LinePosition(line: line, start: lineStart) }

    static func string(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: b[range]), as: UTF8.self)
    }

    func isBlank(_ r: Range<Int>) -> Bool {
        for i in r where bytes[i] != UInt8(ascii: " ") && bytes[i] != UInt8(ascii: "\t") { return false }
        return true
    }

    @inline(__always) static func isNameStart(_ c: UInt8) -> Bool {
        (c | 0x20) &- UInt8(ascii: "a") < 26 || c == UInt8(ascii: "_")
    }

    @inline(__always) static func isNameChar(_ c: UInt8) -> Bool {
        isNameStart(c) || c &- UInt8(ascii: "0") < 10
    }

    /// The end of a metric name starting at `i` (`[a-zA-Z_:][a-zA-Z0-9_:]*`), or `i` if none.
    func metricNameEnd(_ i: Int, _ end: Int) -> Int {
        bytes.withUnsafeBufferPointer { Self.metricNameEnd($0, i, end) }
    }

    func labelNameEnd(_ i: Int, _ end: Int) -> Int {
        bytes.withUnsafeBufferPointer { Self.labelNameEnd($0, i, end) }
    }

    @inline(__always) static func metricNameEnd(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        guard i < end, isNameStart(b[i]) || b[i] == UInt8(ascii: ":") else { return i }
        var j = i + 1
        while j < end, isNameChar(b[j]) || b[j] == UInt8(ascii: ":") { j += 1 }
        return j
    }

    @inline(__always) static func labelNameEnd(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        guard i < end, isNameStart(b[i]) else { return i }
        var j = i + 1
        while j < end, isNameChar(b[j]) { j += 1 }
        return j
    }

    /// Whether the bytes at `x` and `y` are the same.
    @inline(__always) static func equal(_ b: UnsafeBufferPointer<UInt8>, _ x: Range<Int>, _ y: Range<Int>) -> Bool {
        guard x.count == y.count else { return false }
        var i = x.lowerBound, j = y.lowerBound
        while i < x.upperBound {
            if b[i] != b[j] { return false }
            i += 1
            j += 1
        }
        return true
    }

    func equal(_ r: Range<Int>, _ word: StaticString) -> Bool {
        bytes.withUnsafeBufferPointer { Self.equal($0, r, word) }
    }

    static func equal(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ word: StaticString) -> Bool {
        guard r.count == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        for (k, i) in r.enumerated() where b[i] != w[k] { return false }
        return true
    }

    func float(_ r: Range<Int>, strictWords: Bool) -> Double? {
        bytes.withUnsafeBytes { ExpositionNumbers.float(UnsafeRawBufferPointer(rebasing: $0[r]), strictWords: strictWords) }
    }

    func integer(_ r: Range<Int>) -> Int64? {
        bytes.withUnsafeBytes { ExpositionNumbers.integer(UnsafeRawBufferPointer(rebasing: $0[r])) }
    }

    /// Reads a quoted label value starting after the opening quote at `i`; returns the value's
    /// range, whether it has escapes, and the index after the closing quote. Text 0.0.4 allows
    /// only `\\`, `\"` and `\n`; OpenMetrics passes other escapes through.
    func quoted(_ i: Int, _ end: Int, strictEscapes: Bool) throws(ExpositionError) -> (Range<Int>, Bool, Int) {
        let here = here
        return try bytes.withUnsafeBufferPointer { b throws(ExpositionError) in try Self.quoted(b, i, end, strictEscapes: strictEscapes, here) }
    }

    @inline(__always) static func quoted(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int, strictEscapes: Bool, _ here: LinePosition) throws(ExpositionError) -> (Range<Int>, Bool, Int) {
        var j = i, escaped = false, seen: UInt8 = 0
        while j < end {
            let c = b[j]
            if c == UInt8(ascii: "\"") {
                if seen >= 0x80, !UTF8Check.isValid(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[i..<j]))) {
                    throw here.error(i, "label value is not valid UTF-8")
                }
                return (i..<j, escaped, j + 1)
            }
            if c == UInt8(ascii: "\\") {
                guard j + 1 < end else { break }
                let n = b[j + 1]
                if strictEscapes, n != UInt8(ascii: "\\"), n != UInt8(ascii: "\""), n != UInt8(ascii: "n") {
                    throw here.error(j, "invalid escape sequence \"\\\(Character(Unicode.Scalar(n)))\" in label value")
                }
                escaped = true
                j += 2
                continue
            }
            seen |= c
            j += 1
        }
        throw here.error(end, "label value is not terminated by a quote before the end of the line")
    }

    mutating func addLabel(_ span: LabelSpan, at i: Int) throws(ExpositionError) {
        let spans = labels, here = here
        try bytes.withUnsafeBufferPointer { b throws(ExpositionError) in try Self.checkLabelName(b, span.name, against: spans, here) }
        labels.append(span)
    }

    /// A label of a sample may not be `__name__` or repeat one of `spans`.
    @inline(__always) static func checkLabelName(_ b: UnsafeBufferPointer<UInt8>, _ name: Range<Int>, against spans: [LabelSpan], _ here: LinePosition) throws(ExpositionError) {
        if name.count == 8, equal(b, name, "__name__") { throw here.error(name.lowerBound, "label name \"__name__\" is reserved") }
        for s in spans where equal(b, s.name, name) {
            throw here.error(name.lowerBound, "duplicate label name \"\(string(b, name))\"")
        }
    }

    /// The value of label `name` in the current sample, escapes undone.
    func label(_ name: StaticString) -> ArraySlice<UInt8>? {
        for l in labels where equal(l.name, name) { return labelValue(l) }
        return nil
    }
}
