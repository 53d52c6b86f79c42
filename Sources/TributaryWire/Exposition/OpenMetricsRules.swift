import TributaryModel

/// What OpenMetrics 1.0 requires across lines, checked as the lines come: metadata once and
/// before a family's samples; families and label groups contiguous; sample names that fit the
/// family's type; counter-like values not negative or NaN; histogram buckets ordered with a
/// `+Inf` bucket that `_count` equals; summary quantiles in [0, 1]; info and stateset values;
/// exemplars only on `_total` and `_bucket`; timestamps per series never going back.
final class OpenMetricsRules {
    enum Metadata {
        case help
        case type(MetricFamilyType)
        case unit(empty: Bool)
    }

    struct Group {
        var key: [UInt8] = []
        var buckets = 0
        var lastLe = -Double.infinity
        var lastBucket = 0.0
        var infBucket: Double?
        var negativeBucket = false
        var count: Double?
        var sum: Double?
    }

    struct Family {
        var name: [UInt8]
        var type = MetricFamilyType.unknown
        var help = false
        var typed = false
        var unit = false
        var unitNonEmpty = false
        var samples = false
        var group: Group?
        var finishedGroups: Set<ByteKey> = []
        /// Each series' last timestamp (nil: it had none), by its bytes in the body.
        var timestamps = ByteRangeTable<Int64?>()
    }

    var current: Family?
    var seenFamilies: Set<ByteKey> = []
    var usedNames: Set<ByteKey> = []
    var scratch: [UInt8] = []

    // The sample-name suffixes of each type, built once (they are looked at per sample).
    static let counterSuffixes = ["_total", "_created"]
    static let plainSuffixes = [""]
    static let histogramSuffixes = ["_bucket", "_count", "_sum", "_created"]
    static let gaugeHistogramSuffixes = ["_bucket", "_gcount", "_gsum"]
    static let summarySuffixes = ["", "_count", "_sum", "_created"]
    static let infoSuffixes = ["_info"]

    static func suffixes(_ type: MetricFamilyType) -> [String] {
        switch type {
        case .counter: counterSuffixes
        case .gauge, .unknown, .untyped, .stateset: plainSuffixes
        case .histogram: histogramSuffixes
        case .gaugehistogram: gaugeHistogramSuffixes
        case .summary: summarySuffixes
        case .info: infoSuffixes
        }
    }

    static func names(_ family: Family) -> [[UInt8]] {
        suffixes(family.type).map { family.name + Array($0.utf8) }
    }

    /// The suffix `name` has as a sample of `family`, or nil when it is not one of its samples.
    static func suffix(of name: ArraySlice<UInt8>, in family: Family) -> String? {
        guard name.count >= family.name.count, name.prefix(family.name.count).elementsEqual(family.name) else { return nil }
        let rest = name.dropFirst(family.name.count)
        return suffixes(family.type).first { rest.elementsEqual($0.utf8) }
    }

    func metadata(_ kind: Metadata, name: Range<Int>, parser: ExpositionParser) throws(ExpositionError) {
        let key = Array(parser.bytes[name])
        let at = name.lowerBound
        if current?.name != key {
            try close(parser, at: at)
            try open(key, parser, at: at)
        }
        guard var family = current else { return }
        guard !family.samples else { throw parser.error(at, "metadata for \"\(parser.string(name))\" after its samples") }
        switch kind {
        case .help:
            guard !family.help else { throw parser.error(at, "second HELP line for \"\(parser.string(name))\"") }
            family.help = true
        case .unit(let empty):
            guard !family.unit else { throw parser.error(at, "second UNIT line for \"\(parser.string(name))\"") }
            family.unit = true
            family.unitNonEmpty = !empty
        case .type(let type):
            guard !family.typed else { throw parser.error(at, "second TYPE line for \"\(parser.string(name))\"") }
            family.typed = true
            family.type = type
            for n in Self.names(family) where usedNames.contains(ByteKey(n)) {
                throw parser.error(at, "metric family \"\(parser.string(name))\" of type \(type.rawValue) clashes with an earlier family's \"\(String(decoding: n, as: UTF8.self))\"")
            }
        }
        if family.unitNonEmpty, family.type == .info || family.type == .stateset {
            throw parser.error(at, "\(family.type.rawValue) metrics cannot have a unit")
        }
        current = family
    }

