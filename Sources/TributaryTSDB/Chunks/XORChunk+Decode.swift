import TributaryModel

/// Bulk decoding of an XOR chunk: all samples in `[start, end]` appended to an array in one
/// tight loop over raw memory, reading 64 bits at a time.
///
/// Why: the PromQL engine loads every sample a query reads; through `XORIterator` (one bounds-
/// checked byte per step) loading dominated 6h range queries (tributary-bench promql).
/// `XORIterator` stays for seeking and as the reference the tests compare this with.
extension XORChunk {
    /// Appends the samples of `bytes` with `start <= t <= end` to `out`; stops quietly at
    /// malformed bits. Returns false if the chunk was corrupt.
    @discardableResult
    public static func decode(_ bytes: [UInt8], from start: Int64 = .min, to end: Int64 = .max, into out: inout [Sample]) -> Bool {
        guard bytes.count >= 2 else { return bytes.isEmpty }
        let total = Int(bytes[0]) << 8 | Int(bytes[1])
        return bytes.withUnsafeBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            var r = FastBitReader(base: base, count: buffer.count, bitPosition: 16)
            var t: Int64 = 0, tDelta: UInt64 = 0, v: UInt64 = 0
            var leading = 0, trailing = 0
            for i in 0..<total {
                if i == 0 {
                    guard let first = r.readVarint(), let bits = r.readBits(64) else { return false }
                    t = first
                    v = bits
                } else {
                    if i == 1 {
                        guard let d = r.readUVarint() else { return false }
                        tDelta = d
                    } else {
                        var prefix = 0
                        while prefix < 4 {
                            guard let bit = r.readBits(1) else { return false }
                            if bit == 0 { break }
                            prefix += 1
                        }
                        let size = prefix == 0 ? 0 : prefix == 1 ? 14 : prefix == 2 ? 17 : prefix == 3 ? 20 : 64
                        if size > 0 {
                            guard var bits = r.readBits(size) else { return false }
                            if size < 64, bits > UInt64(1) << UInt64(size - 1) { bits = bits &- (UInt64(1) << UInt64(size)) }
                            tDelta = tDelta &+ bits
                        }
                    }
                    t = t &+ Int64(bitPattern: tDelta)
                    guard let changed = r.readBits(1) else { return false }
                    if changed == 1 {
                        guard let control = r.readBits(1) else { return false }
                        if control == 1 {
                            guard let l = r.readBits(5), let s = r.readBits(6) else { return false }
                            leading = Int(l)
                            let significant = s == 0 ? 64 : Int(s)
                            guard leading + significant <= 64 else { return false }
                            trailing = 64 - leading - significant
                        }
                        let significant = 64 - leading - trailing
                        guard significant > 0, let bits = r.readBits(significant) else { return false }
                        v ^= bits << UInt64(trailing)
                    }
                }
                if t > end { return true }
                if t >= start { out.append(Sample(timestamp: t, value: Double(bitPattern: v))) }
            }
            return true
        }
    }
}

/// Reads bits most significant first from raw memory, 64 at a time.
struct FastBitReader {
    let base: UnsafePointer<UInt8>
    let count: Int
    var bitPosition: Int

    @inline(__always)
    mutating func readBits(_ n: Int) -> UInt64? {
        guard n > 0 else { return 0 }
        guard bitPosition + n <= count &* 8 else { return nil }
        let byte = bitPosition &>> 3, shift = bitPosition & 7
        let word = byte + 8 <= count ? UInt64(bigEndian: UnsafeRawPointer(base + byte).loadUnaligned(as: UInt64.self)) : tail(byte)
        var value = word &<< UInt64(shift)
        if shift + n > 64 {
            // The last bits come from the ninth byte (present: the bounds check above).
            value |= UInt64(base[byte + 8]) &>> UInt64(8 - shift)
        }
        bitPosition += n
        return value &>> UInt64(64 - n)
    }

    /// The last bytes of the chunk from `byte` on, as the high bytes of a word.
    @inline(never)
    func tail(_ byte: Int) -> UInt64 {
        var word: UInt64 = 0
        for k in 0..<(count - byte) { word |= UInt64(base[byte + k]) &<< UInt64(56 - 8 * k) }
        return word
    }
}

extension FastBitReader: BitSource {}
