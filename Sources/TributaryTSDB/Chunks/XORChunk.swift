import TributaryModel

/// A chunk of float samples in Prometheus's XOR encoding (Gorilla), bit for bit as
/// `tsdb/chunkenc/xor.go` writes it: a 2-byte big-endian sample count, then the first
/// timestamp as a zig-zag varint and the first value as 64 raw bits, the second timestamp as a
/// uvarint delta, and from the third on delta-of-delta timestamps in 1/14/17/20/64-bit buckets;
/// values are XORed with their predecessor and written with a leading/trailing-zero window.
/// See `Docs/chunks.md`.
///
/// Appending requires increasing timestamps; the head checks order before it appends.
public struct XORChunk: Sendable {
    // Appender state. (The 8-byte fields first: the stream is 9 bytes, and before them it
    // left 7 bytes of padding in every head series; `Docs/memory.md`.)
    var lastT: Int64 = 0
    var lastV: Double = 0
    var lastTDelta: UInt64 = 0
    var stream: BitWriter
    var leading: UInt8 = 0xFF
    var trailing: UInt8 = 0

    /// An empty chunk. `capacity` bytes are reserved (Prometheus reserves 128).
    public init(capacity: Int = 128) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(capacity)
        bytes.append(0)
        bytes.append(0)
        stream = BitWriter(bytes: bytes)
    }

    /// A chunk with no bytes at all yet (a head series between chunks), whose appender
    /// remembers `lastT` as the newest sample. ``restart(capacity:)`` before appending.
    init(unallocatedAfter lastT: Int64) {
        stream = BitWriter(bytes: [])
        self.lastT = lastT
    }

    /// Starts a new, empty chunk with `capacity` bytes reserved. The appender's last sample
    /// (``maxTime``, ``lastV``) stays until the next append.
    mutating func restart(capacity: Int) {
        if stream.bytes.count == 2, stream.bytes.capacity >= capacity { return }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(capacity)
        bytes.append(0)
        bytes.append(0)
        stream = BitWriter(bytes: bytes)
        lastTDelta = 0
        leading = 0xFF
        trailing = 0
    }

    /// Drops the bytes (the chunk was handed on), keeping the appender's last sample.
    mutating func release() {
        stream = BitWriter(bytes: [])
    }

    /// The encoded bytes (header and bit stream).
    public var bytes: [UInt8] { stream.bytes }

    /// The encoded bytes in an array of their own size: a full chunk kept for hours should not
    /// keep the spare capacity its array grew by while appending (up to half of it).
    public var compactBytes: [UInt8] {
        let source = stream.bytes
        return [UInt8](unsafeUninitializedCapacity: source.count) { buffer, count in
            _ = buffer.initialize(from: source)
            count = source.count
        }
    }

    /// Number of samples.
    public var count: Int { stream.bytes.count < 2 ? 0 : Int(stream.bytes[0]) << 8 | Int(stream.bytes[1]) }

    /// Timestamp of the last sample appended (meaningless when empty).
    public var maxTime: Int64 { lastT }

    /// Appends a sample whose timestamp is greater than the last one's.
    public mutating func append(_ t: Int64, _ v: Double) {
        let n = count
        switch n {
        case 0:
            writeVarint(t)
            stream.writeBits(v.bitPattern, count: 64)
        case 1:
            let tDelta = UInt64(bitPattern: t &- lastT)
            writeUVarint(tDelta)
            writeValue(v)
            lastTDelta = tDelta
        default:
            let tDelta = UInt64(bitPattern: t &- lastT)
            let dod = Int64(bitPattern: tDelta &- lastTDelta)
            switch dod {
            case 0:
                stream.writeBit(false)
            case _ where Self.fits(dod, bits: 14):
                stream.writeBits(0b10, count: 2)
                stream.writeBits(UInt64(bitPattern: dod), count: 14)
            case _ where Self.fits(dod, bits: 17):
                stream.writeBits(0b110, count: 3)
                stream.writeBits(UInt64(bitPattern: dod), count: 17)
            case _ where Self.fits(dod, bits: 20):
                stream.writeBits(0b1110, count: 4)
                stream.writeBits(UInt64(bitPattern: dod), count: 20)
            default:
                stream.writeBits(0b1111, count: 4)
                stream.writeBits(UInt64(bitPattern: dod), count: 64)
            }
            writeValue(v)
            lastTDelta = tDelta
        }
        lastT = t
        lastV = v
        let newCount = n + 1
        stream.bytes[0] = UInt8(truncatingIfNeeded: newCount >> 8)
        stream.bytes[1] = UInt8(truncatingIfNeeded: newCount)
    }

    /// Prometheus's `bitRange`: x fits in `bits` bits as this encoding uses them.
    @inline(__always)
    static func fits(_ x: Int64, bits: Int) -> Bool {
        -((Int64(1) << (bits - 1)) - 1) <= x && x <= Int64(1) << (bits - 1)
    }

    private mutating func writeValue(_ v: Double) {
        let delta = v.bitPattern ^ lastV.bitPattern
        if delta == 0 {
            stream.writeBit(false)
            return
        }
        stream.writeBit(true)
        var newLeading = UInt8(delta.leadingZeroBitCount)
        let newTrailing = UInt8(delta.trailingZeroBitCount)
        if newLeading >= 32 { newLeading = 31 }  // the window stores leading zeros in 5 bits
        if leading != 0xFF, newLeading >= leading, newTrailing >= trailing {
            stream.writeBit(false)
            stream.writeBits(delta >> UInt64(trailing), count: 64 - Int(leading) - Int(trailing))
            return
        }
        leading = newLeading
        trailing = newTrailing
        stream.writeBit(true)
        stream.writeBits(UInt64(newLeading), count: 5)
        // 64 significant bits are written as 0 in the 6-bit field; the reader maps 0 back.
        let significant = 64 - Int(newLeading) - Int(newTrailing)
        stream.writeBits(UInt64(significant), count: 6)
        stream.writeBits(delta >> UInt64(newTrailing), count: significant)
    }

    private mutating func writeVarint(_ x: Int64) {
        writeUVarint(UInt64(bitPattern: (x << 1) ^ (x >> 63)))
    }

    private mutating func writeUVarint(_ x: UInt64) {
        var v = x
        while v >= 0x80 {
            stream.writeBits(UInt64(UInt8(truncatingIfNeeded: v) | 0x80), count: 8)
            v >>= 7
        }
        stream.writeBits(v, count: 8)
    }

    /// An iterator over the samples.
    public func makeIterator() -> XORIterator {
        XORIterator(bytes: stream.bytes)
    }
}

extension XORChunk {
    /// Wraps bytes read from disk; only iteration is meaningful (no further appends).
    public init(readOnly bytes: [UInt8]) {
        var writer = BitWriter(bytes: bytes)
        writer.bitsInLastByte = 8
        stream = writer
    }
}