    func open(_ name: [UInt8], _ parser: ExpositionParser, at: Int) throws(ExpositionError) {
        guard !seenFamilies.contains(ByteKey(name)) else {
            throw parser.error(at, "metric family \"\(String(decoding: name, as: UTF8.self))\" appears again: a family's lines must be contiguous")
        }
        let family = Family(name: name)
        for n in Self.names(family) where usedNames.contains(ByteKey(n)) {
            throw parser.error(at, "metric \"\(String(decoding: n, as: UTF8.self))\" clashes with an earlier family")
        }
        current = family
    }

    func close(_ parser: ExpositionParser, at: Int) throws(ExpositionError) {
        guard var family = current else { return }
        try finishGroup(&family, parser, at: at)
        seenFamilies.insert(ByteKey(family.name))
        for n in Self.names(family) { usedNames.insert(ByteKey(n)) }
        current = nil
    }

    func finish(_ parser: ExpositionParser) throws(ExpositionError) {
        try close(parser, at: parser.position)
    }

    func finishGroup(_ family: inout Family, _ parser: ExpositionParser, at: Int) throws(ExpositionError) {
        guard let g = family.group else { return }
        family.finishedGroups.insert(ByteKey(g.key))
        family.group = nil
        let name = String(decoding: family.name, as: UTF8.self)
        switch family.type {
        case .histogram:
            guard g.infBucket != nil else { throw parser.error(at, "histogram \"\(name)\" has no +Inf bucket") }
            guard (g.count == nil) == (g.sum == nil) else { throw parser.error(at, "histogram \"\(name)\" must have both _count and _sum or neither") }
            if let count = g.count, count != g.infBucket { throw parser.error(at, "histogram \"\(name)\": _count \(count) differs from the +Inf bucket \(g.infBucket ?? 0)") }
            if g.negativeBucket, g.sum != nil { throw parser.error(at, "histogram \"\(name)\" has negative buckets, so it cannot have _sum") }
        case .gaugehistogram:
            guard g.infBucket != nil else { throw parser.error(at, "gauge histogram \"\(name)\" has no +Inf bucket") }
            guard (g.count == nil) == (g.sum == nil) else { throw parser.error(at, "gauge histogram \"\(name)\" must have both _gcount and _gsum or neither") }
            if let sum = g.sum, sum < 0, !g.negativeBucket { throw parser.error(at, "gauge histogram \"\(name)\": negative _gsum without negative buckets") }
        default:
            break
        }
    }

