import Synchronization
import TributaryModel
import TributaryWire

/// The `# HELP`, `# TYPE` and `# UNIT` lines of one scrape, hashed as the body is parsed; they
/// are turned into metric metadata (a second parse of the body) only when the hash differs
/// from the last good scrape's. A target's metadata rarely changes: building strings for it
/// at every scrape would cost more than hashing a line.
struct ScrapedMetadata {
    private(set) var fingerprint: UInt64 = 0xcbf2_9ce4_8422_2325

    private mutating func mix(_ x: UInt64) { fingerprint = (fingerprint ^ x) &* 0x0000_0100_0000_01b3 }

    /// Takes in one metadata line of `body` (samples are ignored).
    mutating func note(_ entry: ExpositionEntry, _ body: UnsafeRawBufferPointer) {
        // The kind of line, then its bytes from the name on (a TYPE line's type as its number).
        func line(_ kind: UInt64, _ bytes: Range<Int>) {
            mix(kind)
            mix(StableHash.hash(UnsafeRawBufferPointer(rebasing: body[bytes])))
        }
        switch entry {
        case .help(let name, let text): line(1, name.lowerBound..<text.upperBound)
        case .unit(let name, let unit): line(2, name.lowerBound..<unit.upperBound)
        case .type(let name, let type):
            line(3, name)
            mix(UInt64(type.metadataType.rawValue))
        case .sample: break
        }
    }

    /// Metadata lists by fingerprint, shared by the targets that expose the same lines: a site's
    /// node_exporters all do, and a copy per target was ~60 KB each (100 targets: 6 MiB). A
    /// cache only: emptied when it holds too many lists (the targets keep theirs).
    static let shared = Mutex<[UInt64: [MetricMetadata]]>([:])
    static let sharedLimit = 256

    /// The metadata of `body`, whose lines hashed to `fingerprint`: another target's list with
    /// the same fingerprint, else parsed from the body.
    static func entries(_ body: [UInt8], format: ExpositionFormat, fingerprint: UInt64) -> [MetricMetadata]? {
        if let known = shared.withLock({ $0[fingerprint] }) { return known }
        guard let parsed = entries(body, format: format) else { return nil }
        shared.withLock { table in
            if table.count >= sharedLimit { table.removeAll() }
            table[fingerprint] = parsed
        }
        return parsed
    }

    /// The metadata of `body`: one entry per family, in the order the families first appear; a
    /// family with a help or unit and no type is `unknown`, as Prometheus records it. Nil when
    /// the body does not parse (the caller parsed it once already, so it does).
    static func entries(_ body: [UInt8], format: ExpositionFormat) -> [MetricMetadata]? {
        var parser = ExpositionParser(body, format: format)
        var out: [MetricMetadata] = []
        var index: [String: Int] = [:]
        func family(_ name: Range<Int>) -> Int {
            let key = parser.string(name)
            if let i = index[key] { return i }
            index[key] = out.count
            out.append(MetricMetadata(type: .unknown, metricFamilyName: key))
            return out.count - 1
        }
        do {
            while let entry = try parser.next() {
                switch entry {
                case .help(let name, let text):
                    out[family(name)].help = String(decoding: ExpositionParser.unescape(body[text]), as: UTF8.self)
                case .type(let name, let type):
                    out[family(name)].type = type.metadataType
                case .unit(let name, let unit):
                    out[family(name)].unit = parser.string(unit)
                case .sample:
                    break
                }
            }
        } catch {
            return nil
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
