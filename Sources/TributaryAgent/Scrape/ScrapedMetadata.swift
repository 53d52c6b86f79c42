import TributaryModel
import TributaryWire

/// The `# HELP`, `# TYPE` and `# UNIT` lines of one scrape, kept as byte ranges while the body
/// is parsed and turned into metric metadata only when they changed since the last good
/// scrape (a target's metadata rarely changes; building strings for it at every scrape would
/// cost more than comparing a hash).
struct ScrapedMetadata {
    private(set) var lines: [ExpositionEntry] = []

    mutating func note(_ entry: ExpositionEntry) {
        lines.append(entry)
    }

    /// A hash of the lines' bytes and types.
    func fingerprint(_ body: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ x: UInt64) { h = (h ^ x) &* 0x0000_0100_0000_01b3 }
        for line in lines {
            switch line {
            case .help(let name, let text):
                mix(1)
                mix(StableHash.hash(UnsafeRawBufferPointer(rebasing: body[name])))
                mix(StableHash.hash(UnsafeRawBufferPointer(rebasing: body[text])))
            case .type(let name, let type):
                mix(2)
                mix(StableHash.hash(UnsafeRawBufferPointer(rebasing: body[name])))
                mix(UInt64(type.metadataType.rawValue))
            case .unit(let name, let unit):
                mix(3)
                mix(StableHash.hash(UnsafeRawBufferPointer(rebasing: body[name])))
                mix(StableHash.hash(UnsafeRawBufferPointer(rebasing: body[unit])))
            case .sample:
                break
            }
        }
        return h
    }

    /// One entry per family, in the order the families first appear; a family with a help or
    /// unit and no type is `unknown`, as Prometheus records it.
    func entries(_ parser: ExpositionParser) -> [MetricMetadata] {
        var out: [MetricMetadata] = []
        var index: [String: Int] = [:]
        func family(_ name: Range<Int>) -> Int {
            let key = parser.string(name)
            if let i = index[key] { return i }
            index[key] = out.count
            out.append(MetricMetadata(type: .unknown, metricFamilyName: key))
            return out.count - 1
        }
        for line in lines {
            switch line {
            case .help(let name, let text):
                out[family(name)].help = String(decoding: ExpositionParser.unescape(parser.bytes[text]), as: UTF8.self)
            case .type(let name, let type):
                out[family(name)].type = type.metadataType
            case .unit(let name, let unit):
                out[family(name)].unit = parser.string(unit)
            case .sample:
                break
            }
        }
        return out
    }
}

extension MetricFamilyType {
    /// The remote-write metadata type (`untyped` is `unknown`, as Prometheus sends it).
    var metadataType: MetricMetadata.MetricType {
        switch self {
        case .counter: .counter
        case .gauge: .gauge
        case .histogram: .histogram
        case .gaugehistogram: .gaugeHistogram
        case .summary: .summary
        case .info: .info
        case .stateset: .stateSet
        case .unknown, .untyped: .unknown
        }
    }
}