    func sample(_ s: ExpositionSample, parser: ExpositionParser) throws(ExpositionError) {
        let bytes = parser.bytes
        let nameBytes = bytes[s.name]
        let at = s.name.lowerBound
        var suffix = current.flatMap { Self.suffix(of: nameBytes, in: $0) }
        if suffix == nil {
            try close(parser, at: at)
            try open(Array(nameBytes), parser, at: at)
            suffix = ""
        }
        // Taken out while it changes: a copy left in `current` made each sample copy the
        // family's tables whole (quadratic in its series: 7.9 µs a sample at 500 series).
        guard var family = current, let suffix else { return }
        current = nil
        defer { current = family }
        family.samples = true
        let type = family.type
        /// The sample's name, for errors only.
        var display: String { parser.string(s.name) }

        // The label group: the labels without le (histograms) or quantile (summaries).
        scratch.removeAll(keepingCapacity: true)
        for l in parser.labels {
            if (type == .histogram || type == .gaugehistogram) && parser.equal(l.name, "le") { continue }
            if type == .summary && parser.equal(l.name, "quantile") { continue }
            scratch.append(contentsOf: bytes[l.name]); scratch.append(0)
            scratch.append(contentsOf: bytes[l.value]); scratch.append(0)
        }
        if family.group?.key != scratch {
            try finishGroup(&family, parser, at: at)
            guard !family.finishedGroups.contains(ByteKey(scratch)) else { throw parser.error(at, "samples of \"\(display)\" with these labels appear again: they must be contiguous") }
            family.group = Group(key: scratch)
        }

        // Timestamps of one series only go forward, and are always given or never.
        let known = family.timestamps.count
        let seen = bytes.withUnsafeBufferPointer { family.timestamps.index(of: s.series, in: $0, adding: s.timestamp) }
        if seen < known {
            let previous = family.timestamps.values[seen]
            guard (previous == nil) == (s.timestamp == nil) else { throw parser.error(at, "\"\(display)\" has a timestamp on some samples and not on others") }
            if let p = previous, let t = s.timestamp, t < p { throw parser.error(at, "timestamps of \"\(display)\" go backwards") }
            family.timestamps.values[seen] = s.timestamp
        }

        if s.hasExemplar {
            let allowed = (type == .counter && suffix == "_total") || ((type == .histogram || type == .gaugehistogram) && suffix == "_bucket")
            guard allowed else { throw parser.error(at, "exemplars are only allowed on counter _total and histogram _bucket samples, not on \"\(display)\"") }
        }

        func counterLike(_ what: String) throws(ExpositionError) {
            guard !s.value.isNaN, s.value >= 0 else { throw parser.error(at, "\(what) \"\(display)\" must not be negative or NaN, got \(s.value)") }
        }
        switch (type, suffix) {
        case (.counter, "_total"):
            try counterLike("counter")
        case (.histogram, "_bucket"), (.gaugehistogram, "_bucket"):
            try counterLike("bucket")
            guard let leBytes = parser.label("le") else { throw parser.error(at, "bucket \"\(display)\" has no le label") }
            let le = leBytes.withUnsafeBytes { ExpositionNumbers.float($0, strictWords: true) }
            guard let le, !le.isNaN else { throw parser.error(at, "le label of \"\(display)\" is not a float: \"\(String(decoding: leBytes, as: UTF8.self))\"") }
            var g = family.group ?? Group()
            guard le > g.lastLe else { throw parser.error(at, "buckets of \"\(display)\" are not in increasing le order") }
            guard s.value >= g.lastBucket else { throw parser.error(at, "bucket counts of \"\(display)\" decrease") }
            g.lastLe = le
            g.lastBucket = s.value
            g.buckets += 1
            if le < 0 { g.negativeBucket = true }
            if le == .infinity { g.infBucket = s.value }
            family.group = g
        case (.histogram, "_count"), (.summary, "_count"), (.gaugehistogram, "_gcount"):
            try counterLike("count")
            family.group?.count = s.value
        case (.histogram, "_sum"), (.summary, "_sum"):
            try counterLike("sum")
            family.group?.sum = s.value
        case (.gaugehistogram, "_gsum"):
            guard !s.value.isNaN else { throw parser.error(at, "_gsum of \"\(display)\" must not be NaN") }
            family.group?.sum = s.value
        case (.summary, ""):
            guard let qBytes = parser.label("quantile") else { throw parser.error(at, "summary sample \"\(display)\" has no quantile label") }
            let q = qBytes.withUnsafeBytes { ExpositionNumbers.float($0, strictWords: true) }
            guard let q, q >= 0, q <= 1 else { throw parser.error(at, "quantile of \"\(display)\" must be a float in [0, 1], got \"\(String(decoding: qBytes, as: UTF8.self))\"") }
            guard s.value.isNaN || s.value >= 0 else { throw parser.error(at, "quantile value of \"\(display)\" must not be negative") }
        case (.info, "_info"):
            guard s.value == 1 else { throw parser.error(at, "info \"\(display)\" must have the value 1, got \(s.value)") }
        case (.stateset, ""):
            guard s.value == 0 || s.value == 1 else { throw parser.error(at, "stateset \"\(display)\" must be 0 or 1, got \(s.value)") }
            let hasState = parser.labels.contains { bytes[$0.name].elementsEqual(family.name) }
            guard hasState else { throw parser.error(at, "stateset sample \"\(display)\" needs a label named after the family") }
        default:
            break
        }
    }
}

/// Bytes as a set member, hashed in one pass (``StableHash``): `Hasher` takes an `[UInt8]` a
/// byte at a time, and a label group is looked up at every change of series.
struct ByteKey: Hashable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.withUnsafeBytes { StableHash.hash($0) })
    }
}
