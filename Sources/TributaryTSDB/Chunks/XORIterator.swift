import TributaryModel

/// Reads the samples of an XOR chunk in order. Stops (returns nil) at the declared count or at
/// the first malformed bit, so a corrupt chunk cannot trap.
public struct XORIterator: Sendable {
    var reader: BitReader
    let total: Int
    var read = 0
    public private(set) var t: Int64 = .min
    public private(set) var v: Double = 0
    var tDelta: UInt64 = 0
    var leading: UInt8 = 0
    var trailing: UInt8 = 0
    var failed = false

    public init(bytes: [UInt8]) {
        total = bytes.count >= 2 ? Int(bytes[0]) << 8 | Int(bytes[1]) : 0
        reader = BitReader(bytes: bytes, startByte: Swift.min(2, bytes.count))
    }

    /// True when the chunk ended early because its bits were malformed.
    public var isCorrupt: Bool { failed }

    /// The next sample, or nil at the end.
    public mutating func next() -> Sample? {
        guard !failed, read < total else { return nil }
        guard advance() else {
            failed = true
            return nil
        }
        read += 1
        return Sample(timestamp: t, value: v)
    }

    /// The first sample at or after `time`, or nil.
    public mutating func seek(_ time: Int64) -> Sample? {
        if read > 0, t >= time { return Sample(timestamp: t, value: v) }
        while let s = next() {
            if s.timestamp >= time { return s }
        }
        return nil
    }

    private mutating func advance() -> Bool {
        switch read {
        case 0:
            guard let first = reader.readVarint(), let bits = reader.readBits(64) else { return false }
            t = first
            v = Double(bitPattern: bits)
            return true
        case 1:
            guard let delta = reader.readUVarint() else { return false }
            tDelta = delta
            t = t &+ Int64(bitPattern: delta)
            return readValue()
        default:
            var prefix = 0
            for _ in 0..<4 {
                guard let bit = reader.readBit() else { return false }
                if !bit { break }
                prefix += 1
            }
            var dod: Int64 = 0
            let size: Int
            switch prefix {
            case 0: size = 0
            case 1: size = 14
            case 2: size = 17
            case 3: size = 20
            default: size = 64
            }
            if size > 0 {
                guard var bits = reader.readBits(size) else { return false }
                if (size < 64) && (bits > UInt64(1) << UInt64(size - 1)) {
                    bits = bits &- (UInt64(1) << UInt64(size))
                }
                dod = Int64(bitPattern: bits)
            }
            tDelta = tDelta &+ UInt64(bitPattern: dod)
            t = t &+ Int64(bitPattern: tDelta)
            return readValue()
        }
    }

    private mutating func readValue() -> Bool {
        guard let changed = reader.readBit() else { return false }
        if !changed { return true }
        guard let newWindow = reader.readBit() else { return false }
        if newWindow {
            guard let l = reader.readBits(5), let s = reader.readBits(6) else { return false }
            leading = UInt8(l)
            var significant = UInt8(s)
            if significant == 0 { significant = 64 }
            guard Int(leading) + Int(significant) <= 64 else { return false }
            trailing = 64 - leading - significant
        }
        let significant = 64 - Int(leading) - Int(trailing)
        guard significant > 0, let bits = reader.readBits(significant) else { return false }
        v = Double(bitPattern: v.bitPattern ^ (bits << UInt64(trailing)))
        return true
    }
}
