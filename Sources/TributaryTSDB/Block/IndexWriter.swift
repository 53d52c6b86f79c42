import Foundation
import TributaryModel

/// Where one chunk of a series lies in a block's segments, and its time range.
public struct ChunkMeta: Sendable, Equatable {
    public var ref: UInt64
    public var minTime: Int64
    public var maxTime: Int64
}

/// Writes a block's `index` in Prometheus's format v2 (see `Docs/blocks.md`): header, symbols,
/// series (16-byte aligned; a series' reference is its offset / 16), no label indices (unused
/// since Prometheus 2.x), postings (4-byte aligned, the all-series list `("", "")` first), the
/// postings offset table and the TOC. Every section ends with the CRC-32C of its body.
enum IndexWriter {
    static let magic: UInt32 = 0xBAAA_D700
    static let version: UInt8 = 2

    /// The index bytes for `series`, which must be sorted by labels (checked) with chunks in
    /// time order.
    static func encode(_ series: [(labels: Labels, chunks: [ChunkMeta])]) throws(BlockError) -> [UInt8] {
        var out = EncodeBuffer()
        out.be32(magic)
        out.bytes.append(version)

        // Symbols: every name and value, sorted by bytes; a label refers to its ordinal.
        var symbolSet = Set<String>()
        for s in series {
            for (name, value) in s.labels.pairs {
                symbolSet.insert(name)
                symbolSet.insert(value)
            }
        }
        let symbols = symbolSet.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var ordinal: [String: UInt32] = [:]
        ordinal.reserveCapacity(symbols.count)
        for (i, s) in symbols.enumerated() { ordinal[s] = UInt32(i) }
        let symbolsAt = out.bytes.count
        out.be32(0)  // length, set below
        out.be32(UInt32(symbols.count))
        for s in symbols { out.uvarintString(s) }
        try setLength(&out, at: symbolsAt)

        // Series, and the postings they make.
        let seriesAt = out.bytes.count
        var postings: [String: [String: [UInt32]]] = [:]
        var all: [UInt32] = []
        all.reserveCapacity(series.count)
        var previous: Labels?
        var entry = EncodeBuffer()
        for s in series {
            if let previous, !(previous < s.labels) {
                throw BlockError("index: series \(s.labels) not after \(previous) (unsorted or repeated)")
            }
            previous = s.labels
            while out.bytes.count % 16 != 0 { out.bytes.append(0) }
            guard out.bytes.count / 16 <= Int(UInt32.max) else { throw BlockError("index: series section over 64 GiB") }
            let ref = UInt32(out.bytes.count / 16)
            all.append(ref)
            entry.bytes.removeAll(keepingCapacity: true)
            let pairs = s.labels.pairs
            entry.uvarint(UInt64(pairs.count))
            for (name, value) in pairs {
                entry.uvarint(UInt64(ordinal[name] ?? 0))
                entry.uvarint(UInt64(ordinal[value] ?? 0))
                postings[name, default: [:]][value, default: []].append(ref)
            }
            entry.uvarint(UInt64(s.chunks.count))
            if let first = s.chunks.first {
                entry.varint(first.minTime)
                entry.uvarint(UInt64(bitPattern: first.maxTime - first.minTime))
                entry.uvarint(first.ref)
                var lastMax = first.maxTime, lastRef = first.ref
                for c in s.chunks.dropFirst() {
                    guard c.minTime > lastMax, c.maxTime >= c.minTime else {
                        throw BlockError("index: chunks of \(s.labels) overlap or are out of order at \(c.minTime)")
                    }
                    entry.uvarint(UInt64(bitPattern: c.minTime - lastMax))
                    entry.uvarint(UInt64(bitPattern: c.maxTime - c.minTime))
                    entry.varint(Int64(bitPattern: c.ref &- lastRef))
                    lastMax = c.maxTime
                    lastRef = c.ref
                }
            }
            out.uvarint(UInt64(entry.bytes.count))
            out.bytes.append(contentsOf: entry.bytes)
            out.be32(crc32c(entry.bytes))
        }

        // No label indices: their TOC entry points where they would start.
        let labelIndicesAt = out.bytes.count
        while out.bytes.count % 4 != 0 { out.bytes.append(0) }
        let postingsAt = out.bytes.count
        var offsets: [(name: String, value: String, offset: Int)] = []
        func writePostings(_ name: String, _ value: String, _ refs: [UInt32]) {
            while out.bytes.count % 4 != 0 { out.bytes.append(0) }
            offsets.append((name, value, out.bytes.count))
            out.be32(UInt32(4 + 4 * refs.count))
            let start = out.bytes.count
            out.be32(UInt32(refs.count))
            for r in refs { out.be32(r) }
            out.appendCRC(of: start..<out.bytes.count)
        }
        writePostings("", "", all)
        for name in postings.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            guard let values = postings[name] else { continue }
            for value in values.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                writePostings(name, value, values[value] ?? [])
            }
        }

        // Postings offset table (the label offset table is empty and shares its position).
        let tableAt = out.bytes.count
        out.be32(0)
        out.be32(UInt32(offsets.count))
        for o in offsets {
            out.uvarint(2)
            out.uvarintString(o.name)
            out.uvarintString(o.value)
            out.uvarint(UInt64(o.offset))
        }
        try setLength(&out, at: tableAt)

        let tocAt = out.bytes.count
        for ref in [symbolsAt, seriesAt, labelIndicesAt, tableAt, postingsAt, tableAt] { out.be64(UInt64(ref)) }
        out.appendCRC(of: tocAt..<out.bytes.count)
        return out.bytes
    }

    /// Fills in the 4-byte length of the section starting at `at` and appends its checksum.
    private static func setLength(_ out: inout EncodeBuffer, at: Int) throws(BlockError) {
        let length = out.bytes.count - at - 4
        guard length <= Int(UInt32.max) else { throw BlockError("index: section at \(at) over 4 GiB") }
        for i in 0..<4 { out.bytes[at + i] = UInt8(truncatingIfNeeded: length >> (24 - 8 * i)) }
        out.appendCRC(of: (at + 4)..<out.bytes.count)
    }
}
