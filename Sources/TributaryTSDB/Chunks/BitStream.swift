/// An append-only bit stream, most significant bit first, as Prometheus's `bstream`.
struct BitWriter {
    /// The written bytes; the last byte holds `bitsInLastByte` valid bits (8 when full).
    var bytes: [UInt8]
    var bitsInLastByte: UInt8

    init(bytes: [UInt8]) {
        self.bytes = bytes
        self.bitsInLastByte = 8
    }

    @inline(__always)
    mutating func writeBit(_ bit: Bool) {
        if bitsInLastByte == 8 {
            bytes.append(0)
            bitsInLastByte = 0
        }
        if bit { bytes[bytes.count - 1] |= 0x80 >> bitsInLastByte }
        bitsInLastByte += 1
    }

    /// Writes the low `count` bits of `value`, most significant first: fills the free bits
    /// of the last byte, then appends whole bytes.
    @inline(__always)
    mutating func writeBits(_ value: UInt64, count: Int) {
        guard count > 0 else { return }
        var remaining = count
        let v = count == 64 ? value : value & ((1 << UInt64(count)) - 1)
        if bitsInLastByte < 8 {
            let free = 8 - Int(bitsInLastByte)
            let take = Swift.min(free, remaining)
            let chunk = UInt8(truncatingIfNeeded: v >> UInt64(remaining - take)) & UInt8(truncatingIfNeeded: (1 << take) - 1)
            bytes[bytes.count - 1] |= chunk << UInt8(free - take)
            bitsInLastByte += UInt8(take)
            remaining -= take
            if remaining == 0 { return }
        }
        while remaining >= 8 {
            remaining -= 8
            bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(remaining)))
        }
        if remaining > 0 {
            bytes.append(UInt8(truncatingIfNeeded: v << UInt64(8 - remaining)))
            bitsInLastByte = UInt8(remaining)
        } else {
            bitsInLastByte = 8
        }
    }
}

/// Reads a bit stream written by ``BitWriter``; every read reports running out of bits instead
/// of trapping, so a corrupt chunk from disk ends its iterator.
struct BitReader {
    let bytes: [UInt8]
    /// Next bit to read, counted from the start of `bytes`.
    var position: Int
    let endBit: Int

    init(bytes: [UInt8], startByte: Int) {
        self.bytes = bytes
        self.position = startByte * 8
        self.endBit = bytes.count * 8
    }

    @inline(__always)
    mutating func readBit() -> Bool? {
        guard position < endBit else { return nil }
        let byte = bytes[position >> 3]
        let bit = byte & (0x80 >> UInt8(position & 7)) != 0
        position += 1
        return bit
    }

    /// Reads `count` (≤ 64) bits as an unsigned number.
    @inline(__always)
    mutating func readBits(_ count: Int) -> UInt64? {
        guard count > 0 else { return 0 }
        guard endBit - position >= count else { return nil }
        var value: UInt64 = 0
        var remaining = count
        while remaining > 0 {
            let offset = position & 7
            let available = 8 - offset
            let take = Swift.min(available, remaining)
            let byte = UInt64(bytes[position >> 3])
            let chunk = (byte >> UInt64(available - take)) & ((1 << UInt64(take)) - 1)
            value = take == 64 ? chunk : (value << UInt64(take)) | chunk
            position += take
            remaining -= take
        }
        return value
    }
}

/// Something that reads bits most significant first (``BitReader``, ``FastBitReader``).
protocol BitSource {
    mutating func readBits(_ count: Int) -> UInt64?
}

extension BitSource {
    /// A varint as Go's `binary.ReadUvarint`, read byte by byte from the bit stream.
    mutating func readUVarint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        for _ in 0..<10 {
            guard let b = readBits(8) else { return nil }
            value |= (b & 0x7F) << shift
            if b < 0x80 { return value }
            shift += 7
        }
        return nil
    }

    /// A zig-zag varint as Go's `binary.ReadVarint`.
    mutating func readVarint() -> Int64? {
        readUVarint().map(zigZagDecoded)
    }
}

/// A zig-zag encoded number (Go's `binary.PutVarint`) decoded.
@inline(__always)
func zigZagDecoded(_ u: UInt64) -> Int64 {
    let x = Int64(bitPattern: u >> 1)
    return u & 1 != 0 ? ~x : x
}

extension BitReader: BitSource {}
