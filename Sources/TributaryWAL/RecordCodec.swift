import TributaryModel

/// Payloads of the series, samples and exemplars records (`Docs/wal.md`).
public enum RecordCodec {
    /// Appends a framed series record for `ids[i]` with `labels[i]`.
    public static func appendSeries(ids: [UInt32], labels: [Labels], to buffer: inout [UInt8]) {
        Record.append(.series, to: &buffer) { out in
            FlatLabels.appendUVarint(UInt64(ids.count), to: &out)
            for (id, l) in zip(ids, labels) {
                FlatLabels.appendUVarint(UInt64(id), to: &out)
                FlatLabels.appendUVarint(UInt64(l.bytes.count), to: &out)
                out.append(contentsOf: l.bytes)
            }
        }
    }

    /// Appends a framed samples record.
    public static func appendSamples(ids: [UInt32], samples: [Sample], to buffer: inout [UInt8]) {
        Record.append(.samples, to: &buffer) { out in
            FlatLabels.appendUVarint(UInt64(samples.count), to: &out)
            let base = samples.first?.timestamp ?? 0
            appendVarint(base, to: &out)
            for (id, s) in zip(ids, samples) {
                FlatLabels.appendUVarint(UInt64(id), to: &out)
                appendVarint(s.timestamp &- base, to: &out)
                let bits = s.value.bitPattern
                for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(k)))) }
            }
        }
    }

    /// Appends a framed exemplars record: per exemplar its series id, timestamp (delta to the
    /// first), value and labels (flat encoding, length first).
    public static func appendExemplars(ids: [UInt32], exemplars: [Exemplar], to buffer: inout [UInt8]) {
        Record.append(.exemplars, to: &buffer) { out in
            FlatLabels.appendUVarint(UInt64(exemplars.count), to: &out)
            let base = exemplars.first?.timestamp ?? 0
            appendVarint(base, to: &out)
            for (id, e) in zip(ids, exemplars) {
                FlatLabels.appendUVarint(UInt64(id), to: &out)
                appendVarint(e.timestamp &- base, to: &out)
                let bits = e.value.bitPattern
                for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(k)))) }
                FlatLabels.appendUVarint(UInt64(e.labels.bytes.count), to: &out)
                out.append(contentsOf: e.labels.bytes)
            }
        }
    }

    /// Calls `body` for each exemplar of an exemplars record; false when the payload is
    /// malformed (labels are checked to be well-formed flat labels before they are trusted).
    public static func decodeExemplars(_ payload: UnsafeRawBufferPointer, _ body: (UInt32, Exemplar) -> Void) -> Bool {
        var r = ByteReader(payload)
        guard let count = r.uvarint(), let base = r.varint() else { return false }
        for _ in 0..<count {
            guard let id = r.uvarint(), id <= UInt64(UInt32.max), let delta = r.varint(), let bits = r.fixed64(),
                let length = r.uvarint(), let bytes = r.bytes(Int(clamping: length)), let labels = Labels(flatBytes: bytes)
            else { return false }
            body(UInt32(id), Exemplar(labels: labels, value: Double(bitPattern: bits), timestamp: base &+ delta))
        }
        return r.atEnd
    }

    /// Calls `body` for each series of a series record; false when the payload is malformed.
    public static func decodeSeries(_ payload: UnsafeRawBufferPointer, _ body: (UInt32, LabelsView) -> Void) -> Bool {
        var r = ByteReader(payload)
        guard let count = r.uvarint() else { return false }
        for _ in 0..<count {
            guard let id = r.uvarint(), id <= UInt64(UInt32.max), let length = r.uvarint(), let bytes = r.bytes(Int(clamping: length)) else { return false }
            body(UInt32(id), LabelsView(bytes))
        }
        return r.atEnd
    }

    /// Calls `body` for each sample of a samples record; false when the payload is malformed.
    public static func decodeSamples(_ payload: UnsafeRawBufferPointer, _ body: (UInt32, Sample) -> Void) -> Bool {
        var r = ByteReader(payload)
        guard let count = r.uvarint(), let base = r.varint() else { return false }
        for _ in 0..<count {
            guard let id = r.uvarint(), id <= UInt64(UInt32.max), let delta = r.varint(), let bits = r.fixed64() else { return false }
            body(UInt32(id), Sample(timestamp: base &+ delta, value: Double(bitPattern: bits)))
        }
        return r.atEnd
    }

    /// Appends a framed deletions record: the time range `[minTime, maxTime]` once, then the
    /// series ids it deletes from.
    public static func appendDeletions(ids: [UInt32], minTime: Int64, maxTime: Int64, to buffer: inout [UInt8]) {
        Record.append(.deletions, to: &buffer) { out in
            appendVarint(minTime, to: &out)
            appendVarint(maxTime, to: &out)
            FlatLabels.appendUVarint(UInt64(ids.count), to: &out)
            for id in ids { FlatLabels.appendUVarint(UInt64(id), to: &out) }
        }
    }

    /// The range and series of a deletions record; nil when the payload is malformed.
    public static func decodeDeletions(_ payload: UnsafeRawBufferPointer) -> (ids: [UInt32], minTime: Int64, maxTime: Int64)? {
        var r = ByteReader(payload)
        guard let minTime = r.varint(), let maxTime = r.varint(), minTime <= maxTime, let count = r.uvarint(), count <= UInt64(payload.count) else { return nil }
        var ids: [UInt32] = []
        ids.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let id = r.uvarint(), id <= UInt64(UInt32.max) else { return nil }
            ids.append(UInt32(id))
        }
        return r.atEnd ? (ids, minTime, maxTime) : nil
    }

    static func appendVarint(_ x: Int64, to out: inout [UInt8]) {
        FlatLabels.appendUVarint(UInt64(bitPattern: (x << 1) ^ (x >> 63)), to: &out)
    }
}

/// Bounds-checked reads over a payload.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var atEnd: Bool { offset == bytes.count }

    mutating func uvarint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 64 {
            let b = bytes[offset]
            offset += 1
            value |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return value }
            shift += 7
        }
        return nil
    }

    mutating func varint() -> Int64? {
        guard let u = uvarint() else { return nil }
        return Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1)
    }

    mutating func fixed64() -> UInt64? {
        guard bytes.count - offset >= 8 else { return nil }
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        offset += 8
        return UInt64(littleEndian: v)
    }

    mutating func bytes(_ n: Int) -> UnsafeRawBufferPointer? {
        guard n >= 0, bytes.count - offset >= n else { return nil }
        let out = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
        offset += n
        return out
    }
}
