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
        // Samples go through a small buffer on the stack and into `out` in batches: an append
        // per sample checked `out`'s uniqueness and capacity every time.
        return withUnsafeTemporaryAllocation(of: Sample.self, capacity: Self.batch) { batch -> Bool in
            guard let batchBase = batch.baseAddress else { return false }
            var held = 0
            func flush() {
                out.append(contentsOf: UnsafeBufferPointer(start: batchBase, count: held))
                held = 0
            }
            let complete = bytes.withUnsafeBufferPointer { buffer -> Bool in
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
                            // The delta-of-delta's prefix: up to four 1 bits, ended by a 0 below four.
                            let ones = min(4, (~(r.peekBits(4) &<< 60)).leadingZeroBitCount)
                            guard r.skip(ones < 4 ? ones + 1 : 4) else { return false }
                            let size = ones == 0 ? 0 : ones == 1 ? 14 : ones == 2 ? 17 : ones == 3 ? 20 : 64
                            if size > 0 {
                                guard var bits = r.readBits(size) else { return false }
                                if size < 64, bits > UInt64(1) << UInt64(size - 1) { bits = bits &- (UInt64(1) << UInt64(size)) }
                                tDelta = tDelta &+ bits
                            }
                        }
                        t = t &+ Int64(bitPattern: tDelta)
                        // The value's control bits: 0 (unchanged), 10 (the previous window), 11 (a new one).
                        let control = r.peekBits(2)
                        guard r.skip(control < 2 ? 1 : 2) else { return false }
                        if control >= 2 {
                            if control == 3 {
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
                    if t >= start {
                        (batchBase + held).initialize(to: Sample(timestamp: t, value: Double(bitPattern: v)))
                        held += 1
                        if held == Self.batch { flush() }
                    }
                }
                return true
            }
            flush()
            return complete
        }
    }

    /// Samples decoded before they are appended to the caller's array.
    static let batch = 128
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

    /// The next `n` bits (1...57) without moving past them; zeros beyond the end.
    @inline(__always)
    func peekBits(_ n: Int) -> UInt64 {
        let byte = bitPosition &>> 3, shift = bitPosition & 7
        let word = byte + 8 <= count ? UInt64(bigEndian: UnsafeRawPointer(base + byte).loadUnaligned(as: UInt64.self)) : byte < count ? tail(byte) : 0
        return (word &<< UInt64(shift)) &>> UInt64(64 - n)
    }

    /// Moves past `n` bits; false when fewer are left.
    @inline(__always)
    mutating func skip(_ n: Int) -> Bool {
        guard bitPosition + n <= count &* 8 else { return false }
        bitPosition += n
        return true
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
